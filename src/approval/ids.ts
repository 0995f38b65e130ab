// Request ids people can read aloud, and the binding hash an approval is tied to.

import { createHash, randomBytes } from 'node:crypto';

/** Crockford base32 without i, l, o, u: no look-alike characters when typed from a Slack message. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** 12 characters = 60 random bits: collisions are out of reach for the number of requests we hold. */
export function newRequestId(length = 12): string {
  const bytes = randomBytes(length);
  let id = '';
  for (const b of bytes) id += ALPHABET[b & 31];
  return id;
}

export function isRequestId(value: string): boolean {
  return /^[0-9a-hjkmnp-tv-z]{6,32}$/.test(value);
}

/**
 * SHA-256 over (resource, requester, sql, params). JSON of an array of strings is unambiguous, so no
 * two different tuples serialise to the same bytes (a plain concatenation would let "ab"+"c" = "a"+"bc").
 */
export function bindingHash(resource: string, requesterEmail: string, sql: string, params: readonly (string | null)[]): string {
  const text = JSON.stringify([resource, requesterEmail.toLowerCase(), sql, params]);
  return createHash('sha256').update(text).digest('hex');
}
