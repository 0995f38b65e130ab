// Classifier behaviour beyond the corpus: session state across statements, scoping, fail-closed edges.

import t from 'tap';
import { createMysqlClassifier } from '../../../../src/classify/mysql/index.js';
import type { ClassifyContext } from '../../../../src/classify/types.js';

const classifier = createMysqlClassifier();

/** "KIND w=bool [tables]" per statement, or "UNPARSEABLE". */
function brief(sql: string, ctx?: ClassifyContext): string[] | 'UNPARSEABLE' {
  const c = classifier.classify(sql, ctx);
  if (c.unparseable) return 'UNPARSEABLE';
  return c.statements.map((s) => `${s.kind}${s.subkind ? `/${s.subkind}` : ''} w=${s.writes} [${s.tables.join(',')}]${s.nested_kinds ? ` n=${s.nested_kinds.join(',')}` : ''}`);
}

t.equal(classifier.dialect, 'mysql');

t.test('default database', async (t) => {
  t.same(brief('SELECT * FROM t', { database: 'app' }), ['SELECT w=false [app.t]'], 'context database qualifies names');
  t.same(brief('USE db1; SELECT * FROM t; USE db2; SELECT * FROM db1.x, y'), [
    'USE w=false []', 'SELECT w=false [db1.t]', 'USE w=false []', 'SELECT w=false [db1.x,db2.y]',
  ]);
});

t.test('CTE names hide tables only where they are in scope', async (t) => {
  t.same(brief('WITH users AS (SELECT * FROM users) SELECT * FROM users'), ['SELECT w=false [users]'], 'the body reads the real table');
  t.same(brief('SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) d, x'), ['SELECT w=false [x]'], 'the outer x is a table');
  t.same(brief('WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r'), ['SELECT w=false []']);
});

t.test('tables in every position', async (t) => {
  t.same(brief('SELECT * FROM a LEFT JOIN (b JOIN c ON b.id = c.id) ON a.id = b.id'), ['SELECT w=false [a,b,c]']);
  t.same(brief('SELECT EXTRACT(YEAR FROM created) FROM users'), ['SELECT w=false [users]'], 'FROM inside EXTRACT is not a table');
  t.same(brief('SELECT * FROM t WHERE a = ANY (SELECT b FROM s)'), ['SELECT w=false [t,s]']);
  t.same(brief('CALL db.proc(1, (SELECT id FROM secrets))'), ['CALL w=true [secrets]']);
  t.same(brief('CREATE TABLE o (id INT, FOREIGN KEY (id) REFERENCES users(id))'), ['CREATE w=true [o,users]']);
  t.same(brief('ALTER TABLE users RENAME TO people'), ['ALTER w=true [users,people]']);
  t.same(brief('LOCK TABLES users AS u READ, orders WRITE'), ['LOCK w=true [users,orders]']);
  t.same(brief('SHOW COLUMNS FROM users FROM prod'), ['SHOW w=false [prod.users]']);
});

t.test('writes that hide behind a read kind', async (t) => {
  t.same(brief('SELECT my_udf(1)'), ['SELECT w=true []'], 'unknown function');
  t.same(brief('SELECT db.fn(1)'), ['SELECT w=true []'], 'stored function');
  t.same(brief('SELECT SLEEP(1), LOAD_FILE(\'/etc/passwd\')'), ['SELECT w=false []'], 'dangerous reads are tagged, not writes');
  t.same(brief('SET @x = (SELECT password FROM users LIMIT 1)'), ['SET w=false [users]']);
  t.same(brief('EXPLAIN SELECT my_udf(1)'), ['EXPLAIN w=false []'], 'plain EXPLAIN runs nothing');
  t.same(brief('EXPLAIN ANALYZE DELETE FROM users'), ['EXPLAIN w=true [users] n=DELETE']);
});

