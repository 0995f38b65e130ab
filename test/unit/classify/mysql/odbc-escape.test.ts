// Regression: tables inside ODBC escapes ({oj ...}) and after a join in a comma list were not reported,
// so table deny rules (e.g. mysql.*) did not see them. Each case asserts the tables found, or that it fails closed.

import t from 'tap';
import { createMysqlClassifier } from '../../../../src/classify/mysql/index.js';
import type { ClassifyContext } from '../../../../src/classify/types.js';

const classifier = createMysqlClassifier();

/** "KIND w=bool [tables]" per statement, or "UNPARSEABLE". */
function brief(sql: string, ctx?: ClassifyContext): string[] | 'UNPARSEABLE' {
  const c = classifier.classify(sql, ctx);
  if (c.unparseable) return 'UNPARSEABLE';
  return c.statements.map((s) => `${s.kind} w=${s.writes} [${s.tables.join(',')}]`);
}

t.test('{oj table_reference} in FROM', async (t) => {
  t.same(brief('SELECT * FROM {oj fu_secrets}'), ['SELECT w=false [fu_secrets]']);
  t.same(brief('SELECT * FROM {OJ fu_secrets}'), ['SELECT w=false [fu_secrets]'], 'OJ is case-insensitive');
  t.same(brief('SELECT * FROM {Oj mysql.user}'), ['SELECT w=false [mysql.user]']);
  t.same(brief('SELECT * FROM {oj mysql.user}'), ['SELECT w=false [mysql.user]'], 'a mysql.* deny rule sees it');
  t.same(brief('SELECT * FROM { oj `test`.`t` }'), ['SELECT w=false [test.t]'], 'spaces and quoted names');
  t.same(brief('SELECT * FROM {oj a LEFT OUTER JOIN b ON a.id=b.id}'), ['SELECT w=false [a,b]']);
  t.same(brief('SELECT * FROM {oj fu_secrets AS s USE INDEX (i)} WHERE s.id = 1'), ['SELECT w=false [fu_secrets]']);
  t.same(brief('SELECT * FROM {oj {oj a} LEFT JOIN fu_secrets ON a.id = fu_secrets.id}'), ['SELECT w=false [a,fu_secrets]'], 'nested');
  t.same(brief('SELECT * FROM {oj (SELECT * FROM fu_secrets) d}'), ['SELECT w=false [fu_secrets]'], 'derived table');
  t.same(brief('SELECT * FROM ({oj fu_secrets})'), ['SELECT w=false [fu_secrets]']);
  t.same(brief('SELECT * FROM (({oj fu_secrets}))'), ['SELECT w=false [fu_secrets]']);
  t.same(brief('SELECT * FROM {oj fu_secrets}', { database: 'app' }), ['SELECT w=false [app.fu_secrets]'], 'default database');
  t.same(brief('SELECT 1 FROM {x fu_secrets}', { server: 'mariadb' }), ['SELECT w=false [fu_secrets]'], 'MariaDB takes any identifier');
  t.same(brief('SELECT 1 FROM {`oj` fu_secrets}', { server: 'mariadb' }), ['SELECT w=false [fu_secrets]']);
});

t.test('{oj} with comma joins, JOIN operands and subqueries', async (t) => {
  t.same(brief('SELECT * FROM x, {oj a LEFT JOIN b ON a.id=b.id}'), ['SELECT w=false [x,a,b]']);
  t.same(brief('SELECT * FROM {oj a LEFT JOIN b ON a.id=b.id}, fu_secrets'), ['SELECT w=false [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM {oj a}, {oj mysql.user}'), ['SELECT w=false [a,mysql.user]']);
  t.same(brief('SELECT * FROM a JOIN {oj fu_secrets} ON 1'), ['SELECT w=false [a,fu_secrets]']);
  t.same(brief('SELECT * FROM a STRAIGHT_JOIN {oj fu_secrets}'), ['SELECT w=false [a,fu_secrets]']);
  t.same(brief('SELECT * FROM {oj a} LEFT JOIN fu_secrets ON 1'), ['SELECT w=false [a,fu_secrets]']);
  t.same(brief('SELECT * FROM x WHERE id IN (SELECT id FROM {oj fu_secrets})'), ['SELECT w=false [x,fu_secrets]']);
  t.same(brief('SELECT (SELECT MAX(id) FROM {oj mysql.user}) AS n'), ['SELECT w=false [mysql.user]']);
  t.same(brief('SELECT * FROM x WHERE EXISTS (SELECT 1 FROM y, {oj fu_secrets})'), ['SELECT w=false [x,y,fu_secrets]']);
  t.same(brief('WITH c AS (SELECT * FROM {oj fu_secrets}) SELECT * FROM c'), ['SELECT w=false [fu_secrets]']);
  t.same(brief('EXPLAIN SELECT * FROM {oj fu_secrets}'), ['EXPLAIN w=false [fu_secrets]']);
  t.same(brief('CREATE VIEW v AS SELECT * FROM {oj fu_secrets}'), ['CREATE w=true [v,fu_secrets]']);
  t.same(brief('INSERT INTO c SELECT * FROM {oj fu_secrets}'), ['INSERT w=true [c,fu_secrets]']);
  t.same(brief('SET @a = (SELECT 1 FROM {oj fu_secrets})'), ['SET w=false [fu_secrets]']);
});

