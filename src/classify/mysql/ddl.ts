// Schema, privilege, table-lock and table-maintenance statements: CREATE, ALTER, DROP, RENAME, TRUNCATE, GRANT, LOCK, OPTIMIZE...

import type { StatementClass } from '../types.js';
import type { Token } from './lexer.js';
import { Analysis, type Session } from './analysis.js';
import { Unparseable, isOp, isWord, readName, scanQuery, type TableRef } from './query.js';

export const DDL_KINDS = new Set([
  'CREATE', 'ALTER', 'DROP', 'RENAME', 'TRUNCATE', 'GRANT', 'REVOKE', 'LOCK', 'UNLOCK', 'ANALYZE', 'OPTIMIZE', 'REPAIR',
  'CHECK', 'CHECKSUM',
]);

/** Objects that are not relations: creating or dropping them names no table. */
const NON_TABLE_OBJECTS = new Set([
  'DATABASE', 'SCHEMA', 'USER', 'ROLE', 'PROCEDURE', 'FUNCTION', 'EVENT', 'SERVER', 'TABLESPACE', 'LOGFILE', 'SPATIAL',
  'RESOURCE', 'UNDO', 'INSTANCE', 'PACKAGE', 'AGGREGATE',
]);

const CREATE_MODIFIERS = new Set(['TEMPORARY', 'UNIQUE', 'FULLTEXT', 'ONLINE', 'OFFLINE', 'IGNORE', 'FORCE']);

export function classifyDdl(tokens: readonly Token[], session: Session): StatementClass {
  const a = new Analysis(tokens[0]!.up, tokens, session);
  if (tokens.length < 2) throw new Unparseable(`${a.kind} needs an object`);
  a.writes = true;
  switch (a.kind) {
    case 'CREATE':
    case 'ALTER':
      createOrAlter(a);
      break;
    case 'DROP':
      drop(a);
      break;
    case 'RENAME':
      if (!isWord(tokens[1], 'USER')) nameList(a, isWord(tokens[1], 'TABLE', 'TABLES') ? 2 : 1, ['TO', ',']);
      break;
    case 'TRUNCATE':
      nameList(a, isWord(tokens[1], 'TABLE') ? 2 : 1, []);
      break;
    case 'GRANT':
    case 'REVOKE':
      privilegeTarget(a);
      break;
    case 'LOCK':
      lockTables(a);
      break;
    case 'UNLOCK':
      a.writes = false;
      if (!isWord(tokens[1], 'TABLE', 'TABLES', 'INSTANCE')) throw new Unparseable('UNLOCK TABLES');
      break;
    default:
      maintenance(a);
  }
  return a.result();
}

/** Skips CREATE/ALTER modifiers (OR REPLACE, DEFINER = x, ALGORITHM = x, SQL SECURITY x, TEMPORARY...). */
function objectIndex(tokens: readonly Token[]): number {
  let j = 1;
  for (;;) {
    const t = tokens[j];
    if (isWord(t, 'OR') && isWord(tokens[j + 1], 'REPLACE')) j += 2;
    else if (isWord(t, 'DEFINER', 'ALGORITHM') && isOp(tokens[j + 1], '=')) {
      j += 3;
      // user@host: 'bob'@'%' lexes as a string then @'%'.
      if (tokens[j]?.type === 'uservar' || isOp(tokens[j], '@')) j += isOp(tokens[j], '@') ? 2 : 1;
      if (isOp(tokens[j], '(') && isOp(tokens[j + 1], ')')) j += 2;
    } else if (isWord(t, 'SQL') && isWord(tokens[j + 1], 'SECURITY')) j += 3;
    else if (t?.type === 'word' && CREATE_MODIFIERS.has(t.up)) j++;
    else return j;
  }
}

function skipIfExists(tokens: readonly Token[], j: number): number {
  if (isWord(tokens[j], 'IF') && isWord(tokens[j + 1], 'NOT') && isWord(tokens[j + 2], 'EXISTS')) return j + 3;
  if (isWord(tokens[j], 'IF') && isWord(tokens[j + 1], 'EXISTS')) return j + 2;
  return j;
}

function requireName(a: Analysis, j: number): { ref: TableRef; next: number } {
  const n = readName(a.tokens, j);
  if (!n) throw new Unparseable(`${a.kind} needs a name`);
  a.facts.addTable(n.ref, j);
  if (n.next === j + 3) a.facts.mark(j + 2);
  return n;
}

