// PostgreSQL classifier beyond the corpus: fail-closed edges, session effects, and fast-check robustness.

import fc from 'fast-check';
import t from 'tap';
import { CachedClassifier } from '../../../../src/classify/cache.js';
import { createPgClassifier, initPgClassifier, normalisePg } from '../../../../src/classify/pg/index.js';
import type { Classification, StatementClass } from '../../../../src/classify/types.js';

await initPgClassifier();
const pg = createPgClassifier();

function statements(sql: string, settings?: Record<string, string>): StatementClass[] {
  const c = pg.classify(sql, settings ? { settings } : undefined);
  if (c.unparseable) throw new Error(`unexpectedly unparseable: ${sql}: ${c.reason}`);
  return c.statements;
}

function isValidShape(c: Classification): boolean {
  if (c.unparseable) return c.unparseable === true && typeof c.reason === 'string';
  return Array.isArray(c.statements) && c.statements.every((s) =>
    typeof s.kind === 'string' && s.kind.length > 0 && typeof s.writes === 'boolean' &&
    Array.isArray(s.tables) && s.tables.every((x) => typeof x === 'string') &&
    (s.nested_kinds === undefined || s.nested_kinds.every((k) => typeof k === 'string')));
}

t.test('function calls', async (t) => {
  t.match(statements("SELECT nextval('orders_id_seq')")[0], { writes: true, tables: ['orders_id_seq'] });
  t.match(statements("SELECT currval('\"Sales\".seq')")[0], { writes: false, tables: ['Sales.seq'] });
  t.match(statements('SELECT myschema.lower(x) FROM t')[0], { writes: true }, 'a schema other than pg_catalog is user code');
  t.match(statements('SELECT pg_catalog.lower(x) FROM t')[0], { writes: false });
  t.match(statements('SELECT pg_advisory_lock(1)')[0], { writes: false, tags: ['lock'] });
  t.match(statements("SELECT pg_read_file('/etc/passwd')")[0], { writes: false, tags: ['server-file-read'] });
  t.match(statements('SELECT dblink_exec(conn, q) FROM cfg')[0], { writes: true, tags: ['dynamic-sql'] });
  t.match(statements('SELECT query_to_xml(q, true, false, \'\') FROM cfg')[0], { writes: true, tags: ['dynamic-sql'] }, 'unknown query text fails closed');
  t.match(statements('SELECT 1 OPERATOR(evil.===) 2')[0], { writes: true });
});

// Regression (fresh-user report): these read tables a deny rule names without naming them in the SQL.
t.test('functions that read tables their SQL does not name are tagged tables-unknown', async (t) => {
  const unknown = (sql: string) => statements(sql)[0]!.tags ?? [];
  t.same(statements("SELECT ts_stat('select body from fu_secrets')")[0]!.tables, ['fu_secrets'], 'ts_stat runs its SQL text: constant text is read');
  t.ok(unknown("SELECT * FROM ts_stat('select body from ' || 'fu_secrets')").includes('tables-unknown'));
  t.ok(unknown("SELECT table_to_xml('fu_' || 'secrets', true, false, '')").includes('tables-unknown'));
  t.ok(unknown("SELECT schema_to_xml('public', true, false, '')").includes('tables-unknown'));
  t.ok(unknown("SELECT database_to_xml(true, false, '')").includes('tables-unknown'));
  t.ok(unknown("SELECT query_to_xml(current_setting('x.q'), true, false, '')").includes('tables-unknown'));
  t.ok(unknown("SELECT pg_read_binary_file(pg_relation_filepath('fu_secrets'))").includes('tables-unknown'));
  t.ok(unknown("DO $$BEGIN EXECUTE current_setting('x.q'); END$$").includes('tables-unknown'));
  t.notOk(unknown("SELECT table_to_xml('fu_secrets', true, false, '')").includes('tables-unknown'), 'a constant name is known');
  t.notOk(unknown('SELECT lower(name) FROM t').includes('tables-unknown'));
  // Regression (fresh-user round 3): ts_rewrite(query, sql) runs its second argument.
  t.same(statements("select ts_rewrite('a'::tsquery, 'select ''a''::tsquery, quote_literal(s)::tsquery from fu3_secrets')")[0]!.tables, ['fu3_secrets']);
  t.ok(unknown("select ts_rewrite('a'::tsquery, 'select 1 from fu3_' || 'secrets')").includes('tables-unknown'));
  t.same(unknown("select ts_rewrite('a & b'::tsquery, 'a'::tsquery, 'c'::tsquery)"), [], 'the three-argument form runs no SQL');
});

