// The contract every ApprovalStore must meet; memory-store.test.ts and redis-store.test.ts run it.

import { pathToFileURL } from 'node:url';
import t from 'tap';
import { MemoryApprovalStore } from '../../../src/approval/memory-store.js';
import type { ApprovalRequest, ApprovalStore } from '../../../src/approval/types.js';
import { newRequest, spec, vote } from '../../helpers/approval-fixtures.js';

export interface StorePair {
  /** Replica A. */
  readonly a: ApprovalStore;
  /** Replica B: a second connection for Redis, the same instance for memory. */
  readonly b: ApprovalStore;
  close(): Promise<void>;
}

function nextChange(store: ApprovalStore, id: string, state: string): Promise<ApprovalRequest> {
  return new Promise((resolve) => {
    const off = store.subscribe((req) => {
      if (req.id === id && req.state === state) {
        off();
        resolve(req);
      }
    });
  });
}

export function runStoreContract(name: string, makePair: () => Promise<StorePair>): void {
  t.test(`${name}: store contract`, async (t) => {
    const pair = await makePair();
    const { a, b } = pair;
    t.teardown(() => pair.close());

    t.test('create, get, list', async (t) => {
      const req = await a.create(newRequest());
      t.equal(req.state, 'pending');
      t.same(req.approvals, []);
      const again = await b.get(req.id);
      t.equal(again?.sql, 'DELETE FROM orders WHERE id = $1');
      t.same(again?.params, ['42']);
      t.same(again?.approval, req.approval);
      t.equal(await a.get('doesnotexist0'), undefined);
      const pending = await a.list({ states: ['pending'] });
      t.ok(pending.some((r) => r.id === req.id), 'listed as pending');
      t.notOk((await a.list({ states: ['approved'] })).some((r) => r.id === req.id), 'not listed as approved');
      await t.rejects(a.create(newRequest({ id: req.id })), 'a duplicate id is refused');
    });

    t.test('unknown ids', async (t) => {
      t.match(await a.approve('nope00000000', vote('bob@corp.com', ['dba'])), { ok: false, reason: 'not_found' });
      t.match(await a.deny('nope00000000', vote('bob@corp.com', ['dba'])), { ok: false, reason: 'not_found' });
      t.match(await a.markExecuted('nope00000000'), { ok: false, reason: 'not_found' });
      t.match(await a.finish('nope00000000', 'expired', 'x'), { ok: false, reason: 'not_found' });
      t.match(await a.withdraw('nope00000000', 'x'), { ok: false, reason: 'not_found' });
    });

    t.test('2 of 2 distinct people; a second click by the same person changes nothing', async (t) => {
      const req = await a.create(newRequest({ approval: spec({ min_approvals: 2 }) }));
      const first = await a.approve(req.id, vote('bob@corp.com', ['dba']));
      t.match(first, { ok: true, changed: false });
      t.equal(first.ok && first.request.state, 'pending');
      t.match(await b.approve(req.id, vote('BOB@corp.com', ['dba'])), { ok: false, reason: 'already_voted' }, 'same person, other case');
      t.equal((await a.get(req.id))?.approvals.length, 1);
      const second = await b.approve(req.id, vote('carol@corp.com', ['dba']));
      t.match(second, { ok: true, changed: true });
      t.equal(second.ok && second.request.state, 'approved');
      t.same(second.ok && second.request.approvals.map((v) => v.by), ['bob@corp.com', 'carol@corp.com']);
      t.match(await a.approve(req.id, vote('erin@corp.com', ['dba'])), { ok: false, reason: 'not_pending' });
    });

    t.test('all_groups_must_approve needs a different person for each group', async (t) => {
      const s = spec({ approvers: ['dba', 'sre'], min_approvals: 1, all_groups_must_approve: true });
      const req = await a.create(newRequest({ approval: s }));
      await a.approve(req.id, vote('bob@corp.com', ['dba']));
      const two = await a.approve(req.id, vote('carol@corp.com', ['dba']));
      t.equal(two.ok && two.request.state, 'pending', 'two dba approvers do not cover sre');
      const three = await b.approve(req.id, vote('frank@corp.com', ['sre']));
      t.equal(three.ok && three.request.state, 'approved');

      const solo = await a.create(newRequest({ approval: s }));
      const one = await a.approve(solo.id, vote('erin@corp.com', ['dba', 'sre']));
      t.equal(one.ok && one.request.state, 'pending', 'one person in both groups is still one person');
      const other = await a.approve(solo.id, vote('bob@corp.com', ['dba']));
      t.equal(other.ok && other.request.state, 'approved', 'erin covers sre, bob covers dba');
    });

    t.test('deny ends the request with its reason', async (t) => {
      const req = await a.create(newRequest({ approval: spec({ min_approvals: 2 }) }));
      await a.approve(req.id, vote('bob@corp.com', ['dba']));
      const denied = await b.deny(req.id, vote('carol@corp.com', ['dba'], 'not during peak'));
      t.match(denied, { ok: true, changed: true });
      t.equal(denied.ok && denied.request.state, 'denied');
      t.equal(denied.ok && denied.request.final_reason, 'not during peak');
      t.equal(denied.ok && denied.request.denial?.by, 'carol@corp.com');
      t.match(await a.approve(req.id, vote('erin@corp.com', ['dba'])), { ok: false, reason: 'not_pending' });
      t.match(await a.force(req.id, vote('dave@corp.com', ['sre-oncall'], 'x')), { ok: false, reason: 'not_pending' });
      t.match(await a.markExecuted(req.id), { ok: false });
    });

    t.test('force approves at once and is flagged', async (t) => {
      const req = await a.create(newRequest({ approval: spec({ min_approvals: 3 }) }));
      const forced = await b.force(req.id, vote('dave@corp.com', ['sre-oncall'], 'incident 123'));
      t.equal(forced.ok && forced.request.state, 'approved');
      t.equal(forced.ok && forced.request.break_glass?.reason, 'incident 123');
      const flagged = await a.list({ breakGlass: true });
      t.ok(flagged.some((r) => r.id === req.id));
      t.notOk((await a.list({ breakGlass: false })).some((r) => r.id === req.id));
    });

    t.test('finish: from pending; cancelled also from approved, never from executed', async (t) => {
      for (const state of ['expired', 'cancelled', 'abandoned'] as const) {
        const req = await a.create(newRequest());
        const done = await b.finish(req.id, state, `because ${state}`);
        t.equal(done.ok && done.request.state, state);
        t.equal(done.ok && done.request.final_reason, `because ${state}`);
        t.match(await a.finish(req.id, 'cancelled', 'again'), { ok: false, reason: 'not_pending' });
        t.match(await a.approve(req.id, vote('bob@corp.com', ['dba'])), { ok: false, reason: 'not_pending' });
      }
      const approved = await a.create(newRequest());
      await a.approve(approved.id, vote('bob@corp.com', ['dba']));
      for (const state of ['expired', 'abandoned'] as const) {
        t.match(await b.finish(approved.id, state, 'x'), { ok: false, reason: 'not_pending', request: { state: 'approved' } }, `approved never becomes ${state}`);
      }
      const seen = nextChange(a, approved.id, 'cancelled');
      const cancelled = await b.finish(approved.id, 'cancelled', 'client went away after the approval');
      t.match(cancelled, { ok: true, changed: true, request: { state: 'cancelled', final_reason: 'client went away after the approval' } });
      t.same(cancelled.ok && cancelled.request.approvals.map((v) => v.by), ['bob@corp.com'], 'the votes stay on record');
      t.equal((await seen).state, 'cancelled', 'announced like any transition');
      t.match(await a.markExecuted(approved.id), { ok: false, reason: 'not_pending' }, 'a cancelled approval never runs');

      const ran = await a.create(newRequest());
      await a.approve(ran.id, vote('bob@corp.com', ['dba']));
      await a.markExecuted(ran.id);
      t.match(await b.finish(ran.id, 'cancelled', 'too late'), { ok: false, reason: 'not_pending', request: { state: 'executed' } });
    });

    t.test('withdraw: approved or executed → cancelled, once; nothing else', async (t) => {
      const pending = await a.create(newRequest());
      t.match(await b.withdraw(pending.id, 'x'), { ok: false, reason: 'not_pending', request: { state: 'pending' } }, 'a pending request is finished, not withdrawn');
      for (const claimed of [false, true]) {
        const req = await a.create(newRequest());
        await a.approve(req.id, vote('bob@corp.com', ['dba']));
        if (claimed) await a.markExecuted(req.id);
        const done = await b.withdraw(req.id, 'not forwarded');
        t.match(done, { ok: true, changed: true, request: { state: 'cancelled', final_reason: 'not forwarded' } }, claimed ? 'an unused claim' : 'an unused approval');
        t.match(await a.withdraw(req.id, 'again'), { ok: false, reason: 'not_pending', request: { state: 'cancelled' } });
        t.match(await a.markExecuted(req.id), { ok: false, reason: 'not_pending' });
        t.equal((await a.get(req.id))?.state, 'cancelled');
      }
      for (const end of ['denied', 'expired'] as const) {
        const req = await a.create(newRequest());
        if (end === 'denied') await a.deny(req.id, vote('bob@corp.com', ['dba'], 'no'));
        else await a.finish(req.id, 'expired', 'timeout');
        t.match(await b.withdraw(req.id, 'x'), { ok: false, reason: 'not_pending', request: { state: end } });
      }
    });

    t.test('cancel and claim racing on an approved request: exactly one wins', async (t) => {
      for (let round = 0; round < 20; round++) {
        const req = await a.create(newRequest());
        await a.approve(req.id, vote('bob@corp.com', ['dba']));
        const [cancel, claim] = round % 2
          ? await Promise.all([a.finish(req.id, 'cancelled', 'client gone'), b.markExecuted(req.id)])
          : (await Promise.all([b.markExecuted(req.id), a.finish(req.id, 'cancelled', 'client gone')])).reverse();
        t.equal(Number(cancel!.ok) + Number(claim!.ok), 1, `round ${round}: one transition`);
        t.equal((await b.get(req.id))?.state, cancel!.ok ? 'cancelled' : 'executed', `round ${round}: the state the winner made`);
      }
    });

    t.test('markExecuted exactly once, only when approved', async (t) => {
      const req = await a.create(newRequest());
      t.match(await a.markExecuted(req.id), { ok: false, reason: 'not_pending' }, 'pending cannot run');
      await a.approve(req.id, vote('bob@corp.com', ['dba']));
      const ran = await b.markExecuted(req.id);
      t.equal(ran.ok && ran.request.state, 'executed');
      t.match(await a.markExecuted(req.id), { ok: false });
    });

    t.test('50 concurrent approvals and executions: one transition, one run', async (t) => {
      for (const min of [1, 2]) {
        const req = await a.create(newRequest({ approval: spec({ min_approvals: min }) }));
        const voters = Array.from({ length: 50 }, (_, i) => `approver${i}@corp.com`);
        const outcomes = await Promise.all(voters.map((v, i) => (i % 2 ? a : b).approve(req.id, vote(v, ['dba']))));
        const transitions = outcomes.filter((o) => o.ok && o.changed);
        t.equal(transitions.length, 1, `min ${min}: exactly one approve made the transition`);
        const stored = await a.get(req.id);
        t.equal(stored?.state, 'approved');
        t.equal(stored?.approvals.length, min, 'no vote after the threshold was recorded');
        const runs = await Promise.all(voters.map((_, i) => (i % 2 ? a : b).markExecuted(req.id)));
        t.equal(runs.filter((o) => o.ok).length, 1, 'exactly one markExecuted succeeded');
      }
      const same = await a.create(newRequest({ approval: spec({ min_approvals: 2 }) }));
      const clicks = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).approve(same.id, vote('bob@corp.com', ['dba']))));
      t.equal(clicks.filter((o) => o.ok).length, 1, 'one person clicking 50 times is one vote');
      t.equal((await a.get(same.id))?.state, 'pending');
    });

    t.test('JIT grants: grant, find, list, expiry, revoke', async (t) => {
      const now = Date.now();
      const tag = Math.random().toString(36).slice(2);
      const grant = { id: `g-${tag}`, requester: 'alice@corp.com', resource: 'orders-prod', rule: `jit-${tag}`, granted_at: now, expires_at: now + 60_000, request_id: 'r1', reason: 'migration' };
      await a.grantJit(grant);
      t.same(await b.findJit('ALICE@corp.com', 'orders-prod', `jit-${tag}`, now), grant);
      t.equal(await b.findJit('bob@corp.com', 'orders-prod', `jit-${tag}`, now), undefined, 'other person');
      t.equal(await b.findJit('alice@corp.com', 'orders-dev', `jit-${tag}`, now), undefined, 'other resource');
      t.equal(await b.findJit('alice@corp.com', 'orders-prod', 'other-rule', now), undefined, 'other rule');
      t.equal(await b.findJit('alice@corp.com', 'orders-prod', `jit-${tag}`, now + 60_001), undefined, 'expired');
      await a.grantJit({ ...grant, id: `old-${tag}`, expires_at: now - 1 });
      const listed = await b.listJit(now);
      t.ok(listed.some((g) => g.id === grant.id));
      t.notOk(listed.some((g) => g.id === `old-${tag}`), 'expired grants are not listed');
      t.equal(await b.revokeJit(grant.id), true);
      t.equal(await a.revokeJit(grant.id), false, 'revoking twice');
      t.equal(await a.findJit('alice@corp.com', 'orders-prod', `jit-${tag}`, now), undefined);
    });

    t.test('leases: only the holder renews; expired leases are reaped as abandoned', async (t) => {
      const now = Date.now();
      const held = await a.create(newRequest({ instance_id: 'replica-a', lease_until: now + 1000 }));
      const renewed = await a.create(newRequest({ instance_id: 'replica-a', lease_until: now + 1000 }));
      await b.renewLeases('replica-b', [held.id], now + 100_000);
      await a.renewLeases('replica-a', [renewed.id], now + 100_000);
      t.equal((await a.get(renewed.id))?.lease_until, now + 100_000);
      const reaped = await b.reapAbandoned(now + 2000);
      const ids = reaped.map((r) => r.id);
      t.ok(ids.includes(held.id), 'the unrenewed request is abandoned');
      t.notOk(ids.includes(renewed.id), 'the renewed one is not');
      t.equal((await a.get(held.id))?.state, 'abandoned');
      t.match(await a.approve(held.id, vote('bob@corp.com', ['dba'])), { ok: false, reason: 'not_pending' }, 'abandoned can never run');
      t.notOk((await a.reapAbandoned(now + 2000)).some((r) => r.id === held.id), 'reaped once');
    });

    // Regression: a replica that died between an approval and its run left the request 'approved' forever.
    t.test('an approval its dead holder never ran is abandoned; retry and JIT approvals are not', async (t) => {
      const now = Date.now();
      const lease = { instance_id: 'replica-a', lease_until: now + 1000 };
      const waited = await a.create(newRequest(lease));
      const retry = await a.create(newRequest({ ...lease, approval: spec({ hold: 'retry' }) }));
      const jit = await a.create(newRequest({ ...lease, approval: spec({ mode: 'jit', jit_duration_ms: 60_000 }) }));
      const live = await a.create(newRequest({ instance_id: 'replica-a', lease_until: now + 100_000 }));
      for (const r of [waited, retry, jit, live]) t.match(await a.approve(r.id, vote('bob@corp.com', ['dba'])), { ok: true });
      t.notOk((await b.reapAbandoned(now + 500)).some((r) => r.id === waited.id), 'not before the lease runs out');
      const ids = (await b.reapAbandoned(now + 2000)).map((r) => r.id);
      t.ok(ids.includes(waited.id), 'the approved, unclaimed wait request is abandoned');
      t.notOk(ids.includes(retry.id) || ids.includes(jit.id), 'retry and JIT approvals stay usable');
      t.notOk(ids.includes(live.id), 'a live holder keeps its approval');
      t.equal((await a.get(waited.id))?.state, 'abandoned');
      t.match(await a.markExecuted(waited.id), { ok: false }, 'and can never run');
      t.match(await a.markExecuted(live.id), { ok: true, request: { state: 'executed' } }, 'the live one runs');
    });

    t.test('subscribe delivers changes made on the other replica', async (t) => {
      const req = await a.create(newRequest());
      const seen = nextChange(a, req.id, 'approved');
      const seenOnB = nextChange(b, req.id, 'approved');
      await b.approve(req.id, vote('bob@corp.com', ['dba']));
      t.equal((await seen).state, 'approved');
      t.equal((await seenOnB).approvals[0]?.by, 'bob@corp.com');
      const off = a.subscribe(() => t.fail('unsubscribed listener called'));
      off();
      const denied = await a.create(newRequest());
      const deniedSeen = nextChange(a, denied.id, 'denied');
      await b.deny(denied.id, vote('bob@corp.com', ['dba'], 'no'));
      t.equal((await deniedSeen).final_reason, 'no');
    });

    t.test('setSlack', async (t) => {
      const req = await a.create(newRequest());
      await a.setSlack(req.id, { channel: 'C1', ts: '123.456' });
      t.same((await b.get(req.id))?.slack, { channel: 'C1', ts: '123.456' });
    });
  });
}

// tap runs every file under test/, this one too: run on its own, it checks the reference (memory) store
// rather than reporting an empty skip.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runStoreContract('memory (direct run)', async () => {
    const store = new MemoryApprovalStore();
    return { a: store, b: store, close: () => store.close() };
  });
}
