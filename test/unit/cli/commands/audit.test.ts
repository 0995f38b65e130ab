// `airlock audit` commands in-process: output wording, exit codes 0/1/2, report files, tail -f.

import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Command } from 'commander';
import { auditPubkey, auditReport, auditTail, auditVerify, parseReportDate, register } from '../../../../src/cli/commands/audit.js';
import { openWriter, readRecords, segmentPaths, writeRecords } from '../../../helpers/audit/fixtures.js';

async function chain(dir: string): Promise<void> {
  const w = await openWriter(dir);
  await w.append('request.held', { request_id: 'q1', requester: 'alice@corp.com', rule: 'r', approvers: ['dba'], min_approvals: 1, expires_at: '2030-01-01T00:00:00.000Z', sql: 'delete from t' }, { sync: true });
  await w.append('approval.granted', { request_id: 'q1', by: ['bob@corp.com'], break_glass: false }, { sync: true });
  await w.close();
}

t.test('verify prints the CloudTrail-style summary and exits 0, 1 or 2', async (t) => {
  const dir = t.testdir();
  await chain(dir);
  const ok = await auditVerify({ dir });
  t.equal(ok.exitCode, 0);
  t.match(ok.stdout, /^5\/5 records valid, 1\/1 checkpoints valid\n/);
  t.match(ok.stdout, /audit trail intact/);

  const seg = segmentPaths(dir)[0]!;
  const records = readRecords(seg) as unknown as Record<string, unknown>[];
  records[1] = { ...records[1]!, sql: 'delete from t where 1 = 0' };
  writeRecords(seg, records);
  const bad = await auditVerify({ dir });
  t.equal(bad.exitCode, 1);
  t.match(bad.stdout, /^4\/5 records valid, 1\/1 checkpoints valid\n/);
  t.match(bad.stdout, /FINDING hash_mismatch \(seq 2, offset \d+, test-1-\d{8}T\d{9}Z\.000000\.jsonl\)/);
  const json = JSON.parse((await auditVerify({ dir, json: true })).stdout) as { intact: boolean; findings: Array<{ type: string; offset: number }> };
  t.equal(json.intact, false);
  t.equal(json.findings[0]!.type, 'hash_mismatch');
  t.type(json.findings[0]!.offset, 'number');

  const missing = await auditVerify({ dir: path.join(dir, 'nope') });
  t.equal(missing.exitCode, 2);
  t.match(missing.stderr, /cannot read audit directory/);
  const noConfig = await auditVerify({ config: path.join(dir, 'absent.yaml') });
  t.equal(noConfig.exitCode, 2);
  t.match(noConfig.stderr, /no audit directory given/);
});

t.test('pubkey prints the PEM that verify --pubkey accepts', async (t) => {
  const dir = t.testdir();
  await chain(dir);
  const out = await auditPubkey({ dir });
  t.equal(out.exitCode, 0);
  t.match(out.stdout, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
  const pubFile = path.join(dir, 'audit.pub');
  fs.writeFileSync(pubFile, out.stdout);
  t.equal((await auditVerify({ dir, pubkey: pubFile })).exitCode, 0);
  t.equal((await auditPubkey({ key: path.join(dir, 'absent.pem') })).exitCode, 2);
});

t.test('report writes md/csv/json to stdout or a file; bad dates are refused', async (t) => {
  const dir = t.testdir();
  await chain(dir);
  const today = new Date().toISOString().slice(0, 10);
  const md = await auditReport({ dir, from: today, to: today });
  t.equal(md.exitCode, 0);
  t.match(md.stdout, /### q1/);
  t.match(md.stdout, /alice@corp\.com/);
  const out = path.join(dir, 'r.csv');
  const csv = await auditReport({ dir, from: today, to: today, format: 'csv', out });
  t.match(csv.stdout, /wrote .*r\.csv \(1 held requests\)/);
  t.match(fs.readFileSync(out, 'utf8'), /^request_id,/);
  t.equal((await auditReport({ dir, from: 'yesterday', to: today })).exitCode, 2);
  t.equal((await auditReport({ dir, from: today, to: today, format: 'pdf' })).exitCode, 2);
  t.equal(parseReportDate('2026-03-31', true).toISOString(), '2026-04-01T00:00:00.000Z', 'a date-only --to includes that day');
  t.equal(parseReportDate('2026-03-31T12:00:00Z', true).toISOString(), '2026-03-31T12:00:00.000Z');
});

t.test('tail prints the last records, and -f follows new ones until aborted', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir);
  for (let i = 0; i < 5; i++) await w.append('session.start', { session_id: `s${i}`, requester: 'alice@corp.com' }, { sync: true });
  const lines: string[] = [];
  const controller = new AbortController();
  const done = auditTail({ dir, follow: true, lines: 3, pollMs: 10, signal: controller.signal, write: (l) => lines.push(l) });
  while (lines.length < 3) await new Promise((r) => setTimeout(r, 5));
  t.match(lines, [/#4 session\.start requester=alice@corp\.com session_id=s2$/, /#5 .*s3/, /#6 .*s4/]);
  await w.append('approval.granted', { request_id: 'q9', by: ['bob@corp.com'], break_glass: false }, { sync: true });
  while (!lines.some((l) => l.includes('approval.granted'))) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  t.equal((await done).exitCode, 0);
  t.match(lines.at(-1), /^\d{4}-\d\d-\d\dT[\d:.]+Z #7 approval\.granted break_glass=false by=\["bob@corp\.com"\] request_id=q9$/);
  await w.close();
});

t.test('register adds verify, pubkey, report and tail under audit', async (t) => {
  const program = new Command('airlock');
  register(program);
  const audit = program.commands.find((c) => c.name() === 'audit')!;
  t.same(audit.commands.map((c) => c.name()).sort(), ['pubkey', 'report', 'tail', 'verify']);
  const dir = t.testdir();
  await chain(dir);
  let stdout = '';
  program.exitOverride();
  audit.commands.forEach((c) => c.configureOutput({ writeOut: (s) => { stdout += s; } }));
  const before = process.exitCode;
  await program.parseAsync(['node', 'airlock', 'audit', 'verify', dir]);
  t.match(stdout, /5\/5 records valid/);
  t.equal(process.exitCode, 0);
  process.exitCode = before;
});
