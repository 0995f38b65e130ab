// The broker on the memory store: eligibility, outcomes of a held statement, audit, notifiers, JIT and retry.

import t from 'tap';
import { pino } from 'pino';
import { ApprovalBroker, type ApprovalNotifier, type NewRequestInput } from '../../../src/approval/broker.js';
import { MemoryApprovalStore } from '../../../src/approval/memory-store.js';
import type { ApprovalRequest } from '../../../src/approval/types.js';
import type { ApprovalSpec } from '../../../src/policy/types.js';
import { ClientError } from '../../../src/errors.js';
import { MemoryAudit } from '../../helpers/memory-audit.js';
import { PEOPLE, newRequest, spec, userDirectory } from '../../helpers/approval-fixtures.js';

const users = userDirectory(PEOPLE);
const person = (email: string) => users.get(email)!;

function input(overrides: Partial<ApprovalSpec> = {}, requester = 'alice@corp.com', sql = 'DELETE FROM orders WHERE id = $1'): NewRequestInput {
  const who = person(requester);
  return {
    requester: { email: who.email, groups: who.groups },
    resource: 'orders-prod',
    protocol: 'postgres',
    rule: 'writes-need-dba',
    approval: spec(overrides),
    sql,
    params: ['42'],
    kinds: ['DELETE'],
    tables: ['orders'],
    session_id: 's-1',
  };
}

function setup(t: Parameters<Parameters<typeof t.test>[1]>[0], notifiers: ApprovalNotifier[] = []) {
  const store = new MemoryApprovalStore();
  const audit = new MemoryAudit();
  const broker = new ApprovalBroker({ store, users: () => users, audit, instanceId: 'replica-a', leaseMs: 60_000, log: pino({ level: 'silent' }), notifiers });
  t.teardown(() => broker.close());
  return { store, audit, broker };
}

