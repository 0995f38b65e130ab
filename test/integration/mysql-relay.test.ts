// The mysql2 driver (text and prepared statements) through airlock against the machine's MariaDB.

import net from 'node:net';
import t from 'tap';
import type mysql from 'mysql2/promise';
import { direct, startAirlock, type Airlock } from '../helpers/mysql-airlock.js';

const P = 'myr_';
const setup = await direct();
await setup.query(`SET GLOBAL max_allowed_packet = 67108864`);
await setup.query(`DROP TABLE IF EXISTS ${P}hold, ${P}free, ${P}big, ${P}expire, ${P}retry, ${P}drop_me`);
await setup.query(`DROP PROCEDURE IF EXISTS ${P}two_sets`);
await setup.query(`CREATE TABLE ${P}hold (id INT PRIMARY KEY, v INT)`);
await setup.query(`INSERT INTO ${P}hold VALUES (1, 10), (2, 20), (3, 30)`);
await setup.query(`CREATE TABLE ${P}free (id INT)`);
await setup.query(`CREATE TABLE ${P}big (id INT PRIMARY KEY, body LONGTEXT)`);
await setup.query(`CREATE TABLE ${P}expire (id INT)`);
await setup.query(`CREATE TABLE ${P}retry (id INT)`);
await setup.query(`CREATE TABLE ${P}drop_me (id INT)`);
await setup.query(`CREATE PROCEDURE ${P}two_sets() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END`);

const a: Airlock = await startAirlock(`  - name: no-drop
    match: {commands: [DROP]}
    action: deny
  - name: expiring
    match: {tables: ["${P}expire"], writes: true}
    action: require_approval
    approval: {approvers: [dba], timeout: 1s}
  - name: retry-later
    match: {tables: ["${P}retry"], writes: true}
    action: require_approval
    approval: {approvers: [dba], hold: retry}
  - name: held-writes
    match: {tables: ["${P}hold"], writes: true}
    action: require_approval
    approval: {approvers: [dba]}
`);

t.teardown(async () => {
  await a.stop();
  await setup.query(`DROP TABLE IF EXISTS ${P}hold, ${P}free, ${P}big, ${P}expire, ${P}retry, ${P}drop_me`);
  await setup.query(`DROP PROCEDURE IF EXISTS ${P}two_sets`);
  await setup.end();
});

async function valueOf(id: number): Promise<number> {
  const [rows] = await setup.query(`SELECT v FROM ${P}hold WHERE id = ?`, [id]);
  return (rows as { v: number }[])[0]!.v;
}

t.test('reads pass, text and prepared', async (t) => {
  const c = await a.connect();
  const [rows] = await c.query(`SELECT id, v FROM ${P}hold ORDER BY id`);
  t.same(rows, [{ id: 1, v: 10 }, { id: 2, v: 20 }, { id: 3, v: 30 }]);
  const [one] = await c.execute(`SELECT v FROM ${P}hold WHERE id = ?`, [2]);
  t.same(one, [{ v: 20 }]);
  const [again] = await c.execute(`SELECT v FROM ${P}hold WHERE id = ?`, [3]);
  t.same(again, [{ v: 30 }], 'the same prepared statement with new values (types remembered)');
  await c.end();
});

t.test('a held UPDATE runs after approval and its affected rows reach the client', async (t) => {
  const c = await a.connect();
  const running = c.query(`UPDATE ${P}hold SET v = v + 1 WHERE id IN (1, 2)`);
  const request = await a.pending((r) => r.sql.includes(`UPDATE ${P}hold`));
  t.equal(await valueOf(1), 10, 'nothing ran while held');
  await a.approve(request);
  const [result] = (await running) as [mysql.ResultSetHeader, unknown];
  t.equal(result.affectedRows, 2);
  t.equal(await valueOf(1), 11);
  await c.end();
});

t.test('a denied DROP gets 1142 / 42000 naming the rule', async (t) => {
  const c = await a.connect();
  await t.rejects(c.query(`DROP TABLE ${P}drop_me`), { errno: 1142, sqlState: '42000', message: /no-drop/ });
  const [rows] = await c.query('SELECT 1 AS still');
  t.same(rows, [{ still: 1 }], 'the session goes on');
  await c.end();
});

t.test('an approver denial reaches the client with the reason', async (t) => {
  const c = await a.connect();
  const running = c.query(`DELETE FROM ${P}hold WHERE id = 3`);
  running.catch(() => {});
  const request = await a.pending((r) => r.sql.includes(`DELETE FROM ${P}hold`));
  await a.deny(request, 'not during the freeze');
  await t.rejects(running, { errno: 1142, sqlState: '42000', message: /not during the freeze/ });
  t.equal(await valueOf(3), 30);
  await c.end();
});

