// The auditor's report over a fixture period: held requests end to end, break-glass flagged, three formats.

import path from 'node:path';
import t from 'tap';
import { buildReport } from '../../../src/audit/report.js';
import { renderReport } from '../../../src/audit/report-render.js';
import type { AuditFields, AuditType } from '../../../src/audit/types.js';
import { openWriter } from '../../helpers/audit/fixtures.js';

async function writeFixture(dir: string): Promise<void> {
  let now = Date.parse('2026-03-10T09:00:00.000Z');
  const w = await openWriter(dir, { clock: () => new Date(now) });
  const at = async (iso: string, type: AuditType, fields: AuditFields): Promise<void> => {
    now = Date.parse(iso);
    await w.append(type, fields, { sync: true });
  };
  const held = { approvers: ['dba'], min_approvals: 1 };
  await at('2026-03-10T09:00:00.000Z', 'policy.loaded', { sha256: 'ab'.repeat(32), file: '/etc/airlock/policy.yaml' });
  await at('2026-03-10T09:01:00.000Z', 'session.start', { session_id: 's1', requester: 'alice@corp.com', resource: 'orders-prod', protocol: 'postgres', client_addr: '10.0.0.5:51234', application_name: 'psql', tls: true });
  await at('2026-03-10T09:01:05.000Z', 'statement.decided', { session_id: 's1', requester: 'alice@corp.com', resource: 'orders-prod', decision: 'allow', rule: 'r-read', source: 'policy', kinds: ['SELECT'], tables: ['orders'], writes: false, sql: 'select 1' });
  await at('2026-03-10T09:02:00.000Z', 'statement.decided', { session_id: 's1', requester: 'alice@corp.com', resource: 'orders-prod', decision: 'hold', rule: 'r-write', source: 'policy', kinds: ['DELETE'], tables: ['orders'], writes: true, sql: 'delete from orders where id = $1' });
  await at('2026-03-10T09:02:00.100Z', 'request.held', { request_id: 'q1', session_id: 's1', requester: 'alice@corp.com', resource: 'orders-prod', rule: 'r-write', ...held, expires_at: '2026-03-10T09:17:00.000Z', sql: 'delete from orders where id = $1', params: ['7'] });
  await at('2026-03-10T09:02:01.000Z', 'approval.requested', { request_id: 'q1', channel: 'C0APPROVE', message_ts: '1710061321.000100' });
  await at('2026-03-10T09:05:00.000Z', 'approval.vote', { request_id: 'q1', by: 'bob@corp.com', via: 'slack' });
  await at('2026-03-10T09:05:00.010Z', 'approval.granted', { request_id: 'q1', by: ['bob@corp.com'], break_glass: false });
  await at('2026-03-10T09:05:00.020Z', 'execution.intent', { request_id: 'q1', session_id: 's1', sql_sha256: 'cd'.repeat(32) });
  await at('2026-03-10T09:05:00.040Z', 'execution.result', { request_id: 'q1', session_id: 's1', outcome: 'ok', command_tag: 'DELETE 1', rows: 1, duration_ms: 12 });
  await at('2026-03-11T14:00:00.000Z', 'session.start', { session_id: 's2', requester: 'carol@corp.com', resource: 'billing', protocol: 'mysql', client_addr: '10.0.0.9:40000', application_name: 'mysql', tls: false });
  await at('2026-03-11T14:00:10.000Z', 'statement.decided', { session_id: 's2', requester: 'carol@corp.com', resource: 'billing', decision: 'deny', rule: 'r-no-ddl', source: 'policy', kinds: ['DDL'], tables: ['t'], writes: true, sql: 'drop table t' });
  await at('2026-03-11T14:01:00.000Z', 'request.held', { request_id: 'q2', session_id: 's2', rule: 'r-write', ...held, expires_at: '2026-03-11T14:16:00.000Z', sql: 'update invoices set paid = 1, note = "x|y"' });
  await at('2026-03-11T14:03:00.000Z', 'approval.denied', { request_id: 'q2', by: 'dave@corp.com', reason: 'not in the change window' });
  await at('2026-03-12T03:00:00.000Z', 'request.held', { request_id: 'q3', session_id: 's2', rule: 'r-write', ...held, expires_at: '2026-03-12T03:15:00.000Z', sql: '=cmd|update accounts set frozen = false' });
  await at('2026-03-12T03:00:30.000Z', 'breakglass.used', { request_id: 'q3', by: 'carol@corp.com', reason: 'INC-42 payments outage', review_due: '2026-03-19T03:00:30.000Z' });
  await at('2026-03-12T03:00:30.010Z', 'approval.granted', { request_id: 'q3', by: ['carol@corp.com'], break_glass: true });
  await at('2026-03-12T03:00:30.020Z', 'execution.intent', { request_id: 'q3', session_id: 's2', sql_sha256: 'ef'.repeat(32) });
  await at('2026-03-12T03:00:31.000Z', 'execution.result', { request_id: 'q3', session_id: 's2', outcome: 'error', errno: 1205, duration_ms: 50000 });
  await at('2026-03-12T04:00:00.000Z', 'request.held', { request_id: 'q5', session_id: 's2', rule: 'r-write', ...held, expires_at: '2026-03-12T04:15:00.000Z', sql: 'truncate sessions' });
  await at('2026-03-12T04:15:00.000Z', 'approval.expired', { request_id: 'q5', reason: 'timeout' });
  await at('2026-04-02T10:00:00.000Z', 'request.held', { request_id: 'q4', session_id: 's1', rule: 'r-write', ...held, expires_at: '2026-04-02T10:15:00.000Z', sql: 'select out_of_period' });
  await w.close();
}

