// The writer's promises: call order is chain order, secrets never land, failures fail closed, rotation links.

import fs from 'node:fs';
import path from 'node:path';
import { createHash, createPublicKey } from 'node:crypto';
import t from 'tap';
import { AirlockError } from '../../../src/errors.js';
import { verifyAuditDir, verifyExitCode } from '../../../src/audit/verify.js';
import { CHECKPOINT_LOG } from '../../../src/audit/segments.js';
import { keyIdOf } from '../../../src/audit/signing.js';
import { openWriter, readRecords, segmentPaths } from '../../helpers/audit/fixtures.js';

t.test('1000 concurrent appends land in call order with strictly increasing seq', async (t) => {
  const dir = t.testdir();
  const written: Record<string, number> = {};
  const w = await openWriter(dir, { metrics: { recordsWritten: (type) => { written[type] = (written[type] ?? 0) + 1; } } });
  await Promise.all(Array.from({ length: 1000 }, (_, i) => w.append('statement.decided', { session_id: 's', n: i }, { sync: i % 7 === 0 })));
  await w.close();
  const records = segmentPaths(dir).flatMap(readRecords);
  const ns = records.filter((r) => r.type === 'statement.decided').map((r) => r.n);
  t.same(ns, Array.from({ length: 1000 }, (_, i) => i), 'payloads in call order');
  t.same(records.map((r) => r.seq), Array.from({ length: records.length }, (_, i) => i + 1), 'seq 1..N without gaps');
  t.equal(written['statement.decided'], 1000);
  t.equal(verifyAuditDir(dir).intact, true);
  // checkpointRecords = 1000 in the fixture: one checkpoint at the 1000th record, one at close
  t.equal(records.filter((r) => r.type === 'checkpoint').length, 2);
});

// Regression (fresh-user report): a 64 MiB statement was written whole into every record about it.
t.test('SQL over sqlMaxBytes keeps a prefix of whole characters, its full SHA-256 and length', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir, { sqlMaxBytes: 16 });
  const long = "SELECT 'ééééééééé' FROM t"; // é is 2 bytes: byte 16 falls inside one
  await w.append('statement.decided', { session_id: 's', sql: long }, { sync: true });
  await w.append('statement.decided', { session_id: 's', sql: 'SELECT 1' }, { sync: true });
  await w.close();
  const [cut, short] = readRecords(segmentPaths(dir)[0]!).filter((x) => x.type === 'statement.decided');
  t.equal(cut!.sql, "SELECT 'éééé", 'cut before the straddling character (15 bytes)');
  t.equal(cut!.sql_truncated, true);
  t.equal(cut!.sql_bytes, Buffer.byteLength(long));
  t.equal(cut!.sql_sha256, createHash('sha256').update(long).digest('hex'));
  t.equal(short!.sql, 'SELECT 1');
  t.notOk('sql_truncated' in short! || 'sql_sha256' in short!, 'short SQL is untouched');
  t.equal(verifyExitCode(verifyAuditDir(dir)), 0, 'the chain verifies');
});

t.test('secrets are stripped at any depth; hash mode keeps only the SQL digest', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir, { sqlMode: 'hash' });
  const sql = "update users set email = 'x' where id = 1";
  await w.append('statement.decided', {
    session_id: 's', sql, password: 'hunter2-a', params: '[redacted]',
    upstream: { user: 'app', Password: 'hunter2-b', nested: [{ bot_token: 'xoxb-hunter2-c' }, { client_secret: 'hunter2-d', keep: 1 }] },
    auth: { api_token: 'hunter2-e' }, big: 10n, when: new Date(0), bytes: Buffer.from('hi'), nothing: undefined, inf: Infinity, lone: 'a\uD800b',
  }, { sync: true });
  await w.close();
  const text = fs.readFileSync(segmentPaths(dir)[0]!, 'utf8');
  t.notMatch(text, /hunter2/, 'no secret value reached the file');
  t.notMatch(text, /update users/, 'no SQL text in hash mode');
  const r = readRecords(segmentPaths(dir)[0]!).find((x) => x.type === 'statement.decided')!;
  t.equal(r.sql_sha256, createHash('sha256').update(sql).digest('hex'));
  t.equal(r.sql, undefined);
  t.same(r.upstream, { user: 'app', nested: [{}, { keep: 1 }] });
  t.same(r.auth, {});
  t.equal(r.params, '[redacted]');
  t.same([r.big, r.when, r.bytes, r.inf, r.lone], ['10', '1970-01-01T00:00:00.000Z', 'aGk=', 'Infinity', 'a\uFFFDb']);
  t.notOk('nothing' in r);

  const dir2 = t.testdir();
  const w2 = await openWriter(dir2);
  await w2.append('statement.decided', { sql: 'select 1' }, { sync: true });
  await w2.close();
  t.equal(readRecords(segmentPaths(dir2)[0]!).find((x) => x.type === 'statement.decided')!.sql, 'select 1', 'text mode keeps SQL');
});

