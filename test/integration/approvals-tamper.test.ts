// The tester's report, end to end on real Redis and PostgreSQL: a state written straight into Redis
// (HSET state approved + PUBLISH) does not run a held DELETE; and audit: { params: redact } hides the
// values from the audit log but not from the approvers who must judge them.

import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { api, auditRecords, cli, metric, ranMessage, sendHeld, until } from '../helpers/approval-e2e.js';
import { requireBuild } from '../helpers/airlock-process.js';
import { run } from '../helpers/processes.js';
import { dedicatedRedisDb } from '../helpers/redis-db.js';
import { requireService } from '../helpers/services.js';

const DB = 14;
await requireService('postgres');
requireBuild();
const redis = await dedicatedRedisDb(DB, (fn) => t.teardown(fn));

const SECRET = `cust-${process.pid}-4711`;
const policy = examplePolicy(`
  - name: notes-redacted
    resources: [orders]
    match: { tables: [airlock_tamper_notes] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, timeout: 10m }
    audit: { params: redact }`);
const airlock = await startAirlock({ policy, config: { instance_id: 'tamper', state: { redis } } });
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_tamper, airlock_tamper_notes;
  CREATE TABLE airlock_tamper (id int); INSERT INTO airlock_tamper SELECT generate_series(1, 5);
  CREATE TABLE airlock_tamper_notes (id int, note text); INSERT INTO airlock_tamper_notes VALUES (1, '${SECRET}'), (2, 'keep');`);
t.teardown(() => direct.query('DROP TABLE IF EXISTS airlock_tamper, airlock_tamper_notes').then(() => {}));
const count = async (table: string) => (await direct.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;

const alice = new pg.Client(airlock.pgConfig('alice@corp.com'));
await alice.connect();
t.teardown(() => alice.end());
const as = (email: string) => ({ email, token: airlock.tokens[email]! });
const ofRequest = (id: string) => auditRecords(airlock.dir).filter((r) => r.request_id === id);

async function redisCli(...args: string[]): Promise<string> {
  const r = await run('redis-cli', ['-n', String(DB), ...args]);
  if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

t.test('HSET state approved + PUBLISH in Redis does not run the held DELETE', async (t) => {
  const before = await metric(airlock.adminUrl, 'airlock_approval_requests_total', { outcome: 'rejected' });
  const { id, result } = await sendHeld(alice, 'DELETE FROM airlock_tamper WHERE id > $1', [0]);
  await redisCli('hset', `airlock:{req:${id}}`, 'state', 'approved');
  await redisCli('publish', 'airlock:changes', id);

  const res = await result;
  t.ok(res instanceof Error, ranMessage(res));
  const err = res as Error & { code?: string };
  t.equal(err.code, '42501');
  t.match(err.message, new RegExp(`approval request ${id} is marked approved, but its approval record is inconsistent \\(no approval votes are recorded\\); the statement was not run`));
  t.equal(await count('airlock_tamper'), 5, 'nothing was deleted');

  const request = (await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, as('bob@corp.com'))).body.request;
  t.equal(request.state, 'cancelled', 'the request is final and can never run');
  t.match(request.final_reason, /approval record inconsistent/);
  t.equal(await redisCli('hget', `airlock:{req:${id}}`, 'state'), 'cancelled', 'in Redis too');
  const late = await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, as('bob@corp.com'));
  t.equal(late.status, 409, 'and cannot be approved afterwards');

  const types = ofRequest(id).map((r) => r.type);
  t.same(types, ['request.held', 'approval.rejected'], `held, then rejected; no grant, no intent, no result (${types.join(', ')})`);
  t.match(ofRequest(id)[1], { reason: 'no approval votes are recorded', votes: [], break_glass: false });
  t.equal(await metric(airlock.adminUrl, 'airlock_approval_requests_total', { outcome: 'rejected' }), before + 1, 'counted as rejected');
  t.same((await alice.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the session goes on');
});

t.test('audit: { params: redact }: approvers see $1, the audit log never does', async (t) => {
  const { id, result } = await sendHeld(alice, 'DELETE FROM airlock_tamper_notes WHERE note = $1', [SECRET]);
  const request = (await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, as('bob@corp.com'))).body.request;
  t.equal(request.rule, 'notes-redacted');
  t.same(request.params, [SECRET], 'the API shows the value');
  const show = await cli(['approvals', 'show', id, '--admin', airlock.adminUrl], as('bob@corp.com'));
  t.equal(show.code, 0, show.stderr);
  t.match(show.stdout, `params     "${SECRET}"`, '`approvals show` too');

  t.equal((await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, as('bob@corp.com'))).body.outcome, 'approved');
  const res = await result;
  t.notOk(res instanceof Error, ranMessage(res));
  t.equal((res as pg.QueryResult).rowCount, 1, 'the approved statement ran with its value');

  await until('the execution result is audited', () => ofRequest(id).some((r) => r.type === 'execution.result'));
  const held = ofRequest(id).find((r) => r.type === 'request.held');
  t.same(held?.params, ['[redacted]'], 'request.held');
  const decided = auditRecords(airlock.dir).filter((r) => r.type === 'statement.decided' && r.rule === 'notes-redacted');
  t.ok(decided.length > 0 && decided.every((r) => r.params === '[redacted]'), 'statement.decided');
  const everything = fs.readdirSync(path.join(airlock.dir, 'audit')).map((f) => fs.readFileSync(path.join(airlock.dir, 'audit', f), 'latin1')).join('\n');
  t.notMatch(everything, SECRET, 'no audit file carries the value');
});
