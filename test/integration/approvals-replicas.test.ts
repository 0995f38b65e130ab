// Two airlock instances on one Redis: a statement held on A is decided through B (CLI and API), N-of-M counts people, and racing approvals run it once.

import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { api, cli, ranMessage, sendHeld } from '../helpers/approval-e2e.js';
import { requireBuild } from '../helpers/airlock-process.js';
import { dedicatedRedisDb } from '../helpers/redis-db.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
requireBuild();
const redis = await dedicatedRedisDb(7, (fn) => t.teardown(fn));

const policy = examplePolicy(`
  - name: two-dbas
    resources: [orders]
    match: { tables: [airlock_rep_two] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 2, timeout: 10m }`);
const a = await startAirlock({ policy, config: { instance_id: 'replica-a', state: { redis } } });
t.teardown(() => a.stop());
const b = await startAirlock({ policy, config: { instance_id: 'replica-b', state: { redis } } });
t.teardown(() => b.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_rep; CREATE TABLE airlock_rep (id int, note text);
  DROP TABLE IF EXISTS airlock_rep_two; CREATE TABLE airlock_rep_two (id int);
  DROP TABLE IF EXISTS airlock_rep_race; CREATE TABLE airlock_rep_race (id int);`);
const count = async (table: string) => (await direct.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

const alice = new pg.Client(a.pgConfig('alice@corp.com'));
await alice.connect();
t.teardown(() => alice.end());

const as = (instance: typeof a, email: string) => ({ email, token: instance.tokens[email]! });

t.test('held on A, approved with `airlock approvals approve --admin B`, runs on A', async (t) => {
  const { id, result } = await sendHeld(alice, 'INSERT INTO airlock_rep VALUES ($1, $2)', [1, 'across replicas']);
  t.equal((await api(b.adminUrl, 'GET', `/api/v1/requests/${id}`, as(b, 'bob@corp.com'))).body.request.instance_id, 'replica-a', 'B sees the request A holds');
  const approved = await cli(['approvals', 'approve', id, '--admin', b.adminUrl], as(b, 'bob@corp.com'));
  t.equal(approved.code, 0, approved.stderr);
  t.match(approved.stdout, new RegExp(`request ${id}: approved; the statement runs now`));
  const res = await result;
  t.notOk(res instanceof Error, ranMessage(res));
  t.equal((res as pg.QueryResult).rowCount, 1, 'the client sees its INSERT 0 1');
  t.same((await direct.query('SELECT id, note FROM airlock_rep')).rows, [{ id: 1, note: 'across replicas' }]);
  t.equal((await api(a.adminUrl, 'GET', `/api/v1/requests/${id}`, as(a, 'bob@corp.com'))).body.request.state, 'executed');
});

t.test('2-of-2: one approver twice stays pending; a second person releases it once', async (t) => {
  const { id, result } = await sendHeld(alice, 'INSERT INTO airlock_rep_two VALUES (2)');
  const first = await api(a.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, as(a, 'bob@corp.com'));
  t.equal(first.status, 200);
  t.equal(first.body.outcome, 'vote_recorded');
  const again = await cli(['approvals', 'approve', id, '--admin', b.adminUrl], as(b, 'bob@corp.com'));
  t.equal(again.code, 1, 'the same person cannot count twice, even through another replica');
  t.match(again.stderr, /conflict: bob@corp.com has already approved request/);
  const pending = (await api(b.adminUrl, 'GET', `/api/v1/requests/${id}`, as(b, 'dave@corp.com'))).body.request;
  t.equal(pending.state, 'pending');
  t.same(pending.approvals.map((v: { by: string }) => v.by), ['bob@corp.com']);
  t.equal(await count('airlock_rep_two'), 0, 'nothing ran on one approval');

  const second = await cli(['approvals', 'approve', id, '--admin', b.adminUrl], as(b, 'dave@corp.com'));
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /approved; the statement runs now/);
  const res = await result;
  t.notOk(res instanceof Error, ranMessage(res));
  t.equal(await count('airlock_rep_two'), 1, 'ran exactly once');
});

t.test('50 concurrent approvals over both replicas run the statement once', async (t) => {
  const { id, result } = await sendHeld(alice, 'INSERT INTO airlock_rep_race VALUES (50)');
  const approvers = ['bob@corp.com', 'dave@corp.com'];
  const replies = await Promise.all(
    Array.from({ length: 50 }, (_, i) => {
      const instance = i % 2 === 0 ? a : b;
      return api(instance.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, as(instance, approvers[Math.floor(i / 2) % 2]!));
    }),
  );
  const statuses = replies.map((r) => r.status);
  t.equal(statuses.filter((s) => s === 200).length, 1, `exactly one approval took effect: ${statuses.join(',')}`);
  t.equal(statuses.filter((s) => s === 409).length, 49, 'every other call was refused as a conflict');
  t.equal(replies.find((r) => r.status === 200)?.body.outcome, 'approved');
  const res = await result;
  t.notOk(res instanceof Error, ranMessage(res));
  t.equal(await count('airlock_rep_race'), 1, 'one execution in the database');
  // A late approval after it ran changes nothing either.
  const late = await api(b.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, as(b, 'dave@corp.com'));
  t.equal(late.status, 409);
  t.equal(await count('airlock_rep_race'), 1);
});
