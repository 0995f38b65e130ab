// An approval and the client's Ctrl-C or disconnect at the same moment, in every order the gate can see
// them: the request always ends final (cancelled, or executed only when the statement is handed to the
// relay), with its audit record, and an unused approval can never run later. On both stores.

import t, { type Test } from 'tap';
import { pino } from 'pino';
import { ApprovalBroker } from '../../../src/approval/broker.js';
import { MemoryApprovalStore } from '../../../src/approval/memory-store.js';
import { RedisApprovalStore } from '../../../src/approval/redis-store.js';
import type { ApprovalRequest, ApprovalStore, TransitionOutcome } from '../../../src/approval/types.js';
import type { AuditFields, AuditType } from '../../../src/audit/types.js';
import { AirlockError } from '../../../src/errors.js';
import type { Policy, ResourceSpec } from '../../../src/policy/types.js';
import { StatementGate, type GateBroker, type GateDeps, type GateResult, type SessionIdentity, type Verdict } from '../../../src/session/gate.js';
import { MemoryAudit } from '../../helpers/memory-audit.js';
import { PEOPLE, spec, userDirectory } from '../../helpers/approval-fixtures.js';
import { REDIS_URL, deleteByPrefix, requireRedis, uniquePrefix } from '../../helpers/redis.js';

type Tap = Test;
type Step = (call: () => Promise<TransitionOutcome>) => Promise<TransitionOutcome>;

const users = userDirectory(PEOPLE);
const bob = users.get('bob@corp.com')!;
const prefix = uniquePrefix('approve-cancel-race');

const SESSION: SessionIdentity = {
  sessionId: 's-race',
  requester: { email: 'alice@corp.com', groups: ['dev'] },
  resource: { name: 'orders-prod', protocol: 'postgres', host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' } as ResourceSpec,
  protocol: 'postgres',
  clientAddr: '127.0.0.1:50000',
};
const SQL = 'DELETE FROM orders WHERE id = 7';
const VERDICT: Verdict = {
  classification: { statements: [{ kind: 'DELETE', writes: true, tables: ['orders'] }] },
  decision: { action: 'hold', source: 'default', reason: 'test', approval: spec() },
};

/** Holds one step of the code under test until the test has made its own move. */
function latch() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  return { open, opened, reached, arrived };
}

class LatchedAudit extends MemoryAudit {
  private readonly latches = new Map<AuditType, ReturnType<typeof latch>>();
  failOn: AuditType | undefined;

  /** The next append of this type waits (like a slow fsync) until the latch is opened. */
  hold(type: AuditType): ReturnType<typeof latch> {
    const l = latch();
    this.latches.set(type, l);
    return l;
  }

  override async append(type: AuditType, fields: AuditFields, opts?: { sync?: boolean }): Promise<void> {
    const l = this.latches.get(type);
    if (l) {
      this.latches.delete(type);
      l.reached();
      await l.opened;
    }
    if (type === this.failOn) throw new Error('disk full (test)');
    return super.append(type, fields, opts);
  }

  typesFor(id: string): string[] {
    return this.records.filter((r) => r.fields.request_id === id).map((r) => r.type);
  }
}

interface Harness {
  readonly store: ApprovalStore;
  readonly broker: ApprovalBroker;
  readonly audit: LatchedAudit;
  /** Steps put around the broker's own store calls. */
  readonly steps: Partial<Record<'markExecuted' | 'withdraw', Step>>;
  gate(broker?: GateBroker): StatementGate;
}

