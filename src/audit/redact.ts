// What the writer removes or transforms before a payload is hashed: secrets, SQL text in hash mode.

import { createHash } from 'node:crypto';
import { redactSqlSecrets } from './sql-secrets.js';

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
 * dropped, and in hash mode `sql` replaced by `sql_sha256`. In text mode password literals in the SQL
 * are masked (`sql_redacted`), and SQL longer than sqlMaxBytes
 * keeps its first sqlMaxBytes bytes, with `sql_sha256` and `sql_bytes` of the whole text: a 64 MiB
 * statement would otherwise be written whole into every record about it, yet the hash still pins it.
 */
export function sanitizeFields(fields: Readonly<Record<string, unknown>>, sqlMode: SqlMode, sqlMaxBytes = Infinity): Record<string, unknown> {
  const clean = toJsonSafe(fields, 0) as Record<string, unknown>;
  if (clean.sql === undefined) return clean;
  const text = typeof clean.sql === 'string' ? clean.sql : JSON.stringify(clean.sql);
  if (sqlMode === 'hash') {
    clean.sql_sha256 = sha256Hex(text);
    delete clean.sql;
    return clean;
  }
  const secrets = redactSqlSecrets(text);
  if (secrets.redacted) {
    clean.sql = secrets.text;
    clean.sql_redacted = true;
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > sqlMaxBytes) {
    clean.sql = utf8Prefix(secrets.text, sqlMaxBytes);
    clean.sql_truncated = true;
    clean.sql_bytes = bytes;
  }
  // The digest of the statement as sent still pins it when the text was cut or its passwords masked.
  if (secrets.redacted || bytes > sqlMaxBytes) clean.sql_sha256 = sha256Hex(text);
  return clean;
}

/** The longest prefix of whole characters that fits in maxBytes of UTF-8. */
function utf8Prefix(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let lead = maxBytes;
  // Find where the character straddling the cut begins (continuation bytes are 10xxxxxx)...
  while (lead > 0 && (buf[lead]! & 0xc0) === 0x80) lead--;
  // ...and cut before it, so no half character turns into U+FFFD.
  return buf.subarray(0, lead).toString('utf8');
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
