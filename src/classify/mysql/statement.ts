// Classifies one lexed MySQL/MariaDB statement: kind from the leading words, then what it touches and whether it writes.

import { KINDS_UNKNOWN, TABLES_UNKNOWN, type StatementClass } from '../types.js';
import type { Token } from './lexer.js';
import { Analysis, formatTable, type Session } from './analysis.js';
import { analyzeDml, startsDml } from './dml.js';
import { classifyDdl, DDL_KINDS } from './ddl.js';
import { classifySet } from './set.js';
import { Unparseable, isOp, isWord, readName, scanQuery } from './query.js';
import { RESERVED } from './keywords.js';

/** Statements that change the server or other sessions whatever their arguments. */
const ADMIN_WRITES = new Set([
  'KILL', 'SHUTDOWN', 'RESTART', 'INSTALL', 'UNINSTALL', 'PURGE', 'CHANGE', 'CLONE', 'RESET', 'IMPORT', 'BINLOG',
  'CACHE', 'BACKUP', 'STOP', 'FLUSH',
]);

/** Words that cannot end a statement: the text was cut short. */
const DANGLING_WORDS = new Set([
  'FROM', 'JOIN', 'WHERE', 'USING', 'SET', 'AND', 'OR', 'XOR', 'NOT', 'BY', 'INTO', 'SELECT', 'VALUES', 'LIKE', 'IN',
  'AS', 'HAVING', 'LIMIT', 'UNION', 'EXCEPT', 'INTERSECT', 'WHEN', 'THEN', 'ELSE', 'CASE', 'IS', 'BETWEEN', 'TO',
  'WITH', 'OFFSET', 'ORDER', 'GROUP', 'PARTITION', 'OVER', 'WINDOW', 'DISTINCT', 'INTERVAL', 'OUTFILE', 'DUMPFILE',
  'STRAIGHT_JOIN', 'INNER', 'CROSS', 'NATURAL', 'OUTER', 'DIV', 'MOD', 'REGEXP', 'RLIKE', 'ESCAPE', 'SEPARATOR',
]);
const DANGLING_OPS = new Set([',', '.', '(', '=', ':=', '<', '>', '<=', '>=', '<>', '!=', '+', '-', '/', '%', '|', '&', '^', '~', '||', '&&', '<<', '>>', '->', '->>', '<=>', '!', '@']);

export function classifyStatement(tokens: readonly Token[], session: Session): StatementClass {
  const last = tokens[tokens.length - 1]!;
  if ((last.type === 'word' && DANGLING_WORDS.has(last.up)) || (last.type === 'op' && DANGLING_OPS.has(last.value))) {
    throw new Unparseable(`statement ends at "${last.value}": cut short`);
  }
  // Leading-$ identifiers are deprecated in MySQL; here they are nearly always PostgreSQL dollar quoting.
  const dollar = tokens.find((t) => t.type === 'word' && t.value.startsWith('$'));
  if (dollar) throw new Unparseable(`"${dollar.value}": dollar quoting is not MySQL`);
  const head = tokens[0]!;
  if (isOp(head, '(')) return dml(tokens, session);
  if (head.type !== 'word') throw new Unparseable('statement does not start with a keyword');
  const up = head.up;
  switch (up) {
    case 'SELECT':
    case 'WITH':
    case 'TABLE':
    case 'VALUES':
    case 'INSERT':
    case 'REPLACE':
    case 'UPDATE':
    case 'DELETE':
      return dml(tokens, session);
    case 'SET':
      return classifySet(tokens, session);
    case 'USE':
      return use(tokens, session);
    case 'EXPLAIN':
    case 'DESCRIBE':
    case 'DESC':
      return explain(tokens, session);
    case 'SHOW':
      return show(tokens, session);
    case 'PREPARE':
      return prepare(tokens, session);
    case 'EXECUTE':
      return execute(tokens, session);
    case 'DEALLOCATE':
      return deallocate(tokens, session, 'DEALLOCATE');
    case 'HANDLER':
      return handler(tokens, session);
    case 'CALL':
    case 'DO':
      return callOrDo(tokens, session, up);
    case 'LOAD':
      return load(tokens, session);
    case 'BEGIN':
    case 'START':
    case 'COMMIT':
    case 'ROLLBACK':
    case 'SAVEPOINT':
    case 'RELEASE':
    case 'XA':
      return transaction(tokens, session);
    case 'HELP':
    case 'GET':
    case 'SIGNAL':
    case 'RESIGNAL':
      return simple(tokens, session, up, false);
    case 'ANALYZE':
      if (session.server === 'mariadb' && startsDml(new Analysis('ANALYZE', tokens, session), 1)) return analyzeStatement(tokens, session);
      break;
  }
  if (up === 'DROP' && isWord(tokens[1], 'PREPARE')) return deallocate(tokens, session, 'DROP');
  if (DDL_KINDS.has(up)) return classifyDdl(tokens, session);
  if (ADMIN_WRITES.has(up)) return simple(tokens, session, up, true);
  throw new Unparseable(`unknown statement ${JSON.stringify(head.value)}`);
}

