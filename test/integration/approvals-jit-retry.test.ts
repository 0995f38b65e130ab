// JIT windows (run freely until expiry or revoke, listed by `airlock access list`) and hold: retry (error at once, one run per approval).

import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { api, auditRecords, cli, ranMessage, send, sendHeld, until } from '../helpers/approval-e2e.js';
import { scrape } from '../helpers/prom-text.js';
import { requireBuild } from '../helpers/airlock-process.js';
import { dedicatedRedisDb } from '../helpers/redis-db.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
requireBuild();
const redis = await dedicatedRedisDb(9, (fn) => t.teardown(fn));

const policy = examplePolicy(`
  - name: jit-maintenance
    resources: [orders]
    requesters: [engineering]
    match: { tables: [airlock_jit] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, mode: jit, jit: { duration: 5s }, timeout: 10m }
  - name: jit-long
    resources: [orders]
    requesters: [engineering]
    match: { tables: [airlock_jit_long] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, mode: jit, jit: { duration: 10m }, timeout: 10m }
  - name: jit-by-retry
    resources: [orders]
    requesters: [engineering]
    match: { tables: [airlock_jit_retry] }
    action: require_approval
    hold: retry
    approval: { approvers: [dba], min_approvals: 1, mode: jit, jit: { duration: 10m }, timeout: 10m }
  - name: retry-writes
    resources: [orders]
    match: { tables: [airlock_retry] }
    action: require_approval
    hold: retry
    approval: { approvers: [dba], min_approvals: 1, timeout: 10m }`);
