// The Redis store on real Sentinel and Cluster deployments (private redis-server processes): the
// same store contract as standalone Redis, so redis+sentinel:// and redis+cluster:// URLs work and
// every multi-key script stays within one Cluster slot.

import t from 'tap';
import { RedisApprovalStore } from '../../../src/approval/redis-store.js';
import { runStoreContract } from './store-contract.js';
import { startClusterTopology, startSentinelTopology, type Topology } from '../../helpers/redis-topology.js';

function pairOn(start: () => Promise<Topology>) {
  return async () => {
    const topology = await start();
    const a = new RedisApprovalStore({ url: topology.url, prefix: 'contract:' });
    const b = new RedisApprovalStore({ url: topology.url, prefix: 'contract:' });
    try {
      await a.ready(10_000);
      await b.ready(10_000);
    } catch (err) {
      await Promise.all([a.close(), b.close()]);
      await topology.stop();
      throw err;
    }
    return {
      a,
      b,
      async close() {
        await a.close();
        await b.close();
        await topology.stop();
      },
    };
  };
}

runStoreContract('redis sentinel', pairOn(() => startSentinelTopology()));
runStoreContract('redis cluster', pairOn(() => startClusterTopology()));

t.test('the Sentinel URL names the master it follows', async (t) => {
  const topology = await startSentinelTopology('othermaster');
  t.teardown(() => topology.stop());
  t.match(topology.url, /^redis\+sentinel:\/\/127\.0\.0\.1:\d+\/othermaster\/0$/);
  const store = new RedisApprovalStore({ url: topology.url.replace('othermaster', 'nosuchmaster'), prefix: 'x:' });
  t.teardown(() => store.close());
  await t.rejects(store.ready(1500), { code: 'AIRLOCK_ERR_STORE_UNAVAILABLE' }, 'an unknown master name is a store outage, not a hang');
});
