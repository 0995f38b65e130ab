// Tampering with a written chain, one way at a time: each must give its finding and exit status 1.

import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import { verifyAuditDir, verifyExitCode, type FindingType, type VerifyReport } from '../../../src/audit/verify.js';
import { CHECKPOINT_LOG } from '../../../src/audit/segments.js';
import { openWriter, readRecords, rehash, segmentPaths, writeRecords } from '../../helpers/audit/fixtures.js';

/** A closed chain: genesis, a session, decisions, a mid-chain checkpoint, more, then close. */
async function writeChain(dir: string, extra: Parameters<typeof openWriter>[1] = {}): Promise<void> {
  const w = await openWriter(dir, extra);
  await w.append('session.start', { session_id: 's1', requester: 'alice@corp.com', resource: 'orders', protocol: 'postgres', client_addr: '127.0.0.1:5000', tls: false }, { sync: true });
  for (let i = 0; i < 4; i++) {
    await w.append('statement.decided', {
      session_id: 's1', requester: 'alice@corp.com', resource: 'orders', decision: 'allow', rule: 'r-read', source: 'policy',
      kinds: ['SELECT'], tables: ['orders'], writes: false, sql: `select ${i}`, meta: { n: i },
    });
  }
  await w.checkpoint();
  await w.append('request.held', { request_id: 'q1', rule: 'r-write', approvers: ['ops'], min_approvals: 1, expires_at: '2030-01-01T00:00:00.000Z', sql: 'delete from t' }, { sync: true });
  await w.append('approval.granted', { request_id: 'q1', by: ['bob@corp.com'], break_glass: false }, { sync: true });
  await w.close();
}

function types(report: VerifyReport): FindingType[] {
  return report.findings.filter((f) => f.severity === 'error').map((f) => f.type);
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

t.test('an untouched chain verifies', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 0);
  t.same(report.findings, []);
  t.equal(report.records.valid, report.records.total);
  t.equal(report.records.total, 11);
  t.same(report.checkpoints, { valid: 2, total: 2 });
});

