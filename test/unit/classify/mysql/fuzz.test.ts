// Property tests: the MySQL classifier never throws and always answers in the Classification shape.

import fc from 'fast-check';
import t from 'tap';
import { createMysqlClassifier } from '../../../../src/classify/mysql/index.js';
import type { Classification } from '../../../../src/classify/types.js';

const classifier = createMysqlClassifier();

function validShape(c: Classification): boolean {
  if (c.unparseable === true) return typeof c.reason === 'string' && c.reason.length > 0;
  return (
    Array.isArray(c.statements) &&
    c.statements.every(
      (s) =>
        typeof s.kind === 'string' &&
        /^[A-Z]+$/.test(s.kind) &&
        typeof s.writes === 'boolean' &&
        Array.isArray(s.tables) &&
        s.tables.every((x) => typeof x === 'string' && x.length > 0) &&
        (s.nested_kinds === undefined || s.nested_kinds.every((k) => typeof k === 'string')),
    )
  );
}

/** SQL-flavoured fragments, so random strings reach deep into the lexer and the statement handlers. */
const fragment = fc.constantFrom(
  'SELECT', 'DELETE', 'FROM', 'users', '`db`', '.', 'WHERE', 'id', '=', '1', ';', '(', ')', ',', "'x'", '"y"', "'a\\'",
  '--', '-- ', '#', '\n', '\r', '/*', '*/', '/*!', '/*!50000', '/*!99999', '/*M!', 'BEGIN', 'END', 'CREATE', 'PROCEDURE',
  'p()', 'INSERT', 'INTO', 'VALUES', 'UPDATE', 'SET', '@q', '@@global.x', 'PREPARE', 's', 'EXECUTE', 'WITH', 'AS',
  'JOIN', 'ON', 'USE', 'db', 'FOR', 'CASE', 'IF', 'THEN', 'LOCK', 'TABLES', 'WRITE', 'HANDLER', 'OPEN', 'GRANT',
  'TABLE', 'sql_mode', "'ANSI_QUOTES'", 'EXPLAIN', 'ANALYZE', 'NEXTVAL', 'my_fn', '\\', '\0', ' ',
);

const sqlLike = fc.array(fragment, { maxLength: 25 }).map((parts) => parts.join(' '));
const settings = fc.record({
  server: fc.constantFrom<'mysql' | 'mariadb'>('mysql', 'mariadb'),
  sql_mode: fc.constantFrom('', 'ANSI_QUOTES', 'NO_BACKSLASH_ESCAPES', 'ANSI,NO_BACKSLASH_ESCAPES'),
});

t.test('never throws on arbitrary strings', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), settings, (sql, s) => {
      const c = classifier.classify(sql, { server: s.server, settings: { sql_mode: s.sql_mode } });
      return validShape(c);
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random strings classified');
});

t.test('never throws on SQL-like token soup', async (t) => {
  fc.assert(
    fc.property(sqlLike, settings, (sql, s) => {
      const c = classifier.classify(sql, { server: s.server, settings: { sql_mode: s.sql_mode } });
      return validShape(c);
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 token soups classified');
});

t.test('an appended DROP is never hidden by what precedes it', async (t) => {
  // Whatever a prefix does, "...; DROP TABLE victim" is either rejected or seen as a DROP,
  // unless the prefix leaves a string or comment open that swallows it.
  fc.assert(
    fc.property(sqlLike, (prefix) => {
      const c = classifier.classify(`${prefix}\n;\nDROP TABLE victim`);
      if (c.unparseable) return true;
      const seen = c.statements.some((s) => s.kind === 'DROP' && s.tables.some((x) => x === 'victim' || x.endsWith('.victim')));
      const swallowed = c.statements.some((s) => s.kind === 'CREATE') || c.statements.length === 0 || /['"`]|\/\*|#|-- /.test(prefix);
      return seen || swallowed;
    }),
    { numRuns: 5000 },
  );
  t.pass('5000 prefixes checked');
});

t.test('the shape check itself rejects malformed answers', async (t) => {
  t.notOk(validShape({ statements: [{ kind: 'select', writes: false, tables: [] }] }));
  t.notOk(validShape({ unparseable: true, reason: '' }));
  t.ok(validShape({ statements: [] }));
});
