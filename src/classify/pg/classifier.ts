// The PostgreSQL Classifier: libpg-query parse, pre-checks for what that parser cannot see, whole-tree walk.

import { parseSync } from 'libpg-query';
import type { Classification, ClassifyContext, StatementClass } from '../types.js';
import type { DetailedClassification, LiteralAwareClassifier } from '../cache.js';
import { newSession } from './facts.js';
import { rewriteForScsOff } from './scs-off.js';
import { walkStatement } from './statements.js';
import { unwrap, isObject } from './walker.js';

const PG_WHITESPACE_ONLY = /^[ \t\n\r\f\v]*$/;

/** standard_conforming_strings as the server would read the setting; undefined when unreadable. */
/**
 * PostgreSQL's client-only encodings: a multi-byte character's second byte can be an ASCII quote or
 * backslash, so the server reads `'\x81\x5c'` as one character where a UTF-8 reading sees a backslash.
 * airlock parses UTF-8; text in these encodings cannot be classified with certainty.
 */
const ASCII_UNSAFE_ENCODINGS = new Set(['SJIS', 'SHIFT_JIS_2004', 'BIG5', 'GBK', 'UHC', 'GB18030', 'JOHAB']);

export function isAsciiUnsafeClientEncoding(name: string | undefined): boolean {
  return name !== undefined && ASCII_UNSAFE_ENCODINGS.has(name.trim().toUpperCase().replace(/-/g, '_'));
}

function scsOn(ctx: ClassifyContext | undefined): boolean | undefined {
  const value = ctx?.settings?.['standard_conforming_strings'];
  if (value === undefined) return true;
  const v = value.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(v)) return true;
  if (['off', 'false', 'no', '0'].includes(v)) return false;
  return undefined;
}

function unparseable(reason: string): DetailedClassification {
  return { classification: { unparseable: true, reason } };
}

export class PgClassifier implements LiteralAwareClassifier {
  readonly dialect = 'postgres' as const;

  classify(sql: string, ctx?: ClassifyContext): Classification {
    return this.classifyDetailed(sql, ctx).classification;
  }

  classifyDetailed(sql: string, ctx?: ClassifyContext): DetailedClassification {
    try {
      return this.run(sql, ctx);
    } catch (err) {
      return unparseable(`classifier error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private run(sql: string, ctx: ClassifyContext | undefined): DetailedClassification {
    if (typeof sql !== 'string') return unparseable('query is not text');
    // The parser reads a C string and would stop at NUL; the server refuses such a query outright.
    if (sql.includes('\0')) return unparseable('NUL byte in query text');
    const encoding = ctx?.settings?.['client_encoding'];
    // All-ASCII text reads the same in every encoding: only other bytes can hide a quote or backslash.
    if (isAsciiUnsafeClientEncoding(encoding) && /[^\u0000-\u007f]/.test(sql)) return unparseable(`client_encoding ${encoding} can hide quotes and backslashes inside characters; use UTF8`);
    if (PG_WHITESPACE_ONLY.test(sql)) return { classification: { statements: [] }, constantOffsets: new Set() };
    const scs = scsOn(ctx);
    if (scs === undefined) return unparseable('unreadable standard_conforming_strings setting');
    let text = sql;
    if (!scs) {
      const rewritten = rewriteForScsOff(sql);
      if (!rewritten.ok) return unparseable(rewritten.reason);
      text = rewritten.sql;
    }
    let tree: unknown;
    try {
      tree = parseSync(text);
    } catch (err) {
      return unparseable(err instanceof Error ? err.message : 'syntax error');
    }
    const stmts = isObject(tree) && Array.isArray(tree['stmts']) ? tree['stmts'] : [];
    const session = newSession(!scs);
    const statements: StatementClass[] = [];
    let bytes: Buffer | undefined;
    for (const raw of stmts) {
      const node = isObject(raw) ? unwrap(raw['stmt']) : undefined;
      if (!node) return unparseable('unexpected parse tree shape');
      const leadingWord = (): string => {
        bytes ??= Buffer.from(text);
        const start = isObject(raw) && typeof raw['stmt_location'] === 'number' ? raw['stmt_location'] : 0;
        return /[A-Za-z]+/.exec(bytes.subarray(start, start + 64).toString())?.[0]?.toUpperCase() ?? 'UNKNOWN';
      };
      statements.push(walkStatement(node[0], node[1], session, { leadingWord }));
    }
    const classification: Classification = { statements };
    // A rewritten text has shifted offsets, and an inspected constant makes the result literal-dependent.
    if (session.constantsInspected || text !== sql) return { classification };
    return { classification, constantOffsets: constantOffsets(tree) };
  }
}

/** Byte offsets of every A_Const in the tree: literals whose values the classification did not read. */
function constantOffsets(tree: unknown): Set<number> {
  const out = new Set<number>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    if (!isObject(v)) return;
    const aConst = v['A_Const'];
    if (isObject(aConst) && typeof aConst['location'] === 'number') out.add(aConst['location']);
    for (const value of Object.values(v)) if (typeof value === 'object' && value !== null) visit(value);
  };
  visit(tree);
  return out;
}