t.test('payload fields cannot overwrite the envelope, and housekeeping types are refused', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir);
  await w.append('session.end', { session_id: 's', seq: 999, hash: 'x', prev_hash: 'y', chain_id: 'z', type: 'checkpoint' }, { sync: true });
  await t.rejects(w.append('checkpoint', {}), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
  await w.close();
  const r = readRecords(segmentPaths(dir)[0]!)[1]!;
  t.equal(r.seq, 2);
  t.equal(r.type, 'session.end');
  t.equal(verifyAuditDir(dir).intact, true);
});

t.test('a failed write rejects, makes the writer unhealthy, and every later append fails closed', async (t) => {
  const dir = t.testdir();
  const errors: AirlockError[] = [];
  let failures = 0;
  const w = await openWriter(dir, { rotateBytes: 1, onError: (e) => errors.push(e), metrics: { writeFailures: () => { failures++; } } });
  t.equal(w.healthy, true);
  // The next append rotates; with the directory gone the new segment cannot be created.
  fs.rmSync(dir, { recursive: true, force: true });
  await t.rejects(w.append('approval.granted', { request_id: 'q' }, { sync: true }), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
  t.equal(w.healthy, false);
  await t.rejects(w.append('execution.intent', { session_id: 's' }, { sync: true }), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
  await t.rejects(w.checkpoint(), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
  t.equal(errors.length, 1, 'alerted once');
  t.ok(failures >= 1);
  await t.rejects(w.close(), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
});

t.test('size rotation: linked segments, closed ones read-only, each ended by close and a checkpoint', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir, { rotateBytes: 2000 });
  for (let i = 0; i < 40; i++) await w.append('session.start', { session_id: `s${i}`, requester: 'a@corp.com' }, { sync: i % 2 === 0 });
  await w.close();
  const segs = segmentPaths(dir);
  t.ok(segs.length >= 4, `${segs.length} segments`);
  for (const [i, seg] of segs.entries()) {
    t.equal(fs.statSync(seg).mode & 0o777, 0o444, `${path.basename(seg)} read-only`);
    const records = readRecords(seg);
    t.equal(records[0]!.type, i === 0 ? 'chain.genesis' : 'segment.open');
    if (i > 0) t.equal(records[0]!.prev_segment, path.basename(segs[i - 1]!));
    t.same(records.slice(-2).map((r) => r.type), ['segment.close', 'checkpoint']);
  }
  const log = fs.readFileSync(path.join(dir, CHECKPOINT_LOG), 'utf8').trim().split('\n');
  t.equal(log.length, segs.length, 'every checkpoint is in checkpoints.log too');
  t.same(verifyAuditDir(dir).findings, []);
});

t.test('age rotation follows the clock', async (t) => {
  const dir = t.testdir();
  let now = Date.parse('2026-01-01T00:00:00.000Z');
  const w = await openWriter(dir, { rotateAgeMs: 60_000, clock: () => new Date(now) });
  await w.append('session.start', { session_id: 'a' }, { sync: true });
  now += 61_000;
  await w.append('session.start', { session_id: 'b' }, { sync: true });
  await w.close();
  const segs = segmentPaths(dir);
  t.equal(segs.length, 2);
  t.equal(readRecords(segs[1]!).find((r) => r.type === 'session.start')!.session_id, 'b');
  t.equal(readRecords(segs[1]!)[0]!.ts, '2026-01-01T00:01:01.000Z');
});

t.test('checkpoints every N records and on the interval; the key is made once, 0600', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir, { checkpointRecords: 10, checkpointIntervalMs: 20 });
  for (let i = 0; i < 25; i++) await w.append('session.start', { session_id: `s${i}` });
  const seg = segmentPaths(dir)[0]!;
  t.ok(readRecords(seg).filter((r) => r.type === 'checkpoint').length >= 2, 'record-count checkpoints');
  // The interval timer signs the 5 records since the last one without any append.
  while (readRecords(seg).at(-1)!.type !== 'checkpoint') await new Promise((r) => setTimeout(r, 10));
  t.equal(readRecords(seg).at(-1)!.type, 'checkpoint');
  await w.close();
  const keyFile = path.join(dir, 'signing-key.pem');
  t.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  const pub = createPublicKey(fs.readFileSync(keyFile, 'utf8'));
  const raw = Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url');
  t.equal(keyIdOf(pub), createHash('sha256').update(raw).digest('hex').slice(0, 8));
  const genesis = readRecords(seg)[0]!;
  t.equal(genesis.key_id, keyIdOf(pub));
  const w2 = await openWriter(dir);
  await w2.close();
  t.equal(readRecords(segmentPaths(dir)[1]!)[0]!.key_id, keyIdOf(pub), 'reopen reuses the key');
  t.same(verifyAuditDir(dir).findings, []);
});

