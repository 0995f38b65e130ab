// The Ed25519 checkpoint key: created on first start, key id, signing and verifying chain heads.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { AirlockError } from '../errors.js';
import { canonicalJson } from './canonical.js';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  readonly keyId: string;
}

/** What a checkpoint signs: the chain, the head it vouches for, when, and with which key. */
export interface CheckpointBody {
  readonly chain_id: string;
  /** Segment the checkpoint record is written to, so a deleted segment is found from checkpoints.log. */
  readonly segment: string;
  readonly head_seq: number;
  readonly head_hash: string;
  readonly ts: string;
  readonly key_id: string;
}

/** First 4 bytes (hex) of SHA-256 over the raw 32-byte public key, as in C2SP signed notes. */
export function keyIdOf(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new AirlockError('AIRLOCK_ERR_CONFIG', 'checkpoint key is not an Ed25519 key');
  return createHash('sha256').update(Buffer.from(jwk.x, 'base64url')).digest('hex').slice(0, 8);
}

function fromPrivateKey(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AirlockError('AIRLOCK_ERR_CONFIG', `checkpoint key must be Ed25519, found ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** Reads the PEM private key, or creates it (mode 0600) when the file does not exist yet. */
export async function loadOrCreateSigningKey(file: string): Promise<SigningKey> {
  try {
    return fromPrivateKey(createPrivateKey(await fsp.readFile(file)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AirlockError('AIRLOCK_ERR_CONFIG', `cannot read audit signing key ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  await fsp.mkdir(path.dirname(file), { recursive: true });
  try {
    // 'wx': if another process created it meanwhile, use theirs rather than overwrite a key in use.
    await fsp.writeFile(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSigningKey(file);
    throw new AirlockError('AIRLOCK_ERR_CONFIG', `cannot create audit signing key ${file}: ${(err as Error).message}`, { cause: err });
  }
  return fromPrivateKey(privateKey);
}

/**
 * Whoever can write the audit directory can rewrite the chain; if the key sits there too they can
 * also re-sign it, and verification proves nothing. Symlinks are resolved where the paths exist.
 */
export function keyFileInsideDir(file: string, dir: string): boolean {
  const real = (p: string): string => { try { return fs.realpathSync(p); } catch { return path.resolve(p); } };
  const rel = path.relative(real(dir), real(file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Public key PEM from a private or public key file (for `audit pubkey`). */
export async function readPublicKeyPem(file: string): Promise<string> {
  const text = await fsp.readFile(file, 'utf8');
  const key = text.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(text)) : createPublicKey(text);
  return key.export({ format: 'pem', type: 'spki' }).toString();
}

export function publicKeyFromPem(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new AirlockError('AIRLOCK_ERR_CONFIG', 'public key is not an Ed25519 key');
  return key;
}

function bodyBytes(body: CheckpointBody): Buffer {
  const { chain_id, segment, head_seq, head_hash, ts, key_id } = body;
  return Buffer.from(canonicalJson({ chain_id, segment, head_seq, head_hash, ts, key_id }), 'utf8');
}

/** Base64 Ed25519 signature over the canonical JSON of the body. */
export function signCheckpoint(key: SigningKey, body: CheckpointBody): string {
  return sign(null, bodyBytes(body), key.privateKey).toString('base64');
}

export function verifyCheckpoint(publicKey: KeyObject, body: CheckpointBody, signature: string): boolean {
  try {
    return verify(null, bodyBytes(body), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