t.test('dynamic SQL', async (t) => {
  t.same(brief("SET @q = CONCAT('DROP ', 'TABLE users'); PREPARE s FROM @q; EXECUTE s"), [
    'SET w=false []', 'PREPARE w=false [users] n=DROP', 'EXECUTE w=true [users] n=DROP',
  ]);
  t.same(brief('PREPARE s FROM @unknown; EXECUTE s'), ['PREPARE w=false []', 'EXECUTE w=true []'], 'unknown text executes as a write');
  t.same(brief("PREPARE s FROM 'SELECT 1; DROP TABLE t'"), 'UNPARSEABLE', 'prepared text is one statement');
  t.same(brief("PREPARE s FROM 'PREPARE t FROM ''SELECT 1'''"), 'UNPARSEABLE', 'PREPARE cannot be prepared');
  t.same(brief("EXECUTE IMMEDIATE 'SELECT 1'"), 'UNPARSEABLE', 'EXECUTE IMMEDIATE is MariaDB only');
  t.same(brief("EXECUTE IMMEDIATE 'SELECT 1'", { server: 'mariadb' }), ['EXECUTE w=false [] n=SELECT']);
  t.same(brief('SET STATEMENT max_statement_time = 1 FOR DELETE FROM users', { server: 'mariadb' }), ['SET w=true [users] n=DELETE']);
});

// Regression: a variable set by an earlier query, or a statement prepared by one, named no table, so
// table deny rules did not see SET @q = 'SELECT * FROM secrets' / PREPARE s FROM @q / EXECUTE s.
t.test('dynamic SQL whose text is not in the string has unknown tables', async (t) => {
  const tags = (sql: string, ctx?: ClassifyContext) => {
    const c = classifier.classify(sql, ctx);
    return c.unparseable ? 'UNPARSEABLE' : c.statements.map((s) => s.tags ?? []);
  };
  t.same(tags('PREPARE s FROM @q'), [['tables-unknown', 'kinds-unknown']]);
  t.same(tags('EXECUTE s'), [['tables-unknown', 'kinds-unknown']]);
  t.same(tags('EXECUTE IMMEDIATE @q', { server: 'mariadb' }), [['tables-unknown', 'kinds-unknown']]);
  t.same(tags("SELECT LOAD_FILE('/var/lib/mysql/mysql/user.MYD')"), [['server-file-read', 'tables-unknown']]);
  t.same(tags("LOAD DATA INFILE '/var/lib/mysql/x' INTO TABLE t"), [['server-file-read', 'tables-unknown']]);
  t.same(tags("PREPARE s FROM 'SELECT * FROM t'; EXECUTE s"), [[], []], 'text known in the same string');
});

t.test('stored programs', async (t) => {
  t.same(brief('CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM users; END; SELECT 1'), ['CREATE w=true []', 'SELECT w=false []']);
  t.same(brief('CREATE TRIGGER trg BEFORE INSERT ON users FOR EACH ROW BEGIN SET NEW.x = 1; END'), ['CREATE w=true [users]']);
  t.same(
    brief('CREATE PROCEDURE p() BEGIN SET @x = CASE WHEN 1 THEN 1 ELSE CASE WHEN 1 THEN 2 END END; END; DROP TABLE users; END'),
    'UNPARSEABLE',
    'CASE expressions cannot unbalance the block count to hide the DROP',
  );
  t.same(brief('BEGIN NOT ATOMIC DELETE FROM users; END', { server: 'mariadb' }), 'UNPARSEABLE');
});

t.test('fail closed', async (t) => {
  for (const sql of [
    'SELECT $$ DROP TABLE users $$',
    'SELECT a FROM t DELETE',
    'SELECT * FROM users WHERE',
    'UPDATE users',
    'DELETE',
    'SELECT 1 /*!80030 , 2 */',
    'ANALYZE SELECT 1',
    'USE DELETE; DROP TABLE victim',
    "SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'); SELECT 1",
  ]) {
    t.same(brief(sql), 'UNPARSEABLE', sql);
  }
  t.same(brief('SELECT 1 /*!80030 , (SELECT 1 FROM s) */', { settings: { version: '8.0.36' } }), ['SELECT w=false [s]'], 'a known version opens the gate');
  const c = classifier.classify('SELECT 1\\G');
  t.ok(c.unparseable && c.reason.length > 0, 'an unparseable answer carries a reason');
});
