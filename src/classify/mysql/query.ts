// Reads tables, function calls and row-lock/file-write clauses out of the tokens of a query or expression.

import { TABLES_UNKNOWN } from '../types.js';
import type { Token } from './lexer.js';
import { RESERVED, canBeAlias } from './keywords.js';
import { SEQUENCE_FUNCTIONS, functionTag, isPureFunction } from './functions.js';

export class Unparseable extends Error {}

export interface TableRef {
  readonly schema?: string;
  readonly name: string;
}

interface CteDef {
  readonly name: string;
  readonly visibleFrom: number;
  readonly visibleTo: number;
}

/** Words that take a parenthesis without being a function call. */
const SYNTAX_PAREN = new Set(['AGAINST', 'ANY', 'SOME', 'COLUMNS', 'END', 'VALUE', 'NESTED', 'PATH', 'ROLLUP', 'OF']);

const QUERY_START = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE']);

/** What running the scanned tokens does, accumulated over one statement. */
export class QueryFacts {
  readonly tables: { ref: TableRef; index: number }[] = [];
  readonly aliases = new Map<string, TableRef>();
  readonly functions: string[] = [];
  readonly tags = new Set<string>();
  unknownFunction = false;
  forUpdate = false;
  fileWrite = false;
  sequenceWrite = false;
  private readonly recorded = new Set<number>();
  private readonly marked = new Set<number>();
  private readonly ctes: CteDef[] = [];

  constructor(
    readonly tokens: readonly Token[],
    readonly matching: readonly number[],
  ) {}

  isMarked(i: number): boolean {
    return this.marked.has(i);
  }

  mark(i: number): void {
    this.marked.add(i);
  }

  addTable(ref: TableRef, index: number): void {
    if (this.recorded.has(index)) return;
    this.recorded.add(index);
    this.marked.add(index);
    if (ref.schema === undefined && this.ctes.some((c) => c.name === ref.name.toLowerCase() && index >= c.visibleFrom && index <= c.visibleTo)) return;
    this.tables.push({ ref, index });
  }

  addCte(def: CteDef): void {
    this.ctes.push(def);
  }
}

/**
 * Index of the matching close for every '(' and '{' (and vice versa); throws when unbalanced.
 * Braces only open ODBC escapes, `{ident ...}` ({oj ...}, {d '...'}, {fn ...}): the server
 * rejects any other brace, so refusing it here costs nothing and leaves no shape unread.
 */
export function matchParens(tokens: readonly Token[]): number[] {
  const out = new Array<number>(tokens.length).fill(-1);
  const stack: number[] = [];
  tokens.forEach((t, i) => {
    if (t.type !== 'op') return;
    if (t.value === '(') stack.push(i);
    else if (t.value === '{') {
      const tag = tokens[i + 1];
      if (!tag || (tag.type !== 'word' && tag.type !== 'qident')) throw new Unparseable('"{" that opens no ODBC escape');
      stack.push(i);
    } else if (t.value === ')' || t.value === '}') {
      const open = stack.pop();
      if (open === undefined || tokens[open]!.value !== (t.value === ')' ? '(' : '{')) {
        throw new Unparseable('unbalanced parentheses or braces');
      }
      out[open] = i;
      out[i] = open;
    }
  });
  if (stack.length > 0) throw new Unparseable('unbalanced parentheses or braces');
  return out;
}

export function isOp(t: Token | undefined, value: string): boolean {
  return t !== undefined && t.type === 'op' && t.value === value;
}

export function isWord(t: Token | undefined, ...ups: string[]): boolean {
  return t !== undefined && t.type === 'word' && ups.includes(t.up);
}

function isName(t: Token | undefined): boolean {
  return t !== undefined && (t.type === 'qident' || (t.type === 'word' && !RESERVED.has(t.up)));
}

/**
 * Reads `name` or `schema.name` at i. Returns the ref and the index after it, or undefined
 * when no table name is there.
 */
