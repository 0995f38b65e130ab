// SIGKILL of the instance holding a statement: once its lease runs out the request is abandoned and can never be approved into running.

import pg from 'pg';
import t from 'tap';
import { startAirlock } from '../helpers/airlock.js';
import { api, auditRecords, cli, sendHeld, until } from '../helpers/approval-e2e.js';
import { spawnAirlock, writeConfig } from '../helpers/airlock-process.js';
import { dedicatedRedisDb } from '../helpers/redis-db.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
const redis = await dedicatedRedisDb(10, (fn) => t.teardown(fn));
const approvals = { lease: '2s' };

const doomed = await spawnAirlock(writeConfig({ config: { instance_id: 'doomed', state: { redis }, approvals, log: { level: 'warn' } } }));
t.teardown(() => doomed.stop());
const survivor = await startAirlock({ config: { instance_id: 'survivor', state: { redis }, approvals } });
t.teardown(() => survivor.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query('DROP TABLE IF EXISTS airlock_killed; CREATE TABLE airlock_killed (id int)');

t.test('the held request of a killed instance is abandoned and stays unrunnable', async (t) => {
  const alice = new pg.Client(doomed.pgConfig('alice@corp.com'));
  await alice.connect();
  alice.on('error', () => {}); // the connection dies with the instance
  const { id, result } = await sendHeld(alice, 'INSERT INTO airlock_killed VALUES (1)');
  const bob = { email: 'bob@corp.com', token: survivor.tokens['bob@corp.com']! };
  const read = async () => (await api(survivor.adminUrl, 'GET', `/api/v1/requests/${id}`, bob)).body.request;
  t.equal((await read()).state, 'pending');
  t.equal((await read()).instance_id, 'doomed');

  doomed.proc.child.kill('SIGKILL');
  const exit = await doomed.proc.done;
  t.equal(exit.signal, 'SIGKILL');
  t.match(await result, { message: /Connection terminated|ECONNRESET|terminated unexpectedly/ }, 'the client lost its connection');

  await until('the survivor to reap the request', async () => (await read()).state === 'abandoned');
  const abandoned = await read();
  t.match(abandoned.final_reason, /lease of doomed ran out/);

  const viaApi = await api(survivor.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, bob);
  t.equal(viaApi.status, 409);
  t.match(viaApi.body.error, { code: 'conflict', message: /is abandoned/ });
  const viaCli = await cli(['approvals', 'approve', id, '--admin', survivor.adminUrl], bob);
  t.equal(viaCli.code, 1);
  t.match(viaCli.stderr, /conflict: request \w+ is abandoned/);
  const carol = { email: 'carol@corp.com', token: survivor.tokens['carol@corp.com']! };
  const forced = await api(survivor.adminUrl, 'POST', `/api/v1/requests/${id}/force`, carol, { reason: 'try anyway' });
  t.equal(forced.status, 409, 'not even break-glass revives it');

  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_killed')).rows[0].n, 0, 'nothing ran');
  t.equal((await read()).state, 'abandoned');
  t.ok(auditRecords(survivor.dir).some((r) => r.type === 'approval.abandoned' && r.request_id === id), 'the survivor recorded the abandonment');
});
