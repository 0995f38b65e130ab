// The classification cache: literal variants hit, literals that change meaning never share a result, size stays bounded.

import t from 'tap';
import { CachedClassifier } from '../../../src/classify/cache.js';
import { normaliseMysql } from '../../../src/classify/normalise-mysql.js';
import { createPgClassifier, initPgClassifier, normalisePg } from '../../../src/classify/pg/index.js';
import type { Classification, Classifier, ClassifyContext } from '../../../src/classify/types.js';

await initPgClassifier();
const fresh = createPgClassifier();
const newCache = (max = 100): CachedClassifier => new CachedClassifier(createPgClassifier(), { max, normalise: normalisePg });

t.test('pgbench statement with different numbers is parsed once', async (t) => {
  const cache = newCache();
  for (let aid = 1; aid <= 50; aid++) {
    const got = cache.classify(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid * 7919};`);
    t.same(got, { statements: [{ kind: 'SELECT', writes: false, tables: ['pgbench_accounts'] }] });
  }
  t.same(cache.stats(), { hits: 49, misses: 1, size: 1 });
});

t.test('pgbench update with negative deltas and $n parameters', async (t) => {
  const cache = newCache();
  cache.classify('UPDATE pgbench_accounts SET abalance = abalance + -4242 WHERE aid = 17;');
  cache.classify('UPDATE pgbench_accounts SET abalance = abalance + -13 WHERE aid = 99;');
  cache.classify('UPDATE pgbench_accounts SET abalance = abalance + -7 WHERE aid = 5;');
  t.equal(cache.stats().hits, 2, 'deltas of either size share one entry');
  const p = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
  cache.classify(p);
  cache.classify(p);
  t.equal(cache.stats().hits, 3, '$1 form hits on exact text');
});

t.test('plain string literals that are only compared are normalised', async (t) => {
  const cache = newCache();
  cache.classify("SELECT * FROM users WHERE name = 'alice' AND age > 30");
  const got = cache.classify("SELECT * FROM users WHERE name = 'O''Brien; DROP TABLE users; --' AND age > 41");
  t.equal(cache.stats().hits, 1);
  t.same(got, fresh.classify("SELECT * FROM users WHERE name = 'O''Brien; DROP TABLE users; --' AND age > 41"));
});

// Pairs of texts differing only in a literal whose value changes the classification.
const meaningful: Array<[string, string, string]> = [
  ['query_to_xml text', "SELECT query_to_xml('SELECT * FROM a', true, false, '')", "SELECT query_to_xml('DELETE FROM b RETURNING 1', true, false, '')"],
  ['dblink text', "SELECT dblink_exec('dbname=x', 'SELECT 1')", "SELECT dblink_exec('dbname=x', 'DROP TABLE users')"],
  ['DO body', "DO 'BEGIN PERFORM 1; END'", "DO 'BEGIN DELETE FROM users; END'"],
  ['set_config search_path', "SELECT set_config('search_path', 'a', false); SELECT * FROM t", "SELECT set_config('search_path', 'secret', false); SELECT * FROM t"],
  ['SET search_path value', "SET search_path TO 'a'; SELECT * FROM t", "SET search_path TO 'secret'; SELECT * FROM t"],
  ['EXPLAIN ANALYZE option', "EXPLAIN (ANALYZE 'off') DELETE FROM users", "EXPLAIN (ANALYZE 'on') DELETE FROM users"],
  ['EXPLAIN ANALYZE numeric option', 'EXPLAIN (ANALYZE 0) DELETE FROM users', 'EXPLAIN (ANALYZE 1) DELETE FROM users'],
  ['UESCAPE character', 'DELETE FROM U&"!0075sers" UESCAPE \'!\'', 'DELETE FROM U&"!0075sers" UESCAPE \'?\''],
  ['sequence name', "SELECT nextval('a')", "SELECT nextval('b')"],
  ['table_to_xml name', "SELECT table_to_xml('a', true, false, '')", "SELECT table_to_xml('secrets', true, false, '')"],
  ['function body then call', "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'SELECT 1'; SELECT f()", "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM users'; SELECT f()"],
];

for (const [name, first, second] of meaningful) {
  t.test(`no reuse across a meaningful literal: ${name}`, async (t) => {
    const cache = newCache();
    const a = cache.classify(first);
    const b = cache.classify(second);
    t.same(a, fresh.classify(first), 'first matches an uncached classification');
    t.same(b, fresh.classify(second), 'second matches an uncached classification');
    t.notSame(a, b, 'the two really differ (the pair tests something)');
    t.equal(cache.stats().hits, 0);
  });
}

t.test('settings are part of the key', async (t) => {
  const cache = newCache();
  const sql = "SELECT 'x\\''; DROP TABLE users; -- '";
  const on = cache.classify(sql);
  const off = cache.classify(sql, { settings: { standard_conforming_strings: 'off' } });
  t.equal(on.unparseable, undefined);
  t.equal(off.unparseable, undefined);
  if (!on.unparseable && !off.unparseable) {
    t.equal(on.statements.length, 1);
    t.equal(off.statements.length, 2);
  }
  t.equal(cache.stats().hits, 0);
});

t.test('unparseable results are cached by exact text only', async (t) => {
  const cache = newCache();
  t.equal(cache.classify("SELECT * FROM t WHERE a = 'x' AND").unparseable, true);
  t.equal(cache.classify("SELECT * FROM t WHERE a = 'y' AND").unparseable, true);
  t.equal(cache.stats().hits, 0);
  cache.classify("SELECT * FROM t WHERE a = 'y' AND");
  t.equal(cache.stats().hits, 1);
});

t.test('size is bounded and eviction is least recently used', async (t) => {
  const cache = newCache(3);
  cache.classify('SELECT * FROM keep_me');
  for (let i = 0; i < 10; i++) {
    cache.classify(`SELECT * FROM table_${i}`);
    cache.classify('SELECT * FROM keep_me');
  }
  t.equal(cache.stats().size, 3);
  const before = cache.stats().hits;
  cache.classify('SELECT * FROM keep_me');
  t.equal(cache.stats().hits, before + 1, 'recently used entry survived');
  cache.classify('SELECT * FROM table_0');
  t.equal(cache.stats().hits, before + 1, 'old entry was evicted');
});

t.test('shared results are frozen', async (t) => {
  const cache = newCache();
  const got = cache.classify('SELECT * FROM users');
  t.ok(Object.isFrozen(got));
  if (!got.unparseable) t.throws(() => (got.statements[0]!.tables as string[]).push('x'));
});

t.test('long texts bypass the cache', async (t) => {
  const cache = new CachedClassifier(createPgClassifier(), { normalise: normalisePg, maxSqlLength: 20 });
  cache.classify('SELECT * FROM a_rather_long_table_name');
  cache.classify('SELECT * FROM a_rather_long_table_name');
  t.same(cache.stats(), { hits: 0, misses: 2, size: 0 });
});

t.test('normalisePg keeps tricky literals verbatim', async (t) => {
  t.equal(normalisePg('SELECT 1')?.key, 'SELECT 0');
  t.equal(normalisePg("SELECT 'a', 2.5")?.key, "SELECT '?', 0.0");
  t.equal(normalisePg("SELECT E'a\\'b'"), undefined, 'E strings are not replaced');
  t.equal(normalisePg("SELECT 'a\\b'"), undefined, 'backslash strings are not replaced');
  t.equal(normalisePg("SELECT 'a'\n'b'"), undefined, 'continued strings are not replaced');
  t.equal(normalisePg('SELECT $$x$$'), undefined, 'dollar strings are not replaced');
  t.equal(normalisePg('SELECT 12345678901'), undefined, 'large integers (FCONST) are not replaced');
  t.equal(normalisePg("SELECT 'abc"), undefined, 'unterminated text');
  t.same(normalisePg("SELECT 'é', 1")?.literalOffsets, [7, 13], 'offsets are UTF-8 bytes');
});

/** Counts inner calls: the MySQL path relies on the normaliser alone, so this checks what it replaces. */
class CountingClassifier implements Classifier {
  readonly dialect = 'mysql' as const;
  calls = 0;
  classify(sql: string, _ctx?: ClassifyContext): Classification {
    this.calls++;
    return { statements: [{ kind: sql.split(' ')[0]!.toUpperCase(), writes: false, tables: [] }] };
  }
}

t.test('MySQL: integers are normalised, nothing that could change the lexing is', async (t) => {
  const inner = new CountingClassifier();
  const cache = new CachedClassifier(inner, { normalise: normaliseMysql, trustNormaliser: true });
  cache.classify('SELECT * FROM t WHERE id = 1');
  cache.classify('SELECT * FROM t WHERE id = 2');
  t.equal(inner.calls, 1);
  t.equal(normaliseMysql("SELECT 'a' FROM t WHERE id = 5")?.key, "SELECT 'a' FROM t WHERE id = 0", 'strings stay verbatim');
  t.equal(normaliseMysql('SELECT 1 /*!50000 , 2 */'), undefined, 'executable comments disable normalising');
  t.equal(normaliseMysql('SELECT 1 # c'), undefined);
  t.equal(normaliseMysql('SELECT 1 -- c'), undefined);
  t.equal(normaliseMysql("SELECT 'a\\'', 1"), undefined, 'backslashes disable normalising');
  t.equal(normaliseMysql('SET SESSION sql_mode = 4'), undefined);
  t.equal(normaliseMysql('SELECT * FROM 1t, t1, `9`'), undefined, 'digits inside identifiers stay');
  t.equal(normaliseMysql('SELECT 0x1F, 1e5, 1.5'), undefined);
  t.equal(normaliseMysql("SELECT 'it''s 5', 6")?.key, "SELECT 'it''s 5', 0");
});