export function readName(tokens: readonly Token[], i: number): { ref: TableRef; next: number } | undefined {
  const t = tokens[i];
  if (!isName(t)) return undefined;
  if (isOp(tokens[i + 1], '.') && tokens[i + 2] && (tokens[i + 2]!.type === 'qident' || tokens[i + 2]!.type === 'word')) {
    return { ref: { schema: t!.value, name: tokens[i + 2]!.value }, next: i + 3 };
  }
  return { ref: { name: t!.value }, next: i + 1 };
}

/** Scans tokens [from, to) of a query, expression list or DML tail, adding what it finds to facts. */
export function scanQuery(facts: QueryFacts, from: number, to: number): void {
  const { tokens, matching } = facts;
  const callParens: boolean[] = [];
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (t.type === 'op') {
      if (t.value === '(') {
        const call = isCallOpen(facts, i);
        callParens.push(call);
      } else if (t.value === ')') callParens.pop();
      continue;
    }
    if (t.type !== 'word' && t.type !== 'qident') continue;
    if (t.type === 'word') {
      const inCall = callParens.length > 0 && callParens[callParens.length - 1]!;
      switch (t.up) {
        case 'FROM':
          if (!inCall) readTableList(facts, i + 1);
          continue;
        case 'JOIN':
        case 'STRAIGHT_JOIN':
          // USE INDEX FOR JOIN (i) is an index hint, not a join.
          if (!isWord(tokens[i - 1], 'FOR')) readTableRef(facts, i + 1);
          continue;
        case 'TABLE':
          readTableRef(facts, i + 1);
          continue;
        case 'REFERENCES': {
          const n = readName(tokens, i + 1);
          if (n) facts.addTable(n.ref, i + 1);
          continue;
        }
        case 'WITH':
          readWith(facts, i);
          continue;
        case 'INTO':
          if (isWord(tokens[i + 1], 'OUTFILE', 'DUMPFILE')) {
            facts.fileWrite = true;
            facts.tags.add('server-file-write');
          }
          continue;
        case 'FOR':
          if (isWord(tokens[i + 1], 'UPDATE')) facts.forUpdate = true;
          continue;
        case 'NEXT':
        case 'PREVIOUS':
          if (isWord(tokens[i + 1], 'VALUE') && isWord(tokens[i + 2], 'FOR')) {
            const n = readName(tokens, i + 3);
            if (!n) throw new Unparseable('sequence name expected');
            facts.addTable(n.ref, i + 3);
            if (t.up === 'NEXT') facts.sequenceWrite = true;
          }
          continue;
      }
    }
    if (isOp(tokens[i + 1], '(') && !facts.isMarked(i)) noteCall(facts, i);
  }
}

/** Whether '(' at i opens a function's argument list (a FROM inside it is EXTRACT/TRIM syntax, not a table). */
function isCallOpen(facts: QueryFacts, i: number): boolean {
  const prev = facts.tokens[i - 1];
  if (!prev || facts.isMarked(i - 1)) return false;
  if (prev.type === 'qident') return true;
  if (prev.type !== 'word') return false;
  if (QUERY_START.has(facts.tokens[i + 1]?.up ?? '')) return false;
  if (SYNTAX_PAREN.has(prev.up)) return false;
  return !RESERVED.has(prev.up) || isPureFunction(prev.value.toLowerCase());
}

function noteCall(facts: QueryFacts, i: number): void {
  const { tokens } = facts;
  const t = tokens[i]!;
  if (t.type === 'word' && (SYNTAX_PAREN.has(t.up) || (RESERVED.has(t.up) && !isPureFunction(t.value.toLowerCase())))) return;
  const qualified = isOp(tokens[i - 1], '.') && tokens[i - 2] !== undefined;
  const name = qualified ? `${tokens[i - 2]!.value}.${t.value}`.toLowerCase() : t.value.toLowerCase();
  if (!facts.functions.includes(name)) facts.functions.push(name);
  if (qualified || t.type === 'qident') {
    facts.unknownFunction = true;
    return;
  }
  const seq = SEQUENCE_FUNCTIONS[name];
  if (seq) {
    const n = readName(tokens, i + 2);
    if (!n) throw new Unparseable(`${name}() needs a sequence name`);
    facts.addTable(n.ref, i + 2);
    if (seq.writes) facts.sequenceWrite = true;
    return;
  }
  const tag = functionTag(name);
  if (tag) facts.tags.add(tag);
  // LOAD_FILE can read another table's data file.
  if (tag === 'server-file-read') facts.tags.add(TABLES_UNKNOWN);
  if (!isPureFunction(name)) facts.unknownFunction = true;
}

