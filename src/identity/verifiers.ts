// Personal tokens and the verifiers stored in their place: SCRAM-SHA-256, mysql_native_password, caching_sha2_password.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { deriveScramVerifier } from '../protocol/pg/scram-server.js';
import { sha1, sha256, xorBuffers as xor } from './digests.js';
import type { ScramVerifier, UserRecord } from './types.js';

/** RFC 7677 §4: at least 4096. */
export const SCRAM_ITERATIONS = 4096;
const TOKEN_PREFIX = 'alk_';

/** A new personal token: `alk_` + 32 random bytes in base64url. Shown once, never stored. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}


/** Constant-time equality that is also false (not a throw) on a length mismatch. */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * RFC 5802 §3 keys for `token`. Tokens are ASCII, so SASLprep (RFC 4013) leaves them unchanged.
 * SaltedPassword = PBKDF2-HMAC-SHA256(token, salt, i); StoredKey = SHA256(HMAC(SP, "Client Key"));
 * ServerKey = HMAC(SP, "Server Key").
 */
export function scramVerifier(token: string, salt: Buffer = randomBytes(16), iterations: number = SCRAM_ITERATIONS): ScramVerifier {
  return deriveScramVerifier(token, { salt, iterations });
}

/** Whether `token` produces the stored SCRAM key; the HTTP API and CLI check tokens this way. */
export function verifyScramToken(verifier: ScramVerifier, token: string): boolean {
  const candidate = scramVerifier(token, Buffer.from(verifier.salt, 'base64'), verifier.iterations);
  return safeEqual(Buffer.from(candidate.stored_key, 'base64'), Buffer.from(verifier.stored_key, 'base64'));
}

/** mysql_native_password verifier: hex SHA1(SHA1(token)), the server's own `*HEX` without the star. */
export function mysqlNativeVerifier(token: string): string {
  return sha1(sha1(Buffer.from(token, 'utf8'))).toString('hex');
}

/** caching_sha2_password verifier: hex SHA256(SHA256(token)), what the server keeps in its fast-auth cache. */
export function cachingSha2Verifier(token: string): string {
  return sha256(sha256(Buffer.from(token, 'utf8'))).toString('hex');
}

/**
 * mysql_native_password: the client sends SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
 * XOR with SHA1(scramble + stored) recovers SHA1(pw); its SHA1 must equal the stored verifier.
 */
export function verifyMysqlNative(record: UserRecord, scramble20: Buffer, clientResponse: Buffer): boolean {
  if (record.disabled || scramble20.length !== 20 || clientResponse.length !== 20) return false;
  const stored = Buffer.from(record.mysql_native, 'hex');
  const stage1 = xor(clientResponse, sha1(scramble20, stored));
  return safeEqual(sha1(stage1), stored);
}

/**
 * caching_sha2_password fast path: the client sends SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble)
 * (MySQL sha2_password_common.cc, generate_sha2_scramble). Same recovery as native, with SHA-256.
 */
export function verifyCachingSha2Fast(record: UserRecord, scramble20: Buffer, clientResponse: Buffer): boolean {
  if (record.disabled || scramble20.length !== 20 || clientResponse.length !== 32) return false;
  const stored = Buffer.from(record.caching_sha2, 'hex');
  const stage1 = xor(clientResponse, sha256(stored, scramble20));
  return safeEqual(sha256(stage1), stored);
}

/**
 * caching_sha2_password full authentication: the password arrived in clear (over TLS, or RSA-decrypted).
 * Clients terminate it with a NUL, which is not part of the password.
 */
export function verifyCachingSha2Plain(record: UserRecord, password: string | Buffer): boolean {
  if (record.disabled) return false;
  let bytes = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0) bytes = bytes.subarray(0, bytes.length - 1);
  if (bytes.length === 0) return false;
  return safeEqual(sha256(sha256(bytes)), Buffer.from(record.caching_sha2, 'hex'));
}

/**
 * Changes whenever the token does: a session keeps the stamp it logged in with, and a reload that finds
 * another one (users rotate) ends it. Verifiers only, so the stamp is no secret.
 */
export function credentialStamp(user: UserRecord): string {
  return sha256(Buffer.from(`${user.scram.stored_key}\n${user.mysql_native}\n${user.caching_sha2}`, 'utf8')).toString('hex');
}
