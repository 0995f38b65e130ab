// PostgreSQL token boundaries (scan.l rules) for the jobs the real parser cannot do for us:
// cache-key normalisation, standard_conforming_strings=off rewriting, and splitting PL/pgSQL bodies.

export const enum TokenType {
  Space,
  Comment,
  /** '...' with no prefix: the only string form whose meaning depends on standard_conforming_strings. */
  String,
  /** E'...', N'...', B'...', X'...', U&'...': prefixed forms, never rewritten or normalised. */
  PrefixedString,
  Dollar,
  Identifier,
  QuotedIdentifier,
  Number,
  Param,
  Operator,
  Semicolon,
  Punct,
}

export interface Token {
  type: TokenType;
  start: number;
  end: number;
  /** For strings: whether the raw text holds a backslash (its meaning then depends on the escape mode). */
  backslash?: boolean;
}

export interface LexResult {
  tokens: Token[];
  /** Set when the text cannot be tokenised (unterminated quote or comment): callers fail closed. */
  error?: string;
}

const OP_CHARS = '~!@#^&|`?+-*/%<>=';
const SPACE = /[ \t\n\r\f\v]/;

function isIdentStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80;
}
function isIdentCont(c: number): boolean {
  return isIdentStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x24;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Tokenises `sql` as PostgreSQL's scanner would. `backslashEscapes` is true when plain '...' strings
 * honour backslash escapes (standard_conforming_strings=off).
 */
export function lexPg(sql: string, backslashEscapes = false): LexResult {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  const push = (type: TokenType, start: number, end: number, backslash?: boolean): void => {
    tokens.push(backslash === undefined ? { type, start, end } : { type, start, end, backslash });
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    const ch = sql[i]!;
    const start = i;
    if (SPACE.test(ch)) {
      while (i < n && SPACE.test(sql[i]!)) i++;
      push(TokenType.Space, start, i);
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') {
      // A bare CR ends a -- comment too: a lexer that stops only at LF hides what follows.
      while (i < n && sql[i] !== '\n' && sql[i] !== '\r') i++;
      push(TokenType.Comment, start, i);
      continue;
    }
    if (ch === '/' && sql[i + 1] === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      while (i < n) {
        if (sql[i] === '/' && sql[i + 1] === '*') { depth++; i += 2; continue; }
        if (sql[i] === '*' && sql[i + 1] === '/') { depth--; i += 2; if (depth === 0) break; continue; }
        i++;
      }
      if (depth !== 0) return { tokens, error: 'unterminated block comment' };
      push(TokenType.Comment, start, i);
      continue;
    }
    if (ch === "'") {
      const end = scanQuoted(sql, i, backslashEscapes);
      if (end < 0) return { tokens, error: 'unterminated string' };
      push(TokenType.String, start, end, sql.slice(start, end).includes('\\'));
      i = end;
      continue;
    }
    if (isIdentStart(c)) {
      const prefixed = prefixedStringEnd(sql, i, backslashEscapes);
      if (prefixed !== undefined) {
        if (prefixed < 0) return { tokens, error: 'unterminated string' };
        push(TokenType.PrefixedString, start, prefixed, sql.slice(start, prefixed).includes('\\'));
        i = prefixed;
        continue;
      }
      if ((ch === 'u' || ch === 'U') && sql[i + 1] === '&' && sql[i + 2] === '"') {
        const end = scanDoubleQuoted(sql, i + 2);
        if (end < 0) return { tokens, error: 'unterminated quoted identifier' };
        push(TokenType.QuotedIdentifier, start, end);
        i = end;
        continue;
      }
      while (i < n && isIdentCont(sql.charCodeAt(i))) i++;
      push(TokenType.Identifier, start, i);
      continue;
    }
    if (ch === '"') {
      const end = scanDoubleQuoted(sql, i);
      if (end < 0) return { tokens, error: 'unterminated quoted identifier' };
      push(TokenType.QuotedIdentifier, start, end);
      i = end;
      continue;
    }
    if (ch === '$') {
      if (isDigit(sql.charCodeAt(i + 1))) {
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        push(TokenType.Param, start, i);
        continue;
      }
      const tagEnd = dollarTagEnd(sql, i);
      if (tagEnd > 0) {
        const tag = sql.slice(i, tagEnd);
        const close = sql.indexOf(tag, tagEnd);
        if (close < 0) return { tokens, error: 'unterminated dollar-quoted string' };
        i = close + tag.length;
        push(TokenType.Dollar, start, i);
        continue;
      }
      i++;
      push(TokenType.Punct, start, i);
      continue;
    }
    if (isDigit(c) || (ch === '.' && isDigit(sql.charCodeAt(i + 1)))) {
      i = scanNumber(sql, i);
      push(TokenType.Number, start, i);
      continue;
    }
    if (ch === ';') {
      i++;
      push(TokenType.Semicolon, start, i);
      continue;
    }
    if (OP_CHARS.includes(ch)) {
      // An operator stops where a comment starts (scan.l truncates at "--" and "/*").
      while (i < n && OP_CHARS.includes(sql[i]!)) {
        if (i > start && ((sql[i] === '-' && sql[i + 1] === '-') || (sql[i] === '/' && sql[i + 1] === '*'))) break;
        i++;
      }
      push(TokenType.Operator, start, i);
      continue;
    }
    i++;
    push(TokenType.Punct, start, i);
  }
  return { tokens };
}

/** End (exclusive) of a '...' string starting at `open`, or -1 if unterminated. */
function scanQuoted(sql: string, open: number, backslashEscapes: boolean): number {
  let i = open + 1;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i]!;
    if (backslashEscapes && ch === '\\') { i += 2; continue; }
    if (ch === "'") {
      if (sql[i + 1] === "'") { i += 2; continue; }
      return i + 1;
    }
    i++;
  }
  return -1;
}

