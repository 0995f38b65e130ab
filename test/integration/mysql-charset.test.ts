// Regression (fresh-user report): with a client character set where a character's second byte can be a
// backslash (gbk, sjis, big5, cp932, gb18030), `SELECT '\xbf\'; DELETE ...; -- '` hid a DELETE from
// airlock on a read-only resource. Such text is now unparseable there (fail closed).

import t, { type Tap } from 'tap';
import { direct, mysqlCli, startAirlock } from '../helpers/mysql-airlock.js';

const P = 'mycs_';
const setup = await direct();
await setup.query(`DROP TABLE IF EXISTS ${P}t`);
await setup.query(`CREATE TABLE ${P}t (id INT)`);
await setup.query(`INSERT INTO ${P}t VALUES (1), (2)`);
const a = await startAirlock(`  - name: read-only
    match: {writes: true}
    action: deny
`);
t.teardown(async () => {
  await a.stop();
  await setup.query(`DROP TABLE IF EXISTS ${P}t`);
  await setup.end();
});
const count = async () => ((await setup.query(`SELECT COUNT(*) AS n FROM ${P}t`)) as unknown as [{ n: number }[]])[0][0]!.n;

const hidden = Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xbf, 0x5c]), Buffer.from(`'; DELETE FROM ${P}t WHERE id=2; -- ';\n`)]);

/** The text cannot be classified: it is held (on_unparseable), and the approver refuses it. */
async function heldThenDenied(t: Tap.Test): Promise<void> {
  const request = await a.pending((r) => r.sql.includes('DELETE'));
  t.match(request.kinds, ['UNPARSEABLE'], 'held as unparseable, not allowed as a SELECT');
  await a.deny(request, 'hidden DELETE');
}

t.test('SET NAMES gbk, then the hidden DELETE (mysql CLI, separate statements)', async (t) => {
  const stdin = Buffer.concat([Buffer.from('SET NAMES gbk;\n'), hidden]).toString('latin1');
  const cli = mysqlCli(a, ['--default-character-set=latin1', '-D', 'shop'], { stdin });
  await heldThenDenied(t);
  const r = await cli;
  t.match(r.stderr, /denied/i, r.stderr);
  t.equal(await count(), 2, 'nothing was deleted');
});

t.test('a gbk handshake collation, then the hidden DELETE (mysql2)', async (t) => {
  const c = await a.connect({ charset: 'GBK_CHINESE_CI', multipleStatements: true });
  t.teardown(() => c.end());
  // mysql2 encodes text in the connection's character set: this string goes out as the bytes above.
  const text = new TextDecoder('gbk').decode(hidden);
  const ran = c.query(text).then(() => undefined, (e: Error) => e);
  await heldThenDenied(t);
  t.match(await ran, { message: /denied/i }, 'refused');
  t.equal(await count(), 2, 'nothing was deleted');
  const [rows] = await c.query('SELECT 1 AS one');
  t.same(rows, [{ one: 1 }], 'ASCII statements still run in a gbk session');
});