function dml(tokens: readonly Token[], session: Session): StatementClass {
  // The kind is that of the statement after any WITH clause, known only once it is read.
  const a = new Analysis('SELECT', tokens, session);
  const { kind, writes } = analyzeDml(a, 0);
  a.kind = kind;
  a.writes = writes;
  return a.result();
}

function simple(tokens: readonly Token[], session: Session, kind: string, writes: boolean): StatementClass {
  if (tokens.length < 2 && !['SHUTDOWN', 'RESTART', 'HELP'].includes(kind)) throw new Unparseable(`${kind} needs arguments`);
  const a = new Analysis(kind, tokens, session);
  a.writes = writes;
  if (kind === 'FLUSH') return flush(a);
  if (kind === 'BACKUP') return a.result();
  scanQuery(a.facts, 1, tokens.length);
  return a.result();
}

/** FLUSH [NO_WRITE_TO_BINLOG|LOCAL] TABLE[S] [t1, t2] [WITH READ LOCK | FOR EXPORT]. */
function flush(a: Analysis): StatementClass {
  const { tokens } = a;
  let j = 1;
  if (isWord(tokens[j], 'NO_WRITE_TO_BINLOG', 'LOCAL')) j++;
  if (!isWord(tokens[j], 'TABLE', 'TABLES')) return a.result();
  j++;
  for (let n = readName(tokens, j); n; n = readName(tokens, j)) {
    a.facts.addTable(n.ref, j);
    j = n.next;
    if (!isOp(tokens[j], ',')) break;
    j++;
  }
  return a.result();
}

function use(tokens: readonly Token[], session: Session): StatementClass {
  const db = tokens[1];
  if (tokens.length !== 2 || !db || !(db.type === 'qident' || (db.type === 'word' && !RESERVED.has(db.up)))) {
    throw new Unparseable('USE takes one database name');
  }
  session.database = db.value;
  return { kind: 'USE', writes: false, tables: [] };
}

/** EXPLAIN/DESCRIBE of a statement is EXPLAIN; of a table it is DESCRIBE. EXPLAIN ANALYZE runs the statement. */
function explain(tokens: readonly Token[], session: Session): StatementClass {
  let j = 1;
  let analyze = false;
  let options = false;
  for (;;) {
    const t = tokens[j];
    if (isWord(t, 'ANALYZE')) analyze = true;
    else if (isWord(t, 'EXTENDED', 'PARTITIONS')) options = true;
    else if (isWord(t, 'FORMAT') && isOp(tokens[j + 1], '=')) {
      options = true;
      j += 2;
    } else if (isWord(t, 'INTO') && tokens[j + 1]?.type === 'uservar') j++;
    else break;
    j++;
  }
  if (isWord(tokens[j], 'FOR') && isWord(tokens[j + 1], 'CONNECTION')) {
    if (tokens.length !== j + 3) throw new Unparseable('EXPLAIN FOR CONNECTION takes one id');
    return { kind: 'EXPLAIN', writes: false, tables: [] };
  }
  const a = new Analysis('EXPLAIN', tokens, session);
  if (startsDml(a, j)) {
    const inner = analyzeDml(a, j);
    if (analyze) {
      a.writes = inner.writes;
      if (inner.kind !== 'SELECT') a.nested.push(inner.kind);
    } else a.ignoreFactWrites = true;
    return a.result();
  }
  if (analyze || options) throw new Unparseable('EXPLAIN options need a statement');
  const describe = new Analysis('DESCRIBE', tokens, session);
  const n = readName(tokens, 1);
  if (!n || tokens.length > n.next + 1) throw new Unparseable('DESCRIBE takes a table and an optional column');
  describe.facts.addTable(n.ref, 1);
  return describe.result();
}

