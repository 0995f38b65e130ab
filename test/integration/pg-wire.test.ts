// Raw PostgreSQL protocol through airlock: pipelines with an error in the middle, huge queries,
// one byte per write, Flush-driven portals, and refusals inside pipelines.

import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { connectWire, errorOf, fe, tags } from '../helpers/pg-wire.js';
import { requireService } from '../helpers/services.js';
import { startByteSplitter } from '../helpers/byte-splitter.js';
import { run } from '../helpers/processes.js';

await requireService('postgres');
const airlock = await startAirlock({ policy: examplePolicy() });
t.teardown(() => airlock.stop());
const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query('DROP TABLE IF EXISTS airlock_wire; CREATE TABLE airlock_wire (id int primary key, v text)');

const wire = () => connectWire({ port: airlock.pgPort, user: 'bob@corp.com', password: airlock.tokens['bob@corp.com']!, database: 'orders' });

t.test('a pipeline with an error in the middle: earlier results, the error, skip to Sync', async (t) => {
  const c = await wire();
  await c.send(
    Buffer.concat([
      fe.parse('', 'SELECT 1'), fe.bind('', '', []), fe.execute(''),
      fe.parse('', 'SELECT 1/(g - g) FROM generate_series(1, 1) g'), fe.bind('', '', []), fe.execute(''),
      fe.parse('', 'SELECT 3'), fe.bind('', '', []), fe.execute(''),
      fe.sync(),
      fe.query('SELECT 4'),
    ]),
  );
  const first = await c.untilReady();
  t.equal(tags(first), '12DC12EZ', 'parse/bind/row/complete, then parse/bind ok, error at execute, skipped to sync');
  t.equal(errorOf(first)?.code, '22012');
  const second = await c.untilReady();
  t.equal(tags(second), 'TDCZ', 'the session goes on');
  c.close();
});

t.test('a 10 MB query passes intact', async (t) => {
  const c = await wire();
  const big = 'x'.repeat(10 * 1024 * 1024);
  await c.send(fe.query(`SELECT length('${big}')`));
  const frames = await c.untilReady();
  t.equal(tags(frames), 'TDCZ');
  const row = frames.find((f) => f.type === 0x44)!;
  t.equal(row.body.toString('utf8', 6), String(big.length));
  c.close();
});

t.test('a client sending one byte at a time', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.query('SELECT 41 + 1'), fe.parse('s1', 'SELECT $1::int * 2'), fe.bind('', 's1', ['21']), fe.execute(''), fe.sync()]), { byteByByte: true });
  const a = await c.untilReady();
  t.equal(tags(a), 'TDCZ');
  t.equal(a[1]!.body.toString('utf8', 6), '42');
  const b = await c.untilReady();
  t.equal(tags(b), '12DCZ');
  t.equal(b[2]!.body.toString('utf8', 6), '42');
  c.close();
});

t.test('Flush-driven portal: rows fetched in pieces, then Sync', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.parse('', 'SELECT g FROM generate_series(1,5) g'), fe.bind('p', '', []), fe.execute('p', 2), fe.flush()]));
  await new Promise((r) => setTimeout(r, 200));
  await c.send(Buffer.concat([fe.execute('p', 0), fe.sync()]));
  const frames = await c.untilReady();
  t.equal(tags(frames), '12DDsDDDCZ', 'suspended after 2 rows, then the rest');
  c.close();
});

t.test('a denied statement inside a pipeline refuses the whole batch and keeps order', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.query('SELECT 1'), fe.parse('', 'INSERT INTO airlock_wire VALUES (1, $1)'), fe.bind('', '', ['a']), fe.execute(''), fe.parse('', 'DROP TABLE airlock_wire'), fe.bind('', '', []), fe.execute(''), fe.sync(), fe.query('SELECT 2')]));
  const first = await c.untilReady();
  t.equal(tags(first), 'TDCZ');
  const refused = await c.untilReady();
  t.equal(tags(refused), 'EZ');
  t.match(errorOf(refused), { code: '42501', message: /no-drop/ });
  const after = await c.untilReady();
  t.equal(tags(after), 'TDCZ');
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_wire')).rows[0].n, 0, 'nothing of the refused batch ran');
  c.close();
});

t.test('garbage after startup gets a protocol error, and the daemon keeps serving', async (t) => {
  const c = await wire();
  const bad = Buffer.from([0x51, 0x00, 0x00, 0x00, 0x01]); // Query with length 1 (< 4)
  await c.send(bad);
  const closed = await new Promise<boolean>((resolve) => {
    c.socket.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 5000);
  });
  t.ok(closed, 'the broken session is closed');
  const again = await wire();
  await again.send(fe.query('SELECT 1'));
  t.equal(tags(await again.untilReady()), 'TDCZ');
  again.close();
});