function createOrAlter(a: Analysis): void {
  const { tokens } = a;
  const j = objectIndex(tokens);
  const object = tokens[j];
  if (!object || object.type !== 'word') throw new Unparseable(`${a.kind} needs an object`);
  switch (object.up) {
    case 'TABLE': {
      const n = requireName(a, skipIfExists(tokens, j + 1));
      let rest = n.next;
      if (a.kind === 'ALTER') {
        renameTarget(a, rest);
        referencedTables(a, rest, tokens.length);
        return;
      }
      const like = isOp(tokens[rest], '(') ? rest + 1 : rest;
      if (isWord(tokens[like], 'LIKE')) {
        requireName(a, like + 1);
        return;
      }
      // Column definitions name tables only through REFERENCES; a query after them is read in full.
      if (isOp(tokens[rest], '(') && !isWord(tokens[rest + 1], 'SELECT', 'WITH', 'TABLE', 'VALUES')) {
        const close = a.facts.matching[rest]!;
        referencedTables(a, rest, close);
        rest = close + 1;
      }
      scanQuery(a.facts, rest, tokens.length);
      return;
    }
    case 'VIEW':
    case 'SEQUENCE': {
      const n = requireName(a, skipIfExists(tokens, j + 1));
      scanQuery(a.facts, n.next, tokens.length);
      return;
    }
    case 'INDEX':
    case 'KEY': {
      // CREATE INDEX i [USING t] ON tbl (cols)
      const on = tokens.findIndex((t, i) => i > j && isWord(t, 'ON'));
      if (on === -1) throw new Unparseable('CREATE INDEX needs ON table');
      requireName(a, on + 1);
      return;
    }
    case 'TRIGGER': {
      // The trigger is attached to its table; its body runs later and is not this statement's.
      const on = tokens.findIndex((t, i) => i > j && isWord(t, 'ON'));
      if (on === -1) throw new Unparseable('CREATE TRIGGER needs ON table');
      requireName(a, on + 1);
      return;
    }
  }
  if (NON_TABLE_OBJECTS.has(object.up)) {
    if (tokens.length < j + 2) throw new Unparseable(`${a.kind} ${object.up} needs a name`);
    return;
  }
  throw new Unparseable(`unknown ${a.kind} ${object.value}`);
}

/** Tables named by FOREIGN KEY ... REFERENCES p and by EXCHANGE PARTITION ... WITH TABLE t2. */
function referencedTables(a: Analysis, from: number, to: number): void {
  const { tokens } = a;
  for (let i = from; i < to; i++) {
    if (isWord(tokens[i], 'REFERENCES')) requireName(a, i + 1);
    else if (isWord(tokens[i], 'WITH') && isWord(tokens[i + 1], 'TABLE')) requireName(a, i + 2);
  }
}

/** ALTER TABLE t ... RENAME [TO|AS] t2 names a second table; RENAME COLUMN/INDEX/KEY do not. */
function renameTarget(a: Analysis, from: number): void {
  const { tokens } = a;
  for (let i = from; i < tokens.length; i++) {
    if (!isWord(tokens[i], 'RENAME') || isWord(tokens[i + 1], 'COLUMN', 'INDEX', 'KEY')) continue;
    const at = isWord(tokens[i + 1], 'TO', 'AS') ? i + 2 : i + 1;
    requireName(a, at);
  }
}

function drop(a: Analysis): void {
  const { tokens } = a;
  let j = 1;
  if (isWord(tokens[j], 'TEMPORARY')) j++;
  const object = tokens[j];
  if (!object || object.type !== 'word') throw new Unparseable('DROP needs an object');
  if (isWord(object, 'TABLE', 'TABLES', 'VIEW', 'SEQUENCE')) {
    nameList(a, skipIfExists(tokens, j + 1), []);
    return;
  }
  if (isWord(object, 'INDEX', 'KEY')) {
    const on = tokens.findIndex((t, i) => i > j && isWord(t, 'ON'));
    if (on === -1) throw new Unparseable('DROP INDEX needs ON table');
    requireName(a, on + 1);
    return;
  }
  if (NON_TABLE_OBJECTS.has(object.up) || object.up === 'TRIGGER') {
    if (tokens.length < j + 2) throw new Unparseable(`DROP ${object.up} needs a name`);
    return;
  }
  throw new Unparseable(`unknown DROP ${object.value}`);
}