// Regression (fresh-user round 3): a statement prepared by a protocol-level Parse (or an earlier query)
// ran through SQL EXECUTE as an unknown write that no commands or tables rule matched.
t.test('EXECUTE of a statement prepared elsewhere may be anything', async (t) => {
  for (const sql of ['EXECUTE d1', 'execute s1(1, 2)', 'EXPLAIN ANALYZE EXECUTE s1', 'CREATE TABLE x AS EXECUTE s1']) {
    t.match(statements(sql)[0]!.tags, ['tables-unknown', 'kinds-unknown'], sql);
  }
  t.notOk(statements('PREPARE p AS DELETE FROM t; EXECUTE p')[1]!.tags, 'prepared in the same string: known');
});

t.test('session effects inside one string', async (t) => {
  t.same(statements('SET search_path TO a, "B"; SELECT * FROM t, s.u')[1]!.tables, ['a.t', 'B.t', 's.u']);
  t.same(statements('SET search_path TO a; RESET search_path; SELECT * FROM t')[2]!.tables, ['t']);
  t.same(statements('SET search_path TO a; DISCARD ALL; SELECT * FROM t')[2]!.tables, ['t']);
  t.match(statements('PREPARE p AS SELECT * FROM t; EXECUTE p')[1], { kind: 'EXECUTE', writes: false, tables: ['t'] });
  t.match(statements('PREPARE p AS SELECT 1; DEALLOCATE p; EXECUTE p')[2], { writes: true }, 'deallocated name is unknown again');
  t.match(statements('CREATE VIEW v AS SELECT pg_sleep(5); SELECT * FROM v')[1], { writes: false, tags: ['dos'] });
});

t.test('statement kinds and fail-closed writes', async (t) => {
  t.match(statements('LOCK TABLE t')[0], { kind: 'LOCK', writes: true }, 'default mode is ACCESS EXCLUSIVE');
  t.match(statements('LOCK TABLE t IN ROW SHARE MODE')[0], { writes: true });
  t.match(statements('COPY t FROM STDIN')[0], { kind: 'COPY', writes: true });
  t.match(statements('EXPLAIN SELECT pg_sleep(10)')[0], { writes: false, tags: undefined }, 'plain EXPLAIN runs nothing');
  t.match(statements("EXPLAIN (ANALYZE 'fals') SELECT * FROM t FOR UPDATE")[0], { writes: false }, 'prefix of false');
  t.match(statements("EXPLAIN (ANALYZE 'maybe') SELECT * FROM t FOR UPDATE")[0], { writes: true }, 'unknown value fails closed');
  t.match(statements('SELECT * FROM (SELECT * FROM t FOR UPDATE) x')[0], { writes: true });
  t.match(statements('SELECT 1 UNION SELECT 2 FROM t FOR SHARE')[0], { writes: true });
  t.match(statements('DO LANGUAGE plpython3u $$ import os $$')[0], { kind: 'DO', writes: true, tags: ['code-exec'] });
  t.match(statements('PREPARE TRANSACTION \'x\'')[0], { kind: 'PREPARE', subkind: 'PREPARE TRANSACTION', writes: true });
  t.match(statements('WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a')[0]!, { tables: ['b'] }, 'a later CTE is not visible to an earlier one');
  t.match(statements('WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT * FROM r) SELECT * FROM r')[0], { tables: [] });
});

t.test('PL/pgSQL bodies', async (t) => {
  const [d] = statements(`DO $$
    DECLARE n int := (SELECT count(*) FROM counted);
    BEGIN
      IF n > 0 THEN UPDATE a SET x = 1; ELSE INSERT INTO b VALUES (1) RETURNING id INTO n; END IF;
      FOR r IN SELECT * FROM c LOOP DELETE FROM d WHERE id = r.id; END LOOP;
      EXECUTE format('DROP TABLE %I', 'x');
    END $$`);
  t.match(d, { kind: 'DO', writes: true, nested_kinds: ['UPDATE', 'INSERT', 'DELETE'], tags: ['dynamic-sql'] });
  t.same([...d!.tables].sort(), ['a', 'b', 'c', 'counted', 'd']);
  t.match(statements("DO $$ BEGIN EXECUTE 'SELECT * INTO stolen FROM ' || 'users'; END $$")[0], { nested_kinds: ['CREATE'], tables: ['stolen', 'users'] });
});

t.test('standard_conforming_strings=off', async (t) => {
  const off = { standard_conforming_strings: 'off' };
  t.equal(statements("SELECT 'a\\\\'; DROP TABLE t", off).length, 2, 'escaped backslash ends the string');
  t.equal(statements("SELECT 'it''s'", off).length, 1);
  t.equal(statements("SELECT x FROM t WHERE y = 'a\\'b'", off).length, 1);
  t.equal(pg.classify("SELECT U&'x'", { settings: off }).unparseable, true, 'U& strings are rejected by the server');
  t.equal(pg.classify("SELECT 'a'\n'b\\'; DROP TABLE t; --'", { settings: off }).unparseable, true, 'continuation fails closed');
  t.equal(pg.classify('SELECT 1', { settings: { standard_conforming_strings: 'perhaps' } }).unparseable, true);
  t.equal(statements("SELECT 'a\\'", { standard_conforming_strings: 'on' }).length, 1);
});