/** MariaDB ANALYZE <statement> runs the statement and reports on it. */
function analyzeStatement(tokens: readonly Token[], session: Session): StatementClass {
  let j = 1;
  if (isWord(tokens[j], 'FORMAT') && isOp(tokens[j + 1], '=')) j += 3;
  const a = new Analysis('ANALYZE', tokens, session);
  const inner = analyzeDml(a, j);
  a.writes = inner.writes;
  if (inner.kind !== 'SELECT') a.nested.push(inner.kind);
  return a.result();
}

function show(tokens: readonly Token[], session: Session): StatementClass {
  if (tokens.length < 2) throw new Unparseable('SHOW needs an object');
  const a = new Analysis('SHOW', tokens, session);
  let j = 1;
  while (isWord(tokens[j], 'FULL', 'EXTENDED')) j++;
  if (isWord(tokens[j], 'CREATE') && isWord(tokens[j + 1], 'TABLE', 'VIEW', 'SEQUENCE')) {
    const n = readName(tokens, j + 2);
    if (!n) throw new Unparseable('SHOW CREATE needs a name');
    a.facts.addTable(n.ref, j + 2);
  } else if (isWord(tokens[j], 'COLUMNS', 'FIELDS', 'INDEX', 'INDEXES', 'KEYS') && isWord(tokens[j + 1], 'FROM', 'IN')) {
    const n = readName(tokens, j + 2);
    if (!n) throw new Unparseable('SHOW COLUMNS needs a table');
    let ref = n.ref;
    if (isWord(tokens[n.next], 'FROM', 'IN') && tokens[n.next + 1]) ref = { schema: tokens[n.next + 1]!.value, name: ref.name };
    a.facts.addTable(ref, j + 2);
  } else if (isWord(tokens[j], 'PROCESSLIST', 'GRANTS', 'ENGINE')) {
    a.facts.tags.add('sensitive-read');
  }
  return a.result();
}

/** The text PREPARE or EXECUTE IMMEDIATE will run: a literal, or a user variable set earlier in the string. */
function foldText(t: Token | undefined, rest: number, session: Session): string | undefined {
  if (!t || rest !== 0) return undefined;
  if (t.type === 'string' || t.type === 'hex') return t.value;
  if (t.type === 'uservar') return session.userVars.get(t.value);
  return undefined;
}

function nestedInto(kind: string, inner: StatementClass, tokens: readonly Token[], session: Session): Analysis {
  const a = new Analysis(kind, tokens, session);
  for (const name of inner.tables) a.addFormatted(name, 0);
  a.nested.push(inner.kind, ...(inner.nested_kinds ?? []));
  return a;
}

function prepare(tokens: readonly Token[], session: Session): StatementClass {
  const name = tokens[1];
  if (!name || (name.type !== 'word' && name.type !== 'qident') || !isWord(tokens[2], 'FROM') || tokens.length < 4) {
    throw new Unparseable('PREPARE name FROM text');
  }
  const key = name.value.toLowerCase();
  const text = foldText(tokens[3], tokens.length - 4, session);
  if (text === undefined) {
    if (tokens.length !== 4 || tokens[3]!.type !== 'uservar') throw new Unparseable('PREPARE text is not a literal or variable');
    session.prepared.set(key, undefined);
    // The variable was set by an earlier query: whatever it says, table rules must see it.
    return { kind: 'PREPARE', writes: false, tables: [], tags: [TABLES_UNKNOWN, KINDS_UNKNOWN] };
  }
  const inner = session.classifyNested(text);
  session.prepared.set(key, inner);
  return nestedInto('PREPARE', inner, tokens, session).result();
}

function execute(tokens: readonly Token[], session: Session): StatementClass {
  if (isWord(tokens[1], 'IMMEDIATE')) {
    if (session.server !== 'mariadb') throw new Unparseable('EXECUTE IMMEDIATE is MariaDB syntax');
    let end = tokens.findIndex((t, i) => i > 1 && isWord(t, 'USING'));
    if (end === -1) end = tokens.length;
    const text = foldText(tokens[2], end - 3, session);
    if (text === undefined) return { kind: 'EXECUTE', writes: true, tables: [], tags: [TABLES_UNKNOWN, KINDS_UNKNOWN] };
    const inner = session.classifyNested(text);
    const a = nestedInto('EXECUTE', inner, tokens, session);
    a.writes = inner.writes;
    return a.result();
  }
  const name = tokens[1];
  if (!name || (name.type !== 'word' && name.type !== 'qident')) throw new Unparseable('EXECUTE needs a statement name');
  if (tokens.length > 2 && !isWord(tokens[2], 'USING')) throw new Unparseable('EXECUTE name [USING @vars]');
  const inner = session.prepared.get(name.value.toLowerCase());
  // A statement prepared outside this string: unknown, so assume it writes.
  if (!inner) return { kind: 'EXECUTE', writes: true, tables: [], tags: [TABLES_UNKNOWN, KINDS_UNKNOWN] };
  const a = nestedInto('EXECUTE', inner, tokens, session);
  a.writes = inner.writes;
  return a.result();
}