t.test('changing any field of a record is found, with and without a recomputed hash', async (t) => {
  const base = t.testdir();
  await writeChain(base);
  const seg = path.basename(segmentPaths(base)[0]!);
  const target = 4; // a statement.decided in the middle, with strings, numbers, arrays, booleans, objects
  const fields = Object.keys(readRecords(path.join(base, seg))[target - 1]!);
  t.ok(fields.length >= 15, `record has ${fields.length} fields`);
  let n = 0;
  for (const field of fields) {
    for (const recompute of [false, true]) {
      if (recompute && field === 'hash') continue;
      const dir = path.join(base, '..', `${path.basename(base)}-f${n++}`);
      copyDir(base, dir);
      const records = readRecords(path.join(dir, seg)) as unknown as Record<string, unknown>[];
      const changed: Record<string, unknown> = { ...records[target - 1]!, [field]: mutate(field, records[target - 1]![field]) };
      records[target - 1] = recompute ? rehash(changed) : changed;
      writeRecords(path.join(dir, seg), records);
      const report = verifyAuditDir(dir);
      const found = types(report);
      t.equal(verifyExitCode(report), 1, `${field} (recompute=${recompute}) exits 1`);
      const expected: FindingType = !recompute ? 'hash_mismatch'
        : field === 'seq' ? 'seq_gap' : 'prev_hash_mismatch';
      t.ok(found.includes(expected), `${field} (recompute=${recompute}) → ${expected}; found ${found.join(',')}`);
      if (!recompute && field === 'prev_hash') t.ok(found.includes('prev_hash_mismatch'), 'prev_hash change also breaks the link');
      if (!recompute && field === 'hash') t.ok(found.includes('prev_hash_mismatch'), 'the next record no longer links');
      const at = report.findings.find((f) => f.type === expected)!;
      t.equal(at.segment, seg);
      t.type(at.offset, 'number');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

function mutate(field: string, value: unknown): unknown {
  if (field === 'hash' || field === 'prev_hash') return (value as string).replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
  if (field === 'type') return 'statement.decided' === value ? 'session.end' : 'statement.decided';
  if (typeof value === 'string') return value + 'X';
  if (typeof value === 'number') return value + 1;
  if (typeof value === 'boolean') return !value;
  if (Array.isArray(value)) return [...value, 'x'];
  return { ...(value as object), extra: 1 };
}

t.test('any single byte changed in any segment is found', async (t) => {
  const base = t.testdir();
  await writeChain(base, { rotateBytes: 1200 });
  const segments = [...segmentPaths(base).map((p) => path.basename(p)), CHECKPOINT_LOG];
  t.ok(segments.length >= 3, 'several segments');
  const sizes = segments.map((s) => fs.statSync(path.join(base, s)).size);
  let n = 0;
  fc.assert(fc.property(
    fc.nat({ max: segments.length - 1 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 255 }),
    (which, where, delta) => {
      const dir = path.join(base, '..', `${path.basename(base)}-b${n++}`);
      copyDir(base, dir);
      const file = path.join(dir, segments[which]!);
      const bytes = fs.readFileSync(file);
      const offset = Math.floor(where * sizes[which]!);
      bytes[offset] = (bytes[offset]! + delta) % 256;
      fs.chmodSync(file, 0o644);
      fs.writeFileSync(file, bytes);
      const report = verifyAuditDir(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      return verifyExitCode(report) === 1;
    }), { numRuns: 300 });
});

t.test('whitespace JSON.parse would forgive is still a finding', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  const seg = segmentPaths(dir)[0]!;
  const text = fs.readFileSync(seg, 'utf8');
  fs.chmodSync(seg, 0o644);
  fs.writeFileSync(seg, text.slice(0, -1) + '\t');
  t.match(verifyAuditDir(dir).findings, [{ type: 'malformed_record', message: 'last line has no newline' }]);
  fs.writeFileSync(seg, text.replace('{"', '{ "'));
  t.match(verifyAuditDir(dir).findings, [{ type: 'malformed_record', seq: 1, message: 'record is not in canonical JSON form' }]);
});

t.test('a deleted record is a seq gap and a broken link', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  const seg = segmentPaths(dir)[0]!;
  const records = readRecords(seg);
  writeRecords(seg, records.filter((r) => r.seq !== 3));
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 1);
  t.match(report.findings, [{ type: 'seq_gap', seq: 4 }, { type: 'prev_hash_mismatch', seq: 4 }]);
  t.equal(report.records.total, records.length - 1);
});

t.test('two swapped records are found', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  const seg = segmentPaths(dir)[0]!;
  const records = readRecords(seg);
  [records[2], records[3]] = [records[3]!, records[2]!];
  writeRecords(seg, records);
  const found = types(verifyAuditDir(dir));
  t.ok(found.includes('seq_gap') && found.includes('seq_duplicate') && found.includes('prev_hash_mismatch'), found.join(','));
});

t.test('a forged record appended with a correct hash is an unsigned tail', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  const seg = segmentPaths(dir).at(-1)!;
  const records = readRecords(seg) as unknown as Record<string, unknown>[];
  const last = records.at(-1)!;
  const forged = rehash({ ...last, seq: (last.seq as number) + 1, type: 'approval.granted', request_id: 'q9', by: ['mallory'], prev_hash: last.hash, head_seq: undefined });
  delete forged.head_seq; delete forged.head_hash; delete forged.sig; delete forged.key_id; delete forged.segment;
  writeRecords(seg, [...records, rehash(forged)]);
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 1);
  t.match(report.findings, [{ type: 'unsigned_tail', severity: 'error', seq: (last.seq as number) + 1 }]);
  t.equal(report.records.valid, report.records.total, 'every link holds: only the signature rule catches it');
});

