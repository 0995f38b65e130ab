// Before authentication a MySQL client cannot make airlock buffer a large packet.

import net from 'node:net';
import t from 'tap';
import { mysqlCli, requireMariadb, startAirlock } from '../helpers/mysql-airlock.js';

await requireMariadb();
const a = await startAirlock('', { resources: '  broken: {protocol: mysql, host: 127.0.0.1, port: 3306, database: test, user: airlock_no_such_user}' });
t.teardown(() => a.stop());

t.test('a 60 MB handshake response is refused before a byte of it is buffered (regression: unauthenticated sockets grew RSS to 1.7 GB)', async (t) => {
  const s = net.connect(a.port, '127.0.0.1');
  const received: Buffer[] = [];
  s.on('data', (d: Buffer) => received.push(d));
  s.on('error', () => {}); // airlock may reset the connection while the test is still writing
  await new Promise((r) => s.once('connect', r));
  await new Promise((r) => setTimeout(r, 100)); // the server greeting
  // Packet header: 3-byte length 0xFFFFFF (a 16 MB continuation chain would follow), sequence 1.
  s.write(Buffer.from([0xff, 0xff, 0xff, 0x01]));
  s.write(Buffer.alloc(64 * 1024, 0x41));
  const closed = await new Promise<boolean>((resolve) => {
    s.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 5000);
  });
  t.ok(closed, 'the connection is closed');
  const said = Buffer.concat(received).toString('latin1');
  t.ok(said.length > 0, 'the greeting came first');
});

t.test('after authentication the configured limit applies', async (t) => {
  const c = await a.connect();
  const [rows] = await c.query(`SELECT LENGTH(REPEAT('x', 100000)) AS n`);
  t.same(rows, [{ n: 100000 }]);
  const big = 'y'.repeat(1024 * 1024);
  const [echo] = await c.query('SELECT LENGTH(?) AS n', [big]);
  t.same(echo, [{ n: big.length }], 'a 1 MB query passes once logged in');
  await c.end();
});

// Regression (fresh-user report): the refusal carried client errno 2013, which the mysql CLI reports as
// "ERROR 2027 (HY000): Received malformed packet" instead of showing airlock's message.
t.test('an upstream login failure reaches the mysql CLI as a readable server error', async (t) => {
  const r = await mysqlCli(a, ['-D', 'broken', '-e', 'SELECT 1']);
  t.equal(r.code, 1);
  t.match(r.stderr, 'ERROR 1429 (HY000): airlock could not connect to resource "broken"');
  t.notMatch(r.stderr, /malformed/);
  const err = await a.connect({ database: 'broken' }).then(() => undefined, (e: { errno?: number; sqlState?: string }) => e);
  t.match(err, { errno: 1429, sqlState: 'HY000' }, 'mysql2 gets the same');
});