const airlock = await startAirlock({ policy, config: { instance_id: 'jit-retry', state: { redis } } });
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_jit; CREATE TABLE airlock_jit (id int);
  DROP TABLE IF EXISTS airlock_jit_long; CREATE TABLE airlock_jit_long (id int);
  DROP TABLE IF EXISTS airlock_retry; CREATE TABLE airlock_retry (id int, note text);
  DROP TABLE IF EXISTS airlock_jit_retry; CREATE TABLE airlock_jit_retry (id int);`);
const ids = async (table: string) => (await direct.query(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => r.id as number);

const alice = new pg.Client(airlock.pgConfig('alice@corp.com'));
await alice.connect();
t.teardown(() => alice.end());
const as = (email: string) => ({ email, token: airlock.tokens[email]! });
const approve = (id: string) => api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, as('bob@corp.com'));
const grants = async () => (await api(airlock.adminUrl, 'GET', '/api/v1/access', as('alice@corp.com'))).body.grants as { id: string; requester: string }[];

t.test('a JIT window lets the requester run matching statements until it expires, then holds again', async (t) => {
  const opened = await sendHeld(alice, 'INSERT INTO airlock_jit VALUES (1)');
  t.equal((await approve(opened.id)).body.outcome, 'approved');
  const first = await opened.result;
  t.notOk(first instanceof Error, ranMessage(first));

  const before = await scrape(airlock.adminUrl);
  const inWindow = send(alice, 'INSERT INTO airlock_jit VALUES (2)');
  t.equal(await inWindow.first, 'ran', 'no hold inside the window');
  const second = await inWindow.result;
  t.notOk(second instanceof Error, ranMessage(second));
  t.same(await ids('airlock_jit'), [1, 2]);
  // Regression (fresh-user report): a statement the window let run was audited and counted as a hold.
  const decided = auditRecords(airlock.dir).filter((r) => r.type === 'statement.decided' && r.sql === 'INSERT INTO airlock_jit VALUES (2)');
  t.match(decided, [{ decision: 'allow', source: 'jit', rule: 'jit-maintenance', grant_id: `jit-${opened.id}` }], 'audited as allowed by the window');
  const after1 = await scrape(airlock.adminUrl);
  const counted = (s: typeof before, decision: string) => s.value('airlock_statements_total', { protocol: 'postgres', resource: 'orders', decision });
  t.equal(counted(after1, 'allow') - counted(before, 'allow'), 1, 'counted as allow');
  t.equal(counted(after1, 'hold') - counted(before, 'hold'), 0, 'not as hold');

  t.match(await grants(), [{ id: `jit-${opened.id}`, requester: 'alice@corp.com' }], 'the window is listed while open');

  await until('the window to expire', async () => (await grants()).length === 0, 200, 100);
  const after = await sendHeld(alice, 'INSERT INTO airlock_jit VALUES (3)');
  t.not(after.id, opened.id, 'a new request once the window is over');
  t.same(await ids('airlock_jit'), [1, 2], 'held, not run');
  t.equal((await approve(after.id)).status, 200);
  t.notOk((await after.result) instanceof Error);
  t.same(await ids('airlock_jit'), [1, 2, 3]);
});

t.test('`airlock access list` shows a window and `airlock access revoke` ends it at once', async (t) => {
  // A long window, so a slow CLI start cannot outlast it.
  const opened = await sendHeld(alice, 'INSERT INTO airlock_jit_long VALUES (10)');
  await approve(opened.id);
  t.notOk((await opened.result) instanceof Error);
  const grantId = `jit-${opened.id}`;
  t.equal(await send(alice, 'INSERT INTO airlock_jit_long VALUES (11)').first, 'ran', 'inside the window');

  const listed = await cli(['access', 'list', '--admin', airlock.adminUrl], as('bob@corp.com'));
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, new RegExp(`${grantId}\\s+alice@corp\\.com\\s+orders\\s+jit-long\\s+\\S+ ago\\s+in \\d+m\\s+${opened.id}`));

  const revoked = await cli(['access', 'revoke', grantId, '--admin', airlock.adminUrl], as('alice@corp.com'));
  t.equal(revoked.code, 0, revoked.stderr);
  t.equal(revoked.stdout, `access window ${grantId} revoked\n`);
  const after = await cli(['access', 'list', '--admin', airlock.adminUrl], as('alice@corp.com'));
  // The first test's last approval may still have a short window open: only this one must be gone.
  t.notMatch(after.stdout, grantId, 'the revoked window is no longer listed');

  const held = await sendHeld(alice, 'INSERT INTO airlock_jit_long VALUES (12)');
  t.pass(`held again as ${held.id}`);
  await api(airlock.adminUrl, 'POST', `/api/v1/requests/${held.id}/deny`, as('bob@corp.com'), { reason: 'window is over' });
  t.match(await held.result, { code: '42501', message: /window is over/ });
  t.same(await ids('airlock_jit_long'), [10, 11]);
});

t.test('hold: retry errors at once with the request id; after approval the same statement runs once', async (t) => {
  const sql = 'INSERT INTO airlock_retry VALUES ($1, $2)';
  const params = [7, 'retry me'];
  const first = send(alice, sql, params);
  t.equal(await first.first, 'ran', 'no NOTICE and no wait: the client gets its answer at once');
  const refused = (await first.result) as Error & { code?: string };
  t.equal(refused.code, '55000');
  const id = /approval request ([a-z0-9]+) is pending; re-send the same statement after it is approved/.exec(refused.message)?.[1];
  t.ok(id, `the error names the request: ${refused.message}`);
  t.equal((await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, as('bob@corp.com'))).body.request.state, 'pending');
  t.same(await ids('airlock_retry'), []);

  const other = send(alice, sql, [8, 'not approved']);
  t.match(await other.result, { code: '55000' }, 'another statement is held on its own');
  t.equal((await approve(id!)).body.outcome, 'approved');

  const differentParams = await send(alice, sql, [9, 'different']).result;
  t.match(differentParams, { code: '55000' }, 'the approval binds to the parameters');
  const again = await send(alice, sql, params).result;
  t.notOk(again instanceof Error, ranMessage(again));
  t.same(await ids('airlock_retry'), [7]);
  t.equal((await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, as('bob@corp.com'))).body.request.state, 'executed');

  const third = (await send(alice, sql, params).result) as Error & { code?: string };
  t.equal(third.code, '55000', 'one approval, one run: a third send holds again');
  t.notMatch(third.message, id!, 'under a new request');
  t.same(await ids('airlock_retry'), [7]);
});

t.test('a jit approval asked for with hold: retry opens a window and nothing more: revoking it leaves no run behind (regression)', async (t) => {
  const sql = 'INSERT INTO airlock_jit_retry VALUES (1)';
  const refused = (await send(alice, sql).result) as Error & { code?: string };
  t.equal(refused.code, '55000');
  const id = /approval request ([a-z0-9]+) is pending/.exec(refused.message)![1]!;
  await approve(id);
  t.notOk((await send(alice, sql).result) instanceof Error, 'runs inside the window');
  const revoked = await api(airlock.adminUrl, 'DELETE', `/api/v1/access/jit-${id}`, as('alice@corp.com'));
  t.equal(revoked.status, 200);
  const after = (await send(alice, sql).result) as Error & { code?: string };
  t.equal(after.code, '55000', 'after the revoke the same statement asks again');
  t.same(await ids('airlock_jit_retry'), [1], 'exactly one run: the window, not a left-over approval');
});
