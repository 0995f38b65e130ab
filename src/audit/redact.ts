// What the writer removes or transforms before a payload is hashed: secrets, SQL text in hash mode.

import { createHash } from 'node:crypto';

/** A field whose name contains one of these words is dropped, at any depth. */
const SECRET_NAME = /password|passwd|token|secret/i;
/** Deeper structures are cut: payloads are small, and this bounds the walk. */
const MAX_DEPTH = 16;

export type SqlMode = 'text' | 'hash';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function isSecretFieldName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Returns a JSON-safe copy of the caller's fields: secrets dropped, values canonical JSON cannot
 * hold turned into strings (bigint, non-finite numbers, dates, bytes), undefined and functions
 * dropped, and in hash mode `sql` replaced by `sql_sha256`.
 */
export function sanitizeFields(fields: Readonly<Record<string, unknown>>, sqlMode: SqlMode): Record<string, unknown> {
  const clean = toJsonSafe(fields, 0) as Record<string, unknown>;
  if (sqlMode === 'hash' && clean.sql !== undefined) {
    clean.sql_sha256 = sha256Hex(typeof clean.sql === 'string' ? clean.sql : JSON.stringify(clean.sql));
    delete clean.sql;
  }
  return clean;
}

function toJsonSafe(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return wellFormed(value);
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map((item) => toJsonSafe(item, depth + 1) ?? null);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (isSecretFieldName(key)) continue;
    const safe = toJsonSafe(item, depth + 1);
    if (safe !== undefined) out[wellFormed(key)] = safe;
  }
  return out;
}

/** Canonical JSON refuses lone surrogates (I-JSON); a client can send them, so replace them. */
function wellFormed(text: string): string {
  // Almost every string has no surrogate at all: test before building a copy.
  if (!/[\uD800-\uDFFF]/.test(text)) return text;
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
