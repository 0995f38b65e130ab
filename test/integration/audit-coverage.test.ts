// Every audit record type the issue lists, read back from the audit directory after a scripted psql
// session through a daemon with TLS and Slack; the same with audit.sql: hash; and no secret anywhere.

import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import type { AuditRecord } from '../../src/audit/chain.js';
import { buildReport, readAuditRecords } from '../../src/audit/report.js';
import { verifyAuditDir } from '../../src/audit/verify.js';
import { DEFAULT_PEOPLE, examplePolicy, startAirlock, type TestAirlock } from '../helpers/airlock.js';
import { FakeSlack } from '../helpers/fake-slack.js';
import { start, type Running } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';
import { CHANNEL, SIGNING_SECRET, SLACK_IDS } from '../helpers/slack-harness.js';

await requireService('postgres');

const TABLE = 'airlock_cov_items';
const EXPIRING = 'airlock_cov_expiring';
const UPSTREAM_PASSWORD = `upstream-secret-${process.pid}-${Date.now()}`;
const BOT_TOKEN = `xoxb-cov-${process.pid}`;
const TLS = {
  cert: new URL('../fixtures/tls/server.crt', import.meta.url).pathname,
  key: new URL('../fixtures/tls/server.key', import.meta.url).pathname,
};

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS ${TABLE}, ${EXPIRING};
  CREATE TABLE ${TABLE} (id int PRIMARY KEY, note text);
  INSERT INTO ${TABLE} SELECT g, 'row ' || g FROM generate_series(1, 10) g;
  CREATE TABLE ${EXPIRING} (id int);`);
t.teardown(() => direct.query(`DROP TABLE IF EXISTS ${TABLE}, ${EXPIRING}`).then(() => {}));

// trust auth upstream ignores the password, but airlock holds it and must never write it down.
const policy = examplePolicy(`
  - name: cov-quick-expiry
    resources: [orders]
    match: { tables: [${EXPIRING}] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, timeout: 1s }`).replace('    user: postgres\n', `    user: postgres\n    password: ${UPSTREAM_PASSWORD}\n`);

const people = DEFAULT_PEOPLE.map((p) => ({ ...p, slack_id: SLACK_IDS[p.email]! }));

function psql(airlock: TestAirlock, sql: string, email: string, extra = ''): Running {
  return start('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', sql, `${airlock.pgUrl(email)}${extra}`]);
}

async function held(airlock: TestAirlock, sql: string, email: string): Promise<{ id: string; p: Running }> {
  const p = psql(airlock, sql, email);
  return { id: (await p.waitFor(/request ([a-z0-9]+)/))[1]!, p };
}

type Actor = Parameters<TestAirlock['daemon']['approvalBroker']['approve']>[1];
const actor = (airlock: TestAirlock, email: string): Actor => (airlock.daemon as unknown as { users: { get(e: string): unknown } }).users.get(email) as Actor;

function allFilesText(dir: string): string {
  return fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f)).toString('latin1')).join('\n');
}

t.test('a scripted session leaves every record type the issue lists, with the fields the report reads', async (t) => {
  const fake = await FakeSlack.start();
  t.teardown(() => fake.close());
  const airlock = await startAirlock({
    policy,
    people,
    config: {
      instance_id: 'coverage',
      tls: TLS,
      approvals: { lease: '1s' },
      // Small segments so the session spans several: segment.open/close and checkpoints in between.
      audit: { dir: './audit', rotate_bytes: 8192, checkpoint_records: 10 },
      slack: { bot_token: BOT_TOKEN, signing_secret: SIGNING_SECRET, channel: CHANNEL, api_url: fake.apiUrl, request_timeout: '1s' },
    },
  });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : airlock.stop()));
  const broker = airlock.daemon.approvalBroker;

  // An ordinary psql session over TLS: a read that works and one that fails at the database.
  const session = start('psql', ['-X', '-f', '-', `${airlock.pgUrl('alice@corp.com').replace('sslmode=disable', 'sslmode=require')}&application_name=coverage-psql`], {
    input: `SELECT count(*) FROM ${TABLE};\nSELECT 1/0;\n`,
  });
  const sessionDone = await session.done;
  t.match(sessionDone.stdout, /10/, sessionDone.stderr);
  t.match(sessionDone.stderr, /division by zero/);

  const approved = await held(airlock, `DELETE FROM ${TABLE} WHERE id = 1`, 'alice@corp.com');
  await fake.waitForCall('chat.postMessage', (c) => String(c.args.text).includes(approved.id));
  await broker.approve(approved.id, actor(airlock, 'bob@corp.com'), 'cli');
  t.equal((await approved.p.done).code, 0, approved.p.stderr());

  const denied = await held(airlock, `UPDATE ${TABLE} SET note = 'no' WHERE id = 2`, 'alice@corp.com');
  await broker.deny(denied.id, actor(airlock, 'bob@corp.com'), 'not now', 'cli');
  t.equal((await denied.p.done).code, 1);

  const expired = await held(airlock, `INSERT INTO ${EXPIRING} VALUES (1)`, 'alice@corp.com');
  t.equal((await expired.p.done).code, 1);

  const cancelled = await held(airlock, `UPDATE ${TABLE} SET note = 'gone' WHERE id = 4`, 'alice@corp.com');
  cancelled.p.child.kill('SIGKILL');
  await cancelled.p.done;

  const forced = await held(airlock, `UPDATE ${TABLE} SET note = 'fix' WHERE id = 3`, 'carol@corp.com');
  await broker.force(forced.id, actor(airlock, 'carol@corp.com'), 'incident 99', 'cli');
  t.equal((await forced.p.done).code, 0, forced.p.stderr());

  // A holder that vanished (a replica gone): nobody renews the lease, so the sweep abandons it.
  const orphan = await broker.open({
    requester: { email: 'alice@corp.com', groups: ['engineering'] }, resource: 'orders', protocol: 'postgres', rule: 'writes-need-dba',
    approval: { approvers: ['dba'], min_approvals: 1, timeout_ms: 600_000, mode: 'per_command', hold: 'wait' } as Parameters<typeof broker.open>[0]['approval'],
    sql: `DELETE FROM ${TABLE} WHERE id = 9`, params: [], kinds: ['DELETE'], tables: [TABLE], session_id: 'gone-session',
  });
  const dropped = await start('psql', ['-X', '-c', `DROP TABLE ${TABLE}`, airlock.pgUrl('alice@corp.com')]).done;
  t.match(dropped.stderr, /denied by policy rule "no-drop"/);

  const auditDir = path.join(airlock.dir, 'audit');
  for (let i = 0; i < 100 && !readAuditRecords(auditDir).some((r) => r.type === 'approval.abandoned' && r.request_id === orphan.id); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (let i = 0; i < 100 && readAuditRecords(auditDir).filter((r) => r.type === 'approval.requested').length < 6; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await airlock.stop();
  stopped = true;

  const records = readAuditRecords(auditDir);
  const of = (type: string, match: (r: AuditRecord) => boolean = () => true) => records.filter((r) => r.type === type && match(r));
  const one = (type: string, match: (r: AuditRecord) => boolean = () => true): AuditRecord => {
    const found = of(type, match);
    t.ok(found.length >= 1, `a ${type} record${found.length === 0 ? ` (types seen: ${[...new Set(records.map((r) => r.type))].join(', ')})` : ''}`);
    return found[0] ?? ({} as AuditRecord);
  };
  const byRequest = (id: string) => (r: AuditRecord) => r.request_id === id;

  t.equal(verifyAuditDir(auditDir).intact, true, 'the trail verifies');
  one('chain.genesis');
  t.ok(of('segment.open').length >= 1 && of('segment.close').length >= 2, 'segments opened and closed');
  t.ok(of('checkpoint').length >= 2, 'checkpoints');
  t.match(one('policy.loaded'), { sha256: /^[0-9a-f]{64}$/, file: /policy\.yaml$/ });

  const tlsStart = one('session.start', (r) => r.application_name === 'coverage-psql');
  t.match(tlsStart, { requester: 'alice@corp.com', resource: 'orders', protocol: 'postgres', client_addr: /^127\.0\.0\.1/, tls: true });
  t.match(one('session.start', (r) => r.tls === false), { application_name: 'psql' });
  t.match(one('session.end', (r) => r.session_id === tlsStart.session_id), { duration_ms: Number, reason: String });

  const read = one('statement.decided', (r) => r.session_id === tlsStart.session_id && r.sql === `SELECT count(*) FROM ${TABLE};`);
  t.match(read, { decision: 'allow', rule: null, kinds: ['SELECT'], tables: [TABLE], writes: false });
  t.match(one('execution.result', (r) => r.session_id === tlsStart.session_id && r.outcome === 'ok'), { command_tag: 'SELECT 1', rows: 1, duration_ms: Number });
  t.match(one('execution.result', (r) => r.session_id === tlsStart.session_id && r.outcome === 'error'), { sqlstate: '22012', duration_ms: Number });
  t.match(one('statement.decided', (r) => r.decision === 'deny'), { rule: 'no-drop', kinds: ['DROP'], sql: `DROP TABLE ${TABLE}` });
  t.match(one('statement.decided', (r) => r.decision === 'hold'), { rule: 'writes-need-dba', writes: true });

  t.match(one('request.held', byRequest(approved.id)), {
    requester: 'alice@corp.com', resource: 'orders', rule: 'writes-need-dba', approvers: ['dba'], min_approvals: 1,
    expires_at: String, sql: `DELETE FROM ${TABLE} WHERE id = 1`, session_id: String,
  });
  t.match(one('approval.requested', byRequest(approved.id)), { channel: CHANNEL, message_ts: String });
  t.match(one('approval.vote', byRequest(approved.id)), { by: 'bob@corp.com', via: 'cli' });
  t.match(one('approval.granted', byRequest(approved.id)), { by: ['bob@corp.com'], break_glass: false });
  t.match(one('execution.intent', byRequest(approved.id)), { session_id: String, sql_sha256: /^[0-9a-f]{64}$/ });
  t.match(one('execution.result', byRequest(approved.id)), { outcome: 'ok', command_tag: 'DELETE 1', rows: 1, duration_ms: Number });
  t.match(one('approval.denied', byRequest(denied.id)), { by: 'bob@corp.com', reason: 'not now' });
  t.match(one('approval.expired', byRequest(expired.id)), { reason: String });
  t.match(one('approval.cancelled', byRequest(cancelled.id)), { reason: String });
  t.match(one('approval.abandoned', byRequest(orphan.id)), { reason: String });
  t.match(one('breakglass.used', byRequest(forced.id)), { by: 'carol@corp.com', reason: 'incident 99', review_due: String });
  t.match(one('approval.granted', byRequest(forced.id)), { by: ['carol@corp.com'], break_glass: true });
  for (const id of [denied.id, expired.id, cancelled.id]) t.equal(of('execution.intent', byRequest(id)).length, 0, `${id} never ran`);

  // The report reads the same field names the session wrote.
  const report = buildReport(auditDir, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) });
  const entry = report.requests.find((e) => e.request_id === approved.id);
  t.match(entry, {
    requester: 'alice@corp.com', client_addr: /^127\.0\.0\.1/, application_name: 'psql', rule: 'writes-need-dba',
    decision: 'approved', decided_by: ['bob@corp.com'], outcome: 'ok', command_tag: 'DELETE 1', rows: 1, notified_at: String, ran_at: String,
  });
  t.same(report.requests.map((e) => e.decision).sort(), ['abandoned', 'approved', 'approved', 'cancelled', 'denied', 'expired']);

  const text = allFilesText(auditDir);
  for (const [email, token] of Object.entries(airlock.tokens)) t.notOk(text.includes(token), `${email}'s token is nowhere in the audit dir`);
  t.notOk(text.includes(UPSTREAM_PASSWORD), 'the upstream password is nowhere in the audit dir');
  t.notOk(text.includes(BOT_TOKEN), 'the Slack bot token is nowhere in the audit dir');
  t.notOk(text.includes(SIGNING_SECRET), 'the Slack signing secret is nowhere in the audit dir');
});