t.test('empty and odd inputs', async (t) => {
  t.same(pg.classify(''), { statements: [] });
  t.same(pg.classify(' \t\n/* c */ -- x\n;'), { statements: [] });
  t.equal(pg.classify('\u00a0').unparseable, true, 'NBSP is not whitespace to the server');
  t.equal(pg.classify('SELECT 1; \u0000').unparseable, true);
  const deep = 'SELECT query_to_xml(' + "'".repeat(1) + 'SELECT 1' + "'" + ', true, false, \'\')';
  t.ok(isValidShape(pg.classify(deep)));
});

t.test('never throws, always a valid shape (random text)', async (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => isValidShape(pg.classify(s))), { numRuns: 2000 });
  t.pass('random unicode text');
});

const tokens = ['SELECT', 'DELETE', 'FROM', 'users', 'WITH', 'AS', '(', ')', ';', "'", '"', '$$', '$a$', '--', '\n', '/*', '*/',
  'E\'', '\\', 'U&"', 'DO', 'EXPLAIN', 'ANALYZE', 'COPY', 'TO', 'STDOUT', '1', '-', ',', 'FOR', 'UPDATE', 'query_to_xml', 'INTO', ' '];

t.test('never throws, always a valid shape (SQL token soup)', async (t) => {
  const soup = fc.array(fc.constantFrom(...tokens), { maxLength: 30 }).map((parts) => parts.join(' '));
  fc.assert(fc.property(soup, fc.boolean(), (s, off) => isValidShape(pg.classify(s, off ? { settings: { standard_conforming_strings: 'off' } } : undefined))), { numRuns: 2000 });
  t.pass('token soup');
});

t.test('the cache never answers differently from a fresh classification', async (t) => {
  const cache = new CachedClassifier(createPgClassifier(), { max: 50, normalise: normalisePg });
  const templates = [
    'SELECT * FROM users WHERE id = #N AND name = #S',
    'UPDATE t SET a = a + -#N WHERE b = #S',
    'SELECT query_to_xml(#S, true, false, #S)',
    'SELECT set_config(#S, #S, false); SELECT * FROM t',
    'DO #S',
    'EXPLAIN (ANALYZE #S) DELETE FROM users',
    'SELECT nextval(#S)',
    'SELECT #S; DROP TABLE x; --#S',
  ];
  const literal = fc.oneof(
    fc.integer({ min: 0, max: 1_000_000_000 }).map(String),
    fc.constantFrom("'SELECT * FROM secrets'", "'DELETE FROM users'", "'on'", "'off'", "'search_path'", "'a'", "'BEGIN DELETE FROM users; END'", "'x'';DROP TABLE y;--'"),
    fc.string({ maxLength: 12 }).map((s) => `'${s.replaceAll("'", "''")}'`),
  );
  const sql = fc.tuple(fc.constantFrom(...templates), fc.array(literal, { minLength: 4, maxLength: 4 })).map(([tpl, lits]) => {
    let i = 0;
    return tpl.replace(/#N|#S/g, (m) => {
      const v = lits[i++]!;
      return m === '#N' ? (/^[0-9]+$/.test(v) ? v : '7') : (v.startsWith("'") ? v : `'${v}'`);
    });
  });
  fc.assert(fc.property(sql, (s) => {
    t.same(cache.classify(s), pg.classify(s), s);
    return true;
  }), { numRuns: 1500 });
  t.ok(cache.stats().hits > 0, 'the property exercised cache hits');
});

t.test('SQL inside strings is read with the same escape rules as the outer text', async (t) => {
  const off = { standard_conforming_strings: 'off' };
  // Inner text, as the server sees it with scs=off: SELECT 'x\''; DELETE FROM users; --'
  const [s] = statements("SELECT query_to_xml($q$SELECT 'x\\''; DELETE FROM users; --'$q$, true, false, '')", off);
  t.match(s, { writes: true, tables: ['users'], nested_kinds: ['DELETE'] });
  const [on] = statements("SELECT query_to_xml($q$SELECT 'x\\''; DELETE FROM users; --'$q$, true, false, '')");
  t.match(on, { writes: false, tables: [] }, 'with scs=on the same inner text is one SELECT');
  t.match(statements('PREPARE p AS DELETE FROM users; CREATE TABLE t AS EXECUTE p')[1], { writes: true, tables: ['users', 't'], nested_kinds: ['DELETE'] });
});
