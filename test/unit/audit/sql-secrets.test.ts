// Regression (fresh-user report): passwords inside SQL went verbatim into the audit log and Slack.

import { createHash } from 'node:crypto';
import t from 'tap';
import { redactSqlSecrets } from '../../../src/audit/sql-secrets.js';
import { sanitizeFields } from '../../../src/audit/redact.js';
import { sqlView } from '../../../src/approval/slack/message.js';

const cases: [string, string][] = [
  ["ALTER ROLE x PASSWORD 'hunter2pg'", "ALTER ROLE x PASSWORD '***'"],
  ["CREATE ROLE r WITH LOGIN ENCRYPTED PASSWORD E'a\\'b' VALID UNTIL '2030-01-01'", "CREATE ROLE r WITH LOGIN ENCRYPTED PASSWORD '***' VALID UNTIL '2030-01-01'"],
  ['CREATE ROLE r PASSWORD $q$dollar$q$ LOGIN', "CREATE ROLE r PASSWORD '***' LOGIN"],
  ["CREATE USER fu@'%' IDENTIFIED BY 'hunter2my'", "CREATE USER fu@'%' IDENTIFIED BY '***'"],
  ["ALTER USER u IDENTIFIED WITH caching_sha2_password BY 'zz'", "ALTER USER u IDENTIFIED WITH caching_sha2_password BY '***'"],
  ["SET PASSWORD FOR fu = PASSWORD('hunter3my')", "SET PASSWORD FOR fu = PASSWORD('***')"],
  ["SET PASSWORD FOR 'bob'@'%' = 'x1'", "SET PASSWORD FOR 'bob'@'%' = '***'"],
  ["CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD='mp'", "CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD='***'"],
  ["SELECT dblink_connect('host=h password=s3cret dbname=d')", "SELECT dblink_connect('host=h password='***' dbname=d')"],
];

t.test('password literals are masked', async (t) => {
  for (const [sql, want] of cases) t.same(redactSqlSecrets(sql), { text: want, redacted: true }, sql);
  t.same(redactSqlSecrets('SELECT password FROM users'), { text: 'SELECT password FROM users', redacted: false }, 'a column name stays');
  t.same(redactSqlSecrets('SELECT 1'), { text: 'SELECT 1', redacted: false });
});

t.test('the audit record keeps the masked text and the digest of what was sent', async (t) => {
  const sql = "ALTER ROLE x PASSWORD 'hunter2pg'";
  const r = sanitizeFields({ sql }, 'text');
  t.same(r, { sql: "ALTER ROLE x PASSWORD '***'", sql_redacted: true, sql_sha256: createHash('sha256').update(sql).digest('hex') });
  t.notMatch(JSON.stringify(r), /hunter2/);
});

t.test('Slack shows the masked text', async (t) => {
  const view = sqlView("CREATE USER fu IDENTIFIED BY 'hunter2my'");
  t.notMatch(view.block, /hunter2/);
  t.equal(view.sha256, createHash('sha256').update("CREATE USER fu IDENTIFIED BY 'hunter2my'").digest('hex'));
});
