// airlock daemons whose approval state is a real Redis Cluster (two replicas) or a Redis behind a
// Sentinel: the URL forms load, /readyz sees the store, and a statement held on one replica runs
// after an approval taken on the other.

import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { api, ranMessage, sendHeld } from '../helpers/approval-e2e.js';
import { startClusterTopology, startSentinelTopology } from '../helpers/redis-topology.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query('DROP TABLE IF EXISTS airlock_topo; CREATE TABLE airlock_topo (id int, via text)');
t.teardown(() => direct.query('DROP TABLE IF EXISTS airlock_topo'));

for (const [name, start] of [['cluster', startClusterTopology], ['sentinel', () => startSentinelTopology()]] as const) {
  t.test(`Redis ${name}: held on replica A, approved on replica B, runs on A once`, async (t) => {
    const topology = await start();
    t.teardown(() => topology.stop());
    const a = await startAirlock({ config: { instance_id: `${name}-a`, state: { redis: topology.url } } });
    t.teardown(() => a.stop());
    const b = await startAirlock({ config: { instance_id: `${name}-b`, state: { redis: topology.url } } });
    t.teardown(() => b.stop());

    const ready = await fetch(`${a.adminUrl}/readyz`);
    const body = (await ready.json()) as { checks: { name: string; ok: boolean }[] };
    t.equal(ready.status, 200, 'ready');
    t.ok(body.checks.find((c) => c.name === 'redis')?.ok, 'the redis check passes');

    const alice = new pg.Client(a.pgConfig('alice@corp.com'));
    await alice.connect();
    t.teardown(() => alice.end());
    const { id, result } = await sendHeld(alice, 'INSERT INTO airlock_topo VALUES ($1, $2)', [1, name]);
    const bob = { email: 'bob@corp.com', token: b.tokens['bob@corp.com']! };
    const seen = await api(b.adminUrl, 'GET', `/api/v1/requests/${id}`, bob);
    t.equal(seen.body?.request?.instance_id, `${name}-a`, 'B reads the request A holds');
    const approved = await api(b.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, bob);
    t.equal(approved.status, 200, JSON.stringify(approved.body));
    const res = await result;
    t.notOk(res instanceof Error, ranMessage(res));
    t.same((await direct.query('SELECT id FROM airlock_topo WHERE via = $1', [name])).rows, [{ id: 1 }], 'ran exactly once');
  });
}
