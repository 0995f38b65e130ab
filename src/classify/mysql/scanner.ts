// Character-level MySQL/MariaDB scanner: comments, executable-comment version gates, quoted strings and tokens.

import type { Mode } from './sql-mode.js';

export type TokenType =
  | 'word' // unquoted identifier or keyword
  | 'qident' // `quoted` identifier, or "quoted" under ANSI_QUOTES
  | 'string' // '...' or "..." literal, value decoded
  | 'number'
  | 'hex' // 0x.. or X'..', value decoded to a latin1 string
  | 'bit'
  | 'uservar' // @name, value is the name
  | 'sysvar' // @@[scope.]name, value is the lower-cased text after @@
  | 'param' // ?
  | 'op';

export interface Token {
  readonly type: TokenType;
  /** Decoded value; for words the text as written. */
  readonly value: string;
  /** Upper-cased value for words, empty otherwise: keyword checks never match quoted text. */
  readonly up: string;
  readonly start: number;
  readonly end: number;
}

export interface LexOptions {
  /** The session sql_mode; only ANSI_QUOTES (and modes implying it) and NO_BACKSLASH_ESCAPES change lexing. */
  readonly sqlMode?: string;
  readonly server?: 'mysql' | 'mariadb';
  /** Server version as "8.0.36" or 80036; decides version-gated executable comments. */
  readonly version?: string;
}

export class LexError extends Error {}

function versionNumber(version: string | undefined): number | undefined {
  if (version === undefined) return undefined;
  if (/^\d{5,6}$/.test(version)) return Number(version);
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return undefined;
  return Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]);
}

function isIdentChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80
  );
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

const BACKSLASH_ESCAPES: Record<string, string> = { '0': '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a' };

const MULTI_OPS = ['<=>', '->>', ':=', '<=', '>=', '<>', '!=', '||', '&&', '<<', '>>', '->'];

/**
 * Lexes statements one at a time so an in-band SET sql_mode changes how the rest is read,
 * as it does on the server. Fails on anything the server would reject while lexing, or
 * that a client tool rather than the server interprets.
 */
export class Lexer {
  private pos = 0;
  private inExecComment = false;
  private readonly server: 'mysql' | 'mariadb';
  private readonly version: number | undefined;

  constructor(
    private readonly sql: string,
    public mode: Mode,
    opts: LexOptions,
  ) {
    this.server = opts.server ?? 'mysql';
    this.version = versionNumber(opts.version);
  }

  atEnd(): boolean {
    return this.pos >= this.sql.length;
  }

  get position(): number {
    return this.pos;
  }

  /** Next token, or undefined at end of input. Skips whitespace and comments. */
  next(): Token | undefined {
    const s = this.sql;
    for (;;) {
      if (this.pos >= s.length) {
        if (this.inExecComment) throw new LexError('unterminated executable comment');
        return undefined;
      }
      const c = s.charCodeAt(this.pos);
      if (isSpace(c)) {
        this.pos++;
        continue;
      }
      if (c === 0) throw new LexError('NUL byte in statement text');
      if (this.inExecComment && c === 0x2a && s.charCodeAt(this.pos + 1) === 0x2f) {
        this.inExecComment = false;
        this.pos += 2;
        continue;
      }
      if (c === 0x2f && s.charCodeAt(this.pos + 1) === 0x2a) {
        this.blockComment();
        continue;
      }
      if (c === 0x23) {
        this.lineComment();
        continue;
      }
      // "--" is a comment only before a space or control character (or end of input): "--1" is minus minus one.
      if (c === 0x2d && s.charCodeAt(this.pos + 1) === 0x2d) {
        const after = s.charCodeAt(this.pos + 2);
        if (Number.isNaN(after) || after <= 0x20) {
          this.lineComment();
          continue;
        }
      }
      return this.token(c);
    }
  }

