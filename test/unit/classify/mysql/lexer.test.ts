// The MySQL lexer decides what text the server runs: comments, quotes, executable comments and statement splitting.

import t from 'tap';
import {
  SQL_MODE_DEFAULT,
  SQL_MODE_UNKNOWN,
  splitStatements,
  sqlModeAssignment,
  tokenize,
  useDatabase,
  type LexOptions,
} from '../../../../src/classify/mysql/lexer.js';

/** The statement texts, or the failure reason prefixed with "!". */
function split(sql: string, opts: LexOptions = {}): string[] | string {
  const r = splitStatements(sql, opts);
  return r.ok ? r.statements.map((s) => s.text) : `!${r.reason}`;
}

function values(sql: string, opts: LexOptions = {}): string[] {
  const r = tokenize(sql, opts);
  if (!r.ok) throw new Error(r.reason);
  return r.tokens.map((x) => `${x.type}:${x.value}`);
}

t.test('comments', async (t) => {
  t.same(split('SELECT 1 -- x; DROP TABLE t'), ['SELECT 1'], '-- space starts a comment');
  t.same(split('SELECT 1 --1; DROP TABLE t'), ['SELECT 1 --1', 'DROP TABLE t'], '--1 is minus minus one');
  t.same(split('SELECT 1 --\tx\n; DROP TABLE t'), ['SELECT 1', 'DROP TABLE t'], '-- tab is a comment');
  t.same(split('SELECT 1 -- x\r; DROP TABLE t'), ['SELECT 1'], 'CR does not end a line comment');
  t.same(split('SELECT 1 # x\n; DROP TABLE t'), ['SELECT 1', 'DROP TABLE t'], 'LF ends a # comment');
  t.same(split('SELECT 1 # x\r; DROP TABLE t'), ['SELECT 1'], 'CR does not end a # comment');
  t.same(split('SELECT 1 /* /* */ ; DROP TABLE t'), ['SELECT 1', 'DROP TABLE t'], 'block comments do not nest');
  t.match(split('SELECT 1 /* open'), /^!unterminated comment/);
  t.same(split('/* only */ -- comment'), [], 'a comment-only string runs nothing');
  t.same(split(''), []);
  t.match(split('SELECT 1\0; DROP TABLE t'), /^!NUL/, 'NUL is rejected, not a terminator');
});

t.test('quotes and sql_mode', async (t) => {
  t.same(split("SELECT 'a\\'; DROP TABLE t; -- '"), ["SELECT 'a\\'; DROP TABLE t; -- '"], 'backslash escapes the quote by default');
  t.same(split("SELECT 'a\\'; DROP TABLE t; -- '", { sqlMode: 'NO_BACKSLASH_ESCAPES' }), ["SELECT 'a\\'", 'DROP TABLE t'], 'NO_BACKSLASH_ESCAPES');
  t.same(split('SELECT "a\\"; DROP TABLE t; -- "', { sqlMode: 'ANSI_QUOTES' }), ['SELECT "a\\"', 'DROP TABLE t'], 'ANSI_QUOTES: "" is an identifier');
  t.same(split('SELECT "a\\"; DROP TABLE t; -- "', { sqlMode: 'ANSI' }), ['SELECT "a\\"', 'DROP TABLE t'], 'ANSI implies ANSI_QUOTES');
  t.same(split('SELECT `a\\`; DROP TABLE t'), ['SELECT `a\\`', 'DROP TABLE t'], 'no backslash escapes in backticks');
  t.same(split('SELECT `a``b; DROP TABLE t`'), ['SELECT `a``b; DROP TABLE t`'], 'doubled backtick');
  t.same(values("SELECT 'it''s', \"x\\ny\""), ['word:SELECT', "string:it's", 'op:,', 'string:x\ny']);
  t.same(values('SELECT "x"', { sqlMode: 'ANSI_QUOTES' }), ['word:SELECT', 'qident:x']);
  t.same(values("SELECT X'41', 0x4142, _utf8mb4'z'"), ['word:SELECT', 'hex:A', 'op:,', 'hex:AB', 'op:,', 'word:_utf8mb4', 'string:z']);
  t.same(values('SELECT @a, @`b c`, @@GLOBAL.x'), ['word:SELECT', 'uservar:a', 'op:,', 'uservar:b c', 'op:,', 'sysvar:global.x']);
  t.match(split('SELECT `users'), /^!unterminated quoted identifier/);
  t.match(split("SELECT 'abc"), /^!unterminated string/);
  t.match(split('SELECT 1\\G'), /^!backslash/, 'client commands are not SQL');
});

t.test('an in-band SET sql_mode changes how the rest is lexed', async (t) => {
  const sql = "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; DROP TABLE t; -- '";
  t.same(split(sql), ["SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'", "SELECT 'a\\'", 'DROP TABLE t']);
  t.same(split('SET sql_mode = \'ANSI\'; SELECT "a\\"; DROP TABLE t'), ["SET sql_mode = 'ANSI'", 'SELECT "a\\"', 'DROP TABLE t']);
  t.match(split("SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'); SELECT 1"), /^!statement after a sql_mode change/);
  t.same(split("SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"), ["SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"], 'nothing after it: fine');
  const r = splitStatements("SET sql_mode='ANSI_QUOTES'; SELECT 1");
  t.equal(r.ok && r.statements[1]!.sqlMode, 'ANSI_QUOTES', 'each statement carries the mode it was lexed under');
});