t.test('UPDATE and DELETE with {oj}', async (t) => {
  t.same(brief('UPDATE {oj fu_secrets} SET a = 1'), ['UPDATE w=true [fu_secrets]']);
  t.same(brief('UPDATE {oj a LEFT JOIN fu_secrets s ON a.id = s.id} SET a.x = s.x'), ['UPDATE w=true [a,fu_secrets]']);
  t.same(brief('UPDATE a, {oj fu_secrets} SET a.x = 1'), ['UPDATE w=true [a,fu_secrets]']);
  t.same(brief('UPDATE (a JOIN fu_secrets ON 1) SET a.x = 1'), ['UPDATE w=true [a,fu_secrets]'], 'a join in parentheses too');
  t.same(brief('DELETE a FROM {oj mysql.user a}'), ['DELETE w=true [mysql.user]'], 'the target is an alias inside the escape');
  t.same(brief('DELETE t1 FROM t1, {oj fu_secrets}'), ['DELETE w=true [t1,fu_secrets]']);
  t.same(brief('DELETE t1 FROM {oj t1 LEFT JOIN fu_secrets ON t1.id = fu_secrets.id}'), ['DELETE w=true [t1,fu_secrets]']);
  t.same(brief('DELETE FROM t1 USING t1, {oj fu_secrets}'), ['DELETE w=true [t1,fu_secrets]']);
  t.same(brief('DELETE FROM t1 USING {oj t1 LEFT JOIN fu_secrets ON t1.id = fu_secrets.id}'), ['DELETE w=true [t1,fu_secrets]']);
});

t.test('other ODBC escapes', async (t) => {
  t.same(brief("SELECT {d '2024-01-01'}, {t '12:00:00'}, {ts '2024-01-01 12:00:00'}, {fn CONCAT('a', 'b')}"), ['SELECT w=false []']);
  t.same(brief("SELECT * FROM fu_secrets WHERE created > {ts '2024-01-01 00:00:00'}"), ['SELECT w=false [fu_secrets]']);
  const file = classifier.classify("SELECT {fn LOAD_FILE('/etc/passwd')}");
  t.same(file.unparseable ? [] : file.statements[0]!.tags, ['server-file-read', 'tables-unknown'], '{fn} calls are still seen');
  t.same(brief('SELECT {fn my_udf(1)}'), ['SELECT w=true []'], 'unknown function inside {fn}');
  t.same(brief('SELECT {d (SELECT MAX(d) FROM fu_secrets)}').toString().includes('fu_secrets'), true, 'subquery inside {d}');
  t.same(brief('SELECT * FROM t WHERE {x EXISTS (SELECT * FROM mysql.user)}'), ['SELECT w=false [t,mysql.user]']);
  // The server rejects these in a table list; if it did not, the name would still be reported.
  t.same(brief('SELECT * FROM {fn fu_secrets}'), ['SELECT w=false [fu_secrets]']);
  t.same(brief('SELECT * FROM {d fu_secrets}'), ['SELECT w=false [fu_secrets]']);
});

t.test('malformed braces fail closed', async (t) => {
  for (const sql of [
    'SELECT * FROM {oj}',
    'SELECT * FROM { (fu_secrets) }',
    'SELECT * FROM {oj (fu_secrets}',
    'SELECT * FROM {oj fu_secrets}}',
    'SELECT * FROM {oj fu_secrets',
    'SELECT { 1 }',
    "SELECT {'oj' fu_secrets}",
    'INSERT INTO {oj fu_secrets} VALUES (1)',
    'DELETE {oj fu_secrets} FROM fu_secrets',
    'LOCK TABLES {oj fu_secrets} READ',
    'SELECT * FROM .a.b',
  ]) {
    t.equal(brief(sql), 'UNPARSEABLE', sql);
  }
});

