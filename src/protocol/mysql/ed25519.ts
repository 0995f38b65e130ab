// MariaDB's client_ed25519 authentication, the client side airlock runs against upstream servers.
//
// MariaDB signs the server's 32-byte nonce with Ed25519 whose secret is the password itself: where
// RFC 8032 hashes a 32-byte seed with SHA-512, MariaDB hashes the whole password. Node's crypto only
// takes 32-byte seeds, so the signature is built from the curve operations of @noble/curves; it is a
// standard Ed25519 signature that verifies against the public key MariaDB stores for the user.

import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';

export const ED25519 = 'client_ed25519';

const { Point } = ed25519;
const order = Point.Fn.ORDER;

function sha512(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

function scalarLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function bytesLE(n: bigint, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

function secretOf(password: string): { scalar: bigint; prefix: Buffer; publicKey: Uint8Array } {
  const az = sha512(Buffer.from(password, 'utf8'));
  const clamped = Buffer.from(az.subarray(0, 32));
  clamped[0]! &= 248;
  clamped[31]! &= 63;
  clamped[31]! |= 64;
  const scalar = scalarLE(clamped) % order;
  return { scalar, prefix: az.subarray(32), publicKey: Point.BASE.multiply(scalar).toBytes() };
}

/** The public key MariaDB stores for `IDENTIFIED VIA ed25519 USING PASSWORD(password)`, base64 without padding. */
export function ed25519PublicKey(password: string): string {
  return Buffer.from(secretOf(password).publicKey).toString('base64').replace(/=+$/, '');
}

/** The 64-byte client_ed25519 answer to `nonce`: R ‖ S. */
export function ed25519Token(password: string, nonce: Buffer): Buffer {
  const { scalar, prefix, publicKey } = secretOf(password);
  const r = scalarLE(sha512(prefix, nonce)) % order;
  const R = (r === 0n ? Point.ZERO : Point.BASE.multiply(r)).toBytes();
  const k = scalarLE(sha512(R, publicKey, nonce)) % order;
  const S = (r + k * scalar) % order;
  return Buffer.concat([R, bytesLE(S, 32)]);
}