  /** Only LF ends a line comment: a CR does not. */
  private lineComment(): void {
    const nl = this.sql.indexOf('\n', this.pos);
    if (this.inExecComment) {
      // The server would swallow the closing */ into the line comment; we cannot be sure what it runs.
      const close = this.sql.indexOf('*/', this.pos);
      if (close !== -1 && (nl === -1 || close < nl)) throw new LexError('line comment inside executable comment');
    }
    this.pos = nl === -1 ? this.sql.length : nl + 1;
  }

  private blockComment(): void {
    const s = this.sql;
    if (this.inExecComment) throw new LexError('comment nested in an executable comment');
    let p = this.pos + 2;
    let executable = false;
    if (s[p] === '!') {
      p++;
      const digits = /^\d*/.exec(s.slice(p, p + 8))![0];
      executable = this.versionGateRuns(digits);
      p += digits.length;
    } else if (s[p] === 'M' && s[p + 1] === '!') {
      p += 2;
      const digits = /^\d*/.exec(s.slice(p, p + 8))![0];
      if (this.server === 'mariadb') {
        if (digits.length !== 0 && digits.length !== 6) throw new LexError(`unclear version in /*M!${digits}`);
        executable = digits.length === 0 || this.versionGateRuns(digits);
        p += digits.length;
      }
    }
    if (executable) {
      this.inExecComment = true;
      this.pos = p;
      return;
    }
    const close = s.indexOf('*/', this.pos + 2);
    if (close === -1) throw new LexError('unterminated comment');
    this.pos = close + 2;
  }

  /** Whether the body of /*!NNNNN runs on this server; throws when that cannot be known. */
  private versionGateRuns(digits: string): boolean {
    if (digits.length === 0) return true;
    const gate = Number(digits);
    if (this.server === 'mariadb') {
      // MariaDB versions are 6 digits (>= 100000), so every 5-digit gate is open.
      if (digits.length === 5) return true;
      if (digits.length !== 6) throw new LexError(`unclear version gate /*!${digits}`);
      if (this.version !== undefined) return gate <= this.version;
      if (gate <= 100000) return true;
      throw new LexError(`version gate /*!${digits} needs the server version`);
    }
    if (digits.length !== 5) throw new LexError(`unclear version gate /*!${digits}`);
    if (this.version !== undefined) return gate <= this.version;
    if (gate <= 80000) return true;
    if (gate >= 99000) return false;
    throw new LexError(`version gate /*!${digits} needs the server version`);
  }

  private token(c: number): Token {
    const s = this.sql;
    const start = this.pos;
    if (c === 0x27) return this.quoted(start, 0x27, 'string', !this.mode.noBackslashEscapes);
    if (c === 0x22) {
      return this.mode.ansiQuotes
        ? this.quoted(start, 0x22, 'qident', false)
        : this.quoted(start, 0x22, 'string', !this.mode.noBackslashEscapes);
    }
    if (c === 0x60) return this.quoted(start, 0x60, 'qident', false);
    if (c === 0x5c) throw new LexError('backslash outside a string (client command such as \\G)');
    if (c === 0x40) return this.variable(start);
    if (c === 0x3f) {
      this.pos++;
      return { type: 'param', value: '?', up: '', start, end: this.pos };
    }
    if (c === 0x2e && isDigit(s.charCodeAt(start + 1)) && !isIdentChar(s.charCodeAt(start - 1))) return this.number(start);
    if (isIdentChar(c)) return this.word(start);
    for (const op of MULTI_OPS) {
      if (s.startsWith(op, start)) {
        this.pos += op.length;
        return { type: 'op', value: op, up: '', start, end: this.pos };
      }
    }
    this.pos++;
    return { type: 'op', value: s[start]!, up: '', start, end: this.pos };
  }

  private quoted(start: number, quote: number, type: 'string' | 'qident', backslash: boolean): Token {
    const s = this.sql;
    let p = start + 1;
    let out = '';
    for (;;) {
      if (p >= s.length) throw new LexError(type === 'string' ? 'unterminated string' : 'unterminated quoted identifier');
      const c = s.charCodeAt(p);
      if (c === 0) throw new LexError('NUL byte in statement text');
      if (c === quote) {
        if (s.charCodeAt(p + 1) === quote) {
          out += s[p];
          p += 2;
          continue;
        }
        p++;
        break;
      }
      if (backslash && c === 0x5c && p + 1 < s.length) {
        const e = s[p + 1]!;
        out += BACKSLASH_ESCAPES[e] ?? e;
        p += 2;
        continue;
      }
      out += s[p];
      p++;
    }
    this.pos = p;
    return { type, value: out, up: '', start, end: p };
  }