t.test('a forged record followed by a copied checkpoint is still caught', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  const seg = segmentPaths(dir).at(-1)!;
  const records = readRecords(seg) as unknown as Record<string, unknown>[];
  const cp = records.at(-1)!;
  t.equal(cp.type, 'checkpoint');
  const forged = rehash({ v: 1, chain_id: cp.chain_id, seq: (cp.seq as number) + 1, ts: cp.ts, type: 'approval.granted', instance: cp.instance, request_id: 'q9', by: ['mallory'], break_glass: false, prev_hash: cp.hash });
  const copied = rehash({ ...cp, seq: (cp.seq as number) + 2, prev_hash: forged.hash });
  writeRecords(seg, [...records, forged, copied]);
  const found = types(verifyAuditDir(dir));
  t.ok(found.includes('checkpoint_head_mismatch'), found.join(','));
  t.ok(found.includes('unsigned_tail'), found.join(','));
});

t.test('a checkpoint with a bad signature, or another key than --pubkey, is bad_signature', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  const seg = segmentPaths(dir)[0]!;
  const records = readRecords(seg) as unknown as Record<string, unknown>[];
  const i = records.findIndex((r) => r.type === 'checkpoint');
  const sig = Buffer.from(records[i]!.sig as string, 'base64');
  sig[0] ^= 1;
  records[i] = rehash({ ...records[i]!, sig: sig.toString('base64') });
  const tampered = path.join(dir, '..', `${path.basename(dir)}-sig`);
  copyDir(dir, tampered);
  t.teardown(() => fs.rmSync(tampered, { recursive: true, force: true }));
  writeRecords(path.join(tampered, path.basename(seg)), records);
  t.ok(types(verifyAuditDir(tampered)).includes('bad_signature'));

  const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const report = verifyAuditDir(dir, { pubkey: other });
  t.equal(verifyExitCode(report), 1);
  t.ok(types(report).includes('bad_signature'));
  const own = fs.readFileSync(path.join(dir, 'signing-key.pem'), 'utf8');
  const { createPublicKey } = await import('node:crypto');
  t.equal(verifyExitCode(verifyAuditDir(dir, { pubkey: createPublicKey(own).export({ format: 'pem', type: 'spki' }).toString() })), 0);
});

t.test('the tail cut back to an earlier checkpoint is truncated_after_checkpoint', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  const seg = segmentPaths(dir)[0]!;
  const records = readRecords(seg);
  const firstCheckpoint = records.findIndex((r) => r.type === 'checkpoint');
  writeRecords(seg, records.slice(0, firstCheckpoint + 1));
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 1);
  t.same(types(report), ['chain_not_closed', 'truncated_after_checkpoint']);
  t.equal(report.records.valid, report.records.total, 'what is left is a valid chain: its end and the log show the cut');

  const dir2 = t.testdir();
  await writeChain(dir2);
  const seg2 = segmentPaths(dir2)[0]!;
  const bytes = fs.readFileSync(seg2);
  fs.chmodSync(seg2, 0o644);
  fs.writeFileSync(seg2, bytes.subarray(0, bytes.length - 40));
  const found = types(verifyAuditDir(dir2));
  t.ok(found.includes('truncated_after_checkpoint') && found.includes('malformed_record'), found.join(','));
});

t.test('damage in a rotated segment names that segment', async (t) => {
  const dir = t.testdir();
  await writeChain(dir, { rotateBytes: 1200 });
  const segs = segmentPaths(dir);
  t.ok(segs.length >= 3);
  const records = readRecords(segs[1]!) as unknown as Record<string, unknown>[];
  records[1] = { ...records[1]!, ts: '2020-01-01T00:00:00.000Z' };
  writeRecords(segs[1]!, records);
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 1);
  t.match(report.findings, [{ type: 'hash_mismatch', segment: path.basename(segs[1]!), seq: records[1]!.seq }]);
});

