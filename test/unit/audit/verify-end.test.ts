// A chain no writer holds must end the way shutdown ends it; a cut right after a signed checkpoint does not.

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { verifyAuditDir, verifyExitCode, type VerifyReport } from '../../../src/audit/verify.js';
import { CHECKPOINT_LOG, liveMarkerPath } from '../../../src/audit/segments.js';
import type { AuditRecord } from '../../../src/audit/chain.js';
import { auditPubkey, auditVerify } from '../../../src/cli/commands/audit.js';
import { openWriter, readRecords, segmentPaths, writeRecords } from '../../helpers/audit/fixtures.js';

const decided = (i: number): Record<string, unknown> => ({
  session_id: 's1', requester: 'alice@corp.com', resource: 'orders', decision: 'allow', rule: 'r-read', source: 'rule',
  kinds: ['SELECT'], tables: ['orders'], writes: false, sql: `select ${i}`,
});

/** The public key kept away from the audit directory, as the README tells auditors to. */
async function exportPubkey(t: Test, dir: string, file: string): Promise<string> {
  const out = await auditPubkey({ dir });
  t.equal(out.exitCode, 0, out.stderr);
  fs.writeFileSync(file, out.stdout);
  return file;
}

/** Keeps the checkpoints.log lines up to and including the one for seq `upTo`, as a careful forger would. */
function cutCheckpointLog(t: Test, dir: string, upTo: number): void {
  const file = path.join(dir, CHECKPOINT_LOG);
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const kept = lines.filter((l) => (JSON.parse(l) as AuditRecord).seq <= upTo);
  t.ok(kept.length < lines.length, 'the cut drops checkpoints.log lines');
  fs.writeFileSync(file, kept.map((l) => l + '\n').join(''));
}

function errors(report: VerifyReport): string[] {
  return report.findings.filter((f) => f.severity === 'error').map((f) => f.type);
}

/** A pid that no process has any more: the state a crashed writer leaves in its .live marker. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

t.test('the tester\'s cut: a closed chain cut right after a mid-chain checkpoint, log cut to match, is chain_not_closed', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'audit');
  const w = await openWriter(dir);
  for (let i = 0; i < 4; i++) await w.append('statement.decided', decided(i), { sync: true });
  await w.checkpoint();
  for (let i = 4; i < 8; i++) await w.append('statement.decided', decided(i), { sync: true });
  await w.close();
  const pub = await exportPubkey(t, dir, path.join(root, 'real.pub'));
  t.equal((await auditVerify({ dir, pubkey: pub })).exitCode, 0, 'intact before the cut');

  const seg = segmentPaths(dir)[0]!;
  const records = readRecords(seg);
  const cp = records.find((r) => r.type === 'checkpoint')!;
  t.not(cp.seq, records.at(-1)!.seq, 'the checkpoint is mid-chain');
  writeRecords(seg, records.filter((r) => r.seq <= cp.seq));
  cutCheckpointLog(t, dir, cp.seq);

  const report = verifyAuditDir(dir, { pubkey: fs.readFileSync(pub, 'utf8') });
  t.same(errors(report), ['chain_not_closed'], 'the cut leaves every link and signature valid: only the end shows it');
  t.match(report.findings, [{
    type: 'chain_not_closed', severity: 'error', segment: path.basename(seg), seq: cp.seq,
    message: /ends without its closing records.*does not follow a segment\.close.*restart airlock.*records after a checkpoint were removed/,
  }]);
  const cli = await auditVerify({ dir, pubkey: pub });
  t.equal(cli.exitCode, 1);
  t.match(cli.stdout, /FINDING chain_not_closed/);
  t.match(cli.stdout, /audit trail has findings/);
});

t.test('a cut at a rotation boundary (later segments deleted, log cut) is chain_not_closed: the close names the next segment', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'audit');
  const w = await openWriter(dir, { rotateBytes: 1500 });
  for (let i = 0; i < 12; i++) await w.append('statement.decided', decided(i), { sync: true });
  await w.close();
  const segs = segmentPaths(dir);
  t.ok(segs.length >= 3, `${segs.length} segments`);
  const pub = await exportPubkey(t, dir, path.join(root, 'real.pub'));

  for (const [i, seg] of segs.entries()) {
    const close = readRecords(seg).at(-2)!;
    t.equal(close.type, 'segment.close');
    t.equal(close.next_segment, i < segs.length - 1 ? path.basename(segs[i + 1]!) : undefined, 'only the shutdown close names no next segment');
  }
  t.equal(verifyExitCode(verifyAuditDir(dir)), 0);

  const keep = segs[0]!;
  for (const seg of segs.slice(1)) fs.rmSync(seg);
  cutCheckpointLog(t, dir, readRecords(keep).at(-1)!.seq);
  const cli = await auditVerify({ dir, pubkey: pub });
  t.equal(cli.exitCode, 1, cli.stdout);
  const report = verifyAuditDir(dir);
  t.same(errors(report), ['chain_not_closed']);
  t.match(report.findings[0]!.message, new RegExp(`goes on in ${path.basename(segs[1]!).replace(/\./g, '\\.')}, which is missing`));
});

/** An open writer's directory copied aside: what a SIGKILL leaves, with the marker naming a dead pid. */
async function crashedCopy(t: Test, root: string, opts: Parameters<typeof openWriter>[1], records: number): Promise<string> {
  const live = path.join(root, 'live');
  const dir = path.join(root, 'crashed');
  const w = await openWriter(live, opts);
  for (let i = 0; i < records; i++) await w.append('statement.decided', decided(i), { sync: true });
  fs.cpSync(live, dir, { recursive: true });
  await w.close();
  const markers = fs.readdirSync(dir).filter((f) => f.endsWith('.live'));
  t.equal(markers.length, 1, 'the crashed writer left its live marker');
  const marker = path.join(dir, markers[0]!);
  fs.writeFileSync(marker, JSON.stringify({ ...JSON.parse(fs.readFileSync(marker, 'utf8')), pid: deadPid() }) + '\n');
  fs.rmSync(path.join(dir, 'test-1.lock'), { force: true });
  return dir;
}

