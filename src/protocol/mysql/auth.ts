// MySQL authentication plugins from both sides: the server exchange airlock runs with developers
// (mysql_native_password, caching_sha2_password fast and full paths, AuthSwitchRequest), and the
// client tokens airlock computes for upstream servers.

import { constants, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { sha1, sha256 } from '../../identity/digests.js';
import type { UserRecord } from '../../identity/types.js';
import { verifyCachingSha2Fast, verifyCachingSha2Plain, verifyMysqlNative } from '../../identity/verifiers.js';
import { encodeAuthMoreData, encodeAuthSwitchRequest } from './packets.js';

export const NATIVE = 'mysql_native_password';
export const CACHING_SHA2 = 'caching_sha2_password';
export const CLEAR = 'mysql_clear_password';

const FAST_AUTH_OK = 0x03;
const PERFORM_FULL_AUTH = 0x04;
const REQUEST_PUBLIC_KEY = 0x02;

/** 20 scramble bytes, printable and without NUL (some clients treat the scramble as a C string). */
export function newScramble(): Buffer {
  const b = randomBytes(20);
  for (let i = 0; i < b.length; i++) b[i] = 0x21 + (b[i]! % 94);
  return b;
}

function xorRotating(a: Buffer, key: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ key[i % key.length]!;
  return out;
}

/** mysql_native_password client token: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). */
export function nativeToken(password: string, scramble: Buffer): Buffer {
  if (!password) return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  return xorRotating(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)));
}

/** caching_sha2_password client token: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble). */
export function cachingSha2Token(password: string, scramble: Buffer): Buffer {
  if (!password) return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  return xorRotating(stage1, sha256(sha256(stage1), scramble.subarray(0, 20)));
}

/** The full-authentication password under the server's RSA key: OAEP(password + NUL XOR scramble). */
export function rsaEncryptPassword(password: string, scramble: Buffer, publicKeyPem: string | Buffer): Buffer {
  const plain = xorRotating(Buffer.from(`${password}\0`, 'utf8'), scramble.subarray(0, 20));
  return publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plain);
}

/** The transport of one authentication exchange; the caller numbers the packets. */
export interface AuthChannel {
  send(payload: Buffer): void;
  receive(): Promise<Buffer>;
  readonly tls: boolean;
}

export interface RsaKeyPair {
  readonly publicPem: string;
  readonly privateKey: KeyObject;
}

export type AuthResult = { ok: true; user: UserRecord } | { ok: false; reason: string };

export interface ClientAuthStart {
  readonly user: UserRecord | undefined;
  readonly scramble: Buffer;
  /** Plugin named in the client's HandshakeResponse (or COM_CHANGE_USER); undefined = the greeting's. */
  readonly plugin: string;
  readonly response: Buffer;
  readonly rsa: RsaKeyPair;
}

/**
 * Authenticates a developer against the airlock users file. Both plugins are verified locally from the
 * stored verifiers, so caching_sha2_password's "cache" is always warm: a wrong fast-path token falls
 * through to full authentication (TLS cleartext or RSA), exactly as a MySQL server with a stale cache does.
 * Another plugin is answered with an AuthSwitchRequest to mysql_native_password; an empty first answer
 * with a supported plugin gets an AuthSwitchRequest to that same plugin.
 */
export async function authenticateClient(channel: AuthChannel, start: ClientAuthStart): Promise<AuthResult> {
  const { user, scramble } = start;
  let plugin = start.plugin;
  let response = start.response;
  if (plugin !== NATIVE && plugin !== CACHING_SHA2) {
    channel.send(encodeAuthSwitchRequest(NATIVE, Buffer.concat([scramble, Buffer.alloc(1)])));
    plugin = NATIVE;
    response = await channel.receive();
  } else if (response.length === 0) {
    // A client whose default plugin differs from the greeting's (libmariadb --default-auth) answers
    // empty and waits for its plugin's scramble; no airlock token is empty, so ask for a real answer.
    channel.send(encodeAuthSwitchRequest(plugin, Buffer.concat([scramble, Buffer.alloc(1)])));
    response = await channel.receive();
  }
  if (plugin === NATIVE) {
    if (!user) return { ok: false, reason: 'unknown user' };
    return verifyMysqlNative(user, scramble, response) ? { ok: true, user } : { ok: false, reason: 'wrong token (mysql_native_password)' };
  }
  if (user && response.length === 32 && verifyCachingSha2Fast(user, scramble, response)) {
    channel.send(encodeAuthMoreData(Buffer.from([FAST_AUTH_OK])));
    return { ok: true, user };
  }
  channel.send(encodeAuthMoreData(Buffer.from([PERFORM_FULL_AUTH])));
  let reply = await channel.receive();
  let password: Buffer;
  if (channel.tls && !(reply.length === 1 && reply[0] === REQUEST_PUBLIC_KEY)) {
    password = reply;
  } else {
    if (!(reply.length === 1 && reply[0] === REQUEST_PUBLIC_KEY)) return { ok: false, reason: 'cleartext password offered without TLS' };
    channel.send(encodeAuthMoreData(Buffer.from(start.rsa.publicPem, 'latin1')));
    reply = await channel.receive();
    let decrypted: Buffer;
    try {
      decrypted = privateDecrypt({ key: start.rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, reply);
    } catch {
      return { ok: false, reason: 'undecryptable RSA password' };
    }
    password = xorRotating(decrypted, scramble);
  }
  if (!user) return { ok: false, reason: 'unknown user' };
  return verifyCachingSha2Plain(user, password) ? { ok: true, user } : { ok: false, reason: 'wrong token (caching_sha2_password full authentication)' };
}
