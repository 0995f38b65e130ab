// Reopening after a crash: a torn tail is cut, kept and recorded; damage before it is a recorded break.

import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import fc from 'fast-check';
import { verifyAuditDir, verifyExitCode } from '../../../src/audit/verify.js';
import { CHECKPOINT_LOG, splitLines } from '../../../src/audit/segments.js';
import { openWriter, readRecords, segmentPaths, writeRecords } from '../../helpers/audit/fixtures.js';

/** A snapshot of a directory while its writer is open: the state a SIGKILL would leave. */
async function liveSnapshot(source: string, target: string, opts: Parameters<typeof openWriter>[1], records: number): Promise<void> {
  const w = await openWriter(source, opts);
  for (let i = 0; i < records; i++) await w.append('statement.decided', { session_id: 's', sql: `select ${i}`, n: i }, { sync: i % 3 === 0 });
  fs.cpSync(source, target, { recursive: true });
  await w.close();
}

t.test('a torn last line is cut off, kept aside and recorded; verify passes', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'b');
  await liveSnapshot(path.join(root, 'a'), dir, {}, 5);
  const seg = segmentPaths(dir)[0]!;
  const size = fs.statSync(seg).size;
  const torn = '{"chain_id":"test-1-2026';
  fs.appendFileSync(seg, torn);
  const w = await openWriter(dir);
  await w.close();
  const segs = segmentPaths(dir);
  t.equal(fs.statSync(seg).size > size, true, 'old segment was closed (close + checkpoint appended after the cut)');
  t.notMatch(fs.readFileSync(seg, 'utf8'), /test-1-2026"?$/m);
  const recovered = readRecords(segs[1]!).find((r) => r.type === 'chain.recovered')!;
  t.match(recovered, { segment: path.basename(seg), offset: size, length: torn.length });
  t.equal(fs.readFileSync(path.join(dir, recovered.quarantine as string), 'utf8'), torn);
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 0);
  t.match(report.findings.find((f) => f.type === 'torn_tail_recovered'), { severity: 'info', offset: size });
  t.same(report.findings.map((f) => f.type).sort(), ['torn_tail_recovered', 'unclosed_segment_recovered'], 'the cut and the late close, both info');
});

t.test('an unparsable last complete line is treated as torn', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'b');
  await liveSnapshot(path.join(root, 'a'), dir, {}, 3);
  fs.appendFileSync(segmentPaths(dir)[0]!, '\0\0\0\0\n');
  await (await openWriter(dir)).close();
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 0);
  t.equal(report.findings.filter((f) => f.type === 'torn_tail_recovered').length, 1);
});

t.test('damage before the tail is never repaired: a linked new segment and a chain.break', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'b');
  await liveSnapshot(path.join(root, 'a'), dir, {}, 6);
  const seg = segmentPaths(dir)[0]!;
  const records = readRecords(seg) as unknown as Record<string, unknown>[];
  records[2] = { ...records[2]!, sql: 'select tampered' };
  writeRecords(seg, records);
  const damaged = fs.readFileSync(seg);
  const alerts: string[] = [];
  let breaks = 0;
  const w = await openWriter(dir, { onError: (e) => alerts.push(e.message), metrics: { chainBreaks: () => { breaks++; } } });
  await w.append('session.end', { session_id: 's' }, { sync: true });
  await w.close();
  t.same(fs.readFileSync(seg), damaged, 'the damaged segment is left exactly as found');
  t.equal(fs.statSync(seg).mode & 0o777, 0o444);
  t.equal(breaks, 1);
  t.match(alerts, [/chain damaged/]);
  const next = readRecords(segmentPaths(dir)[1]!);
  t.same(next.slice(0, 2).map((r) => r.type), ['segment.open', 'chain.break']);
  t.equal(next[0]!.prev_hash, records.at(-1)!.hash, 'the new segment links to the last valid record');
  t.equal(next[0]!.seq, (records.at(-1)!.seq as number) + 1);
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 1);
  t.ok(report.findings.some((f) => f.type === 'chain_break'));
  t.ok(report.findings.some((f) => f.type === 'hash_mismatch' && f.seq === records[2]!.seq));
});

for (const count of [18, 19, 21]) t.test(`a kill at any byte after the last logged checkpoint always recovers (${count} records)`, async (t) => {
  const root = t.testdir();
  const base = path.join(root, 'base');
  // Small segments and frequent checkpoints so kills land mid-segment, mid-rotation and near checkpoints.
  await liveSnapshot(path.join(root, 'src'), base, { rotateBytes: 3000, checkpointRecords: 3 }, count);
  const newest = segmentPaths(base).at(-1)!;
  const bytes = fs.readFileSync(newest);
  const logged = new Set(fs.readFileSync(path.join(base, CHECKPOINT_LOG), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { hash: string }).hash));
  // A crash cannot tear bytes the checkpoints.log already vouches for: it is written after their fsync.
  let floor = 0;
  for (const line of splitLines(bytes)) {
    if (logged.has((JSON.parse(line.text) as { hash: string }).hash)) floor = line.offset + line.length + 1;
  }
  t.ok(floor < bytes.length, `kill window ${floor}..${bytes.length}`);
  let n = 0;
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: floor, max: bytes.length }), fc.uint8Array({ maxLength: 30 }),
    async (cut, junk) => {
      const dir = path.join(root, `k${n++}`);
      fs.cpSync(base, dir, { recursive: true });
      const file = path.join(dir, path.basename(newest));
      // A torn write leaves a prefix of the batch, sometimes followed by garbage without a newline.
      fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, cut), Buffer.from(junk.filter((b) => b !== 0x0a))]));
      const w = await openWriter(dir);
      await w.append('session.end', { session_id: 's' }, { sync: true });
      await w.close();
      const report = verifyAuditDir(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      if (verifyExitCode(report) !== 0) throw new Error(`cut ${cut}: ${JSON.stringify(report.findings)}`);
    }), { numRuns: 30 });
  t.pass('every kill point recovered');
});

t.test('a kill right after creating a new segment (empty file) reuses it', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'b');
  await liveSnapshot(path.join(root, 'a'), dir, { rotateBytes: 1500 }, 12);
  const segs = segmentPaths(dir);
  fs.writeFileSync(segs.at(-1)!, '');
  await (await openWriter(dir)).close();
  t.equal(segmentPaths(dir).length, segs.length, 'no extra segment');
  t.equal(readRecords(segs.at(-1)!)[0]!.type, 'segment.open');
  t.equal(readRecords(segs.at(-1)!)[0]!.prev_segment, path.basename(segs.at(-2)!));
  t.equal(verifyExitCode(verifyAuditDir(dir)), 0);
});

t.test('a segment a kill left open with whole lines is closed at restart, marked recovered, and verify says so', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'b');
  await liveSnapshot(path.join(root, 'a'), dir, {}, 7);
  const seg = segmentPaths(dir)[0]!;
  const w = await openWriter(dir);
  await w.close();
  const close = readRecords(seg).find((r) => r.type === 'segment.close')!;
  t.match(close, { segment: path.basename(seg), records: 9, recovered: true });
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 0);
  t.match(report.findings, [{ type: 'unclosed_segment_recovered', severity: 'info', segment: path.basename(seg), seq: close.seq }]);
  // A clean close is not a recovery.
  t.notOk(readRecords(segmentPaths(dir)[1]!).some((r) => r.type === 'segment.close' && r.recovered !== undefined));
});