function scanDoubleQuoted(sql: string, open: number): number {
  let i = open + 1;
  const n = sql.length;
  while (i < n) {
    if (sql[i] === '"') {
      if (sql[i + 1] === '"') { i += 2; continue; }
      return i + 1;
    }
    i++;
  }
  return -1;
}

/** For E'', N'', B'', X'', U&'' at `i`: end of the literal (-1 if unterminated); undefined if no such prefix. */
function prefixedStringEnd(sql: string, i: number, backslashEscapes: boolean): number | undefined {
  const p = sql[i]!.toLowerCase();
  if (sql[i + 1] === "'") {
    if (p === 'e') return scanQuoted(sql, i + 1, true);
    // N'' follows the plain-string rules; B'' and X'' contents are [^']* in scan.l.
    if (p === 'n') return scanQuoted(sql, i + 1, backslashEscapes);
    if (p === 'b' || p === 'x') {
      const close = sql.indexOf("'", i + 2);
      return close < 0 ? -1 : close + 1;
    }
    return undefined;
  }
  if (p === 'u' && sql[i + 1] === '&' && sql[i + 2] === "'") return scanQuoted(sql, i + 2, false);
  return undefined;
}

/** End of a $tag$ opener at `i`, or -1 when `$` does not start a dollar quote. */
function dollarTagEnd(sql: string, i: number): number {
  let j = i + 1;
  if (sql[j] === '$') return j + 1;
  if (!isIdentStart(sql.charCodeAt(j))) return -1;
  while (j < sql.length && isIdentCont(sql.charCodeAt(j)) && sql[j] !== '$') j++;
  return sql[j] === '$' ? j + 1 : -1;
}

function scanNumber(sql: string, i: number): number {
  const n = sql.length;
  const digits = (): void => {
    while (i < n && (isDigit(sql.charCodeAt(i)) || (sql[i] === '_' && isDigit(sql.charCodeAt(i + 1))))) i++;
  };
  if (sql[i] === '0' && /[xXoObB]/.test(sql[i + 1] ?? '')) {
    i += 2;
    while (i < n && /[0-9a-fA-F_]/.test(sql[i]!)) i++;
    return i;
  }
  digits();
  // "1..2" is 1 followed by "..": only take the dot when it is not the start of "..".
  if (sql[i] === '.' && sql[i + 1] !== '.') {
    i++;
    digits();
  }
  if ((sql[i] === 'e' || sql[i] === 'E') && (isDigit(sql.charCodeAt(i + 1)) || (/[+-]/.test(sql[i + 1] ?? '') && isDigit(sql.charCodeAt(i + 2))))) {
    i += 2;
    digits();
  }
  return i;
}

/** True when the text holds no token the server would run: only whitespace, comments and semicolons. */
export function isEffectivelyEmpty(lex: LexResult): boolean {
  return lex.error === undefined && lex.tokens.every((t) => t.type === TokenType.Space || t.type === TokenType.Comment || t.type === TokenType.Semicolon);
}
