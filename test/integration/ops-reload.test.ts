// Policy reload on SIGHUP and on file change while a psql session runs a loop of queries: a good file
// is swapped in, a bad one refused with file:line in the log and a metric, and pending holds keep their rule.

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { spawnAirlock, writeConfig } from '../helpers/airlock-process.js';
import { run, start } from '../helpers/processes.js';
import { scrape, scrapeUntil } from '../helpers/prom-text.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_ops_r_blocked; CREATE TABLE airlock_ops_r_blocked (id int);
  DROP TABLE IF EXISTS airlock_ops_r; CREATE TABLE airlock_ops_r (id int);`);

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const blockRule = `
  - name: block-table
    resources: [orders]
    match: { tables: [airlock_ops_r_blocked] }
    action: deny`;

t.test('SIGHUP and file-change reloads under a running psql loop', async (t) => {
  const v1 = examplePolicy();
  const files = writeConfig({ policy: v1 });
  const policyFile = path.join(files.dir, 'policy.yaml');
  const airlock = await spawnAirlock(files);
  t.teardown(() => airlock.stop());
  const bobUrl = airlock.pgUrl('bob@corp.com');
  const blockedRead = () => run('psql', ['-X', '-A', '-t', '-c', 'SELECT count(*) FROM airlock_ops_r_blocked', bobUrl]);

  // One session, many statements, spanning every reload below.
  const ticks = 1000;
  const script = Array.from({ length: ticks }, (_, i) => `SELECT 'tick-${i}', pg_sleep(0.01);`).join('\n') + '\n';
  const loop = start('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', bobUrl], { input: script });
  await loop.waitFor(/tick-5\|/);

  t.equal((await blockedRead()).code, 0, 'v1 allows the read');

  // A good policy, on SIGHUP.
  const v2 = examplePolicy(blockRule);
  fs.writeFileSync(policyFile, v2);
  airlock.proc.child.kill('SIGHUP');
  let m = await scrapeUntil(airlock.adminUrl, (s) => s.value('airlock_policy_info', { sha256: sha(v2) }) === 1);
  t.equal(m.value('airlock_policy_info', { sha256: sha(v2) }), 1, 'v2 in force');
  t.equal(m.value('airlock_policy_info', { sha256: sha(v1) }), 0, 'only one hash exported');
  const denied = await blockedRead();
  t.equal(denied.code, 1);
  t.match(denied.stderr, /denied by policy rule "block-table"/);

  // A bad policy: refused, logged with file:line, counted; v2 stays.
  const bad = v2.replace('action: deny\n', 'action: deny\n    approval: { approvers: [dba] }\n  - name: oops\n    action: perhaps\n');
  const badLine = bad.split('\n').findIndex((l) => l.includes('action: perhaps')) + 1;
  fs.writeFileSync(policyFile, bad);
  airlock.proc.child.kill('SIGHUP');
  m = await scrapeUntil(airlock.adminUrl, (s) => s.value('airlock_policy_reloads_total', { result: 'failure' }) >= 1);
  t.ok(m.value('airlock_policy_reloads_total', { result: 'failure' }) >= 1, 'failure counted');
  t.equal(m.value('airlock_policy_info', { sha256: sha(v2) }), 1, 'v2 still in force');
  const refused = airlock.logLines().find((l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused'));
  t.ok(refused, 'the refusal is logged');
  t.equal(refused?.level, 'error');
  t.match(JSON.stringify(refused?.errors), new RegExp(`${policyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${badLine}:\\d+`), 'the log names file:line');
  t.match((await blockedRead()).stderr, /denied by policy rule "block-table"/, 'the old policy still decides');
  // The refused change is evidence too: it is in the audit log with its errors.
  const auditDir = path.join(airlock.dir, 'audit');
  const rejected = fs.readdirSync(auditDir).filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => fs.readFileSync(path.join(auditDir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; errors?: string[] }))
    .filter((r) => r.type === 'policy.rejected');
  t.equal(rejected.length, 1, 'one policy.rejected record');
  t.match(JSON.stringify(rejected[0]?.errors), `:${badLine}:`, 'naming file:line');

  // A good policy again, picked up from the file change alone.
  const v3 = examplePolicy(`
  - name: reads-of-r-allowed
    resources: [orders]
    match: { tables: [airlock_ops_r] }
    action: allow`);
  fs.writeFileSync(policyFile, v3);
  m = await scrapeUntil(airlock.adminUrl, (s) => s.value('airlock_policy_info', { sha256: sha(v3) }) === 1, 200);
  t.equal(m.value('airlock_policy_info', { sha256: sha(v3) }), 1, 'v3 in force without a signal');
  t.equal((await blockedRead()).code, 0, 'the block is gone');
  t.equal(loop.child.exitCode, null, 'the loop was running across every reload');

  const loopResult = await loop.done;
  t.equal(loopResult.code, 0, `the psql loop saw no error\n${loopResult.stderr}`);
  t.equal(loopResult.stdout.split('\n').filter((l) => l.startsWith('tick-')).length, ticks, 'every query answered');
  t.equal(loopResult.stderr, '', 'nothing on stderr');
  m = await scrape(airlock.adminUrl);
  t.ok(m.value('airlock_policy_reloads_total', { result: 'success' }) >= 2, 'successes counted');
  t.equal(m.sum('airlock_client_connections_total'), m.sum('airlock_client_connections_total', { resource: 'orders' }));
});

t.test('a pending hold keeps the rule it was created under', async (t) => {
  const airlock = await startAirlock();
  t.teardown(() => airlock.stop());
  const c = new pg.Client(airlock.pgConfig('alice@corp.com'));
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  await c.connect();
  const q = c.query('INSERT INTO airlock_ops_r VALUES (7)');
  for (let i = 0; i < 400 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  const id = /request (\w+)/.exec(notices[0] ?? '')![1]!;

  // The new policy wants two approvers from sre for the same rule, and a short timeout.
  fs.writeFileSync(
    path.join(airlock.dir, 'policy.yaml'),
    examplePolicy().replace('approval: { approvers: [dba], min_approvals: 1, force_approvers: [sre], timeout: 10m }', 'approval: { approvers: [sre], min_approvals: 2, timeout: 1s }'),
  );
  t.equal(airlock.daemon.reload().ok, true);
  const broker = airlock.daemon.approvalBroker;
  const before = await broker.get(id);
  t.same(before?.approval.approvers, ['dba'], 'the request keeps its approvers');
  t.equal(before?.approval.min_approvals, 1);
  const users = (airlock.daemon as unknown as { users: { get(e: string): never } }).users;
  await broker.approve(id, users.get('bob@corp.com'), 'cli');
  await q;
  t.equal((await broker.get(id))?.state, 'executed', 'one dba approval was enough');
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_ops_r WHERE id = 7')).rows[0].n, 1);

  // A new statement is held under the new rule.
  notices.length = 0;
  const q2 = c.query('INSERT INTO airlock_ops_r VALUES (8)').catch((e: { code: string }) => e);
  for (let i = 0; i < 400 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  const id2 = /request (\w+)/.exec(notices[0] ?? '')![1]!;
  t.same((await broker.get(id2))?.approval.approvers, ['sre']);
  t.match(await q2, { code: '57014' }, 'and expires after the new 1 s');
  await c.end();
});