t.test('a deleted segment is missing_segment, in the middle or at the end', async (t) => {
  const dir = t.testdir();
  await writeChain(dir, { rotateBytes: 1200 });
  const segs = segmentPaths(dir);
  const middle = path.join(dir, '..', `${path.basename(dir)}-mid`);
  copyDir(dir, middle);
  t.teardown(() => fs.rmSync(middle, { recursive: true, force: true }));
  fs.rmSync(path.join(middle, path.basename(segs[1]!)));
  const report = verifyAuditDir(middle);
  t.equal(verifyExitCode(report), 1);
  t.match(report.findings, [{ type: 'missing_segment', segment: path.basename(segs[1]!) }]);

  fs.rmSync(segs.at(-1)!);
  const atEnd = verifyAuditDir(dir);
  t.equal(verifyExitCode(atEnd), 1);
  t.ok(types(atEnd).includes('missing_segment'), types(atEnd).join(','));
});

t.test('a deleted checkpoints.log is reported', async (t) => {
  const dir = t.testdir();
  await writeChain(dir);
  fs.rmSync(path.join(dir, CHECKPOINT_LOG));
  t.same(types(verifyAuditDir(dir)), ['missing_checkpoint_log']);
});

t.test('a live chain with records after its last checkpoint verifies; unreadable dirs throw', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir);
  await w.append('session.start', { session_id: 's1' }, { sync: true });
  const live = verifyAuditDir(dir);
  t.equal(verifyExitCode(live), 0);
  t.match(live.findings, [{ type: 'unsigned_tail', severity: 'info' }]);
  t.equal(live.chains[0]!.live, true);
  await w.close();
  t.same(verifyAuditDir(dir).findings, []);
  t.throws(() => verifyAuditDir(path.join(dir, 'nope')), { code: 'AIRLOCK_ERR_NOT_FOUND' });
  t.throws(() => verifyAuditDir(t.testdir()), { code: 'AIRLOCK_ERR_NOT_FOUND' });
});

// Regression (fresh-user report): deleting the segment being written went unnoticed, and the .live
// marker still named the first segment after a rotation.
t.test('the live marker follows rotation, and a deleted live segment is reported', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir, { rotateBytes: 600 });
  for (let i = 0; i < 6; i++) await w.append('session.start', { session_id: `s${i}`, requester: 'alice@corp.com' }, { sync: true });
  await new Promise((r) => setTimeout(r, 50)); // the marker is rewritten asynchronously after a rotation
  const segments = segmentPaths(dir);
  t.ok(segments.length >= 2, `rotated (${segments.length} segments)`);
  const marker = JSON.parse(fs.readFileSync(path.join(dir, `${path.basename(segments[0]!).split('.')[0]}.live`), 'utf8')) as { segment: string };
  t.equal(marker.segment, path.basename(segments.at(-1)!), 'the marker names the segment being written');
  t.equal(verifyExitCode(verifyAuditDir(dir)), 0, 'intact while live');
  fs.rmSync(segments.at(-1)!);
  const report = verifyAuditDir(dir);
  t.equal(verifyExitCode(report), 1);
  t.match(report.findings.filter((f) => f.type === 'missing_segment'), [{ severity: 'error', segment: marker.segment, message: /is writing/ }]);
  await w.close().catch(() => {});
});

t.test('checkpoints.log must be canonical lines ending in a newline, like the segments', async (t) => {
  // Found by the any-single-byte property: the log's last "\n" turned into "\r" (+3) passed, since JSON.parse forgives it.
  const root = t.testdir();
  let n = 0;
  for (const [label, edit] of [
    ['last newline turned into a carriage return', (s: string) => s.slice(0, -1) + '\r'],
    ['last newline turned into a space', (s: string) => s.slice(0, -1) + ' '],
    ['whitespace inside a line', (s: string) => s.replace('{"', '{ "')],
  ] as const) {
    const dir = path.join(root, `c${n++}`);
    await writeChain(dir);
    const file = path.join(dir, CHECKPOINT_LOG);
    fs.writeFileSync(file, edit(fs.readFileSync(file, 'utf8')));
    const report = verifyAuditDir(dir);
    t.equal(verifyExitCode(report), 1, label);
    t.match(report.findings, [{ type: 'malformed_record', segment: CHECKPOINT_LOG }], label);
  }
});
