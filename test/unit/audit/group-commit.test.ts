// Group commit: lazy records share one fdatasync per interval even under steady traffic; an urgent
// record (or a drain) is made durable at once, taking everything written before it along.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { GroupCommit, type WrittenRecord } from '../../../src/audit/group-commit.js';
import type { AuditRecord } from '../../../src/audit/chain.js';

const record = (seq: number) => ({ seq, type: 'statement.decided' }) as unknown as AuditRecord;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(t: Parameters<Parameters<typeof t.test>[1]>[0], groupCommitMs: number) {
  const fd = fs.openSync(path.join(t.testdir({}), 'segment.jsonl'), 'a');
  const batches: number[][] = [];
  const duringSync: Array<() => void> = [];
  const commit = new GroupCommit({
    groupCommitMs,
    healthy: () => true,
    beforeSync: () => {},
    afterSync: async (batch: readonly WrittenRecord[]) => {
      batches.push(batch.map((b) => b.record.seq));
      for (const arrive of duringSync.splice(0)) arrive();
    },
    onFailure: (err) => { throw err; },
  });
  t.teardown(() => { commit.stop(); fs.closeSync(fd); });
  let seq = 0;
  const settled = new Set<number>();
  const add = (sync: boolean) => {
    const s = ++seq;
    void commit.track(record(s), `{"seq":${s}}\n`, fd, sync).then(() => settled.add(s));
    return s;
  };
  return { commit, batches, add, settled, duringSync };
}

t.test('records arriving during a sync wait for the interval instead of syncing back to back', async (t) => {
  const { batches, add, settled, duringSync } = setup(t, 60_000);
  duringSync.push(() => { add(false); add(false); }); // steady traffic: records land while a sync runs
  add(true); // urgent: synced at once
  for (let i = 0; i < 50 && settled.size === 0; i++) await tick(10);
  await tick(100);
  t.same(batches, [[1]], 'lazy records are not synced before the group-commit interval');
  t.notOk(settled.has(2) || settled.has(3), 'and their promises are still pending');
  add(true);
  for (let i = 0; i < 50 && !settled.has(4); i++) await tick(10);
  t.same(batches, [[1], [2, 3, 4]], 'an urgent record takes the waiting ones along in one sync');
});

t.test('drain makes everything durable without waiting for the interval', async (t) => {
  const { commit, batches, add } = setup(t, 60_000);
  add(false);
  add(false);
  await commit.drain();
  t.same(batches, [[1, 2]]);
});

t.test('lazy records alone are synced after the interval', async (t) => {
  const { batches, add, settled } = setup(t, 20);
  add(false);
  for (let i = 0; i < 100 && !settled.has(1); i++) await tick(10);
  t.same(batches, [[1]]);
});
