// The Redis store against the shared store contract, as two replicas on two connections; plus URL forms and fail-fast.

import t from 'tap';
import { Cluster, Redis } from 'ioredis';
import { RedisApprovalStore } from '../../../src/approval/redis-store.js';
import { parseRedisUrl, connectRedis, failFastOptions } from '../../../src/approval/redis-connect.js';
import { runStoreContract } from './store-contract.js';
import { newRequest } from '../../helpers/approval-fixtures.js';
import { REDIS_URL, deleteByPrefix, requireRedis, uniquePrefix } from '../../helpers/redis.js';

const prefix = uniquePrefix('redis-store');

runStoreContract('redis', async () => {
  await requireRedis();
  const a = new RedisApprovalStore({ url: REDIS_URL, prefix });
  const b = new RedisApprovalStore({ url: REDIS_URL, prefix });
  await a.ready();
  await b.ready();
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await deleteByPrefix(prefix);
    },
  };
});

t.test('request keys share a hash tag, so one Cluster slot holds a request', async (t) => {
  await requireRedis();
  const p = uniquePrefix('redis-store-keys');
  const store = new RedisApprovalStore({ url: REDIS_URL, prefix: p });
  t.teardown(async () => {
    await store.close();
    await deleteByPrefix(p);
  });
  await store.ready();
  const req = await store.create(newRequest());
  await store.approve(req.id, { by: 'bob@corp.com', groups: ['dba'], at: Date.now(), via: 'cli' });
  const probe = connectRedis(parseRedisUrl(REDIS_URL), {});
  t.teardown(() => probe.disconnect());
  const keys = (await probe.keys(`${p}*`)).sort();
  t.ok(keys.includes(`${p}{req:${req.id}}`), 'request hash');
  t.ok(keys.includes(`${p}{req:${req.id}}:votes`), 'vote list with the same tag');
  const ttl = await probe.pttl(`${p}{req:${req.id}}`);
  t.ok(ttl > 0, 'request keys expire after the retention period');
});

t.test('store down: commands fail fast with STORE_UNAVAILABLE and available is false', async (t) => {
  const store = new RedisApprovalStore({ url: 'redis://127.0.0.1:1/0', prefix: uniquePrefix('down') });
  t.teardown(() => store.close());
  t.equal(store.available, false);
  await t.rejects(store.create(newRequest()), { code: 'AIRLOCK_ERR_STORE_UNAVAILABLE' });
  await t.rejects(store.get('abc'), { code: 'AIRLOCK_ERR_STORE_UNAVAILABLE' });
  await t.rejects(store.ready(300), { code: 'AIRLOCK_ERR_STORE_UNAVAILABLE' });
});

t.test('URL forms', async (t) => {
  t.same(parseRedisUrl('redis://:pw@10.0.0.1:6380/2'), { kind: 'standalone', url: 'redis://:pw@10.0.0.1:6380/2' });
  t.same(parseRedisUrl('redis+sentinel://:s3cret@s1:26379,s2:26380/mymaster/3'), {
    kind: 'sentinel',
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
    name: 'mymaster',
    db: 3,
    tls: false,
    password: 's3cret',
  });
  t.same(parseRedisUrl('rediss+cluster://app:pw@n1:7000,n2:7001,[::1]:7002'), {
    kind: 'cluster',
    nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }, { host: '::1', port: 7002 }],
    tls: true,
    username: 'app',
    password: 'pw',
  });
  t.throws(() => parseRedisUrl('redis+sentinel://s1:26379'), { code: 'AIRLOCK_ERR_CONFIG' }, 'sentinel needs a master name');
  t.throws(() => parseRedisUrl('http://x'), { code: 'AIRLOCK_ERR_CONFIG' });
  // The right client class for each form (redis-topologies.test.ts runs the store on real ones).
  const sentinel = connectRedis(parseRedisUrl('redis+sentinel://127.0.0.1:1/mymaster'), { ...failFastOptions(), lazyConnect: true });
  t.ok(sentinel instanceof Redis, 'a Redis client in Sentinel mode');
  t.equal((sentinel as { options: { name?: string } }).options.name, 'mymaster');
  sentinel.disconnect();
  const cluster = connectRedis(parseRedisUrl('redis+cluster://127.0.0.1:1,127.0.0.1:2'), { ...failFastOptions(), lazyConnect: true });
  t.ok(cluster instanceof Cluster, 'a Cluster client');
  cluster.disconnect();
});

t.test('redactUrl removes every password form', async (t) => {
  const { redactUrl } = await import('../../../src/approval/redis-store.js');
  t.equal(redactUrl('redis://default:pw@127.0.0.1:6379/0'), 'redis://***@127.0.0.1:6379/0');
  t.equal(redactUrl('redis://:p@ss@h:1/0'), 'redis://***@h:1/0', 'an unescaped @ in the password');
  t.equal(redactUrl('redis+sentinel://u:pw@a:1,b:2/mymaster/0?sentinelPassword=x&db=1'), 'redis+sentinel://***@a:1,b:2/mymaster/0?sentinelPassword=***&db=1');
  t.equal(redactUrl('redis://127.0.0.1:6379/0'), 'redis://127.0.0.1:6379/0', 'nothing to hide');
});