t.test('audit.sql: hash keeps only the digest of every statement, held or not', async (t) => {
  const airlock = await startAirlock({ policy, config: { instance_id: 'coverage-hash', audit: { dir: './audit', sql: 'hash' } } });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : airlock.stop()));
  const read = await start('psql', ['-X', '-c', `SELECT note FROM ${TABLE} WHERE id = 5`, airlock.pgUrl('alice@corp.com')]).done;
  t.equal(read.code, 0, read.stderr);
  const h = await held(airlock, `DELETE FROM ${TABLE} WHERE id = 6`, 'alice@corp.com');
  await airlock.daemon.approvalBroker.deny(h.id, actor(airlock, 'bob@corp.com'), 'no', 'cli');
  await h.p.done;
  await airlock.stop();
  stopped = true;
  const auditDir = path.join(airlock.dir, 'audit');
  const records = readAuditRecords(auditDir);
  const decided = records.filter((r) => r.type === 'statement.decided');
  t.equal(decided.length, 2);
  for (const r of [...decided, ...records.filter((x) => x.type === 'request.held')]) {
    t.notOk('sql' in r, `${r.type} has no SQL text`);
    t.match(r.sql_sha256, /^[0-9a-f]{64}$/);
  }
  const text = allFilesText(auditDir);
  t.notOk(text.includes(`WHERE id = 5`) || text.includes(`WHERE id = 6`), 'the statement text is nowhere in the audit dir');
  for (const token of Object.values(airlock.tokens)) t.notOk(text.includes(token));
  t.match(buildReport(auditDir, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) }).requests, [{ request_id: h.id, sql_sha256: /^[0-9a-f]{64}$/, decision: 'denied' }]);
});