const period = { from: new Date('2026-03-01T00:00:00.000Z'), to: new Date('2026-04-01T00:00:00.000Z') };

t.test('the report follows each held request from request to outcome', async (t) => {
  const dir = t.testdir();
  await writeFixture(dir);
  const report = buildReport(dir, period, new Date('2026-04-05T00:00:00.000Z'));
  t.same(report.requests.map((r) => r.request_id), ['q1', 'q2', 'q3', 'q5'], 'q4 is outside the period');
  t.match(report.requests[0], {
    request_id: 'q1', requester: 'alice@corp.com', client_addr: '10.0.0.5:51234', application_name: 'psql', resource: 'orders-prod',
    rule: 'r-write', sql: 'delete from orders where id = $1', params: ['7'], held_at: '2026-03-10T09:02:00.100Z', expires_at: '2026-03-10T09:17:00.000Z',
    notified_at: '2026-03-10T09:02:01.000Z', votes: [{ by: 'bob@corp.com', via: 'slack', at: '2026-03-10T09:05:00.000Z' }],
    decision: 'approved', decided_at: '2026-03-10T09:05:00.010Z', decided_by: ['bob@corp.com'],
    ran_at: '2026-03-10T09:05:00.020Z', outcome: 'ok', command_tag: 'DELETE 1', rows: 1, duration_ms: 12,
  });
  t.equal(report.requests[0]!.break_glass, undefined);
  t.match(report.requests[1], { request_id: 'q2', requester: 'carol@corp.com', client_addr: '10.0.0.9:40000', decision: 'denied', decided_by: ['dave@corp.com'], reason: 'not in the change window' });
  t.match(report.requests[2], { request_id: 'q3', decision: 'approved', break_glass: { by: 'carol@corp.com', reason: 'INC-42 payments outage' }, outcome: 'error', errno: 1205 });
  t.match(report.requests[3], { request_id: 'q5', decision: 'expired' });
  t.same(report.break_glass.map((b) => [b.request_id, b.by, b.requester, b.resource, b.review_due]),
    [['q3', 'carol@corp.com', 'carol@corp.com', 'billing', '2026-03-19T03:00:30.000Z']]);
  t.same(report.counts.by_rule, { 'r-read': { allow: 1 }, 'r-write': { hold: 1 }, 'r-no-ddl': { deny: 1 } });
  t.same(report.counts.by_resource, { 'orders-prod': { allow: 1, hold: 1 }, billing: { deny: 1 } });
  t.same(report.counts.by_outcome, { approved: 2, denied: 1, expired: 1, executed_ok: 1, executed_error: 1 });
  t.equal(report.verification.intact, true);
  t.same(report.controls.map((c) => c.control), ['CC6.1', 'CC6.2', 'CC6.3', 'CC7.2', 'CC7.3', 'CC8.1', '5.3', '5.15', '5.18', '8.2', '8.15', '8.16', '8.32']);
});

