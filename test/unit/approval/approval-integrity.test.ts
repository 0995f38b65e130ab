// The holder re-checks the votes behind an approval before running it (a state written straight into the
// store must not run anything), and audit: { params: redact } hides values from the audit log, not from approvers.

import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { ApprovalBroker, type ApprovalMetrics, type NewRequestInput, type RequestOutcome } from '../../../src/approval/broker.js';
import { MemoryApprovalStore } from '../../../src/approval/memory-store.js';
import { RedisApprovalStore } from '../../../src/approval/redis-store.js';
import { approvalFlaw } from '../../../src/approval/threshold.js';
import type { ApprovalRequest, ApprovalVote } from '../../../src/approval/types.js';
import { approvalMessage } from '../../../src/approval/slack/message.js';
import { ClientError } from '../../../src/errors.js';
import type { ApprovalSpec } from '../../../src/policy/types.js';
import { MemoryAudit } from '../../helpers/memory-audit.js';
import { PEOPLE, newRequest, spec, userDirectory, vote } from '../../helpers/approval-fixtures.js';
import { REDIS_URL, deleteByPrefix, requireRedis, uniquePrefix } from '../../helpers/redis.js';

const users = userDirectory(PEOPLE);
const person = (email: string) => users.get(email)!;
const never = () => new AbortController().signal;