t.test('an expired hold fails with 1317 and does not run', async (t) => {
  const c = await a.connect();
  await t.rejects(c.query(`INSERT INTO ${P}expire VALUES (1)`), { errno: 1317, message: /timed out/ });
  const [rows] = await setup.query(`SELECT COUNT(*) AS n FROM ${P}expire`);
  t.same(rows, [{ n: 0 }]);
  await c.end();
});

t.test('hold: retry answers at once, and the same statement runs once approved', async (t) => {
  const c = await a.connect();
  await t.rejects(c.query(`INSERT INTO ${P}retry VALUES (5)`), { errno: 1317, message: /re-send/ });
  const request = await a.pending((r) => r.sql.includes(`${P}retry`));
  await a.approve(request);
  const [result] = (await c.query(`INSERT INTO ${P}retry VALUES (5)`)) as [mysql.ResultSetHeader, unknown];
  t.equal(result.affectedRows, 1);
  await c.end();
});

t.test('a 20 MB row goes up and comes back byte for byte', async (t) => {
  const c = await a.connect();
  const body = 'x'.repeat(20 * 1024 * 1024 - 7) + 'the end';
  await c.query(`INSERT INTO ${P}big VALUES (1, ?)`, [body]);
  const [rows] = await c.query(`SELECT body FROM ${P}big WHERE id = 1`);
  const got = (rows as { body: string }[])[0]!.body;
  t.equal(got.length, body.length);
  t.ok(got === body, 'identical');
  const [prepared] = await c.execute(`SELECT body FROM ${P}big WHERE id = ?`, [1]);
  t.ok((prepared as { body: string }[])[0]!.body === body, 'identical through the binary protocol');
  await c.end();
});

t.test('a multi-statement string with a held statement: nothing runs until approved', async (t) => {
  const c = await a.connect({ multipleStatements: true });
  const running = c.query(`INSERT INTO ${P}free VALUES (7); UPDATE ${P}hold SET v = 99 WHERE id = 2; SELECT 'done' AS s`);
  const request = await a.pending((r) => r.sql.includes(`${P}free VALUES (7)`));
  const [before] = await setup.query(`SELECT COUNT(*) AS n FROM ${P}free WHERE id = 7`);
  t.same(before, [{ n: 0 }], 'the allowed INSERT before the held UPDATE did not run either');
  await a.approve(request);
  const [results] = (await running) as [unknown[], unknown];
  t.equal(results.length, 3);
  t.same(results[2], [{ s: 'done' }]);
  t.equal(await valueOf(2), 99);
  await c.end();
});

t.test('CALL returning two result sets, text and prepared', async (t) => {
  const c = await a.connect();
  const [text] = (await c.query(`CALL ${P}two_sets()`)) as [unknown[], unknown];
  t.same(text[0], [{ a: 1 }]);
  t.same(text[1], [{ b: 2, c: 3 }]);
  const [prepared] = (await c.execute(`CALL ${P}two_sets()`)) as [unknown[], unknown];
  t.same(prepared[0], [{ a: 1 }]);
  t.same(prepared[1], [{ b: 2, c: 3 }]);
  const [after] = await c.query('SELECT 42 AS n');
  t.same(after, [{ n: 42 }], 'the connection is in step afterwards');
  await c.end();
});

t.test('a prepared UPDATE with different values needs an approval per execution', async (t) => {
  const c = await a.connect();
  for (const v of [41, 42, 42]) {
    const running = c.execute(`UPDATE ${P}hold SET v = ? WHERE id = 3`, [v]);
    const request = await a.pending((r) => r.sql === `UPDATE ${P}hold SET v = ? WHERE id = 3`);
    t.same(request.params, [String(v)], 'the request shows the bound value');
    await a.approve(request);
    const [result] = (await running) as [mysql.ResultSetHeader, unknown];
    t.equal(result.affectedRows, 1, 'found rows (mysql2 asks for CLIENT_FOUND_ROWS)');
    t.equal(await valueOf(3), v);
  }
  await c.end();
});