t.test('a table list goes on past a join, a table function or nested parentheses', async (t) => {
  t.same(brief('SELECT * FROM a JOIN b ON a.id = b.id, fu_secrets'), ['SELECT w=false [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM a JOIN b USING (id), {oj fu_secrets}'), ['SELECT w=false [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM a LEFT JOIN b ON 1 CROSS JOIN c, fu_secrets'), ['SELECT w=false [a,b,c,fu_secrets]']);
  t.same(brief('SELECT * FROM a NATURAL JOIN b, fu_secrets'), ['SELECT w=false [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM a JOIN b ON a.x IN (1, 2), fu_secrets'), ['SELECT w=false [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM (a JOIN b ON 1, fu_secrets)'), ['SELECT w=false [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM ((fu_secrets))'), ['SELECT w=false [fu_secrets]']);
  t.same(brief("SELECT * FROM JSON_TABLE('[]', '$[*]' COLUMNS (a INT PATH '$')) jt, fu_secrets"), ['SELECT w=false [fu_secrets]']);
  t.same(brief('SELECT * FROM ((SELECT 1) UNION (SELECT 2)) d, fu_secrets'), ['SELECT w=false [fu_secrets]']);
  t.same(brief('UPDATE a JOIN b ON 1, fu_secrets SET a.x = 1, a.y = 2'), ['UPDATE w=true [a,b,fu_secrets]']);
  t.same(brief('DELETE FROM a USING a JOIN b ON 1, fu_secrets WHERE 1'), ['DELETE w=true [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM a FOR SYSTEM_TIME ALL, fu_secrets', { server: 'mariadb' }), ['SELECT w=false [a,fu_secrets]']);
  t.same(brief('SELECT * FROM .fu_secrets'), ['SELECT w=false [fu_secrets]'], '.t is t in the default database');
  t.same(brief('SELECT * FROM {oj .fu_secrets}', { database: 'app' }), ['SELECT w=false [app.fu_secrets]']);
});

t.test('commas after the table list are not tables', async (t) => {
  t.same(brief('SELECT * FROM a USE INDEX (i), FORCE INDEX (j), b WHERE x IN (1, 2) ORDER BY c, d'), ['SELECT w=false [a,b]']);
  t.same(brief('SELECT a FROM t GROUP BY a, b HAVING 1 ORDER BY x, y LIMIT 1, 2'), ['SELECT w=false [t]']);
  t.same(brief('SELECT a FROM t WINDOW w AS (PARTITION BY a, b)'), ['SELECT w=false [t]']);
  t.same(brief('SELECT a, b FROM t INTO @x, @y'), ['SELECT w=false [t]']);
  t.same(brief('SELECT * FROM t FOR UPDATE OF t, u'), ['SELECT w=true [t]']);
  t.same(brief('SELECT * FROM t, u LOCK IN SHARE MODE'), ['SELECT w=false [t,u]']);
  t.same(brief('INSERT INTO x SELECT a FROM t ON DUPLICATE KEY UPDATE c = 1, d = 2'), ['INSERT w=true [x,t]']);
  t.same(brief('UPDATE t SET a = 1, b = 2'), ['UPDATE w=true [t]']);
  t.same(brief('SELECT (SELECT a FROM t), b, c FROM u, v'), ['SELECT w=false [t,u,v]']);
  t.same(brief('SELECT a FROM t UNION SELECT b FROM u, v'), ['SELECT w=false [t,u,v]']);
});

t.test('words in the list that look like clauses do not end it', async (t) => {
  t.same(brief('SELECT * FROM a JOIN b ON a.order = b.order, fu_secrets'), ['SELECT w=false [a,b,fu_secrets]'], 'reserved word after "."');
  t.same(brief('SELECT * FROM a JOIN b ON offset = 1, fu_secrets'), ['SELECT w=false [a,b,fu_secrets]'], 'non-reserved column');
  t.same(brief('SELECT * FROM a JOIN b ON duplicate = 1, fu_secrets'), ['SELECT w=false [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM a offset, fu_secrets'), ['SELECT w=false [a,fu_secrets]'], 'alias');
  t.same(brief('SELECT * FROM a JOIN b USE INDEX FOR JOIN (i), FORCE INDEX (j), fu_secrets'), ['SELECT w=false [a,b,fu_secrets]']);
  t.same(brief('SELECT * FROM a USE INDEX FOR ORDER BY (i), fu_secrets'), ['SELECT w=false [a,fu_secrets]']);
});