  private variable(start: number): Token {
    const s = this.sql;
    if (s[start + 1] === '@') {
      let p = start + 2;
      while (p < s.length && (isIdentChar(s.charCodeAt(p)) || (s[p] === '.' && isIdentChar(s.charCodeAt(p + 1))))) p++;
      if (p === start + 2) throw new LexError('empty system variable name');
      this.pos = p;
      return { type: 'sysvar', value: s.slice(start + 2, p).toLowerCase(), up: '', start, end: p };
    }
    const q = s.charCodeAt(start + 1);
    if (q === 0x27 || q === 0x22 || q === 0x60) {
      this.pos = start + 1;
      const inner = this.quoted(start + 1, q, 'string', q !== 0x60 && !this.mode.noBackslashEscapes);
      return { type: 'uservar', value: inner.value.toLowerCase(), up: '', start, end: inner.end };
    }
    let p = start + 1;
    while (p < s.length && (isIdentChar(s.charCodeAt(p)) || s[p] === '.')) p++;
    this.pos = p;
    // A bare "@" is a user@host separator in account names; the analyser treats it as an operator.
    if (p === start + 1) return { type: 'op', value: '@', up: '', start, end: p };
    return { type: 'uservar', value: s.slice(start + 1, p).toLowerCase(), up: '', start, end: p };
  }

  private number(start: number): Token {
    const s = this.sql;
    let p = start;
    while (isDigit(s.charCodeAt(p))) p++;
    if (s[p] === '.') {
      p++;
      while (isDigit(s.charCodeAt(p))) p++;
    }
    if ((s[p] === 'e' || s[p] === 'E') && (isDigit(s.charCodeAt(p + 1)) || ((s[p + 1] === '+' || s[p + 1] === '-') && isDigit(s.charCodeAt(p + 2))))) {
      p += 2;
      while (isDigit(s.charCodeAt(p))) p++;
    }
    this.pos = p;
    return { type: 'number', value: s.slice(start, p), up: '', start, end: p };
  }

  private word(start: number): Token {
    const s = this.sql;
    let p = start;
    while (p < s.length && isIdentChar(s.charCodeAt(p))) p++;
    const text = s.slice(start, p);
    const first = text[0]!;
    if (p === start + 1 && s[p] === "'" && /[xXbBnN]/.test(first)) {
      const str = this.quoted(p, 0x27, 'string', false);
      if (first === 'x' || first === 'X') return { type: 'hex', value: decodeHex(str.value), up: '', start, end: str.end };
      if (first === 'b' || first === 'B') return { type: 'bit', value: str.value, up: '', start, end: str.end };
      this.pos = p;
      return this.quoted(p, 0x27, 'string', !this.mode.noBackslashEscapes);
    }
    if (isDigit(first.charCodeAt(0))) {
      if (/^\d+$/.test(text) || /^\d+[eE]$/.test(text)) return this.number(start);
      if (/^0x[0-9a-fA-F]+$/.test(text)) {
        this.pos = p;
        return { type: 'hex', value: decodeHex(text.slice(2)), up: '', start, end: p };
      }
      if (/^0b[01]+$/.test(text)) {
        this.pos = p;
        return { type: 'bit', value: text.slice(2), up: '', start, end: p };
      }
      if (/^\d+[eE]\d+$/.test(text)) return this.number(start);
    }
    this.pos = p;
    return { type: 'word', value: text, up: text.toUpperCase(), start, end: p };
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function decodeHex(hex: string): string {
  if (hex.length % 2 !== 0) hex = '0' + hex;
  let out = '';
  for (let i = 0; i < hex.length; i += 2) out += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return out;
}
