// Cache key for PostgreSQL text: the statement with its simple literals replaced by placeholders.

import type { Normalised } from '../cache.js';
import { lexPg, TokenType } from './lexer.js';

const INTEGER = /^[0-9]{1,9}$/;
const DECIMAL = /^[0-9]+\.[0-9]+$/;

/**
 * Replaces plain '...' strings without backslashes and small plain numbers by fixed placeholders of the
 * same token class, so the key re-lexes to the same token sequence. Anything less simple is kept verbatim,
 * which only costs a cache miss. Returns undefined when there is no literal to replace or the text
 * does not lex. Offsets are in UTF-8 bytes, as libpg-query reports locations.
 */
export function normalisePg(sql: string): Normalised | undefined {
  const lex = lexPg(sql);
  if (lex.error) return undefined;
  let key = '';
  let copied = 0;
  let byteOffset = 0;
  let byteCursor = 0;
  // Positions only move forward, so UTF-8 offsets are counted incrementally.
  const byteAt = (charIndex: number): number => {
    byteOffset += Buffer.byteLength(sql.slice(byteCursor, charIndex));
    byteCursor = charIndex;
    return byteOffset;
  };
  const literalOffsets: number[] = [];
  const signOffsets: number[] = [];
  const tokens = lex.tokens;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let placeholder: string | undefined;
    const text = sql.slice(t.start, t.end);
    if (t.type === TokenType.String && !t.backslash && !continuesString(tokens, i)) placeholder = "'?'";
    else if (t.type === TokenType.Number && INTEGER.test(text)) placeholder = '0';
    else if (t.type === TokenType.Number && DECIMAL.test(text)) placeholder = '0.0';
    if (placeholder === undefined) continue;
    // The parser folds "-5" into one constant located at the minus sign.
    let before = i - 1;
    while (tokens[before]?.type === TokenType.Space) before--;
    const sign = tokens[before];
    const signed = sign !== undefined && sign.type === TokenType.Operator && sql.slice(sign.start, sign.end) === '-';
    signOffsets.push(signed ? byteAt(sign.start) : -1);
    literalOffsets.push(byteAt(t.start));
    key += sql.slice(copied, t.start) + placeholder;
    copied = t.end;
  }
  if (literalOffsets.length === 0) return undefined;
  return { key: key + sql.slice(copied), literalOffsets, signOffsets };
}

/** A string next to another string (possibly across whitespace) is part of a continuation: left verbatim. */
function continuesString(tokens: readonly { type: TokenType }[], i: number): boolean {
  const isString = (t: { type: TokenType } | undefined): boolean => t?.type === TokenType.String || t?.type === TokenType.PrefixedString;
  const skip = (j: number, step: number): number => {
    while (tokens[j]?.type === TokenType.Space || tokens[j]?.type === TokenType.Comment) j += step;
    return j;
  };
  return isString(tokens[skip(i - 1, -1)]) || isString(tokens[skip(i + 1, 1)]);
}
