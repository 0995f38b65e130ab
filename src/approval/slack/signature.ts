// Slack request signing (v0): proves an HTTP interaction came from Slack and is fresh (pure).

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's own recommendation and bolt's default: older (or further in the future) is a replay. */
export const MAX_SKEW_SECONDS = 300;

export type SignatureResult = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'bad_signature' };

export interface SignedRequest {
  readonly signingSecret: string;
  /** X-Slack-Request-Timestamp, epoch seconds as sent. */
  readonly timestamp: string | undefined;
  /** X-Slack-Signature, `v0=<hex>`. */
  readonly signature: string | undefined;
  /** The exact body bytes: parsing and re-serialising would change them. */
  readonly rawBody: Buffer;
  readonly nowSeconds: number;
}

export function computeSignature(signingSecret: string, timestamp: string, rawBody: Buffer | string): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

export function verifySignature(r: SignedRequest): SignatureResult {
  if (!r.timestamp || !r.signature || !r.signingSecret) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(r.timestamp)) return { ok: false, reason: 'stale' };
  if (Math.abs(r.nowSeconds - Number(r.timestamp)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(computeSignature(r.signingSecret, r.timestamp, r.rawBody), 'utf8');
  const given = Buffer.from(r.signature, 'utf8');
  // timingSafeEqual throws on unequal lengths; the length of a well-formed signature is public anyway.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  return { ok: true };
}