async function harness(t: Tap, makeStore: () => Promise<{ store: ApprovalStore; close(): Promise<void> }>): Promise<Harness> {
  const { store, close } = await makeStore();
  const steps: Harness['steps'] = {};
  const seen = new Proxy(store, {
    get(target, prop) {
      const step = steps[prop as keyof typeof steps];
      if (step) return (id: string, ...rest: string[]) => step(() => (target[prop as keyof typeof steps] as (...a: string[]) => Promise<TransitionOutcome>).call(target, id, ...rest));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const audit = new LatchedAudit();
  const broker = new ApprovalBroker({ store: seen, users: () => users, audit, instanceId: 'replica-a', leaseMs: 60_000, log: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await broker.close();
    await close();
  });
  const unused = () => {
    throw new Error('not used by hold');
  };
  const gate = (b: GateBroker = broker) =>
    new StatementGate({ classify: unused, policy: () => ({}) as Policy, evaluate: unused, broker: b, audit, acceptingHolds: () => true } as GateDeps);
  return { store, broker, audit, steps, gate };
}

function hold(gate: StatementGate, signal: AbortSignal): { held: Promise<ApprovalRequest>; result: Promise<GateResult> } {
  let onHeld!: (req: ApprovalRequest) => void;
  const held = new Promise<ApprovalRequest>((resolve) => (onHeld = resolve));
  return { held, result: gate.hold(SESSION, SQL, [], VERDICT, { signal, onHeld }) };
}

/** The request ended cancelled, once, audited after the approval, and can never be claimed. */
async function endsCancelled(t: Tap, h: Harness, result: GateResult, id: string, reason: RegExp): Promise<void> {
  t.match(result, { run: false, error: { sqlstate: '57014', message: /canceling statement due to user request/ } }, 'the client is told it did not run');
  t.equal((await h.store.get(id))?.state, 'cancelled', 'the request ends cancelled');
  const cancelled = h.audit.ofType('approval.cancelled').filter((r) => r.fields.request_id === id);
  t.equal(cancelled.length, 1, 'one approval.cancelled record');
  t.match(cancelled[0]?.fields.reason, reason);
  const types = h.audit.typesFor(id);
  t.ok(types.indexOf('approval.granted') < types.indexOf('approval.cancelled'), `granted is recorded before cancelled (${types.join(', ')})`);
  t.equal(await h.broker.claimExecution(id), false, 'the approval can never run later');
}

const stores: Array<[string, () => Promise<{ store: ApprovalStore; close(): Promise<void> }>]> = [
  ['memory', async () => {
    const store = new MemoryApprovalStore();
    return { store, close: () => store.close() };
  }],
  ['redis', async () => {
    await requireRedis();
    const store = new RedisApprovalStore({ url: REDIS_URL, prefix });
    await store.ready();
    return { store, close: () => store.close() };
  }],
];

t.teardown(() => deleteByPrefix(prefix));

for (const [name, makeStore] of stores) {
  t.test(`${name}: the approval is stored, then the client cancels before its waiter is released`, async (t) => {
    const h = await harness(t, makeStore);
    const ac = new AbortController();
    const { held, result } = hold(h.gate(), ac.signal);
    const req = await held;
    // The waiter is released only after the approval's records are written: Ctrl-C lands in between.
    const granted = h.audit.hold('approval.granted');
    const approving = h.broker.approve(req.id, bob, 'slack');
    await granted.arrived;
    t.equal((await h.store.get(req.id))?.state, 'approved');
    ac.abort();
    granted.open();
    t.equal((await approving).outcome, 'approved', 'the approver saw the approval taken');
    await endsCancelled(t, h, await result, req.id, /client cancelled or disconnected/);
    t.notOk(h.audit.typesFor(req.id).includes('execution.intent'));
  });

  t.test(`${name}: the waiter is released with the approval, then the client leaves before the claim`, async (t) => {
    const h = await harness(t, makeStore);
    const ac = new AbortController();
    const broker: GateBroker = {
      open: (input) => h.broker.open(input),
      wait: async (id, signal) => {
        const outcome = await h.broker.wait(id, signal);
        ac.abort();
        return outcome;
      },
      claimExecution: (id) => h.broker.claimExecution(id),
      withdraw: (id, reason) => h.broker.withdraw(id, reason),
      findJitGrant: (...a) => h.broker.findJitGrant(...a),
      findApprovedForRetry: (b) => h.broker.findApprovedForRetry(b),
    };
    const { held, result } = hold(h.gate(broker), ac.signal);
    const req = await held;
    await h.broker.approve(req.id, bob, 'cli');
    await endsCancelled(t, h, await result, req.id, /after the approval, before the statement was forwarded/);
    t.notOk(h.audit.typesFor(req.id).includes('execution.intent'), 'no intent: nothing was about to run');
  });

  t.test(`${name}: the claim reaches the store, then the client leaves before its reply`, async (t) => {
    const h = await harness(t, makeStore);
    const ac = new AbortController();
    h.steps.markExecuted = async (call) => {
      const outcome = await call();
      ac.abort();
      return outcome;
    };
    const { held, result } = hold(h.gate(), ac.signal);
    const req = await held;
    await h.broker.approve(req.id, bob, 'api');
    await endsCancelled(t, h, await result, req.id, /before the statement was forwarded/);
  });

  t.test(`${name}: the client leaves while the intent record is written`, async (t) => {
    const h = await harness(t, makeStore);
    const ac = new AbortController();
    const intent = h.audit.hold('execution.intent');
    const { held, result } = hold(h.gate(), ac.signal);
    const req = await held;
    await h.broker.approve(req.id, bob, 'api');
    await intent.arrived;
    ac.abort();
    intent.open();
    await endsCancelled(t, h, await result, req.id, /before the statement was forwarded/);
    const types = h.audit.typesFor(req.id);
    t.ok(types.indexOf('execution.intent') < types.indexOf('approval.cancelled'), 'the intent is followed by the cancellation');
  });

  t.test(`${name}: the client cancels first, then the approval comes`, async (t) => {
    const h = await harness(t, makeStore);
    const ac = new AbortController();
    const { held, result } = hold(h.gate(), ac.signal);
    const req = await held;
    ac.abort();
    t.match(await result, { run: false, error: { sqlstate: '57014' } });
    await t.rejects(h.broker.approve(req.id, bob, 'slack'), { code: 'AIRLOCK_ERR_CONFLICT', message: /is cancelled/ });
    t.equal((await h.store.get(req.id))?.state, 'cancelled');
    t.equal(h.audit.ofType('approval.cancelled').length, 1);
    t.equal(await h.broker.claimExecution(req.id), false);
  });

  t.test(`${name}: handed to the relay before the client left: executed, and a late cancel changes nothing`, async (t) => {
    const h = await harness(t, makeStore);
    const ac = new AbortController();
    const { held, result } = hold(h.gate(), ac.signal);
    const req = await held;
    await h.broker.approve(req.id, bob, 'slack');
    t.match(await result, { run: true, requestId: req.id });
    ac.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal((await h.store.get(req.id))?.state, 'executed');
    t.same(h.audit.typesFor(req.id).filter((type) => type === 'execution.intent' || type === 'approval.cancelled'), ['execution.intent']);
  });

  t.test(`${name}: the claim's reply is lost to a store failure: cancelled once the store answers`, async (t) => {
    const h = await harness(t, makeStore);
    const down = () => new AirlockError('AIRLOCK_ERR_STORE_UNAVAILABLE', 'approval store unavailable: connection lost (test)');
    h.steps.markExecuted = async (call) => {
      await call();
      throw down();
    };
    let failures = 1;
    h.steps.withdraw = async (call) => {
      if (failures-- > 0) throw down();
      return call();
    };
    const { held, result } = hold(h.gate(), new AbortController().signal);
    const req = await held;
    await h.broker.approve(req.id, bob, 'api');
    t.match(await result, { run: false, error: { sqlstate: '57P03' } });
    t.equal((await h.store.get(req.id))?.state, 'executed', 'the store took the claim; the statement never went up');
    await h.broker.sweep();
    t.equal((await h.store.get(req.id))?.state, 'cancelled', 'handed back at the next sweep');
    t.match(h.audit.ofType('approval.cancelled').find((r) => r.fields.request_id === req.id)?.fields, { reason: /store failed while the statement was being claimed/ });
  });

  t.test(`${name}: the intent record cannot be written: the approval is not left behind`, async (t) => {
    const h = await harness(t, makeStore);
    h.audit.failOn = 'execution.intent';
    const { held, result } = hold(h.gate(), new AbortController().signal);
    const req = await held;
    await h.broker.approve(req.id, bob, 'api');
    t.match(await result, { run: false, error: { sqlstate: '58030' } });
    t.equal((await h.store.get(req.id))?.state, 'cancelled');
    t.match(h.audit.ofType('approval.cancelled').find((r) => r.fields.request_id === req.id)?.fields, { reason: /audit log could not be written/ });
  });

  t.test(`${name}: a client gone before its statement is held opens no request`, async (t) => {
    const h = await harness(t, makeStore);
    const ac = new AbortController();
    ac.abort();
    const before = (await h.store.list()).length;
    t.match(await h.gate().hold(SESSION, SQL, [], VERDICT, { signal: ac.signal, onHeld: () => t.fail('held') }), { run: false, error: { sqlstate: '57014' } });
    t.equal((await h.store.list()).length, before);
  });
}
