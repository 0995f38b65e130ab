// RFC 8785 (JCS) canonical JSON: the one byte form every audit hash and signature is computed over.
//
// Every allowed statement writes audit records, so this is on the hot path. The `canonicalize`
// package checks each string character by character in JavaScript; here the same rules run on
// native primitives (a regex pre-check for surrogates, JSON.stringify for scalars). The unit tests
// hold the two to identical output on random values.

import { AirlockError } from '../errors.js';

const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function fail(message: string): never {
  throw new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', `value has no canonical JSON form: ${message}`);
}

/** Characters JSON must escape, and surrogates (which may be lone): anything else is copied as is. */
const NEEDS_CARE = /["\\\u0000-\u001f\uD800-\uDFFF]/;

function str(s: string): string {
  // Hashes, ids, timestamps and most SQL need neither escapes nor the surrogate check: one scan.
  if (!NEEDS_CARE.test(s)) return `"${s}"`;
  if (SURROGATE.test(s) && LONE_SURROGATE.test(s)) fail('lone surrogate');
  return JSON.stringify(s);
}

function encode(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return str(value);
    case 'number':
      // ECMAScript's Number-to-String is the JCS number form (RFC 8785 §3.2.2.3).
      if (!Number.isFinite(value)) fail(String(value));
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      fail('bigint');
  }
  if (value === null) return 'null';
  if (depth > 64) fail('nested too deeply');
  const toJSON = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJSON === 'function') return encode(toJSON.call(value), depth + 1);
  if (Array.isArray(value)) {
    return `[${value.map((item) => encode(item, depth + 1) ?? 'null').join(',')}]`;
  }
  const obj = value as Record<string, unknown>;
  // Keys sort by UTF-16 code units (RFC 8785 §3.2.3), which is what Array.prototype.sort does.
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const encoded = encode(obj[key], depth + 1);
    if (encoded === undefined) continue;
    out += `${first ? '' : ','}${str(key)}:${encoded}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * The canonical serialisation of a JSON value. Throws rather than returning undefined so a record
 * that cannot be hashed is never silently written as "undefined".
 */
export function canonicalJson(value: unknown): string {
  const text = encode(value, 0);
  if (text === undefined) fail('undefined');
  return text;
}

/**
 * The members of an object's canonical form, sorted, each as `"key":value` (undefined values left
 * out): `{` + members.join(',') + `}` is canonicalJson(obj). Lets a caller add one member without
 * encoding the rest again.
 */
export function canonicalMembers(obj: Readonly<Record<string, unknown>>): [string, string][] {
  const out: [string, string][] = [];
  for (const key of Object.keys(obj).sort()) {
    const encoded = encode(obj[key], 1);
    if (encoded !== undefined) out.push([key, `${memberName(key)}${encoded}`]);
  }
  return out;
}

/** Record field names repeat on every record: encode each once. */
const memberNames = new Map<string, string>();
function memberName(key: string): string {
  let name = memberNames.get(key);
  if (name === undefined) {
    name = `${str(key)}:`;
    if (memberNames.size < 1024) memberNames.set(key, name);
  }
  return name;
}