function input(overrides: Partial<ApprovalSpec> = {}, extra: Partial<NewRequestInput> = {}): NewRequestInput {
  return {
    requester: { email: 'alice@corp.com', groups: ['dev'] },
    resource: 'orders-prod',
    protocol: 'postgres',
    rule: 'writes-need-dba',
    approval: spec(overrides),
    sql: 'DELETE FROM orders WHERE id > $1',
    params: ['42'],
    kinds: ['DELETE'],
    tables: ['orders'],
    session_id: 's-1',
    ...extra,
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The memory store with a back door: what someone with write access to Redis can do. */
class TamperableStore extends MemoryApprovalStore {
  tamper(id: string, change: Partial<Mutable<ApprovalRequest>>): void {
    const self = this as unknown as { requests: Map<string, Mutable<ApprovalRequest>>; changed(r: ApprovalRequest, c: boolean): unknown };
    const r = self.requests.get(id)!;
    Object.assign(r, change);
    self.changed(r, true); // the PUBLISH
  }
}

function setup(t: Parameters<Parameters<typeof t.test>[1]>[0], log = pino({ level: 'silent' })) {
  const store = new TamperableStore();
  const audit = new MemoryAudit();
  const outcomes: RequestOutcome[] = [];
  const metrics: ApprovalMetrics = { requestOutcome: (o) => void outcomes.push(o), waitSeconds: () => {}, pending: () => {}, storeError: () => {} };
  const broker = new ApprovalBroker({ store, users: () => users, audit, instanceId: 'replica-a', leaseMs: 60_000, log, metrics });
  t.teardown(() => broker.close());
  return { store, audit, broker, outcomes };
}

t.test('approvalFlaw: what justifies an approval', async (t) => {
  const base = newRequest({ approval: spec({ approvers: ['dba', 'admin'], min_approvals: 2, force_approvers: ['sre-oncall'] }) });
  const withVotes = (approvals: ApprovalVote[], more: Partial<ApprovalRequest> = {}) => ({ ...base, state: 'approved' as const, approvals, ...more });
  t.equal(approvalFlaw(withVotes([vote('bob@corp.com', ['dba']), vote('carol@corp.com', ['admin'])])), undefined, 'two distinct approvers');
  t.match(approvalFlaw(withVotes([])), /no approval votes/);
  t.match(approvalFlaw(withVotes([vote('bob@corp.com', ['dba'])])), /do not meet the rule \(2 needed/);
  t.match(approvalFlaw(withVotes([vote('bob@corp.com', ['dba']), vote('BOB@corp.com', ['dba'])])), /more than once/, 'one person twice');
  t.match(approvalFlaw(withVotes([vote('bob@corp.com', ['dba']), vote('Alice@corp.com', ['dba'])])), /requester/, 'the requester');
  t.match(approvalFlaw(withVotes([vote('bob@corp.com', ['dba']), vote('frank@corp.com', ['sre'])])), /not recorded in an approver group/);
  t.match(approvalFlaw(withVotes([vote('bob@corp.com', ['dba']), vote('carol@corp.com', [])])), /not recorded in an approver group/);
  const allGroups = { ...base, approval: { ...base.approval, min_approvals: 1, all_groups_must_approve: true } };
  t.match(approvalFlaw({ ...allGroups, approvals: [vote('erin@corp.com', ['dba', 'admin'])] }), /one per approver group/, 'one person cannot cover two groups');
  t.equal(approvalFlaw({ ...allGroups, approvals: [vote('carol@corp.com', ['admin']), vote('bob@corp.com', ['dba'])] }), undefined);
  t.equal(approvalFlaw(withVotes([], { break_glass: vote('alice@corp.com', ['sre-oncall'], 'INC-1') })), undefined, 'break-glass, even by the requester');
  t.match(approvalFlaw(withVotes([], { break_glass: vote('dave@corp.com', ['dba'], 'INC-1') })), /force-approver group/);
  t.match(approvalFlaw(withVotes([], { break_glass: vote('dave@corp.com', ['sre-oncall']) })), /no reason/);
  t.match(approvalFlaw(withVotes([{ by: 'bob@corp.com' } as unknown as ApprovalVote, vote('carol@corp.com', ['admin'])])), /not recorded in an approver group/, 'a vote without groups');
  t.match(approvalFlaw(withVotes([null as unknown as ApprovalVote])), /names nobody|cannot be read/, 'garbage');
});

t.test('a state flipped to approved in the store: not run, cancelled, audited, counted', async (t) => {
  const { store, audit, broker, outcomes } = setup(t);
  const req = await broker.open(input());
  const waiting = broker.wait(req.id, never());
  store.tamper(req.id, { state: 'approved', final_at: Date.now() });
  t.match(await waiting, { verdict: 'approved' }, 'the wait sees what the store says');
  const err = (await broker.claimExecution(req.id).catch((e: unknown) => e)) as ClientError;
  t.ok(err instanceof ClientError, 'the claim is refused with a client error');
  t.equal(err.sqlstate, '42501');
  t.match(err.message, new RegExp(`request ${req.id} is marked approved, but its approval record is inconsistent \\(no approval votes are recorded\\); the statement was not run`));
  const after = await store.get(req.id);
  t.equal(after?.state, 'cancelled', 'final, and a state that can never run');
  t.match(after?.final_reason, /approval record inconsistent/);
  t.equal(await broker.claimExecution(req.id), false, 'nobody can claim it afterwards');
  t.match(audit.ofType('approval.rejected'), [{ fields: { request_id: req.id, reason: 'no approval votes are recorded', votes: [], break_glass: false } }]);
  t.same(audit.ofType('approval.granted'), [], 'no grant was ever recorded');
  t.same(outcomes, ['rejected'], 'counted once, as rejected');
});

t.test('forged votes that do not add up are refused the same way', async (t) => {
  const cases: Array<[string, Partial<ApprovalSpec>, Partial<Mutable<ApprovalRequest>>, RegExp]> = [
    ['the requester\'s own vote', {}, { approvals: [vote('alice@corp.com', ['dba'])] }, /requester/],
    ['one of two votes', { min_approvals: 2 }, { approvals: [vote('bob@corp.com', ['dba'])] }, /do not meet the rule/],
    ['break-glass by a non-force-approver', {}, { break_glass: vote('bob@corp.com', ['dba'], 'because') }, /force-approver/],
  ];
  for (const [name, overrides, change, why] of cases) {
    const { store, audit, broker } = setup(t);
    const req = await broker.open(input(overrides));
    const waiting = broker.wait(req.id, never());
    store.tamper(req.id, { state: 'approved', ...change });
    t.match(await waiting, { verdict: 'approved' });
    await t.rejects(broker.claimExecution(req.id), { sqlstate: '42501', message: why }, name);
    t.equal((await store.get(req.id))?.state, 'cancelled', `${name}: cancelled`);
    t.equal(audit.ofType('approval.rejected').length, 1, `${name}: audited`);
  }
});

t.test('real approvals and break-glass still run', async (t) => {
  const { broker, audit, outcomes } = setup(t);
  const two = await broker.open(input({ min_approvals: 2 }));
  await broker.approve(two.id, person('bob@corp.com'), 'api');
  await broker.approve(two.id, person('carol@corp.com'), 'cli');
  t.equal(await broker.claimExecution(two.id), true, '2 of 2');
  const own = await broker.open(input({}, { requester: { email: 'dave@corp.com', groups: ['sre-oncall'] } }));
  await broker.force(own.id, person('dave@corp.com'), 'INC-9', 'cli');
  t.equal(await broker.claimExecution(own.id), true, 'self break-glass');
  const retry = await broker.open(input({ hold: 'retry' }));
  await broker.approve(retry.id, person('bob@corp.com'), 'cli');
  t.equal(await broker.claimExecution((await broker.findApprovedForRetry(retry.binding))!.id), true, 'hold: retry');
  t.same(audit.ofType('approval.rejected'), []);
  t.notOk(outcomes.includes('rejected'));
});

t.test('audit: { params: redact } — approvers see the values, the audit log and info logs do not', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  const { broker, audit, store } = setup(t, pino({ level: 'info' }, sink));
  const secret = 'cust-4711-secret';
  const req = await broker.open(input({}, { params: [secret, null], redact_params: true }));
  t.same((await broker.get(req.id))?.params, [secret, null], 'the request keeps the values for approvers');
  t.equal((await store.get(req.id))?.redact_params, true);
  t.match(JSON.stringify(approvalMessage((await broker.get(req.id))!)), secret, 'Slack shows them');
  t.same(audit.ofType('request.held')[0]?.fields.params, ['[redacted]', '[redacted]'], 'request.held keeps only how many');
  t.equal(req.binding, (await broker.open(input({}, { params: [secret, null] }))).binding, 'the approval binds to the real values');
  const waiting = broker.wait(req.id, never());
  await broker.approve(req.id, person('bob@corp.com'), 'api');
  await waiting;
  t.equal(await broker.claimExecution(req.id), true);
  t.notMatch(JSON.stringify(audit.records.filter((r) => r.fields.request_id === req.id)), secret, 'no audit record of the request has them');
  t.notMatch(lines.join(''), secret, 'nor does the log at info');

  const kept = await broker.open(input({}, { params: ['plain-value'] }));
  t.same(audit.ofType('request.held').find((r) => r.fields.request_id === kept.id)?.fields.params, ['plain-value'], 'without redact, the values are audited');
});

t.test('on Redis: HSET state approved + PUBLISH does not run the statement', async (t) => {
  await requireRedis();
  const prefix = uniquePrefix('approval-integrity');
  t.teardown(() => deleteByPrefix(prefix));
  const store = new RedisApprovalStore({ url: REDIS_URL, prefix });
  const audit = new MemoryAudit();
  const broker = new ApprovalBroker({ store, users: () => users, audit, instanceId: 'replica-a', leaseMs: 3000, log: pino({ level: 'silent' }) });
  const redis = new Redis(REDIS_URL);
  t.teardown(async () => {
    redis.disconnect();
    await broker.close();
    await store.close();
  });
  await store.ready();
  const req = await broker.open(input());
  const waiting = broker.wait(req.id, never());
  await redis.hset(`${prefix}{req:${req.id}}`, 'state', 'approved');
  await redis.publish(`${prefix}changes`, req.id);
  t.match(await waiting, { verdict: 'approved' });
  await t.rejects(broker.claimExecution(req.id), { sqlstate: '42501', message: /approval record is inconsistent/ });
  const after = await store.get(req.id);
  t.equal(after?.state, 'cancelled');
  t.match(after?.final_reason, /approval record inconsistent/);
  t.equal(audit.ofType('approval.rejected').length, 1);
});
