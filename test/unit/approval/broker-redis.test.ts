// The broker on Redis: two replicas on two connections, Redis down, and recovery after it comes back.

import t from 'tap';
import { pino } from 'pino';
import { ApprovalBroker, type NewRequestInput } from '../../../src/approval/broker.js';
import { RedisApprovalStore } from '../../../src/approval/redis-store.js';
import { ClientError } from '../../../src/errors.js';
import { MemoryAudit } from '../../helpers/memory-audit.js';
import { PEOPLE, spec, userDirectory } from '../../helpers/approval-fixtures.js';
import { REDIS_URL, deleteByPrefix, requireRedis, uniquePrefix } from '../../helpers/redis.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';

const users = userDirectory(PEOPLE);
const person = (email: string) => users.get(email)!;
const prefix = uniquePrefix('broker-redis');

function input(): NewRequestInput {
  return {
    requester: { email: 'alice@corp.com', groups: ['dev'] },
    resource: 'orders-prod',
    protocol: 'mysql',
    rule: 'writes-need-dba',
    approval: spec(),
    sql: 'DELETE FROM orders WHERE id = ?',
    params: ['7'],
    kinds: ['DELETE'],
    tables: ['orders'],
    session_id: 's-9',
  };
}

async function until(what: string, check: () => boolean): Promise<void> {
  // Waits for a condition without asserting on how long it took.
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!check()) throw new Error(`gave up waiting for ${what}`);
}

function replica(t: Parameters<Parameters<typeof t.test>[1]>[0], url: string, instanceId: string) {
  const store = new RedisApprovalStore({ url, prefix });
  const broker = new ApprovalBroker({ store, users: () => users, audit: new MemoryAudit(), instanceId, leaseMs: 3000, log: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await broker.close();
    await store.close();
  });
  return { store, broker };
}

t.before(requireRedis);
t.teardown(() => deleteByPrefix(prefix));

t.test('a decision taken on replica B wakes the client waiting on replica A', async (t) => {
  const a = replica(t, REDIS_URL, 'replica-a');
  const b = replica(t, REDIS_URL, 'replica-b');
  await a.store.ready();
  await b.store.ready();
  const req = await a.broker.open(input());
  const waiting = a.broker.wait(req.id, new AbortController().signal);
  const decided = await b.broker.approve(req.id, person('bob@corp.com'), 'slack');
  t.equal(decided.outcome, 'approved');
  t.match(await waiting, { verdict: 'approved' });
  const claims = await Promise.all([a.broker.claimExecution(req.id), b.broker.claimExecution(req.id)]);
  t.same(claims.filter(Boolean).length, 1, 'exactly one replica may run it');

  const denied = await a.broker.open(input());
  const waitDeny = a.broker.wait(denied.id, new AbortController().signal);
  await b.broker.deny(denied.id, person('carol@corp.com'), 'wrong table', 'api');
  t.match(await waitDeny, { verdict: 'denied', by: 'carol@corp.com', reason: 'wrong table' });
});

t.test('Redis unreachable: open() refuses at once with 57P03', async (t) => {
  const store = new RedisApprovalStore({ url: 'redis://127.0.0.1:1/0', prefix });
  const broker = new ApprovalBroker({ store, users: () => users, audit: new MemoryAudit(), instanceId: 'x', leaseMs: 3000, log: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await broker.close();
    await store.close();
  });
  const err = (await broker.open(input()).catch((e: unknown) => e)) as ClientError;
  t.ok(err instanceof ClientError, 'a client error');
  t.equal(err.sqlstate, '57P03');
  t.equal(err.mysqlErrno, 1053);
  t.match(err.message, /approval store unavailable/);
  await t.rejects(broker.approve('abcdefghjkmn', person('bob@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_STORE_UNAVAILABLE' }, 'deciders get the typed error');
});

t.test('Redis goes away and comes back: fail fast meanwhile, reconnect alone, catch up on missed decisions', async (t) => {
  const proxy = new TcpProxy(6379);
  t.teardown(() => proxy.close());
  const port = await proxy.start();
  const changes: boolean[] = [];
  const store = new RedisApprovalStore({ url: `redis://127.0.0.1:${port}/0`, prefix, onAvailabilityChange: (up) => changes.push(up) });
  const broker = new ApprovalBroker({ store, users: () => users, audit: new MemoryAudit(), instanceId: 'replica-p', leaseMs: 3000, log: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await broker.close();
    await store.close();
  });
  const direct = replica(t, REDIS_URL, 'replica-direct');
  await store.ready();
  await direct.store.ready();

  const req = await broker.open(input());
  const waiting = broker.wait(req.id, new AbortController().signal);

  await proxy.cut();
  await until('the store to notice', () => !store.available);
  const err = (await broker.open(input()).catch((e: unknown) => e)) as ClientError;
  t.equal(err.sqlstate, '57P03', 'held statements fail at once while Redis is away');

  // Decided while replica P cannot hear the pub/sub message.
  await direct.broker.approve(req.id, person('bob@corp.com'), 'cli');

  await proxy.start();
  await until('the store to reconnect', () => store.available);
  t.same(changes.slice(0, 3), [true, false, true], 'availability went up, down, up (for logs and metrics)');
  t.match(await waiting, { verdict: 'approved' }, 'the missed decision reached the waiting client');
  const again = await broker.open(input());
  t.equal(again.state, 'pending', 'holds work again');
});

t.test('a replica that dies leaves its pending requests abandoned for good', async (t) => {
  const dying = replica(t, REDIS_URL, 'replica-dying');
  const survivor = replica(t, REDIS_URL, 'replica-survivor');
  await dying.store.ready();
  await survivor.store.ready();
  const req = await dying.broker.open(input());
  void dying.broker.wait(req.id, new AbortController().signal);
  await dying.broker.close(); // stops renewing: the lease (3 s) runs out
  await until('the lease to run out', () => Date.now() > req.lease_until + 10);
  // sweep() returns at once while the survivor's own periodic sweep (which may predate the lease end) runs: retry.
  for (let i = 0; i < 100 && (await survivor.store.get(req.id))?.state !== 'abandoned'; i++) {
    await survivor.broker.sweep();
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal((await survivor.store.get(req.id))?.state, 'abandoned');
  await t.rejects(survivor.broker.approve(req.id, person('bob@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_CONFLICT' }, 'it can never run later');
});
