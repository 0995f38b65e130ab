// The command names a rule may match on: statement kinds, subkinds, and the groups DDL, DCL, READ and WRITE.
import type { StatementClass } from '../classify/types.js';

/** Statement kinds as the classifier reports them (test/fixtures/sql-corpus.README.md, "Kinds"). */
export const STATEMENT_KINDS: ReadonlySet<string> = new Set([
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'REPLACE', 'TRUNCATE', 'CREATE', 'ALTER', 'DROP',
  'RENAME', 'GRANT', 'REVOKE', 'COPY', 'LOAD', 'CALL', 'DO', 'SET', 'RESET', 'SHOW', 'DESCRIBE',
  'EXPLAIN', 'PREPARE', 'EXECUTE', 'DEALLOCATE', 'VACUUM', 'ANALYZE', 'CLUSTER', 'REINDEX', 'REFRESH',
  'CHECKPOINT', 'LOCK', 'UNLOCK', 'LISTEN', 'NOTIFY', 'DISCARD', 'COMMENT', 'SECURITY LABEL', 'REASSIGN',
  'IMPORT', 'DECLARE', 'FETCH', 'CLOSE', 'BEGIN', 'COMMIT', 'ROLLBACK', 'USE', 'HANDLER', 'CHECK',
  'CHECKSUM', 'OPTIMIZE', 'REPAIR', 'FLUSH', 'KILL', 'SHUTDOWN', 'RESTART', 'INSTALL', 'PURGE', 'CHANGE',
  'CLONE',
]);

/**
 * Groups a rule may name instead of listing kinds:
 * - DDL: statements that change schema: CREATE, ALTER, DROP, RENAME, TRUNCATE (DDL in MySQL, and it
 *   bypasses row-level DELETE rules, so it is treated as the stricter one), COMMENT, SECURITY LABEL,
 *   IMPORT (IMPORT FOREIGN SCHEMA creates tables).
 * - DCL: statements that change who may do what: GRANT, REVOKE, REASSIGN.
 * - WRITE: any statement the classifier marks `writes: true`, whatever its kind (a SELECT calling
 *   set_config() or a volatile function, EXPLAIN ANALYZE of a DELETE, DO, CALL, ...).
 * - READ: a statement with `writes: false` whose kind and nested kinds are all SELECT, SHOW, DESCRIBE
 *   or EXPLAIN. SET, USE and other session statements are not READ even though they do not write.
 * DDL and DCL match on the kind and on every nested kind, like plain kinds do.
 */
export const COMMAND_GROUPS: ReadonlySet<string> = new Set(['DDL', 'DCL', 'READ', 'WRITE']);

const DDL_KINDS: ReadonlySet<string> = new Set(['CREATE', 'ALTER', 'DROP', 'RENAME', 'TRUNCATE', 'COMMENT', 'SECURITY LABEL', 'IMPORT']);
const DCL_KINDS: ReadonlySet<string> = new Set(['GRANT', 'REVOKE', 'REASSIGN']);
const READ_KINDS: ReadonlySet<string> = new Set(['SELECT', 'SHOW', 'DESCRIBE', 'EXPLAIN']);

/** Upper-cased with single spaces, the form rules are stored in. */
export function normalizeCommand(command: string): string {
  return command.trim().replace(/\s+/g, ' ').toUpperCase();
}

/** A group, a kind, or a subkind that starts with a kind ("SET ROLE", "ALTER SYSTEM", "SET GLOBAL"). */
export function isKnownCommand(normalized: string): boolean {
  if (COMMAND_GROUPS.has(normalized) || STATEMENT_KINDS.has(normalized)) return true;
  const words = normalized.split(' ');
  for (let n = words.length - 1; n >= 1; n--) {
    if (STATEMENT_KINDS.has(words.slice(0, n).join(' '))) return true;
  }
  return false;
}

/** Whether one (normalized) command of a rule matches the statement, nested kinds included. */
export function commandMatches(command: string, stmt: StatementClass): boolean {
  const kinds = [stmt.kind, ...(stmt.nested_kinds ?? [])];
  switch (command) {
    case 'WRITE':
      return stmt.writes;
    case 'READ':
      return !stmt.writes && kinds.every((k) => READ_KINDS.has(k));
    case 'DDL':
      return kinds.some((k) => DDL_KINDS.has(k));
    case 'DCL':
      return kinds.some((k) => DCL_KINDS.has(k));
    default:
      return kinds.includes(command) || stmt.subkind?.toUpperCase() === command;
  }
}