/** WITH [RECURSIVE] name [(cols)] AS (query) [, ...]: CTE names are not tables. */
function readWith(facts: QueryFacts, i: number): void {
  const { tokens, matching } = facts;
  let j = i + 1;
  const recursive = isWord(tokens[j], 'RECURSIVE');
  if (recursive) j++;
  // The scope ends where the group holding the WITH closes.
  let scopeEnd = tokens.length;
  let depth = 0;
  for (let k = i - 1; k >= 0; k--) {
    if (isOp(tokens[k], ')')) depth++;
    else if (isOp(tokens[k], '(')) {
      if (depth === 0) {
        scopeEnd = matching[k]!;
        break;
      }
      depth--;
    }
  }
  for (;;) {
    const nameTok = tokens[j];
    if (!nameTok || (nameTok.type !== 'word' && nameTok.type !== 'qident')) return;
    let k = j + 1;
    if (isOp(tokens[k], '(')) k = matching[k]! + 1;
    if (!isWord(tokens[k], 'AS') || !isOp(tokens[k + 1], '(')) return;
    const bodyEnd = matching[k + 1]!;
    facts.mark(j);
    facts.addCte({ name: nameTok.value.toLowerCase(), visibleFrom: recursive ? k + 1 : bodyEnd, visibleTo: scopeEnd });
    j = bodyEnd + 1;
    if (!isOp(tokens[j], ',')) return;
    j++;
  }
}

/**
 * Words that end a table list (FROM, UPDATE, USING). All reserved, so none can be a name or alias; a
 * non-reserved word here could be a column in an ON condition and end the list too early.
 */
const TABLE_LIST_END = new Set([
  'WHERE', 'GROUP', 'HAVING', 'WINDOW', 'ORDER', 'LIMIT', 'FETCH', 'UNION', 'EXCEPT', 'INTERSECT', 'INTO', 'LOCK',
  'PROCEDURE', 'RETURNING', 'SET', 'WITH',
]);

function endsTableList(tokens: readonly Token[], i: number): boolean {
  const t = tokens[i]!;
  // After '.', even a reserved word is a name: ON a.order = b.order.
  if (t.type !== 'word' || isOp(tokens[i - 1], '.')) return false;
  // FOR SYSTEM_TIME and index hints' FOR JOIN belong to a table reference; FOR UPDATE and FOR SHARE do not.
  if (t.up === 'FOR') return isWord(tokens[i + 1], 'UPDATE', 'SHARE');
  if (t.up === 'ON') return isWord(tokens[i + 1], 'DUPLICATE') && isWord(tokens[i + 2], 'KEY');
  return TABLE_LIST_END.has(t.up);
}

/**
 * A table list (FROM, UPDATE, USING, or inside parentheses or {oj }): a reference at its start and after
 * every comma outside parentheses, up to the clause that ends it. A comma can follow a join's ON condition,
 * a JSON_TABLE(...) or a derived table, so the list does not end where one reference does.
 * Joins are read by the caller's scan. Returns the index where the list ends.
 */
export function readTableList(facts: QueryFacts, i: number): number {
  const { tokens, matching } = facts;
  // Each reference's own tokens (name, alias, index hints) are skipped: an alias is never a clause word.
  let j = readTableRef(facts, i);
  for (; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.type === 'op') {
      if (t.value === '(' || t.value === '{') j = matching[j]!;
      else if (t.value === ')' || t.value === '}' || t.value === ';') break;
      else if (t.value === ',') j = readTableRef(facts, j + 1) - 1;
    } else if (endsTableList(tokens, j)) break;
  }
  return j;
}

