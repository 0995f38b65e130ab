// Which client character set a MySQL session sends statements in, as far as it changes lexing.
//
// In big5, cp932, gbk, sjis and gb18030 the second byte of a character can be 0x5c or 0x27, so the
// server reads `'\xbf\x5c'` as one character where airlock's reading sees an escaping backslash: a
// statement can hide behind a "string". Sessions in those character sets fail closed.

import type { Token } from './lexer.js';

/** characterSetOfTokens' answer when the set is assigned something a lexer cannot evaluate. */
export const CHARSET_UNKNOWN = '\u0000unknown';
/** characterSetOfTokens' answer for `= DEFAULT`: the server's global character_set_client. */
export const CHARSET_DEFAULT = '\u0000default';

const ASCII_UNSAFE = new Set(['big5', 'cp932', 'gbk', 'sjis', 'gb18030']);

/** True when statements sent in this character set cannot be classified with certainty. */
export function isAsciiUnsafeCharset(name: string | undefined): boolean {
  if (name === undefined) return false;
  return name === CHARSET_UNKNOWN || name === CHARSET_DEFAULT || ASCII_UNSAFE.has(name.toLowerCase());
}

const CLIENT_VARS = new Set(['character_set_client', 'session.character_set_client', 'local.character_set_client']);

/**
 * The character_set_client a SET statement gives this session: SET NAMES x, SET CHARACTER SET x,
 * SET CHARSET x, SET [SESSION] character_set_client = x. A literal name, CHARSET_DEFAULT, CHARSET_UNKNOWN,
 * or undefined when the statement leaves it alone.
 */
export function characterSetOfTokens(tokens: readonly Token[]): string | undefined {
  if (tokens[0]?.up !== 'SET') return undefined;
  let result: string | undefined;
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i]!;
    const prev = tokens[i - 1]!;
    // Only where an assignment starts: `SET @a = CHARSET(x)` is a function call.
    if (!(prev.up === 'SET' || prev.value === ',' || prev.up === 'SESSION' || prev.up === 'LOCAL' || prev.up === 'GLOBAL')) continue;
    let valueAt: number | undefined;
    if (t.type === 'word' && (t.up === 'NAMES' || t.up === 'CHARSET')) valueAt = i + 1;
    else if (t.type === 'word' && t.up === 'CHARACTER' && tokens[i + 1]?.up === 'SET') valueAt = i + 2;
    else if ((t.type === 'word' && t.up === 'CHARACTER_SET_CLIENT') || (t.type === 'sysvar' && CLIENT_VARS.has(t.value))) {
      const op = tokens[i + 1];
      if (op?.value === '=' || op?.value === ':=') valueAt = i + 2;
    }
    if (valueAt === undefined) continue;
    // A GLOBAL assignment does not change this session.
    if (prev.up === 'GLOBAL' || (t.type === 'sysvar' && t.value.startsWith('global.'))) continue;
    const v = tokens[valueAt];
    if (v && (v.type === 'word' || v.type === 'string' || v.type === 'qident')) {
      result = v.type === 'word' && v.up === 'DEFAULT' ? CHARSET_DEFAULT : v.value.toLowerCase();
    } else {
      result = CHARSET_UNKNOWN;
    }
  }
  return result;
}