t.test('markdown reads as a document and flags break-glass', async (t) => {
  const dir = t.testdir();
  await writeFixture(dir);
  const md = renderReport(buildReport(dir, period), 'md');
  t.match(md, /^# airlock audit report/);
  t.match(md, /Trail verification: \*\*intact\*\*/);
  t.match(md, /### q1\n/);
  t.match(md, /### q3 — BREAK-GLASS/);
  t.match(md, /\| Requester \| alice@corp.com \|/);
  t.match(md, /\| From \| 10\.0\.0\.5:51234 \(psql\) \|/);
  t.match(md, /\| Statement \| `delete from orders where id = \$1` \|/);
  t.match(md, /\| Decision \| approved at 2026-03-10T09:05:00\.010Z by bob@corp\.com \|/);
  t.match(md, /\| Outcome \| ok \(DELETE 1, 1 rows, 12 ms\) \|/);
  t.match(md, /x\\\|y/, 'a pipe inside SQL cannot break the table');
  t.match(md, /## Break-glass awaiting review \(1\)[\s\S]*\| q3 \| carol@corp\.com \| 2026-03-12T03:00:30\.000Z \| INC-42 payments outage \|/);
  t.match(md, /\| SOC 2 \| CC8\.1 \|/);
  t.match(md, /\| ISO\/IEC 27001:2022 \| 8\.15 \|/);
  t.notMatch(md, /out_of_period/);
});

t.test('csv has one row per held request with the break-glass flag; json round-trips', async (t) => {
  const dir = t.testdir();
  const report = (await writeFixture(dir), buildReport(dir, period));
  const csv = renderReport(report, 'csv');
  const lines = csv.trimEnd().split('\r\n');
  t.equal(lines.length, 5);
  const header = lines[0]!.split(',');
  t.ok(header.includes('break_glass') && header.includes('decided_by') && header.includes('sql'));
  const row = (id: string): string => lines.find((l) => l.startsWith(`${id},`))!;
  t.match(row('q1'), /alice@corp\.com,10\.0\.0\.5:51234,psql,s1,orders-prod,r-write,delete from orders where id = \$1,/);
  t.match(row('q1'), /,approved,2026-03-10T09:05:00\.010Z,bob@corp\.com,,no,/);
  t.match(row('q3'), /,yes,carol@corp\.com,INC-42 payments outage,/);
  t.match(row('q3'), /,'=cmd\|update accounts/, 'formula-looking cells are defused');
  t.match(row('q2'), /"update invoices set paid = 1, note = ""x\|y"""/);
  const json = JSON.parse(renderReport(report, 'json')) as { requests: Array<{ request_id: string }>; break_glass: unknown[] };
  t.equal(json.requests.length, 4);
  t.equal(json.break_glass.length, 1);
  t.equal(path.isAbsolute(report.dir), true);
});

t.test('multi-line SQL keeps its line breaks in the Markdown report (regression: "-- c⏎DELETE" read as one comment)', async (t) => {
  const { renderReport } = await import('../../../src/audit/report-render.js');
  const report = {
    period: { from: 'a', to: 'b' }, generated_at: 'g', dir: 'd',
    verification: { intact: true, records: { valid: 1, total: 1 }, checkpoints: { valid: 0, total: 0 }, findings: [] },
    requests: [{ request_id: 'r1', requester: 'alice@corp.com', resource: 'orders', rule: 'x', sql: '-- c\nDELETE FROM orders', votes: [], decided_by: [], decision: 'approved', break_glass: undefined }],
    break_glass: [], counts: { by_rule: {}, by_resource: {}, by_outcome: {} }, controls: [],
  } as unknown as Parameters<typeof renderReport>[0];
  let md: string;
  try {
    md = renderReport(report, 'md');
  } catch (err) {
    t.fail(`render failed: ${(err as Error).message}`);
    return;
  }
  t.match(md, '`-- c ⏎ DELETE FROM orders`', 'the table cell shows the line break');
  t.match(md, '~~~sql\n-- c\nDELETE FROM orders\n~~~', 'and the statement is given exactly as sent');
});