t.test('an instance id that is not a safe file name is refused', async (t) => {
  await t.rejects(openWriter(t.testdir(), { instanceId: '../etc' }), { code: 'AIRLOCK_ERR_CONFIG' });
});

t.test('a record is in its segment file when append returns, before its group commit: a SIGKILL then cannot lose it', async (t) => {
  const dir = t.testdir();
  const w = await openWriter(dir, { groupCommitMs: 60_000, rotateBytes: 1500 });
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 12; i++) {
    // The relay forwards the statement right after this call returns, without awaiting it.
    pending.push(w.append('statement.decided', { session_id: 's', sql: `insert into t values (${i})` }));
    const onDisk = segmentPaths(dir).flatMap(readRecords).filter((r) => r.type === 'statement.decided').map((r) => r.sql);
    t.equal(onDisk.at(-1), `insert into t values (${i})`, `record ${i} is in the file already`);
  }
  let settled = false;
  void Promise.all(pending).then(() => { settled = true; });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(settled, false, 'non-sync appends still wait for their group commit');
  await w.close();
  t.equal(settled, true, 'close makes them durable');
  t.equal(verifyAuditDir(dir).intact, true);
});

t.test('lazy records keep chain order and reach the file with the next write or the next tick', async (t) => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { AuditWriter } = await import('../../../src/audit/writer.js');
  const { verifyAuditDir } = await import('../../../src/audit/verify.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-lazy-'));
  const w = await AuditWriter.open({ dir, instanceId: 'lazy', signingKeyFile: path.join(dir, 'key.pem'), rotateBytes: 1 << 30, rotateAgeMs: 1e9 });
  const read = () => fs.readFileSync(path.join(dir, w.segment), 'utf8');
  const before = read().length;
  const lazyDone = w.append('execution.result', { session_id: 's', outcome: 'ok', n: 1 }, { lazy: true });
  t.equal(read().length, before, 'a lazy record is not written at once');
  void w.append('statement.decided', { session_id: 's', decision: 'allow', n: 2 });
  const lines = read().trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines.slice(-2).map((r) => r.n), [1, 2], 'the next write carries it, in seq order');
  void w.append('execution.result', { session_id: 's', outcome: 'ok', n: 3 }, { lazy: true });
  await new Promise((r) => setImmediate(r));
  t.equal(JSON.parse(read().trim().split('\n').at(-1)!).n, 3, 'or the end of the tick');
  await lazyDone;
  await w.close();
  t.equal(verifyAuditDir(dir).findings.filter((f) => f.severity !== 'info').length, 0);
});

t.test('a second live process cannot write the same instance chain; a dead one\'s lock is taken over', async (t) => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { spawn } = await import('node:child_process');
  const { AuditWriter } = await import('../../../src/audit/writer.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-lock-'));
  const opts = { dir, instanceId: 'locked', signingKeyFile: path.join(dir, 'key.pem'), rotateBytes: 1 << 30, rotateAgeMs: 1e9 };
  // A live process that is not us holds the lock.
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  t.teardown(() => other.kill());
  fs.writeFileSync(path.join(dir, 'locked.lock'), `${other.pid}\n`);
  await t.rejects(AuditWriter.open(opts), { code: 'AIRLOCK_ERR_AUDIT_WRITE', message: /being written by process \d+/ });
  other.kill('SIGKILL');
  await new Promise((r) => other.once('exit', r));
  const w = await AuditWriter.open(opts);
  t.equal(fs.readFileSync(path.join(dir, 'locked.lock'), 'utf8').trim(), String(process.pid), 'the stale lock was taken over');
  await w.close();
  t.notOk(fs.existsSync(path.join(dir, 'locked.lock')), 'released at close');
});
