// Approve, deny and force decisions: each is stored and audited, and may grant JIT access, before any waiter here is released.

import type { Logger } from '../log.js';
import { AirlockError } from '../errors.js';
import type { UserRecord } from '../identity/types.js';
import type { ApprovalRequest, ApprovalStore, JitGrant, TransitionOutcome } from './types.js';
import { approvalGroups, denialGroups, forceGroups } from './eligibility.js';
import type { BrokerEffects } from './broker-effects.js';
import type { DecisionResult, DecisionVia } from './broker-types.js';

const BREAK_GLASS_REVIEW_MS = 7 * 24 * 60 * 60 * 1000;

export class Decisions {
  /**
   * Decisions this instance is taking and recording. The store announces a transition before its
   * audit records are written; a waiter here is released only after them, so an approved statement
   * never runs ahead of the record that approved it.
   */
  private readonly inFlight = new Map<string, Set<Promise<void>>>();

  constructor(
    private readonly store: ApprovalStore,
    private readonly effects: BrokerEffects,
    private readonly log: Logger,
  ) {}

  /** Settles once the decisions on this request now in flight here have finished recording; undefined if there are none. */
  whenRecorded(id: string): Promise<unknown> | undefined {
    const set = this.inFlight.get(id);
    return set ? Promise.all(set) : undefined;
  }

  approve(id: string, actor: UserRecord, via: DecisionVia): Promise<DecisionResult> {
    return this.deciding(id, () => this.approveNow(id, actor, via));
  }

  deny(id: string, actor: UserRecord, reason: string, via: DecisionVia): Promise<DecisionResult> {
    return this.deciding(id, () => this.denyNow(id, actor, reason, via));
  }

  force(id: string, actor: UserRecord, reason: string, via: DecisionVia): Promise<DecisionResult> {
    return this.deciding(id, () => this.forceNow(id, actor, reason, via));
  }

  private async approveNow(id: string, actor: UserRecord, via: DecisionVia): Promise<DecisionResult> {
    const req = await this.pendingRequest(id);
    const groups = approvalGroups(actor, req);
    const outcome = await this.effects.deciderCall(() => this.store.approve(id, { by: actor.email, groups, at: Date.now(), via }));
    const request = this.settled(id, outcome, actor);
    await this.effects.record('approval.vote', { request_id: id, by: actor.email, via, groups });
    if (request.state !== 'approved') {
      this.effects.notify('changed', request);
      return { request, outcome: 'vote_recorded' };
    }
    await this.effects.record('approval.granted', { request_id: id, by: request.approvals.map((v) => v.by), break_glass: false });
    await this.afterApproval(request);
    return { request, outcome: 'approved' };
  }

  private async denyNow(id: string, actor: UserRecord, reason: string, via: DecisionVia): Promise<DecisionResult> {
    const req = await this.pendingRequest(id);
    const groups = denialGroups(actor, req);
    const text = reason.trim() || `denied by ${actor.email}`;
    const outcome = await this.effects.deciderCall(() => this.store.deny(id, { by: actor.email, groups, at: Date.now(), via, reason: text }));
    const request = this.settled(id, outcome, actor);
    await this.effects.record('approval.denied', { request_id: id, by: actor.email, reason: text, via });
    this.effects.afterTransition(request);
    return { request, outcome: 'denied' };
  }

  private async forceNow(id: string, actor: UserRecord, reason: string, via: DecisionVia): Promise<DecisionResult> {
    const req = await this.pendingRequest(id);
    const groups = forceGroups(actor, req, reason);
    const outcome = await this.effects.deciderCall(() => this.store.force(id, { by: actor.email, groups, at: Date.now(), via, reason: reason.trim() }));
    const request = this.settled(id, outcome, actor);
    const reviewDue = new Date(Date.now() + BREAK_GLASS_REVIEW_MS).toISOString();
    await this.effects.record('breakglass.used', { request_id: id, by: actor.email, reason: reason.trim(), review_due: reviewDue, via, self: actor.email.toLowerCase() === req.requester.email.toLowerCase() });
    await this.effects.record('approval.granted', { request_id: id, by: [actor.email], break_glass: true });
    this.log.warn({ request_id: id, by: actor.email, rule: req.rule }, 'break-glass force approval used');
    await this.afterApproval(request);
    return { request, outcome: 'forced' };
  }

  /** Runs a decision; waiters this instance releases for the request wait until it has finished recording. */
  private async deciding<T>(id: string, decide: () => Promise<T>): Promise<T> {
    let finished!: () => void;
    const done = new Promise<void>((resolve) => { finished = resolve; });
    const set = this.inFlight.get(id) ?? new Set<Promise<void>>();
    set.add(done);
    this.inFlight.set(id, set);
    try {
      return await decide();
    } finally {
      set.delete(done);
      if (set.size === 0 && this.inFlight.get(id) === set) this.inFlight.delete(id);
      finished();
    }
  }

  private async afterApproval(request: ApprovalRequest): Promise<void> {
    if (request.approval.mode === 'jit') {
      const now = Date.now();
      const grant: JitGrant = {
        // Derived from the request: a repeated approval rewrites the same grant instead of widening access.
        id: `jit-${request.id}`,
        requester: request.requester.email,
        resource: request.resource,
        rule: request.rule,
        granted_at: now,
        expires_at: now + (request.approval.jit_duration_ms ?? request.approval.timeout_ms),
        request_id: request.id,
        ...(request.break_glass?.reason ? { reason: request.break_glass.reason } : {}),
      };
      await this.effects.deciderCall(() => this.store.grantJit(grant));
      this.log.info({ grant_id: grant.id, requester: grant.requester, resource: grant.resource, rule: grant.rule }, 'JIT access granted');
    }
    this.effects.afterTransition(request);
  }

  private async pendingRequest(id: string): Promise<ApprovalRequest> {
    const req = await this.effects.deciderCall(() => this.store.get(id));
    if (!req) throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no approval request ${id}`);
    return req;
  }

  /** Turns a refused transition into the error the decider sees. */
  private settled(id: string, outcome: TransitionOutcome, actor: UserRecord): ApprovalRequest {
    if (outcome.ok) return outcome.request;
    if (outcome.reason === 'not_found') throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no approval request ${id}`);
    if (outcome.reason === 'already_voted') throw new AirlockError('AIRLOCK_ERR_CONFLICT', `${actor.email} has already approved request ${id}`);
    throw new AirlockError('AIRLOCK_ERR_CONFLICT', `request ${id} is ${outcome.request?.state ?? 'no longer pending'}`);
  }
}