t.test('eligibility', async (t) => {
  const { broker, audit } = setup(t);

  const own = await broker.open(input({}, 'erin@corp.com'));
  await t.rejects(broker.approve(own.id, person('erin@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_FORBIDDEN' }, 'self-approval refused for an admin in the approver group');
  await t.rejects(broker.deny(own.id, person('erin@corp.com'), 'no', 'cli'), { code: 'AIRLOCK_ERR_FORBIDDEN' }, 'the requester cannot deny either');
  await t.rejects(broker.approve(own.id, person('frank@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_FORBIDDEN' }, 'not in an approver group');
  await t.rejects(broker.approve(own.id, person('olga@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_FORBIDDEN' }, 'disabled user');
  await t.rejects(broker.force(own.id, person('bob@corp.com'), 'incident', 'cli'), { code: 'AIRLOCK_ERR_FORBIDDEN' }, 'approver is not a force approver');
  await t.rejects(broker.force(own.id, person('dave@corp.com'), '  ', 'cli'), { code: 'AIRLOCK_ERR_BAD_REQUEST' }, 'force without a reason');
  t.equal((await broker.get(own.id))?.state, 'pending', 'nothing above changed the request');
  const ok = await broker.approve(own.id, person('bob@corp.com'), 'cli');
  t.equal(ok.outcome, 'approved');
  t.same(audit.ofType('approval.granted').map((r) => r.fields.request_id), [own.id]);
  t.ok(audit.ofType('approval.granted').every((r) => r.sync), 'decision records are fsynced');
  await t.rejects(broker.approve(own.id, person('carol@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_CONFLICT' }, 'no longer pending');
  await t.rejects(broker.approve('zzzzzzzzzzzz', person('carol@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_NOT_FOUND' });

  const two = await broker.open(input({ min_approvals: 2 }));
  t.equal((await broker.approve(two.id, person('bob@corp.com'), 'api')).outcome, 'vote_recorded');
  await t.rejects(broker.approve(two.id, person('bob@corp.com'), 'slack'), { code: 'AIRLOCK_ERR_CONFLICT' }, 'a second click by the same person');
  t.equal((await broker.get(two.id))?.approvals.length, 1);
  t.equal((await broker.approve(two.id, person('carol@corp.com'), 'api')).outcome, 'approved');
});

t.test('break-glass: alone, even on one\'s own request, with a reason, flagged', async (t) => {
  const { broker, audit } = setup(t);
  const own = await broker.open(input({ min_approvals: 3, force_approvers: ['sre-oncall'] }, 'dave@corp.com'));
  const forced = await broker.force(own.id, person('dave@corp.com'), 'prod down, INC-42', 'cli');
  t.equal(forced.outcome, 'forced');
  t.equal(forced.request.state, 'approved');
  t.equal(forced.request.break_glass?.reason, 'prod down, INC-42');
  const used = audit.ofType('breakglass.used');
  t.equal(used.length, 1);
  t.equal(used[0]!.fields.by, 'dave@corp.com');
  t.equal(used[0]!.fields.self, true);
  const due = Date.parse(String(used[0]!.fields.review_due));
  t.ok(due > Date.now() + 6 * 86_400_000 && due <= Date.now() + 7 * 86_400_000, 'review due in 7 days');
  t.match(audit.ofType('approval.granted')[0]!.fields, { break_glass: true });
  t.same((await broker.list({ breakGlass: true })).map((r) => r.id), [own.id]);
});

t.test('wait: approved, then claimed exactly once', async (t) => {
  const { broker } = setup(t);
  const req = await broker.open(input());
  const waiting = broker.wait(req.id, new AbortController().signal);
  await broker.approve(req.id, person('bob@corp.com'), 'slack');
  const outcome = await waiting;
  t.match(outcome, { verdict: 'approved', breakGlass: false });
  t.equal(await broker.claimExecution(req.id), true);
  t.equal(await broker.claimExecution(req.id), false, 'a second run is refused');
});

t.test('wait: denied carries who and why', async (t) => {
  const { broker, audit } = setup(t);
  const req = await broker.open(input());
  const waiting = broker.wait(req.id, new AbortController().signal);
  await broker.deny(req.id, person('carol@corp.com'), 'use the replica', 'api');
  t.match(await waiting, { verdict: 'denied', by: 'carol@corp.com', reason: 'use the replica' });
  t.equal(await broker.claimExecution(req.id), false);
  t.match(audit.ofType('approval.denied')[0]?.fields, { by: 'carol@corp.com', reason: 'use the replica' });
});

t.test('wait: expiry after the rule timeout', async (t) => {
  const { broker, audit, store } = setup(t);
  const req = await broker.open(input({ timeout_ms: 150 }));
  t.match(await broker.wait(req.id, new AbortController().signal), { verdict: 'expired' });
  t.equal((await store.get(req.id))?.state, 'expired');
  t.equal(audit.ofType('approval.expired').length, 1);
  await t.rejects(broker.approve(req.id, person('bob@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_CONFLICT' }, 'an expired request cannot be approved');
});

t.test('wait: abort cancels', async (t) => {
  const { broker, store, audit } = setup(t);
  const req = await broker.open(input());
  const ac = new AbortController();
  const waiting = broker.wait(req.id, ac.signal);
  ac.abort();
  t.match(await waiting, { verdict: 'cancelled' });
  t.equal((await store.get(req.id))?.state, 'cancelled');
  t.equal(audit.ofType('approval.cancelled').length, 1);
  const late = await broker.open(input());
  const pre = new AbortController();
  pre.abort();
  t.match(await broker.wait(late.id, pre.signal), { verdict: 'cancelled' }, 'already aborted signal');
});

t.test('open: audit failure refuses the hold; notifier failures never do', async (t) => {
  const seen: string[] = [];
  const notifiers: ApprovalNotifier[] = [
    { opened: () => { throw new Error('slack down'); }, changed: () => Promise.reject(new Error('slack down')) },
    { opened: (r) => void seen.push(`opened:${r.id}`), changed: (r) => void seen.push(`changed:${r.state}`) },
  ];
  const { broker, audit, store } = setup(t, notifiers);
  const req = await broker.open(input());
  t.match(audit.ofType('request.held')[0], { sync: true, fields: { request_id: req.id, rule: 'writes-need-dba' } });
  await broker.approve(req.id, person('bob@corp.com'), 'cli');
  t.same(seen, [`opened:${req.id}`, 'changed:approved']);

  audit.failing = true;
  const err = await broker.open(input()).catch((e: unknown) => e);
  t.ok(err instanceof ClientError, 'a client error');
  t.equal((err as ClientError).sqlstate, '58030');
  t.ok((await store.list({ states: ['cancelled'] })).length === 1, 'the orphan request is cancelled');
});

t.test('store unavailable: open fails at once with 57P03', async (t) => {
  const store = new MemoryApprovalStore();
  Object.defineProperty(store, 'available', { value: false });
  const broker = new ApprovalBroker({ store, users: () => users, audit: new MemoryAudit(), instanceId: 'x', leaseMs: 60_000, log: pino({ level: 'silent' }) });
  t.teardown(() => broker.close());
  const err = (await broker.open(input()).catch((e: unknown) => e)) as ClientError;
  t.ok(err instanceof ClientError);
  t.equal(err.sqlstate, '57P03');
  t.equal(err.mysqlErrno, 1053);
  t.match(err.message, /^approval store unavailable: /);
});

t.test('JIT: approval opens a window; access requests have no statement', async (t) => {
  const { broker } = setup(t);
  const held = await broker.open(input({ mode: 'jit', jit_duration_ms: 30 * 60_000 }));
  t.equal(await broker.findJitGrant('alice@corp.com', 'orders-prod', 'writes-need-dba'), undefined);
  await broker.approve(held.id, person('bob@corp.com'), 'cli');
  const grant = await broker.findJitGrant({ email: 'ALICE@corp.com', groups: [] }, 'orders-prod', 'writes-need-dba');
  t.ok(grant, 'grant created on approval');
  t.ok(grant!.expires_at - grant!.granted_at === 30 * 60_000, 'for the rule duration');
  t.equal(await broker.findJitGrant('alice@corp.com', 'orders-prod', 'other-rule'), undefined);

  const access = await broker.requestAccess(person('frank@corp.com'), { resource: 'orders-prod', protocol: 'postgres', rule: 'jit-rule', approval: spec({ mode: 'jit', jit_duration_ms: 3_600_000 }), durationMs: 600_000, reason: 'migration' });
  t.equal(access.sql, '');
  t.equal(access.state, 'pending');
  t.equal(access.lease_until, access.expires_at, 'nobody waits on it, so it is not abandoned early');
  await broker.approve(access.id, person('bob@corp.com'), 'api');
  const window = (await broker.listAccess()).find((g) => g.request_id === access.id);
  t.equal(window?.expires_at! - window?.granted_at!, 600_000, 'the requested duration');
  t.equal(await broker.revokeAccess(window!.id, person('bob@corp.com')), true);
  t.equal(await broker.findJitGrant('frank@corp.com', 'orders-prod', 'jit-rule'), undefined, 'revoked');
});

t.test('hold: retry — the same statement runs once after approval', async (t) => {
  const { broker } = setup(t);
  const req = await broker.open(input({ hold: 'retry' }));
  t.equal(await broker.findApprovedForRetry(req.binding), undefined, 'not yet approved');
  await broker.approve(req.id, person('bob@corp.com'), 'cli');
  const other = await broker.open(input({ hold: 'retry' }, 'alice@corp.com', 'DELETE FROM orders'));
  await broker.approve(other.id, person('bob@corp.com'), 'cli');
  const found = await broker.findApprovedForRetry(req.binding);
  t.equal(found?.id, req.id, 'found by binding');
  t.equal(await broker.claimExecution(found!.id), true);
  t.equal(await broker.findApprovedForRetry(req.binding), undefined, 'used up');
});

t.test('sweep: abandoned and overdue requests of other replicas', async (t) => {
  const { broker, store, audit } = setup(t);
  const now = Date.now();
  const dead: ApprovalRequest = await store.create(newRequest({ instance_id: 'replica-dead', lease_until: now - 1 }));
  const overdue = await store.create(newRequest({ instance_id: 'replica-b', expires_at: now - 1, lease_until: now + 60_000 }));
  const mine = await broker.open(input());
  const waiting = broker.wait(mine.id, new AbortController().signal);
  await broker.sweep();
  t.equal((await store.get(dead.id))?.state, 'abandoned');
  t.equal((await store.get(overdue.id))?.state, 'expired');
  t.equal((await store.get(mine.id))?.state, 'pending', 'a live, renewed request is untouched');
  t.ok((await store.get(mine.id))!.lease_until > mine.lease_until - 1, 'lease renewed');
  t.equal(audit.ofType('approval.abandoned').length, 1);
  await broker.deny(mine.id, person('bob@corp.com'), 'no', 'cli');
  t.match(await waiting, { verdict: 'denied' });
});

t.test('a waiter is released only after the decision records are written, however slow the fsync', async (t) => {
  // The store announces the transition at once; the audit write that follows takes a while, like an fsync.
  class SlowAudit extends MemoryAudit {
    override async append(type: Parameters<MemoryAudit['append']>[0], fields: Parameters<MemoryAudit['append']>[1], opts?: { sync?: boolean }): Promise<void> {
      if (type !== 'request.held') await new Promise((resolve) => setTimeout(resolve, 20));
      return super.append(type, fields, opts);
    }
  }
  const store = new MemoryApprovalStore();
  const audit = new SlowAudit();
  const broker = new ApprovalBroker({ store, users: () => users, audit, instanceId: 'replica-a', leaseMs: 60_000, log: pino({ level: 'silent' }) });
  t.teardown(() => broker.close());
  const decisions: Array<[string, (id: string) => Promise<unknown>, string[]]> = [
    ['approve', (id) => broker.approve(id, person('bob@corp.com'), 'cli'), ['approval.vote', 'approval.granted']],
    ['force', (id) => broker.force(id, person('dave@corp.com'), 'incident 12', 'cli'), ['breakglass.used', 'approval.granted']],
    ['deny', (id) => broker.deny(id, person('bob@corp.com'), 'no', 'cli'), ['approval.denied']],
  ];
  for (const [name, decide, types] of decisions) {
    const req = await broker.open(input());
    const waited = broker.wait(req.id, new AbortController().signal).then((outcome) => ({
      outcome, recorded: audit.records.filter((r) => r.fields.request_id === req.id).map((r) => r.type),
    }));
    await decide(req.id);
    const { outcome, recorded } = await waited;
    t.equal(outcome.verdict, name === 'deny' ? 'denied' : 'approved', `${name}: outcome`);
    for (const type of types) t.ok(recorded.includes(type as never), `${name}: ${type} was written before the waiter was released (had: ${recorded.join(', ')})`);
  }
});
