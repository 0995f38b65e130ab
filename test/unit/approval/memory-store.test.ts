// The in-memory store against the shared store contract.

import { MemoryApprovalStore } from '../../../src/approval/memory-store.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('memory', async () => {
  const store = new MemoryApprovalStore();
  return { a: store, b: store, close: () => store.close() };
});

import t from 'tap';
import { newRequest } from '../../helpers/approval-fixtures.js';

t.test('memory: finished requests are dropped after the retention period, pending ones never', async (t) => {
  const store = new MemoryApprovalStore(0);
  const now = Date.now();
  const done = await store.create(newRequest({ expires_at: now - 10 }));
  await store.finish(done.id, 'expired', 'timeout');
  const waiting = await store.create(newRequest({ expires_at: now - 10, lease_until: now + 60_000 }));
  await store.reapAbandoned(now);
  t.equal(await store.get(done.id), undefined, 'finished and past retention: gone');
  t.equal((await store.get(waiting.id))?.state, 'pending', 'still pending: kept');
});
