// Regression (fresh-user report): after SET NAMES gbk the server reads bytes bf 5c as one character,
// while airlock saw an escaping backslash, so `SELECT '\xbf\'; DELETE ...; -- '` ran the DELETE unseen.

import t from 'tap';
import { CHARSET_DEFAULT, CHARSET_UNKNOWN, characterSetOfTokens, isAsciiUnsafeCharset } from '../../../../src/classify/mysql/charset.js';
import { createMysqlClassifier } from '../../../../src/classify/mysql/index.js';
import { splitStatements } from '../../../../src/classify/mysql/lexer.js';

const classifier = createMysqlClassifier();
const of = (sql: string) => {
  const r = splitStatements(sql, {});
  if (!r.ok) throw new Error(r.reason);
  return characterSetOfTokens(r.statements[0]!.tokens);
};

t.test('what a SET does to character_set_client', async (t) => {
  t.equal(of('SET NAMES gbk'), 'gbk');
  t.equal(of("SET NAMES 'SJIS' COLLATE sjis_bin"), 'sjis');
  t.equal(of('SET CHARACTER SET big5'), 'big5');
  t.equal(of('SET CHARSET cp932'), 'cp932');
  t.equal(of('SET character_set_client = gb18030'), 'gb18030');
  t.equal(of('SET @@session.character_set_client = DEFAULT'), CHARSET_DEFAULT);
  t.equal(of('SET character_set_client = @saved'), CHARSET_UNKNOWN);
  t.equal(of("SET sql_mode = '', NAMES utf8mb4"), 'utf8mb4');
  t.equal(of('SET GLOBAL character_set_client = gbk'), undefined, 'global does not change this session');
  t.equal(of('SET @a = CHARSET(1)'), undefined, 'a function call');
  t.equal(of("SET @names = 'gbk'"), undefined, 'a user variable');
  t.ok(isAsciiUnsafeCharset('GBK') && isAsciiUnsafeCharset(CHARSET_UNKNOWN));
  t.notOk(isAsciiUnsafeCharset('utf8mb4') || isAsciiUnsafeCharset('latin1') || isAsciiUnsafeCharset('euckr'));
});

t.test('a session in an unsafe character set: non-ASCII text is unparseable, ASCII text classifies', async (t) => {
  const gbk = { settings: { character_set_client: 'gbk' } };
  const hidden = "SELECT '\uFFFD\\'; DELETE FROM t WHERE id=2; -- '"; // bf 5c decoded as UTF-8
  t.match(classifier.classify(hidden, gbk), { unparseable: true, reason: /character set gbk/ });
  t.match(classifier.classify('DELETE FROM t WHERE id = 2', gbk), { statements: [{ kind: 'DELETE', tables: ['t'] }] });
  t.match(classifier.classify(hidden), { statements: [{ kind: 'SELECT' }] }, 'in utf8mb4 the same text is one SELECT (the server agrees)');
});

t.test('SET NAMES inside the string changes how the rest is read', async (t) => {
  t.match(classifier.classify("SET NAMES gbk; SELECT '\uFFFD\\'; DELETE FROM t; -- '"), { unparseable: true });
  t.match(classifier.classify('SET NAMES gbk; DELETE FROM t'), { statements: [{ kind: 'SET' }, { kind: 'DELETE' }] }, 'ASCII after it is fine');
  t.match(classifier.classify("SET NAMES utf8mb4; SELECT 'é'"), { statements: [{ kind: 'SET' }, { kind: 'SELECT' }] });
});