function deallocate(tokens: readonly Token[], session: Session, kind: string): StatementClass {
  const name = tokens[2];
  if (!isWord(tokens[1], 'PREPARE') || !name || tokens.length !== 3) throw new Unparseable(`${kind} PREPARE name`);
  session.prepared.delete(name.value.toLowerCase());
  return { kind, writes: false, tables: [] };
}

/** HANDLER t OPEN [AS h]; HANDLER h READ ...; HANDLER h CLOSE. Reads rows without locking. */
function handler(tokens: readonly Token[], session: Session): StatementClass {
  const n = readName(tokens, 1);
  const action = n && tokens[n.next];
  if (!n || !isWord(action, 'OPEN', 'READ', 'CLOSE')) throw new Unparseable('HANDLER name OPEN|READ|CLOSE');
  const a = new Analysis('HANDLER', tokens, session);
  if (isWord(action, 'OPEN')) {
    const table = formatTable(n.ref, session.database);
    let alias = n.ref.name;
    let j = n.next + 1;
    if (isWord(tokens[j], 'AS')) j++;
    if (tokens[j]) alias = tokens[j]!.value;
    session.handlers.set(alias.toLowerCase(), table);
    a.addFormatted(table, 1);
  } else {
    const known = n.ref.schema === undefined ? session.handlers.get(n.ref.name.toLowerCase()) : undefined;
    a.addFormatted(known ?? formatTable(n.ref, session.database), 1);
    if (isWord(action, 'READ')) scanQuery(a.facts, n.next + 1, tokens.length);
  }
  return a.result();
}

/** CALL runs a routine and DO evaluates expressions: both fail closed as writes. */
function callOrDo(tokens: readonly Token[], session: Session, kind: string): StatementClass {
  if (tokens.length < 2) throw new Unparseable(`${kind} needs an argument`);
  const a = new Analysis(kind, tokens, session);
  a.writes = true;
  let from = 1;
  if (kind === 'CALL') {
    const n = readName(tokens, 1);
    if (!n) throw new Unparseable('CALL needs a procedure name');
    from = n.next;
    a.facts.mark(n.next - 1);
  }
  scanQuery(a.facts, from, tokens.length);
  return a.result();
}

function load(tokens: readonly Token[], session: Session): StatementClass {
  const a = new Analysis('LOAD', tokens, session);
  a.writes = true;
  if (isWord(tokens[1], 'INDEX')) {
    scanQuery(a.facts, 1, tokens.length);
    return a.result();
  }
  if (!isWord(tokens[1], 'DATA', 'XML')) throw new Unparseable('LOAD DATA|XML|INDEX');
  const into = tokens.findIndex((t, i) => isWord(t, 'TABLE') && isWord(tokens[i - 1], 'INTO'));
  const n = into === -1 ? undefined : readName(tokens, into + 1);
  if (!n) throw new Unparseable('LOAD needs INTO TABLE name');
  a.facts.addTable(n.ref, into + 1);
  if (!tokens.some((t) => isWord(t, 'LOCAL'))) {
    a.facts.tags.add('server-file-read');
    // A server file can be another table's data file.
    a.facts.tags.add(TABLES_UNKNOWN);
  }
  scanQuery(a.facts, n.next, tokens.length);
  return a.result();
}

function transaction(tokens: readonly Token[], session: Session): StatementClass {
  const head = tokens[0]!.up;
  if (head === 'BEGIN' && isWord(tokens[1], 'NOT')) throw new Unparseable('anonymous compound statement');
  if (head === 'START' && !isWord(tokens[1], 'TRANSACTION')) return simple(tokens, session, 'START', true);
  if ((head === 'SAVEPOINT' || head === 'RELEASE') && tokens.length < 2) throw new Unparseable(`${head} needs a name`);
  if (head === 'XA') {
    // Committing or rolling back an XA transaction can finish one another session prepared.
    const writes = isWord(tokens[1], 'COMMIT', 'ROLLBACK');
    return { kind: 'XA', writes, tables: [] };
  }
  const kind = head === 'START' ? 'BEGIN' : head;
  return { kind, writes: false, tables: [] };
}
