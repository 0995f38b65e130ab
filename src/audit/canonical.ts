// RFC 8785 (JCS) canonical JSON: the one byte form every audit hash and signature is computed over.

import canonicalize from 'canonicalize';
import { AirlockError } from '../errors.js';

/**
 * The canonical serialisation of a JSON value. Throws rather than returning undefined so a record
 * that cannot be hashed is never silently written as "undefined".
 */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (err) {
    throw new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', `value has no canonical JSON form: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined) throw new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', 'value has no canonical JSON form');
  return text;
}
