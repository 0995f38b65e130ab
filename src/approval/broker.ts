// The approval broker: opens held requests, waits for and sweeps their outcome, and is the entry point for Slack, API and CLI decisions.

import type { Logger } from '../log.js';
import { ClientError } from '../errors.js';
import type { AuditSink } from '../audit/types.js';
import type { UserDirectory, UserRecord } from '../identity/types.js';
import type { ApprovalSpec, Requester } from '../policy/types.js';
import type { ApprovalRequest, ApprovalStore, JitGrant, RequestState, TransitionOutcome } from './types.js';
import { bindingHash, newRequestId } from './ids.js';
import { BrokerEffects } from './broker-effects.js';
import { Decisions } from './broker-decisions.js';
import { approvalFlaw } from './threshold.js';
import { approvalRejected, messageOf, outcomeOf, type ApprovalMetrics, type ApprovalNotifier, type DecisionResult, type DecisionVia, type HoldOutcome, type NewRequestInput } from './broker-types.js';

export type { ApprovalMetrics, ApprovalNotifier, DecisionResult, DecisionVia, HoldOutcome, NewRequestInput, RequestOutcome } from './broker-types.js';

export interface ApprovalBrokerOptions {
  readonly store: ApprovalStore;
  readonly users: () => UserDirectory;
  readonly audit: AuditSink;
  readonly instanceId: string;
  /** A holder that stops renewing for this long has its pending requests abandoned. */
  readonly leaseMs: number;
  /**
   * How long held clients keep waiting while the store is unreachable before they are told (57P03).
   * Default: the lease, at most 5 s. Past the lease, other replicas would abandon the request anyway.
   */
  readonly storeGraceMs?: number;
  readonly log: Logger;
  readonly metrics?: ApprovalMetrics;
  readonly notifiers?: readonly ApprovalNotifier[];
}

interface Waiter {
  readonly id: string;
  settle(outcome: HoldOutcome): void;
}

