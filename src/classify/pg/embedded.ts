// Classifies SQL text the server will run from inside another statement (DO bodies, query_to_xml, dblink, routines).

import { parseSync } from 'libpg-query';
import type { StatementClass } from '../types.js';
import type { Session } from './facts.js';
import { rewriteForScsOff } from './scs-off.js';
import { walkStatement } from './statements.js';
import { unwrap } from './walker.js';

/** Deeper nesting than this is refused (fail closed) rather than followed. */
const MAX_DEPTH = 8;

/**
 * Statements in `sql`, classified in the calling statement's session, or undefined when the text
 * cannot be read (syntax error, NUL, too deep): callers then treat it as an unknown write.
 */
export function classifyEmbedded(sql: string, session: Session, options: { plpgsql?: boolean } = {}): StatementClass[] | undefined {
  session.constantsInspected = true;
  if (session.depth >= MAX_DEPTH || sql.includes('\0')) return undefined;
  if (/^[ \t\n\r\f\v]*$/.test(sql)) return [];
  let text = sql;
  if (session.backslashStrings) {
    const rewritten = rewriteForScsOff(sql);
    if (!rewritten.ok) return undefined;
    text = rewritten.sql;
  }
  let tree: unknown;
  try {
    tree = parseSync(text);
  } catch {
    return undefined;
  }
  const stmts = (tree as { stmts?: unknown[] }).stmts ?? [];
  session.depth++;
  try {
    const out: StatementClass[] = [];
    for (const raw of stmts) {
      const node = unwrap((raw as { stmt?: unknown }).stmt);
      if (!node) return undefined;
      out.push(walkStatement(node[0], node[1], session, options));
    }
    return out;
  } finally {
    session.depth--;
  }
}