t.test('a writer that crashed and was never restarted: chain_not_closed with the restart advice; a restart closes it', async (t) => {
  const dir = await crashedCopy(t, t.testdir(), { checkpointRecords: 3 }, 7);
  const report = verifyAuditDir(dir);
  t.equal(report.chains[0]!.live, false);
  t.equal(verifyExitCode(report), 1);
  t.match(report.findings.find((f) => f.type === 'chain_not_closed'), {
    severity: 'error', message: /the writer crashed and was never restarted \(restart airlock to close it\)/,
  });

  const w = await openWriter(dir);
  const restarted = verifyAuditDir(dir);
  t.equal(restarted.chains[0]!.live, true);
  t.equal(verifyExitCode(restarted), 0, 'the restarted writer closed the crashed segment; a live chain is not judged by its end');
  t.notOk(restarted.findings.some((f) => f.type === 'chain_not_closed'));
  await w.append('session.end', { session_id: 's1', duration_ms: 1, reason: 'done' }, { sync: true });
  await w.close();
  const closed = verifyAuditDir(dir);
  t.equal(verifyExitCode(closed), 0, JSON.stringify(closed.findings));
  t.same(closed.findings.map((f) => f.type), ['unclosed_segment_recovered']);
});

t.test('a crash right after a rotation created the next segment (empty) is not closed until a restart', async (t) => {
  const dir = await crashedCopy(t, t.testdir(), { rotateBytes: 1500 }, 12);
  const segs = segmentPaths(dir);
  fs.writeFileSync(segs.at(-1)!, '');
  const report = verifyAuditDir(dir);
  t.match(report.findings.filter((f) => f.type === 'chain_not_closed'), [{ segment: path.basename(segs.at(-1)!), message: /is empty/ }]);
  await (await openWriter(dir)).close();
  t.equal(verifyExitCode(verifyAuditDir(dir)), 0);
});

t.test('a crashed writer whose marker is gone too is still judged by its end', async (t) => {
  const dir = await crashedCopy(t, t.testdir(), {}, 3);
  fs.rmSync(liveMarkerPath(dir, readRecords(segmentPaths(dir)[0]!)[0]!.chain_id));
  t.ok(errors(verifyAuditDir(dir)).includes('chain_not_closed'));
});
