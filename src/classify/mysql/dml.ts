// Queries and data changes (SELECT, TABLE, VALUES, INSERT, REPLACE, UPDATE, DELETE, WITH ...), alone or under EXPLAIN/ANALYZE.

import type { Analysis } from './analysis.js';
import { Unparseable, isOp, isWord, readName, readTableList, scanQuery, type TableRef } from './query.js';

const DML_WRITES: Readonly<Record<string, boolean>> = { SELECT: false, INSERT: true, REPLACE: true, UPDATE: true, DELETE: true };

/** Whether the tokens at start begin a query or data change that EXPLAIN can take. */
export function startsDml(a: Analysis, start: number): boolean {
  const t = a.tokens[start];
  return isOp(t, '(') || isWord(t, 'SELECT', 'WITH', 'TABLE', 'VALUES', 'INSERT', 'REPLACE', 'UPDATE', 'DELETE');
}

/**
 * Reads the DML statement beginning at token start into a.facts. Returns its kind and whether
 * that kind writes when run.
 */
export function analyzeDml(a: Analysis, start: number): { kind: string; writes: boolean } {
  const { tokens, facts } = a;
  const end = tokens.length;
  let main = start;
  if (isWord(tokens[start], 'WITH')) {
    main = skipCtes(a, start);
    scanQuery(facts, start, main);
  }
  const head = tokens[main];
  if (!head) throw new Unparseable('WITH without a statement');
  let kind: string;
  if (isOp(head, '(') || isWord(head, 'SELECT', 'TABLE', 'VALUES')) {
    kind = 'SELECT';
    if (main + 1 >= end) throw new Unparseable('empty query');
    scanQuery(facts, main, end);
  } else if (isWord(head, 'INSERT', 'REPLACE')) {
    kind = head.up;
    insertInto(a, main, end);
  } else if (isWord(head, 'UPDATE')) {
    kind = 'UPDATE';
    const list = skipWords(a, main + 1, ['LOW_PRIORITY', 'IGNORE']);
    const before = facts.tables.length;
    const j = readTableList(facts, list);
    if (facts.tables.length === before) throw new Unparseable('UPDATE without a table');
    if (!tokens.slice(j).some((t) => isWord(t, 'SET'))) throw new Unparseable('UPDATE without SET');
    // From the list's start: joins inside (a JOIN b) or {oj a JOIN b} are found by the scan, not by readTableList.
    scanQuery(facts, list, end);
  } else if (isWord(head, 'DELETE')) {
    kind = 'DELETE';
    deleteFrom(a, main, end);
  } else {
    throw new Unparseable(`no statement after WITH`);
  }
  rejectSmuggledStatement(a, start, main);
  return { kind, writes: DML_WRITES[kind]! };
}

/** Statement keywords that are reserved and can never appear inside a query or data change. */
const FOREIGN_KEYWORDS = new Set(['DROP', 'CREATE', 'ALTER', 'TRUNCATE', 'GRANT', 'REVOKE', 'RENAME', 'KILL', 'CALL', 'DELETE', 'INSERT', 'REPLACE', 'UPDATE']);

/**
 * The server rejects "SELECT x DROP TABLE t"; we read tables from such text all the same, so refuse it
 * rather than classify a statement the server would see differently.
 */
function rejectSmuggledStatement(a: Analysis, start: number, main: number): void {
  const { tokens } = a;
  for (let i = start; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (i === main || t.type !== 'word' || !FOREIGN_KEYWORDS.has(t.up)) continue;
    if ((t.up === 'INSERT' || t.up === 'REPLACE') && isOp(tokens[i + 1], '(')) continue;
    if (t.up === 'UPDATE' && isWord(tokens[i - 1], 'FOR', 'KEY')) continue;
    throw new Unparseable(`${t.up} inside a ${tokens[main]!.up} statement`);
  }
}

function skipWords(a: Analysis, j: number, words: string[]): number {
  while (isWord(a.tokens[j], ...words)) j++;
  return j;
}

/** Index of the statement after WITH [RECURSIVE] name [(cols)] AS (...) [, ...]. */
function skipCtes(a: Analysis, start: number): number {
  const { tokens, facts } = a;
  let j = start + 1;
  if (isWord(tokens[j], 'RECURSIVE')) j++;
  for (;;) {
    if (!readName(tokens, j)) throw new Unparseable('CTE name expected');
    j++;
    if (isOp(tokens[j], '(')) j = facts.matching[j]! + 1;
    if (!isWord(tokens[j], 'AS') || !isOp(tokens[j + 1], '(')) throw new Unparseable('CTE needs AS (query)');
    j = facts.matching[j + 1]! + 1;
    if (!isOp(tokens[j], ',')) return j;
    j++;
  }
}

function insertInto(a: Analysis, main: number, end: number): void {
  const { tokens, facts } = a;
  let j = skipWords(a, main + 1, ['LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY', 'IGNORE']);
  if (isWord(tokens[j], 'INTO')) j++;
  const n = readName(tokens, j);
  if (!n) throw new Unparseable(`${tokens[main]!.up} without a table`);
  facts.addTable(n.ref, j);
  if (n.next === j + 3) facts.mark(j + 2);
  j = n.next;
  if (isWord(tokens[j], 'PARTITION') && isOp(tokens[j + 1], '(')) j = facts.matching[j + 1]! + 1;
  const body = tokens[j];
  if (!body || !(isOp(body, '(') || isWord(body, 'VALUES', 'VALUE', 'SELECT', 'SET', 'TABLE', 'WITH'))) {
    throw new Unparseable(`${tokens[main]!.up} without values`);
  }
  scanQuery(facts, j, end);
}

/**
 * DELETE [mods] FROM t ..., DELETE [mods] t1[.*], t2 FROM refs ..., DELETE [mods] FROM t1, t2 USING refs ...
 * In the multi-table forms the targets may be aliases of the references.
 */
function deleteFrom(a: Analysis, main: number, end: number): void {
  const { tokens, facts } = a;
  let j = skipWords(a, main + 1, ['LOW_PRIORITY', 'QUICK', 'IGNORE']);
  const targets: { ref: TableRef; index: number }[] = [];
  const readTargets = (k: number): number => {
    for (;;) {
      const n = readName(tokens, k);
      if (!n) throw new Unparseable('DELETE target expected');
      targets.push({ ref: n.ref, index: k });
      k = n.next;
      if (isOp(tokens[k], '.') && isOp(tokens[k + 1], '*')) k += 2;
      if (!isOp(tokens[k], ',')) return k;
      k++;
    }
  };
  if (isWord(tokens[j], 'FROM')) {
    const afterTargets = readTargets(j + 1);
    if (isWord(tokens[afterTargets], 'USING')) {
      readTableList(facts, afterTargets + 1);
      scanQuery(facts, afterTargets + 1, end);
    } else {
      targets.length = 0;
      scanQuery(facts, j, end);
    }
  } else {
    j = readTargets(j);
    if (!isWord(tokens[j], 'FROM')) throw new Unparseable('DELETE without FROM');
    scanQuery(facts, j, end);
  }
  for (const t of targets) {
    if (t.ref.schema === undefined && facts.aliases.has(t.ref.name)) continue;
    const known = facts.tables.some((x) => x.ref.name === t.ref.name && (t.ref.schema === undefined || x.ref.schema === t.ref.schema));
    if (!known) facts.addTable(t.ref, t.index);
  }
  if (facts.tables.length === 0) throw new Unparseable('DELETE without a table');
}
