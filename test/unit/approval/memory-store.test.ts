// The in-memory store against the shared store contract.

import { MemoryApprovalStore } from '../../../src/approval/memory-store.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('memory', async () => {
  const store = new MemoryApprovalStore();
  return { a: store, b: store, close: () => store.close() };
});
