// In-memory ApprovalStore: one instance, no Redis. Each method runs to completion without awaiting, so every transition is atomic.

import type { ApprovalRequest, ApprovalStore, ApprovalVote, JitGrant, NewRequest, RequestState, TransitionOutcome } from './types.js';
import { runsInHoldingSession, thresholdReached } from './threshold.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class MemoryApprovalStore implements ApprovalStore {
  private readonly requests = new Map<string, Mutable<ApprovalRequest>>();
  private readonly grants = new Map<string, JitGrant>();
  private readonly listeners = new Set<(req: ApprovalRequest) => void>();
  readonly available = true;

  /** retentionMs: how long finished requests stay listable after they expire (break-glass review). */
  constructor(private readonly retentionMs = 7 * 24 * 60 * 60 * 1000) {}

  async create(req: NewRequest): Promise<ApprovalRequest> {
    if (this.requests.has(req.id)) throw new Error(`request ${req.id} already exists`);
    const stored: Mutable<ApprovalRequest> = { ...structuredClone(req), state: 'pending', approvals: [] };
    this.requests.set(req.id, stored);
    return snapshot(stored);
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    const r = this.requests.get(id);
    return r && snapshot(r);
  }

  async list(filter: { states?: readonly RequestState[]; breakGlass?: boolean } = {}): Promise<ApprovalRequest[]> {
    return [...this.requests.values()]
      .filter((r) => !filter.states || filter.states.includes(r.state))
      .filter((r) => filter.breakGlass === undefined || (r.break_glass !== undefined) === filter.breakGlass)
      .sort((a, b) => a.created_at - b.created_at)
      .map(snapshot);
  }

  async approve(id: string, vote: ApprovalVote): Promise<TransitionOutcome> {
    const r = this.requests.get(id);
    if (!r) return { ok: false, reason: 'not_found' };
    if (r.state !== 'pending') return { ok: false, reason: 'not_pending', request: snapshot(r) };
    const voter = vote.by.toLowerCase();
    if (r.approvals.some((v) => v.by.toLowerCase() === voter)) return { ok: false, reason: 'already_voted', request: snapshot(r) };
    r.approvals = [...r.approvals, structuredClone(vote)];
    const reached = thresholdReached(r.approval, r.approvals);
    if (reached) {
      r.state = 'approved';
      r.final_at = vote.at;
    }
    return this.changed(r, reached);
  }

  async force(id: string, vote: ApprovalVote): Promise<TransitionOutcome> {
    return this.decide(id, (r) => {
      r.state = 'approved';
      r.break_glass = structuredClone(vote);
      r.final_at = vote.at;
      r.final_reason = vote.reason;
    });
  }

  async deny(id: string, vote: ApprovalVote): Promise<TransitionOutcome> {
    return this.decide(id, (r) => {
      r.state = 'denied';
      r.denial = structuredClone(vote);
      r.final_at = vote.at;
      r.final_reason = vote.reason;
    });
  }

  async finish(id: string, state: 'expired' | 'cancelled' | 'abandoned', reason: string): Promise<TransitionOutcome> {
    return this.cancelFrom(id, state === 'cancelled' ? ['pending', 'approved'] : ['pending'], state, reason);
  }

  async withdraw(id: string, reason: string): Promise<TransitionOutcome> {
    return this.cancelFrom(id, ['approved', 'executed'], 'cancelled', reason);
  }

  async markExecuted(id: string): Promise<TransitionOutcome> {
    const r = this.requests.get(id);
    if (!r) return { ok: false, reason: 'not_found' };
    if (r.state !== 'approved') return { ok: false, reason: 'not_pending', request: snapshot(r) };
    r.state = 'executed';
    return this.changed(r, true);
  }

  async setSlack(id: string, slack: { channel: string; ts: string }): Promise<void> {
    const r = this.requests.get(id);
    if (r) r.slack = { ...slack };
  }

  async renewLeases(instanceId: string, ids: readonly string[], until: number): Promise<void> {
    for (const id of ids) {
      const r = this.requests.get(id);
      if (r && r.state === 'pending' && r.instance_id === instanceId && until > r.lease_until) r.lease_until = until;
    }
  }

  async reapAbandoned(now: number): Promise<ApprovalRequest[]> {
    const reaped: ApprovalRequest[] = [];
    for (const [id, r] of this.requests) {
      // Same retention as the Redis store's key expiry, so a long-running instance does not grow without bound.
      if (r.state !== 'pending' && r.expires_at + this.retentionMs < now) this.requests.delete(id);
    }
    for (const r of this.requests.values()) {
      // As in the Redis store: an approved request its dead holder never ran is abandoned too.
      const open = r.state === 'pending' || (r.state === 'approved' && runsInHoldingSession(r));
      if (!open || r.lease_until >= now) continue;
      r.state = 'abandoned';
      r.final_at = now;
      r.final_reason = `lease of ${r.instance_id} ran out`;
      const outcome = this.changed(r, true);
      if (outcome.ok) reaped.push(outcome.request);
    }
    return reaped;
  }

  subscribe(listener: (req: ApprovalRequest) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async grantJit(grant: JitGrant): Promise<void> {
    this.grants.set(grant.id, { ...grant });
  }

  async findJit(requester: string, resource: string, rule: string, now: number): Promise<JitGrant | undefined> {
    const email = requester.toLowerCase();
    return [...this.grants.values()].find(
      (g) => g.requester.toLowerCase() === email && g.resource === resource && g.rule === rule && g.expires_at > now,
    );
  }

  async listJit(now: number): Promise<JitGrant[]> {
    for (const [id, g] of this.grants) if (g.expires_at <= Date.now()) this.grants.delete(id);
    return [...this.grants.values()].filter((g) => g.expires_at > now).sort((a, b) => a.granted_at - b.granted_at);
  }

  async revokeJit(id: string): Promise<boolean> {
    return this.grants.delete(id);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private cancelFrom(id: string, from: readonly RequestState[], state: 'expired' | 'cancelled' | 'abandoned', reason: string): TransitionOutcome {
    const r = this.requests.get(id);
    if (!r) return { ok: false, reason: 'not_found' };
    if (!from.includes(r.state)) return { ok: false, reason: 'not_pending', request: snapshot(r) };
    r.state = state;
    r.final_at = Date.now();
    r.final_reason = reason;
    return this.changed(r, true);
  }

  private decide(id: string, apply: (r: Mutable<ApprovalRequest>) => void): TransitionOutcome {
    const r = this.requests.get(id);
    if (!r) return { ok: false, reason: 'not_found' };
    if (r.state !== 'pending') return { ok: false, reason: 'not_pending', request: snapshot(r) };
    apply(r);
    return this.changed(r, true);
  }

  /** Listeners run after the caller's await resumes, like a Redis message would arrive: never inside the transition. */
  private changed(r: Mutable<ApprovalRequest>, changed: boolean): TransitionOutcome {
    const request = snapshot(r);
    for (const listener of this.listeners) {
      queueMicrotask(() => {
        try {
          listener(structuredClone(request));
        } catch {
          // A listener's failure must not affect the transition or the other listeners.
        }
      });
    }
    return { ok: true, request, changed };
  }
}

function snapshot(r: ApprovalRequest): ApprovalRequest {
  return structuredClone(r);
}