/** A list of table names separated by commas or by the given words; stops at anything else. */
function nameList(a: Analysis, from: number, separators: string[]): void {
  const { tokens } = a;
  let j = from;
  for (;;) {
    j = requireName(a, j).next;
    const sep = tokens[j];
    if (isOp(sep, ',') || (sep?.type === 'word' && separators.includes(sep.up))) {
      j++;
      continue;
    }
    if (sep && !isWord(sep, 'RESTRICT', 'CASCADE', 'WAIT', 'NOWAIT')) {
      if (!(sep.type === 'number' && isWord(tokens[j - 1], 'WAIT'))) throw new Unparseable(`unexpected ${sep.value} after table name`);
    }
    return;
  }
}

/** GRANT/REVOKE ... ON [TABLE] db.t: a table unless the level is *, db.* or a routine. */
function privilegeTarget(a: Analysis): void {
  const { tokens } = a;
  if (tokens.length < 3) throw new Unparseable(`${a.kind} is incomplete`);
  let depth = 0;
  for (let i = 1; i < tokens.length; i++) {
    if (isOp(tokens[i], '(')) depth++;
    else if (isOp(tokens[i], ')')) depth--;
    if (depth !== 0 || !isWord(tokens[i], 'ON')) continue;
    let j = i + 1;
    if (isWord(tokens[j], 'FUNCTION', 'PROCEDURE')) return;
    if (isWord(tokens[j], 'TABLE')) j++;
    const t = tokens[j];
    if (!t) throw new Unparseable(`${a.kind} ON needs a target`);
    if (isOp(t, '*') || (isOp(tokens[j + 1], '.') && isOp(tokens[j + 2], '*')) || t.type === 'string' || isWord(tokens[j], 'PROXY')) return;
    requireName(a, j);
    return;
  }
}

/** LOCK TABLES t [[AS] a] READ [LOCAL] | [LOW_PRIORITY] WRITE, ...: a write lock blocks every other session. */
function lockTables(a: Analysis): void {
  const { tokens } = a;
  if (isWord(tokens[1], 'INSTANCE')) return;
  if (!isWord(tokens[1], 'TABLE', 'TABLES')) throw new Unparseable('LOCK TABLES');
  a.writes = false;
  let j = 2;
  for (;;) {
    j = requireName(a, j).next;
    if (isWord(tokens[j], 'AS')) j += 2;
    else if (!isWord(tokens[j], 'READ', 'WRITE', 'LOW_PRIORITY') && tokens[j]?.type !== 'op') j++;
    if (isWord(tokens[j], 'READ')) {
      j++;
      if (isWord(tokens[j], 'LOCAL')) j++;
    } else {
      if (isWord(tokens[j], 'LOW_PRIORITY')) j++;
      if (!isWord(tokens[j], 'WRITE')) throw new Unparseable('LOCK TABLES needs READ or WRITE');
      a.writes = true;
      j++;
      if (isWord(tokens[j], 'CONCURRENT')) j++;
    }
    if (j >= tokens.length) return;
    if (!isOp(tokens[j], ',')) throw new Unparseable(`unexpected ${tokens[j]!.value} in LOCK TABLES`);
    j++;
  }
}

/** ANALYZE/OPTIMIZE/REPAIR/CHECK/CHECKSUM [NO_WRITE_TO_BINLOG|LOCAL] TABLE t1, t2 [options]. */
function maintenance(a: Analysis): void {
  const { tokens } = a;
  let j = 1;
  if (isWord(tokens[j], 'NO_WRITE_TO_BINLOG', 'LOCAL')) j++;
  if (!isWord(tokens[j], 'TABLE', 'TABLES')) throw new Unparseable(`${a.kind} TABLE expected`);
  // CHECK and CHECKSUM only read; ANALYZE, OPTIMIZE and REPAIR rewrite storage or statistics.
  a.writes = a.kind !== 'CHECK' && a.kind !== 'CHECKSUM';
  j++;
  for (;;) {
    j = requireName(a, j).next;
    if (!isOp(tokens[j], ',')) return;
    j++;
  }
}