/** One table reference: name [PARTITION (...)] [[AS] alias] [index hints], a derived table, or a nested join. */
export function readTableRef(facts: QueryFacts, i: number): number {
  const { tokens, matching } = facts;
  let j = i;
  let ref: TableRef | undefined;
  if (isWord(tokens[j], 'LATERAL')) j++;
  if (isOp(tokens[j], '(')) {
    const close = matching[j]!;
    // ((t)) is a table too; ((SELECT ...) d) recurses to a derived table, whose body the caller's scan reads.
    if (!QUERY_START.has(tokens[j + 1]?.up ?? '')) readTableList(facts, j + 1);
    j = close + 1;
  } else if (isOp(tokens[j], '{')) {
    // ODBC {OJ table_reference}: MySQL 8 needs the word OJ, MariaDB and MySQL 5.7 take any identifier.
    // As for a parenthesised join, the first table is read here and the joins inside by the caller's scan.
    const close = matching[j]!;
    if (close === j + 2) throw new Unparseable('ODBC {oj} escape without a table');
    facts.mark(j + 1);
    readTableList(facts, j + 2);
    return close + 1;
  } else if (isOp(tokens[j], '.')) {
    // `.t` is t in the default database (MariaDB and MySQL 5.7, "for Delphi"); after '.' even a reserved word is a name.
    const n = tokens[j + 1];
    if (!n || (n.type !== 'word' && n.type !== 'qident') || isOp(tokens[j + 2], '.')) throw new Unparseable('table name expected after "."');
    ref = { name: n.value };
    facts.addTable(ref, j + 1);
    j += 2;
  } else if (isWord(tokens[j], 'DUAL')) {
    return j + 1;
  } else if (isName(tokens[j]) && isOp(tokens[j + 1], '(')) {
    // A table function such as JSON_TABLE(...): its arguments are scanned as expressions.
    j = matching[j + 1]! + 1;
  } else {
    const n = readName(tokens, j);
    if (!n) return j;
    ref = n.ref;
    facts.addTable(n.ref, j);
    if (n.next === j + 3) facts.mark(j + 2);
    j = n.next;
    if (isWord(tokens[j], 'PARTITION') && isOp(tokens[j + 1], '(')) j = matching[j + 1]! + 1;
  }
  j = readAlias(facts, j, ref);
  // Index hints: USE|FORCE|IGNORE INDEX|KEY [FOR JOIN|ORDER BY|GROUP BY] (list), possibly comma-separated.
  for (;;) {
    if (!isWord(tokens[j], 'USE', 'FORCE', 'IGNORE') || !isWord(tokens[j + 1], 'INDEX', 'KEY')) break;
    let k = j + 2;
    if (isWord(tokens[k], 'FOR')) k += isWord(tokens[k + 1], 'JOIN') ? 2 : 3;
    if (!isOp(tokens[k], '(')) throw new Unparseable('index hint needs a list');
    j = matching[k]! + 1;
    if (isOp(tokens[j], ',') && isWord(tokens[j + 1], 'USE', 'FORCE', 'IGNORE')) j++;
  }
  return j;
}

function readAlias(facts: QueryFacts, j: number, ref: TableRef | undefined): number {
  const { tokens, matching } = facts;
  let aliasAt = -1;
  if (isWord(tokens[j], 'AS')) aliasAt = j + 1;
  else if (tokens[j]?.type === 'qident' || tokens[j]?.type === 'string' || (tokens[j]?.type === 'word' && canBeAlias(tokens[j]!.up))) aliasAt = j;
  if (aliasAt === -1) return j;
  const a = tokens[aliasAt];
  if (!a || a.type === 'op' || a.type === 'number') throw new Unparseable('alias expected');
  facts.mark(aliasAt);
  if (ref) facts.aliases.set(a.value, ref);
  j = aliasAt + 1;
  // Derived-table column list: (SELECT ...) AS d (a, b)
  if (isOp(tokens[j], '(') && !ref) j = matching[j]! + 1;
  return j;
}
