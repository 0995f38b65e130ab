// /metrics after a scripted run (reads, holds approved/denied/expired/forced/cancelled, a denial,
// failed logins, a dead upstream) has the right counts; /healthz and /readyz say what is wrong.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createHash } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import YAML from 'yaml';
import { Redis } from 'ioredis';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { FakeSlack } from '../helpers/fake-slack.js';
import { start } from '../helpers/processes.js';
import { scrape, scrapeUntil } from '../helpers/prom-text.js';
import { requireService } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

await requireService('postgres');

/** A port nothing listens on: the upstream of the `broken` resource. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const policy = examplePolicy(`
  - name: quick-expiry
    resources: [orders]
    match: { tables: [airlock_ops_m_expiring] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, timeout: 1s }`).replace(
  'resources:\n',
  `resources:\n  broken:\n    protocol: postgres\n    host: 127.0.0.1\n    port: ${await closedPort()}\n    database: test\n    user: postgres\n`,
);

const airlock = await startAirlock({ policy });
t.teardown(() => airlock.stop());
const broker = () => airlock.daemon.approvalBroker;
const userRecord = (email: string) =>
  (airlock.daemon as unknown as { users: { get(e: string): unknown } }).users.get(email) as Parameters<ReturnType<typeof broker>['approve']>[1];

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_ops_m; CREATE TABLE airlock_ops_m (id int, note text);
  DROP TABLE IF EXISTS airlock_ops_m_expiring; CREATE TABLE airlock_ops_m_expiring (id int);`);

async function connect(email: string): Promise<{ client: pg.Client; notices: string[] }> {
  const client = new pg.Client(airlock.pgConfig(email));
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(n.message ?? ''));
  await client.connect();
  return { client, notices };
}

/** The id in the next held-statement NOTICE (notices seen before are consumed). */
async function heldId(notices: string[]): Promise<string> {
  for (let i = 0; i < 400 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  const m = /request (\w+)/.exec(notices.shift() ?? '');
  if (!m) throw new Error('the statement was not held');
  return m[1]!;
}

async function loginError(config: pg.ClientConfig): Promise<{ code?: string; message: string }> {
  const c = new pg.Client(config);
  c.on('error', () => {});
  return c.connect().then(
    async () => {
      await c.end();
      return { message: 'connected' };
    },
    (e: { code?: string; message: string }) => e,
  );
}

t.test('healthz and readyz answer with JSON', async (t) => {
  const h = await fetch(`${airlock.adminUrl}/healthz`);
  t.equal(h.status, 200);
  t.match(await h.json(), { status: 'ok', uptime_s: Number, version: String });
  const r = await fetch(`${airlock.adminUrl}/readyz`);
  t.equal(r.status, 200);
  const body = (await r.json()) as { status: string; checks: { name: string; ok: boolean }[] };
  t.equal(body.status, 'ready');
  t.same(body.checks.map((c) => c.name).sort(), ['audit', 'listeners', 'policy', 'shutdown']);
  t.ok(body.checks.every((c) => c.ok));
});

// Regression (fresh-user report): a Slack app pointed at an airlock without Slack got a bare "no route".
t.test('POST /slack/interactions without Slack says it is not configured', async (t) => {
  const r = await fetch(`${airlock.adminUrl}/slack/interactions`, { method: 'POST', body: 'payload=%7B%7D' });
  t.equal(r.status, 404);
  t.same(await r.json(), { error: { code: 'not_configured', message: 'Slack is not configured: add a slack section to airlock.yaml' } });
});

t.test('a scripted run is counted', async (t) => {
  // Three reads.
  const bob = await connect('bob@corp.com');
  for (let i = 0; i < 3; i++) t.same((await bob.client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);

  // A hold approved; the pending gauge shows it while it waits.
  const alice = await connect('alice@corp.com');
  const insert = alice.client.query(`INSERT INTO airlock_ops_m VALUES (1, 'approved')`);
  const insertId = await heldId(alice.notices);
  t.equal((await scrape(airlock.adminUrl)).value('airlock_approval_requests_pending'), 1, 'one request pending');
  await broker().approve(insertId, userRecord('bob@corp.com'), 'cli');
  await insert;

  // A hold denied by an approver.
  const update = alice.client.query(`UPDATE airlock_ops_m SET note = 'x'`).catch((e: { code: string }) => e);
  await broker().deny(await heldId(alice.notices), userRecord('dave@corp.com'), 'no', 'cli');
  t.match(await update, { code: '42501' });

  // A policy denial.
  t.match(await alice.client.query('DROP TABLE airlock_ops_m').catch((e: { code: string }) => e), { code: '42501' });

  // A hold that expires (1 s rule).
  t.match(await bob.client.query('INSERT INTO airlock_ops_m_expiring VALUES (1)').catch((e: { code: string }) => e), { code: '57014' });

  // A break-glass force approval.
  const del = alice.client.query('DELETE FROM airlock_ops_m');
  await broker().force(await heldId(alice.notices), userRecord('carol@corp.com'), 'incident 42', 'cli');
  await del;

  // A hold cancelled with Ctrl-C.
  const p = start('psql', ['-X', '-c', 'DELETE FROM airlock_ops_m', airlock.pgUrl('alice@corp.com')]);
  await p.waitFor(/request ([a-z0-9]+)/);
  p.child.kill('SIGINT');
  await p.done;

  await bob.client.end();
  await alice.client.end();

  // Failed logins, one per reason, and a resource whose database is down.
  t.match(await loginError({ ...airlock.pgConfig('bob@corp.com'), password: 'alk_wrong' }), { code: '28P01' });
  t.match(await loginError({ ...airlock.pgConfig('bob@corp.com'), user: 'nobody@corp.com' }), { code: '28P01' });
  t.match(await loginError(airlock.pgConfig('bob@corp.com', 'no_such_resource')), { code: '3D000' });
  t.match(await loginError(airlock.pgConfig('bob@corp.com', 'broken')), { code: '08006', message: /could not connect to resource "broken"/ });
  const usersFile = path.join(airlock.dir, 'users.yaml');
  const users = YAML.parse(fs.readFileSync(usersFile, 'utf8')) as { users: { email: string; disabled?: boolean }[] };
  users.users.find((u) => u.email === 'dave@corp.com')!.disabled = true;
  fs.writeFileSync(usersFile, YAML.stringify(users));
  t.equal(airlock.daemon.reload().ok, true);
  t.match(await loginError(airlock.pgConfig('dave@corp.com')), { code: '28P01' });

  const m = await scrapeUntil(
    airlock.adminUrl,
    (s) => s.value('airlock_client_connections', { protocol: 'postgres', resource: 'orders' }) === 0 && s.value('airlock_classify_cache_lookups_total', { result: 'hit' }) >= 2,
  );
  const st = (decision: string) => m.value('airlock_statements_total', { protocol: 'postgres', resource: 'orders', decision });
  t.equal(st('allow'), 3, 'three reads allowed');
  t.equal(st('deny'), 1, 'one policy denial');
  t.equal(st('hold'), 5, 'five holds');
  for (const [outcome, n] of Object.entries({ approved: 1, denied: 1, expired: 1, break_glass: 1, cancelled: 1, abandoned: 0 })) {
    t.equal(m.value('airlock_approval_requests_total', { outcome }), n, `approval outcome ${outcome}`);
  }
  t.equal(m.value('airlock_approval_wait_seconds_count'), 5, 'every wait observed');
  t.ok(m.value('airlock_approval_wait_seconds_sum') >= 1, 'the expiry alone waited a second');
  t.equal(m.value('airlock_approval_requests_pending'), 0, 'nothing pending at the end');

  t.equal(m.value('airlock_client_connections_total', { protocol: 'postgres', resource: 'orders' }), 3, 'three sessions (bob, alice, psql)');
  t.equal(m.value('airlock_client_connections', { protocol: 'postgres', resource: 'orders' }), 0, 'all closed');
  for (const reason of ['bad_credentials', 'unknown_user', 'unknown_resource', 'disabled_user']) {
    t.equal(m.value('airlock_auth_failures_total', { protocol: 'postgres', reason }), 1, `auth failure ${reason}`);
  }
  t.equal(m.value('airlock_upstream_connect_errors_total', { protocol: 'postgres', resource: 'broken' }), 1, 'upstream connect error');

  // Forwarded: 3 reads, the approved INSERT, the forced DELETE.
  t.equal(m.value('airlock_statement_duration_seconds_count', { protocol: 'postgres' }), 5, 'statement latency observed per forwarded statement');
  t.equal(m.value('airlock_upstream_duration_seconds_count', { protocol: 'postgres' }), 5, 'upstream time observed per forwarded statement');
  t.ok(
    m.value('airlock_statement_duration_seconds_sum', { protocol: 'postgres' }) > m.value('airlock_upstream_duration_seconds_sum', { protocol: 'postgres' }),
    "statement latency includes airlock's own time (classification, policy), upstream time does not",
  );
  t.equal(m.value('airlock_classify_duration_seconds_count', { dialect: 'postgres' }), 9, 'every statement classified');
  t.ok(m.value('airlock_classify_cache_lookups_total', { result: 'hit' }) >= 2, 'repeated reads hit the cache');

  t.equal(m.value('airlock_audit_records_total', { type: 'statement.decided' }), 9, 'a decision record per statement');
  t.equal(m.value('airlock_audit_records_total', { type: 'breakglass.used' }), 1);
  t.ok(m.value('airlock_audit_fsync_duration_seconds_count') > 0, 'fsyncs timed');
  t.equal(m.value('airlock_audit_write_failures_total'), 0);
  t.equal(m.value('airlock_policy_reloads_total', { result: 'success' }), 1, 'the users reload');
  const sha = createHash('sha256').update(fs.readFileSync(path.join(airlock.dir, 'policy.yaml'))).digest('hex');
  t.equal(m.value('airlock_policy_info', { sha256: sha }), 1, 'policy hash info');
  t.equal(m.value('airlock_redis_connected'), 0, 'no Redis configured');
  t.equal(m.value('airlock_shutdown_in_progress'), 0);
  for (const name of ['airlock_process_cpu_user_seconds_total', 'airlock_process_resident_memory_bytes', 'airlock_nodejs_eventloop_lag_seconds', 'airlock_build_info']) {
    t.ok(m.has(name), `${name} exported`);
  }
  t.notMatch(m.text, /corp\.com|DELETE|airlock_ops_m/, 'no emails or SQL in labels');
});

t.test('Redis and Slack failures are counted and /readyz names Redis', async (t) => {
  await requireService('redis');
  // Database 12 is this file's own (test/helpers/redis-db.ts lists the others in use).
  const redisDb = 12;
  const flush = async () => {
    const r = new Redis(`redis://127.0.0.1:6379/${redisDb}`, { maxRetriesPerRequest: 1 });
    await r.flushdb().finally(() => r.disconnect());
  };
  await flush();
  t.teardown(flush);
  const proxy = new TcpProxy(6379);
  await proxy.start();
  t.teardown(() => proxy.close());
  const slack = await FakeSlack.start();
  t.teardown(() => slack.close());
  slack.fail('chat.postMessage', { error: 'channel_not_found' });

  const a = await startAirlock({
    policy,
    config: {
      state: { redis: `redis://127.0.0.1:${proxy.port}/${redisDb}` },
      slack: { bot_token: 'xoxb-ops-metrics', signing_secret: 'ops-metrics-secret', channel: '#ops', api_url: slack.apiUrl },
    },
  });
  t.teardown(() => a.stop());
  let m = await scrape(a.adminUrl);
  t.equal(m.value('airlock_redis_connected'), 1, 'Redis connected');
  const ready = (await (await fetch(`${a.adminUrl}/readyz`)).json()) as { checks: { name: string; ok: boolean }[] };
  t.match(ready.checks.find((c) => c.name === 'redis'), { ok: true });

  // A hold makes the notifier post to Slack, which fails.
  const c = new pg.Client(a.pgConfig('alice@corp.com'));
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  c.on('error', () => {});
  await c.connect();
  const q = c.query(`INSERT INTO airlock_ops_m VALUES (2, 'slack')`).catch((e: Error) => e);
  const id = await heldId(notices);
  m = await scrapeUntil(a.adminUrl, (s) => s.sum('airlock_slack_errors_total') > 0);
  t.ok(m.value('airlock_slack_errors_total', { method: 'chat.postMessage' }) >= 1, 'Slack error counted by method');
  await a.daemon.approvalBroker.deny(id, (a.daemon as unknown as { users: { get(e: string): never } }).users.get('bob@corp.com'), 'no', 'cli');
  await q;
  await c.end();

  // Redis goes away: the gauge drops, errors count, /readyz answers 503 naming it.
  await proxy.cut();
  m = await scrapeUntil(a.adminUrl, (s) => s.value('airlock_redis_connected') === 0 && s.value('airlock_redis_errors_total') > 0);
  t.equal(m.value('airlock_redis_connected'), 0);
  t.ok(m.value('airlock_redis_errors_total') > 0, 'Redis errors counted');
  const res = await fetch(`${a.adminUrl}/readyz`);
  t.equal(res.status, 503);
  const body = (await res.json()) as { status: string; checks: { name: string; ok: boolean; detail?: string }[] };
  t.equal(body.status, 'not_ready');
  t.match(body.checks.find((ch) => ch.name === 'redis'), { ok: false, detail: /Redis approval store unreachable/ });
  t.ok(body.checks.filter((ch) => ch.name !== 'redis').every((ch) => ch.ok), 'only Redis is named');
  await proxy.start();
});
