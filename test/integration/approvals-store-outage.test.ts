// Redis cut (through a TCP proxy) while a statement waits: the client is told 57P03, reads keep working, and holds work again once it is back.

import pg from 'pg';
import t from 'tap';
import { startAirlock } from '../helpers/airlock.js';
import { api, metric, ranMessage, send, sendHeld, until } from '../helpers/approval-e2e.js';
import { dedicatedRedisDb } from '../helpers/redis-db.js';
import { requireService } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

await requireService('postgres');
await dedicatedRedisDb(11, (fn) => t.teardown(fn));
const proxy = new TcpProxy(6379);
t.teardown(() => proxy.close());
const port = await proxy.start();
const airlock = await startAirlock({ config: { instance_id: 'outage', state: { redis: `redis://127.0.0.1:${port}/11` }, approvals: { lease: '2s' } } });
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_outage; CREATE TABLE airlock_outage (id int);
  INSERT INTO airlock_outage VALUES (0);`);
const ids = async () => (await direct.query('SELECT id FROM airlock_outage ORDER BY id')).rows.map((r) => r.id as number);

const alice = new pg.Client(airlock.pgConfig('alice@corp.com'));
await alice.connect();
t.teardown(() => alice.end());
const bob = { email: 'bob@corp.com', token: airlock.tokens['bob@corp.com']! };

t.test('the waiting client gets 57P03 once the store has been gone past the grace period; reads go on', async (t) => {
  const { id, result } = await sendHeld(alice, 'INSERT INTO airlock_outage VALUES (1)');
  await proxy.cut();
  await until('airlock to notice Redis is gone', async () => (await metric(airlock.adminUrl, 'airlock_redis_connected')) === 0);

  // Allowed statements do not need the store, on this session and on others.
  const reader = new pg.Client(airlock.pgConfig('bob@corp.com'));
  await reader.connect();
  t.same((await reader.query('SELECT count(*)::int AS n FROM airlock_outage')).rows, [{ n: 1 }], 'reads work while Redis is away');
  const refusedNow = await send(reader, 'DELETE FROM airlock_outage WHERE id = 0').result.catch((e: unknown) => e);
  t.notOk(refusedNow instanceof Error, 'bob (no rule) writes freely too');
  await direct.query('INSERT INTO airlock_outage VALUES (0)');

  const err = (await result) as Error & { code?: string };
  t.equal(err.code, '57P03', `the waiting client is told: ${err.message}`);
  t.match(err.message, /approval store is unavailable/);
  t.match(err.message, new RegExp(`request ${id} waited; the statement did not run`));

  t.same((await alice.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the session stays usable for reads');
  const newHold = (await send(alice, 'INSERT INTO airlock_outage VALUES (2)').result) as Error & { code?: string };
  t.equal(newHold.code, '57P03', 'a new hold is refused at once while Redis is away');
  await reader.end();

  await proxy.start();
  await until('airlock to reconnect', async () => (await metric(airlock.adminUrl, 'airlock_redis_connected')) === 1);
  await until('the stranded request to be cancelled', async () => (await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, bob)).body.request?.state === 'cancelled');
  const late = await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, bob);
  t.equal(late.status, 409, 'a request whose client was told it failed can no longer be approved');
  t.same(await ids(), [0], 'nothing ran');
});

t.test('after Redis is back, new holds work without restarting airlock', async (t) => {
  await until('airlock to be connected', async () => (await metric(airlock.adminUrl, 'airlock_redis_connected')) === 1);
  const { id, result } = await sendHeld(alice, 'INSERT INTO airlock_outage VALUES (3)');
  t.equal((await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, bob)).body.outcome, 'approved');
  const res = await result;
  t.notOk(res instanceof Error, ranMessage(res));
  t.same(await ids(), [0, 3]);
});
