// Regression: a client waiting on a held statement while Redis stays away longer than the grace period is told, not left hanging.

import t from 'tap';
import { pino } from 'pino';
import { ApprovalBroker, type NewRequestInput } from '../../../src/approval/broker.js';
import { RedisApprovalStore } from '../../../src/approval/redis-store.js';
import { MemoryAudit } from '../../helpers/memory-audit.js';
import { PEOPLE, spec, userDirectory } from '../../helpers/approval-fixtures.js';
import { deleteByPrefix, requireRedis, uniquePrefix } from '../../helpers/redis.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';

const users = userDirectory(PEOPLE);
const prefix = uniquePrefix('broker-store-outage');

function input(): NewRequestInput {
  return {
    requester: { email: 'alice@corp.com', groups: ['dev'] },
    resource: 'orders-prod',
    protocol: 'postgres',
    rule: 'writes-need-dba',
    approval: spec(),
    sql: 'DELETE FROM orders WHERE id = $1',
    params: ['7'],
    kinds: ['DELETE'],
    tables: ['orders'],
    session_id: 's-outage',
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

t.before(requireRedis);
t.teardown(() => deleteByPrefix(prefix));

t.test('outage past the grace period: the waiter gets unavailable, and the request is cancelled once Redis is back', async (t) => {
  const proxy = new TcpProxy(6379);
  t.teardown(() => proxy.close());
  const port = await proxy.start();
  const store = new RedisApprovalStore({ url: `redis://127.0.0.1:${port}/0`, prefix });
  const audit = new MemoryAudit();
  const broker = new ApprovalBroker({ store, users: () => users, audit, instanceId: 'replica-o', leaseMs: 3000, storeGraceMs: 300, log: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await broker.close();
    await store.close();
  });
  await store.ready();
  const req = await broker.open(input());
  const waiting = broker.wait(req.id, new AbortController().signal);

  await proxy.cut();
  const outcome = await waiting;
  t.match(outcome, { verdict: 'unavailable', message: new RegExp(`unreachable for more than 300 ms while request ${req.id} waited`) });

  await proxy.start();
  await until('the store to reconnect', () => store.available);
  await until('the given-up request to be cancelled', async () => (await store.get(req.id))?.state === 'cancelled');
  t.match(await store.get(req.id), { final_reason: 'the approval store was unreachable while the statement waited' });
  await t.rejects(broker.approve(req.id, users.get('bob@corp.com')!, 'cli'), { code: 'AIRLOCK_ERR_CONFLICT' }, 'it can never run later');
});
