// MySQL/MariaDB statement splitter and public lexing API: the security boundary that decides what text the server runs.

import { BlockTracker } from './blocks.js';
import { LexError, Lexer, type LexOptions, type Token } from './scanner.js';
import { SQL_MODE_DEFAULT, SQL_MODE_UNKNOWN, parseSqlMode, sqlModeOfTokens } from './sql-mode.js';

export { SQL_MODE_DEFAULT, SQL_MODE_UNKNOWN, parseSqlMode, sqlModeOfTokens };
export type { LexOptions, Token, TokenType } from './scanner.js';

export interface SplitStatement {
  readonly tokens: Token[];
  /** Source text of the statement, comments included, without the terminating ';'. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** The sql_mode in effect for this statement (changed by an earlier SET sql_mode in the string). */
  readonly sqlMode: string | undefined;
}

export type SplitResult = { ok: true; statements: SplitStatement[] } | { ok: false; reason: string };

/**
 * Splits a COM_QUERY string into the statements the server would run, in order.
 * A SET sql_mode inside the string changes how the rest is lexed; an unknown new value
 * makes any later statement unparseable. A trailing unterminated block is rejected.
 */
export function splitStatements(sql: string, opts: LexOptions = {}): SplitResult {
  const server = opts.server ?? 'mysql';
  const mode = parseSqlMode(opts.sqlMode, server);
  if (!mode) return { ok: false, reason: `sql_mode ${JSON.stringify(opts.sqlMode)} changes parsing beyond what this lexer models` };
  const lexer = new Lexer(sql, mode, opts);
  const statements: SplitStatement[] = [];
  let modeUnknown = false;
  let sqlMode = opts.sqlMode;
  try {
    for (;;) {
      let first = lexer.next();
      while (first && first.type === 'op' && first.value === ';') first = lexer.next();
      if (!first) break;
      if (modeUnknown) return { ok: false, reason: 'statement after a sql_mode change this lexer cannot evaluate' };
      const tokens: Token[] = [first];
      const tracker = new BlockTracker(first);
      tracker.feed(first);
      let end = first.end;
      let closed = false;
      for (;;) {
        const t = lexer.next();
        if (!t) break;
        tokens.push(t);
        if (tracker.feed(t)) {
          tokens.pop();
          closed = true;
          break;
        }
        end = t.end;
      }
      if (tracker.depth !== 0) return { ok: false, reason: 'unterminated BEGIN...END block' };
      const text = sql.slice(first.start, end);
      statements.push({ tokens, text, start: first.start, end, sqlMode });
      const newMode = sqlModeOfTokens(tokens);
      if (newMode !== undefined) {
        const parsed = parseSqlMode(newMode, server);
        if (parsed) lexer.mode = parsed;
        else modeUnknown = true;
        sqlMode = newMode;
      }
      if (!closed) break;
    }
  } catch (err) {
    if (err instanceof LexError) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, statements };
}

/** Tokens of one statement, for callers that already hold a single statement's text. */
export function tokenize(sql: string, opts: LexOptions = {}): { ok: true; tokens: Token[] } | { ok: false; reason: string } {
  const mode = parseSqlMode(opts.sqlMode, opts.server);
  if (!mode) return { ok: false, reason: 'unsupported sql_mode' };
  const lexer = new Lexer(sql, mode, opts);
  const tokens: Token[] = [];
  try {
    for (let t = lexer.next(); t; t = lexer.next()) tokens.push(t);
  } catch (err) {
    if (err instanceof LexError) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, tokens };
}

/** The new session sql_mode if stmtSql is `SET [SESSION] sql_mode = ...` (or @@[session.]sql_mode), else undefined. */
export function sqlModeAssignment(stmtSql: string, opts: LexOptions = {}): string | undefined {
  const lexed = tokenize(stmtSql, opts);
  return lexed.ok ? sqlModeOfTokens(lexed.tokens) : undefined;
}

/** The database a `USE db` statement switches to, else undefined. */
export function useDatabase(stmtSql: string, opts: LexOptions = {}): string | undefined {
  const lexed = tokenize(stmtSql, opts);
  if (!lexed.ok) return undefined;
  const t = lexed.tokens.filter((x) => !(x.type === 'op' && x.value === ';'));
  if (t.length !== 2 || t[0]!.up !== 'USE') return undefined;
  const db = t[1]!;
  return db.type === 'word' || db.type === 'qident' ? db.value : undefined;
}