t.test('KILL QUERY on a held statement cancels it; only your own connections', async (t) => {
  const held = await a.connect();
  const running = held.query(`UPDATE ${P}hold SET v = 0 WHERE id = 1`);
  running.catch(() => {});
  const request = await a.pending((r) => r.sql.includes('SET v = 0 WHERE id = 1'));
  const stranger = await a.connect({ who: a.other });
  await t.rejects(stranger.query(`KILL QUERY ${held.threadId}`), { errno: 1095 });
  await stranger.end();
  const killer = await a.connect();
  await killer.query(`KILL QUERY ${held.threadId}`);
  await t.rejects(running, { errno: 1317, message: new RegExp(request.id) });
  t.equal(await valueOf(1), 11, 'the held UPDATE never ran');
  await t.rejects(killer.query('KILL QUERY 4000000000'), { errno: 1094 });
  const [rows] = await held.query('SELECT 1 AS alive');
  t.same(rows, [{ alive: 1 }], 'the cancelled session goes on');
  await killer.end();
  await held.end();
});

t.test('KILL QUERY on a running statement reaches the upstream thread', async (t) => {
  const c = await a.connect();
  const running = c.query('SELECT SLEEP(30) AS s');
  await new Promise((r) => setTimeout(r, 300));
  const killer = await a.connect();
  await killer.query(`KILL QUERY ${c.threadId}`);
  const outcome = await running.then(([rows]) => rows, (err: { errno: number }) => err.errno);
  // MariaDB ends a killed SLEEP early with result 1, or with ER_QUERY_INTERRUPTED.
  t.ok(outcome === 1317 || JSON.stringify(outcome) === '[{"s":1}]', `killed (${JSON.stringify(outcome)})`);
  await killer.end();
  await c.end();
});

t.test('authentication and resource errors', async (t) => {
  await t.rejects(a.connect({ password: 'alk_wrong' }), { errno: 1045, sqlState: '28000' });
  await t.rejects(a.connect({ database: 'nope' }), { errno: 1049 });
  const c = await a.connect();
  await t.rejects(c.query('USE mysql'), { errno: 1044 });
  await c.query('USE information_schema');
  const [rows] = await c.query('SELECT DATABASE() AS db');
  t.same(rows, [{ db: 'information_schema' }]);
  await c.query('USE shop');
  const [back] = await c.query('SELECT DATABASE() AS db');
  t.same(back, [{ db: 'test' }], 'USE <resource> switches to its database');
  await c.end();
});

t.test('COM_CHANGE_USER re-authenticates as another airlock user', async (t) => {
  const c = await a.connect();
  await c.changeUser({ user: a.other.email, password: a.other.token });
  const [rows] = await c.query('SELECT 7 AS n');
  t.same(rows, [{ n: 7 }]);
  await t.rejects(c.changeUser({ user: a.dev.email, password: 'alk_wrong' }), { errno: 1045 });
  c.destroy();
});

t.test('a client sending one byte at a time', async (t) => {
  const trickle = net.createServer((client) => {
    const up = net.connect(a.port, '127.0.0.1');
    up.on('data', (d) => client.write(d));
    client.on('data', async (d) => {
      client.pause();
      for (const byte of d) {
        up.write(Buffer.from([byte]));
        await new Promise((r) => setImmediate(r));
      }
      client.resume();
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => {});
    up.on('error', () => {});
  });
  await new Promise<void>((r) => trickle.listen(0, '127.0.0.1', r));
  const port = (trickle.address() as net.AddressInfo).port;
  const c = await a.connect({ port });
  const [rows] = await c.query(`SELECT id FROM ${P}hold WHERE id = 1`);
  t.same(rows, [{ id: 1 }]);
  const [prepared] = await c.execute(`SELECT ? AS echo`, ['one byte at a time']);
  t.same(prepared, [{ echo: 'one byte at a time' }]);
  await c.end();
  trickle.close();
});

// Regression (fresh-user report): after SET SESSION sql_mode = DEFAULT airlock no longer knew how the
// session lexes, so every later statement was held as unparseable.
t.test('SET sql_mode = DEFAULT returns to the global mode airlock read at login', async (t) => {
  const c = await a.connect();
  t.teardown(() => c.end());
  await c.query(`SET SESSION sql_mode = 'ANSI_QUOTES'`);
  const [ansi] = await c.query(`SELECT "id" AS col FROM ${P}hold WHERE id = 1`);
  t.same(ansi, [{ col: 1 }], 'in ANSI_QUOTES "id" is a column');
  await c.query('SET SESSION sql_mode = DEFAULT');
  const [back] = await c.query(`SELECT "id" AS col FROM ${P}hold WHERE id = 1`);
  t.same(back, [{ col: 'id' }], 'after DEFAULT "id" is a string again, and the statement is not held');
  await c.query('SET @@session.sql_mode = @@global.sql_mode');
  const [again] = await c.query('SELECT 1 AS one');
  t.same(again, [{ one: 1 }], '= @@global.sql_mode too');
  t.equal((await a.daemon.approvalBroker.list({ states: ['pending'] })).length, 0, 'nothing was held');
});