t.test('executable comments', async (t) => {
  t.same(split('/*! DROP TABLE t */'), ['DROP TABLE t'], '/*! is code');
  t.same(split('SELECT /*! 1; DROP TABLE t; */'), ['SELECT /*! 1', 'DROP TABLE t'], 'a ; inside /*! splits');
  t.same(values('/*!50000 DELETE */ FROM t'), ['word:DELETE', 'word:FROM', 'word:t']);
  t.same(split('/*!99999 DROP TABLE t */'), [], 'MySQL: a future version gate is a comment');
  t.same(values('/*!99999 DROP TABLE t */', { server: 'mariadb' }), ['word:DROP', 'word:TABLE', 'word:t'], 'MariaDB runs every 5-digit gate');
  t.same(split('/*M! DROP TABLE t */'), [], 'MySQL: /*M! is a comment');
  t.same(values('/*M! DROP TABLE t */', { server: 'mariadb' }), ['word:DROP', 'word:TABLE', 'word:t'], 'MariaDB: /*M! is code');
  t.same(values('/*M!100000 DROP TABLE t */', { server: 'mariadb' }), ['word:DROP', 'word:TABLE', 'word:t']);
  t.match(split('SELECT 1 /*!80030 , 2 */'), /^!version gate/, 'an 8.0.x gate needs the server version');
  t.same(values('SELECT 1 /*!80030 , 2 */', { version: '8.0.36' }), ['word:SELECT', 'number:1', 'op:,', 'number:2']);
  t.same(values('SELECT 1 /*!80040 , 2 */', { version: '8.0.36' }), ['word:SELECT', 'number:1']);
  t.match(split('/*! SELECT 1'), /^!unterminated executable comment/);
  t.match(split('/*! SELECT /* x */ 1 */'), /^!comment nested/);
  t.match(split('/*!123 SELECT 1 */'), /^!unclear version/);
});

t.test('splitting', async (t) => {
  t.same(split('SELECT 1;'), ['SELECT 1']);
  t.same(split('SELECT 1;;  ; SELECT 2'), ['SELECT 1', 'SELECT 2']);
  t.same(split("SELECT ';' ; SELECT \";\""), ["SELECT ';'", 'SELECT ";"']);
  t.same(split('SELECT 1\n;\nSHUTDOWN'), ['SELECT 1', 'SHUTDOWN']);
  t.same(split('CREATE PROCEDURE p() BEGIN DELETE FROM t; END; SELECT 1'), ['CREATE PROCEDURE p() BEGIN DELETE FROM t; END', 'SELECT 1']);
  t.same(
    split('CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; REPEAT SET @a = 1; UNTIL 1 END REPEAT; END; SELECT 2'),
    ['CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; REPEAT SET @a = 1; UNTIL 1 END REPEAT; END', 'SELECT 2'],
  );
  t.same(
    split('CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; END; SELECT 1'),
    ['CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; END', 'SELECT 1'],
  );
  t.same(split('CREATE PROCEDURE p() SELECT 1 AS begin; DROP TABLE t'), ['CREATE PROCEDURE p() SELECT 1 AS begin', 'DROP TABLE t'], 'an alias named begin opens no block');
  t.same(split('CREATE PROCEDURE p() BEGIN SELECT 1 AS begin; END; DROP TABLE t'), ['CREATE PROCEDURE p() BEGIN SELECT 1 AS begin; END', 'DROP TABLE t']);
  t.same(split('BEGIN; SELECT 1; COMMIT'), ['BEGIN', 'SELECT 1', 'COMMIT'], 'top-level BEGIN is a transaction');
  t.match(split('CREATE PROCEDURE p() BEGIN DELETE FROM t'), /^!unterminated BEGIN/);
});

t.test('sqlModeAssignment', async (t) => {
  t.equal(sqlModeAssignment("SET sql_mode = 'ANSI_QUOTES'"), 'ANSI_QUOTES');
  t.equal(sqlModeAssignment("SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'"), 'NO_BACKSLASH_ESCAPES');
  t.equal(sqlModeAssignment("SET LOCAL sql_mode = ''"), '');
  t.equal(sqlModeAssignment("SET @@sql_mode := 'ANSI'"), 'ANSI');
  t.equal(sqlModeAssignment("SET @@SESSION.sql_mode = 'TRADITIONAL'"), 'TRADITIONAL');
  t.equal(sqlModeAssignment("SET NAMES utf8mb4, sql_mode = 'ANSI'"), 'ANSI');
  t.equal(sqlModeAssignment('SET sql_mode = DEFAULT'), SQL_MODE_DEFAULT, 'DEFAULT: the global mode, which the session knows');
  t.equal(sqlModeAssignment('SET sql_mode = @@GLOBAL.sql_mode'), SQL_MODE_DEFAULT);
  t.equal(sqlModeAssignment('SET sql_mode = @old'), SQL_MODE_UNKNOWN);
  t.equal(sqlModeAssignment("SET GLOBAL sql_mode = 'ANSI'"), undefined, 'the global value does not change this session');
  t.equal(sqlModeAssignment("SET @@global.sql_mode = 'ANSI'"), undefined);
  t.equal(sqlModeAssignment("SET @sql_mode = 'ANSI'"), undefined, 'a user variable of that name');
  t.equal(sqlModeAssignment("SELECT 'sql_mode = 1'"), undefined);
});

t.test('useDatabase', async (t) => {
  t.equal(useDatabase('USE prod'), 'prod');
  t.equal(useDatabase('use `my db`;'), 'my db');
  t.equal(useDatabase('/* c */ USE prod -- x'), 'prod');
  t.equal(useDatabase('SELECT 1'), undefined);
  t.equal(useDatabase('USE'), undefined);
  t.equal(useDatabase('USE a b'), undefined);
});