t.test('psql and the pg driver whose every byte arrives alone (startup, SCRAM, queries)', async (t) => {
  const splitter = await startByteSplitter(airlock.pgPort);
  t.teardown(() => splitter.close());
  const url = `postgresql://bob%40corp.com:${encodeURIComponent(airlock.tokens['bob@corp.com']!)}@127.0.0.1:${splitter.port}/orders?sslmode=prefer`;
  const r = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 6 * 7', '-c', `SELECT count(*) FROM generate_series(1, 1000)`, url]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), '42\n1000');
  const c = new pg.Client({ ...airlock.pgConfig('bob@corp.com'), port: splitter.port });
  await c.connect();
  t.same((await c.query('SELECT $1::text || $2::text AS s', ['air', 'lock'])).rows, [{ s: 'airlock' }]);
  await c.end();
});

t.test('TLS on the client leg: sslmode=require and SCRAM channel binding', async (t) => {
  const tlsAirlock = await startAirlock({
    policy: examplePolicy(),
    config: { tls: { cert: new URL('../fixtures/tls/server.crt', import.meta.url).pathname, key: new URL('../fixtures/tls/server.key', import.meta.url).pathname } },
  });
  t.teardown(() => tlsAirlock.stop());
  const base = `postgresql://bob%40corp.com:${encodeURIComponent(tlsAirlock.tokens['bob@corp.com']!)}@127.0.0.1:${tlsAirlock.pgPort}/orders`;
  const r = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 1', `${base}?sslmode=require&channel_binding=require`]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), '1');
  const plain = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 2', `${base}?sslmode=disable`]);
  t.equal(plain.code, 0, 'plain connections still work when TLS is offered');
});

t.test('GSSENCRequest is declined with N, then the startup goes on', async (t) => {
  const net = await import('node:net');
  const s = net.connect(airlock.pgPort, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  const gss = Buffer.alloc(8);
  gss.writeInt32BE(8, 0);
  gss.writeInt32BE(80877104, 4);
  s.write(gss);
  const answer = await new Promise<Buffer>((r) => s.once('data', r));
  t.equal(answer.toString(), 'N');
  s.destroy();
});

t.test('Ctrl-C on a running (not held) query reaches the upstream through airlock', async (t) => {
  const { start } = await import('../helpers/processes.js');
  const p = start('psql', ['-X', '-c', 'SELECT pg_sleep(20)', airlock.pgUrl('bob@corp.com')]);
  for (let i = 0; i < 100; i++) {
    const r = await direct.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)' AND state = 'active'`);
    if (r.rows[0].n > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  p.child.kill('SIGINT');
  const r = await p.done;
  t.match(r.stderr, /canceling statement due to user request/);
});

t.test('LISTEN through airlock receives a NOTIFY sent elsewhere', async (t) => {
  const c = new pg.Client(airlock.pgConfig('bob@corp.com'));
  await c.connect();
  const got = new Promise<string | undefined>((resolve) => c.on('notification', (n) => resolve(n.payload)));
  await c.query('LISTEN airlock_wire_channel');
  await direct.query(`NOTIFY airlock_wire_channel, 'hello through airlock'`);
  t.equal(await got, 'hello through airlock');
  await c.end();
});

t.test('before authentication a client cannot make airlock buffer a large message (regression: 24 sockets × 60 MB → 1.7 GB RSS)', async (t) => {
  const net = await import('node:net');
  const s = net.connect(airlock.pgPort, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  // A startup packet announcing 60 MB.
  const head = Buffer.alloc(8);
  head.writeInt32BE(60 * 1024 * 1024, 0);
  head.writeInt32BE(196608, 4);
  s.write(head);
  const reply = await new Promise<Buffer>((r) => s.once('data', r));
  t.match(reply.toString('latin1'), /FATAL.*54000.*exceeds the limit of 16384 bytes \(the limit before authentication\)/s);
  s.destroy();
  // After authentication the configured limit applies: the 10 MB query test above passes.
});

t.test('Execute of a portal never bound is answered at once, not held for approvers', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.execute('no_such_portal'), fe.sync(), fe.query('SELECT 5')]));
  const first = await c.untilReady();
  t.equal(tags(first), 'EZ');
  t.match(errorOf(first), { code: '34000' });
  t.equal((await airlock.daemon.approvalBroker.list({ states: ['pending'] })).length, 0, 'no request for approvers');
  t.equal(tags(await c.untilReady()), 'TDCZ');
  c.close();
});