/** setTimeout overflows past 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const FINAL_STATES: ReadonlySet<RequestState> = new Set(['approved', 'denied', 'expired', 'cancelled', 'abandoned', 'executed']);

export class ApprovalBroker {
  private readonly store: ApprovalStore;
  private readonly log: Logger;
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Expiry of requests opened on this instance, so a wait can time out even if the store is briefly away. */
  private readonly openedHere = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly sweeper: NodeJS.Timeout;
  private sweeping = false;
  /** When this instance first saw the store unreachable in the current outage. */
  private storeDownSince: number | undefined;
  /**
   * Requests whose statement will not run but that the store could not be told about (their clients were
   * told it is gone): cancelled once it is back, so nothing runs for them later. The value says how:
   * finish (pending or approved) or withdraw (also a claim this instance made and did not use).
   */
  private readonly givenUp = new Map<string, { how: 'finish' | 'withdraw'; reason: string }>();
  private readonly effects: BrokerEffects;
  private readonly decisions: Decisions;

  constructor(private readonly opts: ApprovalBrokerOptions) {
    this.store = opts.store;
    this.log = opts.log;
    this.effects = new BrokerEffects(opts);
    this.decisions = new Decisions(this.store, this.effects, this.log);
    this.unsubscribe = this.store.subscribe((req) => this.onChange(req));
    this.sweeper = setInterval(() => void this.sweep(), Math.max(50, Math.floor(opts.leaseMs / 3)));
    this.sweeper.unref();
  }

  // ---- session side -------------------------------------------------------------------------------

  async open(input: NewRequestInput): Promise<ApprovalRequest> {
    this.effects.requireStore();
    const now = Date.now();
    const waits = input.approval.hold === 'wait' && input.sql !== '';
    const expiresAt = now + input.approval.timeout_ms;
    const request = await this.effects.storeCall(() =>
      this.store.create({
        id: newRequestId(),
        created_at: now,
        expires_at: expiresAt,
        requester: { email: input.requester.email, groups: [...input.requester.groups] },
        resource: input.resource,
        protocol: input.protocol,
        rule: input.rule,
        approval: input.approval,
        sql: input.sql,
        params: input.params,
        ...(input.redact_params ? { redact_params: true } : {}),
        binding: bindingHash(input.resource, input.requester.email, input.sql, input.params),
        kinds: input.kinds,
        tables: input.tables,
        session_id: input.session_id,
        ...(input.client_addr ? { client_addr: input.client_addr } : {}),
        instance_id: this.opts.instanceId,
        // Nobody waits on a retry-mode or access request, so nobody renews: its lease is its whole life.
        lease_until: waits ? now + this.opts.leaseMs : expiresAt,
      }),
    );
    try {
      await this.opts.audit.append(
        'request.held',
        {
          request_id: request.id,
          session_id: request.session_id,
          requester: request.requester.email,
          resource: request.resource,
          rule: request.rule,
          approvers: request.approval.approvers,
          min_approvals: request.approval.min_approvals,
          expires_at: new Date(request.expires_at).toISOString(),
          mode: request.approval.mode,
          sql: request.sql,
          // Approvers see the values (in the store); the audit log keeps only how many there were.
          params: input.redact_params ? request.params.map(() => '[redacted]') : request.params,
        },
        { sync: true },
      );
    } catch (err) {
      this.log.error({ err, request_id: request.id }, 'audit write failed; held request cancelled');
      await this.store.finish(request.id, 'cancelled', 'audit write failed').catch(() => undefined);
      throw new ClientError({ sqlstate: '58030', mysqlErrno: 1290, message: 'airlock: the audit log cannot be written, so this statement is refused' });
    }
    if (waits) this.openedHere.set(request.id, request.expires_at);
    this.opts.metrics?.requestOpened?.(request.rule);
    this.log.info({ request_id: request.id, rule: request.rule, resource: request.resource, requester: request.requester.email }, 'request held for approval');
    this.effects.notify('opened', request);
    return request;
  }

  /** Resolves with the outcome; aborting the signal (client gone, Ctrl-C) cancels the request. */
  async wait(id: string, signal: AbortSignal): Promise<HoldOutcome> {
    const started = Date.now();
    this.opts.metrics?.pending(1);
    try {
      return await new Promise<HoldOutcome>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => void this.cancel(id).then((o) => waiter.settle(o));
        const waiter: Waiter = {
          id,
          settle: (outcome) => {
            const set = this.waiters.get(id);
            if (!set?.delete(waiter)) return; // settled already
            if (set.size === 0) {
              this.waiters.delete(id);
              this.openedHere.delete(id);
            }
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            resolve(outcome);
          },
        };
        const set = this.waiters.get(id) ?? new Set<Waiter>();
        set.add(waiter);
        this.waiters.set(id, set);
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        const startTimer = (expiresAt: number) => {
          timer ??= setTimeout(() => void this.expire(id).then((o) => waiter.settle(o)), Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())));
        };
        const known = this.openedHere.get(id);
        if (known !== undefined) startTimer(known);
        void this.store.get(id).then(
          (req) => {
            if (!req) return waiter.settle({ verdict: 'unavailable', message: `request ${id} is not in the approval store` });
            if (FINAL_STATES.has(req.state)) return waiter.settle(outcomeOf(req));
            startTimer(req.expires_at);
          },
          (err: unknown) => {
            // Opened here: keep waiting; the sweep and the store's reconnect re-check pick the outcome up.
            if (known === undefined) waiter.settle({ verdict: 'unavailable', message: messageOf(err) });
          },
        );
      });
    } finally {
      this.opts.metrics?.pending(-1);
      this.opts.metrics?.waitSeconds((Date.now() - started) / 1000);
    }
  }

  /**
   * approved → executed, exactly once across replicas; false means do not run. Rejects with a client error
   * when the votes on record do not justify the approval: the claim is then handed back as cancelled.
   */
  async claimExecution(id: string): Promise<boolean> {
    const outcome = await this.effects.storeCall(() => this.store.markExecuted(id));
    if (!outcome.ok) return false;
    // Checked on what the atomic claim saw, so no later write to the store can slip in between.
    const flaw = approvalFlaw(outcome.request);
    if (flaw !== undefined) return this.reject(outcome.request, flaw);
    this.effects.afterTransition(outcome.request);
    return true;
  }

  /**
   * The session holding an approved (or just claimed) request will not forward its statement: the request
   * ends cancelled, audited, never to run. With the store away, that happens once it is back.
   */
  async withdraw(id: string, reason: string): Promise<void> {
    let outcome: TransitionOutcome;
    try {
      outcome = await this.store.withdraw(id, reason);
    } catch (err) {
      this.opts.metrics?.storeError();
      this.log.warn({ err: messageOf(err), request_id: id }, 'approval store unreachable; the unused approval is cancelled once it is back');
      // A reason already noted (a rejected approval) says more than the caller's generic one.
      if (!this.givenUp.has(id)) this.givenUp.set(id, { how: 'withdraw', reason });
      return;
    }
    // Refused: already cancelled by the wait's own abort, or never approved; either way nothing runs.
    if (outcome.ok) await this.recordFinished(outcome.request, 'approval.cancelled', reason);
  }

  async findJitGrant(requester: string | Requester, resource: string, rule: string): Promise<JitGrant | undefined> {
    const email = typeof requester === 'string' ? requester : requester.email;
    return this.effects.storeCall(() => this.store.findJit(email, resource, rule, Date.now()));
  }

  /** hold: retry — an approved, unused request for exactly this statement, while the approval is fresh. */
  async findApprovedForRetry(binding: string): Promise<ApprovalRequest | undefined> {
    const approved = await this.effects.storeCall(() => this.store.list({ states: ['approved'] }));
    const now = Date.now();
    return approved.find((r) => r.binding === binding && r.approval.hold === 'retry' && (r.final_at ?? 0) + r.approval.timeout_ms > now);
  }

  // ---- decider side (HTTP API, Slack, CLI) ---------------------------------------------------------

  async get(id: string): Promise<ApprovalRequest | undefined> {
    return this.effects.deciderCall(() => this.store.get(id));
  }

  async list(filter?: { states?: readonly RequestState[]; breakGlass?: boolean }): Promise<ApprovalRequest[]> {
    return this.effects.deciderCall(() => this.store.list(filter));
  }

  async approve(id: string, actor: UserRecord, via: DecisionVia): Promise<DecisionResult> {
    return this.decisions.approve(id, actor, via);
  }

  async deny(id: string, actor: UserRecord, reason: string, via: DecisionVia): Promise<DecisionResult> {
    return this.decisions.deny(id, actor, reason, via);
  }

  async force(id: string, actor: UserRecord, reason: string, via: DecisionVia): Promise<DecisionResult> {
    return this.decisions.force(id, actor, reason, via);
  }

  /** `airlock access request`: a pending JIT request with no statement, approved like any other. */
  async requestAccess(actor: UserRecord, input: { resource: string; protocol: 'postgres' | 'mysql'; rule: string; approval: ApprovalSpec; durationMs: number; reason: string }): Promise<ApprovalRequest> {
    return this.open({
      requester: { email: actor.email, groups: actor.groups },
      resource: input.resource,
      protocol: input.protocol,
      rule: input.rule,
      approval: { ...input.approval, mode: 'jit', jit_duration_ms: input.durationMs },
      sql: '',
      params: [],
      kinds: [],
      tables: [],
      session_id: `access:${input.reason.slice(0, 200)}`,
    });
  }

  async listAccess(): Promise<JitGrant[]> {
    return this.effects.deciderCall(() => this.store.listJit(Date.now()));
  }

  async revokeAccess(id: string, actor: UserRecord): Promise<boolean> {
    const revoked = await this.effects.deciderCall(() => this.store.revokeJit(id));
    if (revoked) this.log.info({ grant_id: id, by: actor.email }, 'JIT access revoked');
    return revoked;
  }

  /** One pass of lease renewal, missed-message re-check, abandonment and cross-replica expiry. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    if (!this.store.available) return this.releaseWaitersAfterGrace(Date.now());
    this.storeDownSince = undefined;
    this.sweeping = true;
    try {
      const now = Date.now();
      for (const [id, { how, reason }] of [...this.givenUp]) {
        this.givenUp.delete(id);
        if (how === 'withdraw') await this.withdraw(id, reason); // puts it back itself if the store fails again
        else if ((await this.finishAs(id, 'cancelled', reason)).verdict === 'unavailable' && !this.store.available) this.givenUp.set(id, { how, reason });
      }
      const held = [...this.waiters.keys()];
      await this.store.renewLeases(this.opts.instanceId, held, now + this.opts.leaseMs);
      for (const id of held) {
        const req = await this.store.get(id);
        if (req && FINAL_STATES.has(req.state)) this.onChange(req);
      }
      for (const req of await this.store.reapAbandoned(now)) {
        await this.effects.record('approval.abandoned', { request_id: req.id, reason: req.final_reason ?? 'holder gone' }, false);
        this.effects.afterTransition(req);
      }
      for (const req of await this.store.list({ states: ['pending'] })) {
        if (req.expires_at <= now) await this.expire(req.id);
      }
    } catch (err) {
      this.opts.metrics?.storeError();
      this.log.debug({ err: messageOf(err) }, 'approval sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * A short outage is waited out (the reconnect re-check catches missed decisions); a longer one would
   * leave clients hanging on a request they cannot get, so they are told, and their requests cancelled later.
   */
  private releaseWaitersAfterGrace(now: number): void {
    this.storeDownSince ??= now;
    const graceMs = this.opts.storeGraceMs ?? Math.min(this.opts.leaseMs, 5000);
    if (now - this.storeDownSince < graceMs) return;
    for (const [id, set] of [...this.waiters]) {
      this.givenUp.set(id, { how: 'finish', reason: 'the approval store was unreachable while the statement waited' });
      for (const waiter of [...set]) waiter.settle({ verdict: 'unavailable', message: `unreachable for more than ${graceMs} ms while request ${id} waited; the statement did not run` });
    }
  }

  /** Stops timers; clients still waiting get 'unavailable' (their requests are left to expire or be abandoned). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.unsubscribe();
    for (const set of [...this.waiters.values()]) {
      for (const waiter of [...set]) waiter.settle({ verdict: 'unavailable', message: 'airlock is shutting down' });
    }
    this.openedHere.clear();
  }

  // ---- internals ------------------------------------------------------------------------------------

  private onChange(req: ApprovalRequest): void {
    if (!FINAL_STATES.has(req.state)) return;
    const recorded = this.decisions.whenRecorded(req.id);
    const settle = () => { for (const waiter of [...(this.waiters.get(req.id) ?? [])]) waiter.settle(outcomeOf(req)); };
    if (recorded) void recorded.then(settle);
    else settle();
  }

  private async expire(id: string): Promise<HoldOutcome> {
    return this.finishAs(id, 'expired', 'no decision before the timeout');
  }

  /** Also from approved: an approval that lands while the client cancels must not stay approved forever. */
  private async cancel(id: string): Promise<HoldOutcome> {
    const outcome = await this.finishAs(id, 'cancelled', 'client cancelled or disconnected');
    // The client is gone: whatever the store says, nothing may run on its behalf.
    return outcome.verdict === 'unavailable' || outcome.verdict === 'cancelled' ? outcome : { verdict: 'cancelled', request: outcome.request };
  }

  private async finishAs(id: string, state: 'expired' | 'cancelled', reason: string): Promise<HoldOutcome> {
    let outcome: TransitionOutcome;
    try {
      outcome = await this.store.finish(id, state, reason);
    } catch (err) {
      this.opts.metrics?.storeError();
      return { verdict: 'unavailable', message: messageOf(err) };
    }
    if (!outcome.ok) {
      return outcome.request ? outcomeOf(outcome.request) : { verdict: 'unavailable', message: `request ${id} is not in the approval store` };
    }
    await this.recordFinished(outcome.request, state === 'expired' ? 'approval.expired' : 'approval.cancelled', reason);
    return outcomeOf(outcome.request);
  }

  /**
   * A request marked approved without the votes to justify it: someone wrote to the store around airlock
   * (or a bug did). It must never run, here or on any replica, and operators must hear of it.
   */
  private async reject(request: ApprovalRequest, flaw: string): Promise<never> {
    const reason = `approval record inconsistent (${flaw}); the statement was not run`;
    this.log.error(
      { request_id: request.id, rule: request.rule, resource: request.resource, requester: request.requester.email, flaw },
      'refused to run a request marked approved whose votes do not justify it; check who can write to the approval store',
    );
    let cancelled: ApprovalRequest | undefined;
    try {
      const outcome = await this.store.withdraw(request.id, reason);
      if (outcome.ok) cancelled = outcome.request;
    } catch (err) {
      this.opts.metrics?.storeError();
      this.givenUp.set(request.id, { how: 'withdraw', reason });
    }
    const votes = Array.isArray(request.approvals) ? request.approvals.map((v) => String(v?.by)) : [];
    await this.effects.record('approval.rejected', { request_id: request.id, reason: flaw, votes, break_glass: request.break_glass !== undefined }, false);
    this.opts.metrics?.requestOutcome('rejected', false);
    if (cancelled) this.effects.notify('changed', cancelled);
    throw approvalRejected(request.id, flaw);
  }

  private async recordFinished(request: ApprovalRequest, type: 'approval.expired' | 'approval.cancelled', reason: string): Promise<void> {
    // An approval being recorded here goes first, so the log reads granted → cancelled, as the store changed.
    await this.decisions.whenRecorded(request.id);
    await this.effects.record(type, { request_id: request.id, reason }, false);
    this.effects.afterTransition(request);
  }
}
