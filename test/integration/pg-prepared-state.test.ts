// Extended-protocol names follow what the server did, not what the client sent: a Parse the server
// rejects (42P05) or skips after an error must not make a prepared DELETE look like SELECT 1.
// Raw frames against the real PostgreSQL; the DELETE must be held for approval, never run unasked.

import pg from 'pg';
import t, { type Test } from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { connectWire, errorOf, fe, tags, type WireClient } from '../helpers/pg-wire.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
const airlock = await startAirlock({ policy: examplePolicy() });
t.teardown(() => airlock.stop());
const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_prepared; CREATE TABLE airlock_prepared (id int primary key);
  INSERT INTO airlock_prepared SELECT g FROM generate_series(300, 320) g`);

const broker = () => airlock.daemon.approvalBroker;
const bobRecord = () => (airlock.daemon as unknown as { users: { get(e: string): unknown } }).users.get('bob@corp.com') as Parameters<ReturnType<typeof broker>['deny']>[1];
// alice is in engineering: a DELETE of hers needs a dba's approval (writes-need-dba).
const wire = () => connectWire({ port: airlock.pgPort, user: 'alice@corp.com', password: airlock.tokens['alice@corp.com']!, database: 'orders' });
const present = async (id: number) => (await direct.query('SELECT 1 FROM airlock_prepared WHERE id = $1', [id])).rowCount === 1;

/** Sends Bind ""←stmt, Execute, Sync and proves the DELETE behind it is held, then denies it. */
async function expectHeldDelete(t: Test, c: WireClient, stmt: string, id: number): Promise<void> {
  await c.send(Buffer.concat([fe.bind('', stmt, []), fe.execute(''), fe.sync()]));
  const held = await c.until(0x4e);
  const notice = held[held.length - 1]!.body.toString('utf8');
  t.match(notice, /held for approval/, 'the statement is held, not run');
  const requestId = /request ([a-z0-9]+)/.exec(notice)![1]!;
  const request = await broker().get(requestId);
  t.equal(request?.state, 'pending');
  t.equal(request?.sql, `DELETE FROM airlock_prepared WHERE id=${id}`, 'the approver is asked about what the server would run');
  t.ok(await present(id), 'the row is still there while held');
  await broker().deny(requestId, bobRecord(), 'test', 'cli');
  const refused = await c.untilReady();
  t.equal(errorOf(refused)?.code, '42501');
  t.ok(await present(id), 'the row is still there after the deny');
}

t.test('a named Parse the server rejects with 42P05 does not rename the statement', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.parse('s1', 'DELETE FROM airlock_prepared WHERE id=301'), fe.sync()]));
  t.equal(tags(await c.untilReady()), '1Z');
  await c.send(Buffer.concat([fe.parse('s1', 'SELECT 1'), fe.sync()]));
  const rejected = await c.untilReady();
  t.equal(tags(rejected), 'EZ');
  t.equal(errorOf(rejected)?.code, '42P05', 'the server keeps the DELETE under s1');
  await expectHeldDelete(t, c, 's1', 301);
  c.close();
});

t.test('a Close and Parse the server skipped after an error do not rename the statement', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.parse('s1', 'DELETE FROM airlock_prepared WHERE id=302'), fe.sync()]));
  t.equal(tags(await c.untilReady()), '1Z');
  await c.send(Buffer.concat([fe.bind('', 'nope', []), fe.close('S', 's1'), fe.parse('s1', 'SELECT 1'), fe.sync()]));
  const skipped = await c.untilReady();
  t.equal(tags(skipped), 'EZ', 'Close and Parse were skipped');
  t.equal(errorOf(skipped)?.code, '26000');
  await expectHeldDelete(t, c, 's1', 302);
  c.close();
});

t.test('the unnamed statement survives a Parse skipped after an error', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.parse('', 'DELETE FROM airlock_prepared WHERE id=303'), fe.sync()]));
  t.equal(tags(await c.untilReady()), '1Z');
  await c.send(Buffer.concat([fe.bind('', 'nope', []), fe.parse('', 'SELECT 1'), fe.sync()]));
  const skipped = await c.untilReady();
  t.equal(tags(skipped), 'EZ');
  t.equal(errorOf(skipped)?.code, '26000');
  await expectHeldDelete(t, c, '', 303);
  c.close();
});

t.test('pipelined past a Sync: the next batch waits for how the server answered the rejected Parse', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.parse('s1', 'DELETE FROM airlock_prepared WHERE id=304'), fe.sync()]));
  t.equal(tags(await c.untilReady()), '1Z');
  await c.send(Buffer.concat([fe.parse('s1', 'SELECT 1'), fe.sync(), fe.bind('', 's1', []), fe.execute(''), fe.sync()]));
  const rejected = await c.untilReady();
  t.equal(errorOf(rejected)?.code, '42P05');
  const held = await c.until(0x4e);
  const requestId = /request ([a-z0-9]+)/.exec(held[held.length - 1]!.body.toString('utf8'))![1]!;
  t.equal((await broker().get(requestId))?.sql, 'DELETE FROM airlock_prepared WHERE id=304');
  t.ok(await present(304));
  await broker().deny(requestId, bobRecord(), 'test', 'cli');
  t.equal(errorOf(await c.untilReady())?.code, '42501');
  t.ok(await present(304));
  c.close();
});

t.test('a portal keeps the statement it was bound from, even when the name is parsed again', async (t) => {
  const c = await wire();
  await c.send(
    Buffer.concat([
      fe.parse('', 'DELETE FROM airlock_prepared WHERE id=305'), fe.bind('p', '', []),
      fe.parse('', 'SELECT 1'), fe.execute('p'), fe.sync(),
    ]),
  );
  const held = await c.until(0x4e);
  const requestId = /request ([a-z0-9]+)/.exec(held[held.length - 1]!.body.toString('utf8'))![1]!;
  t.equal((await broker().get(requestId))?.sql, 'DELETE FROM airlock_prepared WHERE id=305', 'the portal runs the DELETE');
  t.ok(await present(305));
  await broker().deny(requestId, bobRecord(), 'test', 'cli');
  t.equal(errorOf(await c.untilReady())?.code, '42501');
  t.ok(await present(305));
  c.close();
});

t.test('a statement the client deallocated in SQL is not trusted under its old text', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.parse('s9', 'SELECT 1'), fe.sync()]));
  t.equal(tags(await c.untilReady()), '1Z');
  await c.send(fe.query('DEALLOCATE s9'));
  t.equal(tags(await c.untilReady()), 'CZ');
  // PREPARE of a DELETE is itself held; an approver lets the PREPARE through, not later runs of it.
  await c.send(fe.query('PREPARE s9 AS DELETE FROM airlock_prepared WHERE id=306'));
  const held = await c.until(0x4e);
  const requestId = /request ([a-z0-9]+)/.exec(held[held.length - 1]!.body.toString('utf8'))![1]!;
  await broker().approve(requestId, bobRecord(), 'cli');
  t.equal(tags(await c.untilReady()), 'CZ');
  await c.send(Buffer.concat([fe.bind('', 's9', []), fe.execute(''), fe.sync()]));
  const after = await c.untilReady();
  t.notOk(after.some((f) => f.type === 0x43 && f.body.toString('utf8').startsWith('DELETE')), 'the DELETE did not run as "SELECT 1"');
  t.match(errorOf(after), { code: '34000', message: /^airlock: / }, 'airlock no longer knows what s9 is');
  t.ok(await present(306));
  c.close();
});

t.test('normal extended traffic: Parse+Bind+Execute in one batch, reuse across batches, pipelined Syncs', async (t) => {
  const c = await wire();
  await c.send(Buffer.concat([fe.parse('q', 'SELECT $1::int + 1'), fe.bind('', 'q', ['41']), fe.execute(''), fe.sync()]));
  const first = await c.untilReady();
  t.equal(tags(first), '12DCZ');
  t.equal(first[2]!.body.toString('utf8', 6), '42');
  await c.send(Buffer.concat([fe.bind('', 'q', ['1']), fe.execute(''), fe.sync(), fe.close('S', 'q'), fe.parse('q', 'SELECT $1::int * 10'), fe.sync(), fe.bind('', 'q', ['5']), fe.execute(''), fe.sync()]));
  const a = await c.untilReady();
  t.equal(tags(a), '2DCZ');
  t.equal(a[1]!.body.toString('utf8', 6), '2');
  t.equal(tags(await c.untilReady()), '31Z');
  const b = await c.untilReady();
  t.equal(tags(b), '2DCZ');
  t.equal(b[1]!.body.toString('utf8', 6), '50', 'the re-parsed statement, once the server confirmed it');
  c.close();
});

t.test('the pg driver with named and unnamed statements', async (t) => {
  const c = new pg.Client(airlock.pgConfig('alice@corp.com'));
  await c.connect();
  for (let i = 0; i < 3; i++) {
    t.same((await c.query({ name: 'count-rows', text: 'SELECT count(*)::int AS n FROM airlock_prepared WHERE id >= $1', values: [310] })).rows, [{ n: 11 }]);
    t.same((await c.query('SELECT $1::int AS v', [i])).rows, [{ v: i }]);
  }
  const err = await c.query({ name: 'bad', text: 'SELECT nope FROM airlock_prepared' }).catch((e: { code: string }) => e);
  t.match(err, { code: '42703' });
  t.same((await c.query({ name: 'count-rows', text: 'SELECT count(*)::int AS n FROM airlock_prepared WHERE id >= $1', values: [320] })).rows, [{ n: 1 }]);
  await c.end();
});

// Regression (fresh-user round 3): Parse d1 "drop table ..." at protocol level, then the SQL query
// "execute d1", dropped the table although no-drop denies DROP: airlock saw only an unknown EXECUTE.
t.test('SQL EXECUTE of a protocol-level prepared DROP is denied by the DROP rule', async (t) => {
  await direct.query('DROP TABLE IF EXISTS airlock_fu3_drop; CREATE TABLE airlock_fu3_drop (id int)');
  const c = await connectWire({ port: airlock.pgPort, user: 'bob@corp.com', password: airlock.tokens['bob@corp.com']!, database: 'orders' });
  t.teardown(() => c.close());
  await c.send(Buffer.concat([fe.parse('d1', 'drop table airlock_fu3_drop'), fe.sync()]));
  await c.untilReady();
  await c.send(fe.query('execute d1'));
  const refused = await c.untilReady();
  t.equal(errorOf(refused)?.code, '42501', 'denied');
  t.match(errorOf(refused)?.message, /no-drop/);
  t.equal((await direct.query("SELECT to_regclass('airlock_fu3_drop') IS NOT NULL AS present")).rows[0].present, true, 'the table is still there');
});
