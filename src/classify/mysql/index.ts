// The MySQL/MariaDB Classifier: splits a COM_QUERY string with our own lexer and classifies each statement, failing closed.

import type { Classification, ClassifyContext, Classifier, StatementClass } from '../types.js';
import { splitStatements, type LexOptions, type Token } from './lexer.js';
import type { Session } from './analysis.js';
import { classifyStatement } from './statement.js';
import { Unparseable } from './query.js';
import { characterSetOfTokens, isAsciiUnsafeCharset } from './charset.js';

const NON_ASCII = /[^\u0000-\u007f]/;

/** Statements the server refuses inside PREPARE / EXECUTE IMMEDIATE text; refusing them also bounds recursion. */
const NOT_PREPARABLE = new Set(['PREPARE', 'EXECUTE', 'DEALLOCATE', 'USE', 'HELP']);

export function createMysqlClassifier(): Classifier {
  return {
    dialect: 'mysql',
    classify(sql: string, ctx: ClassifyContext = {}): Classification {
      try {
        return classifyString(sql, ctx);
      } catch (err) {
        if (err instanceof Unparseable) return { unparseable: true, reason: err.message };
        // A bug here must not let a statement through unclassified.
        return { unparseable: true, reason: `classifier error: ${err instanceof Error ? err.message : String(err)}` };
      }
    },
  };
}

function classifyString(sql: string, ctx: ClassifyContext): Classification {
  // Text that is all ASCII reads the same in every character set: only other bytes can hide a quote.
  const ascii = !NON_ASCII.test(sql);
  const charset = ctx.settings?.character_set_client;
  if (!ascii && isAsciiUnsafeCharset(charset)) return unsafeCharset(charset!);
  const opts: LexOptions = { sqlMode: ctx.settings?.sql_mode, server: ctx.server ?? 'mysql', version: ctx.settings?.version };
  const split = splitStatements(sql, opts);
  if (!split.ok) return { unparseable: true, reason: split.reason };
  const session = newSession(opts, ctx.database);
  const statements: StatementClass[] = [];
  for (const [i, stmt] of split.statements.entries()) {
    session.sqlMode = stmt.sqlMode;
    statements.push(classifyStatement(stmt.tokens, session));
    // The server reads the rest of the string in the new character set.
    const changed = characterSetOfTokens(stmt.tokens);
    if (!ascii && changed !== undefined && isAsciiUnsafeCharset(changed) && i < split.statements.length - 1) return unsafeCharset(changed);
  }
  return { statements };
}

function unsafeCharset(name: string): Classification {
  const shown = name.startsWith('\u0000') ? 'one airlock cannot tell' : name;
  return { unparseable: true, reason: `character set ${shown} can hide quotes and backslashes inside characters; use utf8mb4` };
}

interface MutableSession extends Session {
  sqlMode: string | undefined;
}

function newSession(opts: LexOptions, database: string | undefined): MutableSession {
  const session: MutableSession = {
    server: opts.server ?? 'mysql',
    database,
    sqlMode: opts.sqlMode,
    userVars: new Map(),
    prepared: new Map(),
    handlers: new Map(),
    classifyNested(text: string): StatementClass {
      const split = splitStatements(text, { ...opts, sqlMode: session.sqlMode });
      if (!split.ok) throw new Unparseable(`prepared text: ${split.reason}`);
      if (split.statements.length !== 1) throw new Unparseable('prepared text must be exactly one statement');
      const inner = split.statements[0]!.tokens;
      if (NOT_PREPARABLE.has(inner[0]!.up)) throw new Unparseable(`${inner[0]!.up} cannot be prepared`);
      // Preparing runs nothing: classify in a copy so variables set by the text do not leak.
      const child = newSession(opts, session.database);
      child.sqlMode = session.sqlMode;
      for (const [k, v] of session.userVars) child.userVars.set(k, v);
      return classifyStatement(inner, child);
    },
    classifyTokens(tokens: readonly Token[]): StatementClass {
      return classifyStatement(tokens, session);
    },
  };
  return session;
}
