// The protocol-neutral order of steps for one statement: classify → policy → (hold → approval) → audit.
// Both wire relays call this; it knows nothing of bytes.

import { createHash } from 'node:crypto';
import type { HoldOutcome, NewRequestInput } from '../approval/broker-types.js';
import type { ApprovalRequest } from '../approval/types.js';
import type { AuditSink } from '../audit/types.js';
import type { Classification, ClassifyContext, Dialect } from '../classify/types.js';
import { sha256Hex } from '../audit/redact.js';
import { ClientError } from '../errors.js';
import type { Decision, Policy, Requester, ResourceSpec } from '../policy/types.js';
import { clientErrors } from './client-errors.js';

export interface SessionIdentity {
  readonly sessionId: string;
  readonly requester: Requester;
  readonly resource: ResourceSpec;
  readonly protocol: Dialect;
  readonly clientAddr: string;
  /** Stamp of the token the session logged in with (credentialStamp): a rotation ends the session. */
  readonly credential?: string;
}

export interface Verdict {
  readonly classification: Classification;
  readonly decision: Decision;
}

/** What the relay does next with a statement. */
export type GateResult =
  | { readonly run: true; readonly requestId?: string; readonly breakGlass?: boolean }
  | { readonly run: false; readonly error: ClientError };

export interface HoldHooks {
  /** Called once the request exists: the relay tells the client (PostgreSQL NOTICE) and keeps waiting. */
  onHeld(request: ApprovalRequest): void;
  readonly signal: AbortSignal;
}

/** The broker as the gate needs it (src/approval/broker.ts implements it). */
export interface GateBroker {
  open(input: NewRequestInput): Promise<ApprovalRequest>;
  wait(id: string, signal: AbortSignal): Promise<HoldOutcome>;
  /** Rejects with the client's error when the approval on record does not justify running the statement. */
  claimExecution(id: string): Promise<boolean>;
  /** An approved or claimed request whose statement this session will not forward: it ends cancelled. */
  withdraw(id: string, reason: string): Promise<void>;
  findJitGrant(requester: string, resource: string, rule: string): Promise<{ readonly id: string } | undefined>;
  findApprovedForRetry(binding: string): Promise<ApprovalRequest | undefined>;
}

export interface GateMetrics {
  statementDecided(protocol: Dialect, resource: string, decision: Decision['action']): void;
  classified(dialect: Dialect, seconds: number): void;
}

export interface GateDeps {
  readonly classify: (dialect: Dialect, sql: string, ctx?: ClassifyContext) => Classification;
  readonly policy: () => Policy;
  readonly evaluate: (policy: Policy, input: { resource: string; requester: Requester; sql: string }, c: Classification) => Decision;
  readonly broker: GateBroker;
  readonly audit: AuditSink;
  readonly metrics?: GateMetrics;
  /** Refuse new holds (daemon is shutting down). */
  readonly acceptingHolds: () => boolean;
}

/** How a forwarded statement ended, for its execution.result record. */
export interface ExecutionResult {
  readonly outcome: 'ok' | 'error' | 'skipped';
  readonly command_tag?: string;
  readonly sqlstate?: string;
  readonly errno?: number;
  readonly rows?: number;
  readonly affected_rows?: number;
  readonly duration_ms: number;
}

/** SHA-256 over what an approval binds to: resource, requester, statement text and bound values. */
export function bindingOf(resource: string, requester: string, sql: string, params: readonly (string | null)[]): string {
  return createHash('sha256').update(JSON.stringify([resource, requester.toLowerCase(), sql, params])).digest('hex');
}

const CLIENT_GONE = 'client cancelled or disconnected after the approval, before the statement was forwarded';

function kindsOf(c: Classification): string[] {
  if (c.unparseable) return ['UNPARSEABLE'];
  const kinds = new Set<string>();
  for (const s of c.statements) {
    kinds.add(s.kind);
    for (const k of s.nested_kinds ?? []) kinds.add(k);
  }
  return [...kinds];
}

function tablesOf(c: Classification): string[] {
  if (c.unparseable) return [];
  return [...new Set(c.statements.flatMap((s) => s.tables))];
}

export class StatementGate {
  constructor(private readonly deps: GateDeps) {}

  /** Synchronous: classification and policy only. */
  judge(session: SessionIdentity, sql: string, ctx?: ClassifyContext): Verdict {
    const started = performance.now();
    const classification = this.deps.classify(session.protocol, sql, ctx);
    this.deps.metrics?.classified(session.protocol, (performance.now() - started) / 1000);
    const decision = this.deps.evaluate(
      this.deps.policy(),
      { resource: session.resource.name, requester: session.requester, sql },
      classification,
    );
    // A hold is counted by hold(): an open JIT window turns it into an allow.
    if (decision.action !== 'hold') this.deps.metrics?.statementDecided(session.protocol, session.resource.name, decision.action);
    return { classification, decision };
  }

  /**
   * Audit record of a decision; awaited (and required) only where it gates a refusal or a hold.
   * `jitGrant`: a hold the requester's open access window let run, recorded as that allow.
   */
  recordDecision(session: SessionIdentity, sql: string, params: readonly (string | null)[], verdict: Verdict, jitGrant?: string): Promise<void> {
    const c = verdict.classification;
    return this.deps.audit.append(
      'statement.decided',
      {
        session_id: session.sessionId,
        requester: session.requester.email,
        resource: session.resource.name,
        decision: jitGrant ? 'allow' : verdict.decision.action,
        rule: verdict.decision.rule?.name ?? null,
        source: jitGrant ? 'jit' : verdict.decision.source,
        ...(jitGrant ? { grant_id: jitGrant } : {}),
        kinds: kindsOf(c),
        tables: tablesOf(c),
        writes: c.unparseable ? null : c.statements.some((s) => s.writes),
        sql,
        params: verdict.decision.rule?.audit?.params === 'redact' ? '[redacted]' : params,
      },
      { sync: verdict.decision.action !== 'allow' },
    );
  }

  /**
   * An allowed statement's decision record, written to the segment before the statement is
   * forwarded (fsync follows with the group commit). False when the audit trail cannot take records:
   * the statement is then refused, so nothing runs unrecorded (the writer logs the failure).
   */
  admit(session: SessionIdentity, sql: string, params: readonly (string | null)[], verdict: Verdict): boolean {
    if (!this.deps.audit.healthy) return false;
    this.recordDecision(session, sql, params, verdict).catch(() => {});
    // The write itself happens inside append: a failing disk shows here, before anything is forwarded.
    return this.deps.audit.healthy;
  }

  /** What ran and how it ended; written after the fact, so it may ride with the next audit write. */
  recordExecution(session: SessionIdentity, requestId: string | undefined, result: ExecutionResult): void {
    this.deps.audit
      .append(
        'execution.result',
        { request_id: requestId, session_id: session.sessionId, requester: session.requester.email, resource: session.resource.name, ...result },
        { lazy: true },
      )
      .catch(() => {});
  }

  /** A denied statement: record it (fsynced), then the client error. */
  async refuse(session: SessionIdentity, sql: string, params: readonly (string | null)[], verdict: Verdict): Promise<ClientError> {
    try {
      await this.recordDecision(session, sql, params, verdict);
    } catch {
      return clientErrors.auditUnavailable();
    }
    const d = verdict.decision;
    return d.rule ? clientErrors.deniedByRule(d.rule.name) : clientErrors.deniedByDefault(d.reason);
  }

  /** A held statement: JIT window or retry approval first, else a request the client waits on. */
  async hold(
    session: SessionIdentity,
    sql: string,
    params: readonly (string | null)[],
    verdict: Verdict,
    hooks: HoldHooks,
  ): Promise<GateResult> {
    const d = verdict.decision;
    const approval = d.approval;
    if (!approval) return { run: false, error: clientErrors.deniedByDefault('no approval rule configured') };
    const ruleName = d.rule?.name ?? `default.${d.source}`;
    let jitLookupFailed: unknown;
    const grant = approval.mode !== 'jit' ? undefined
      : await this.deps.broker.findJitGrant(session.requester.email, session.resource.name, ruleName).catch((err: unknown) => void (jitLookupFailed = err ?? 'error'));
    if (grant) {
      this.deps.metrics?.statementDecided(session.protocol, session.resource.name, 'allow');
      try {
        await this.recordDecision(session, sql, params, verdict, grant.id);
      } catch {
        return { run: false, error: clientErrors.auditUnavailable() };
      }
      return { run: true };
    }
    this.deps.metrics?.statementDecided(session.protocol, session.resource.name, 'hold');
    try {
      await this.recordDecision(session, sql, params, verdict);
    } catch {
      return { run: false, error: clientErrors.auditUnavailable() };
    }
    if (jitLookupFailed !== undefined) return { run: false, error: storeError(jitLookupFailed) };
    const binding = bindingOf(session.resource.name, session.requester.email, sql, params);
    try {
      // A jit approval's effect is its window; it is never also a one-off run (else a revoked
      // window would leave one statement runnable).
      if (approval.hold === 'retry' && approval.mode !== 'jit') {
        const approved = await this.deps.broker.findApprovedForRetry(binding);
        if (approved && (await this.deps.broker.claimExecution(approved.id))) {
          return this.release(session, approved.id, sql, approved.break_glass !== undefined, hooks.signal);
        }
      }
    } catch (err) {
      return { run: false, error: storeError(err) };
    }
    if (!this.deps.acceptingHolds()) return { run: false, error: clientErrors.shuttingDown() };
    // The client left while earlier replies drained: asking approvers would be asking for nobody.
    if (hooks.signal.aborted) return { run: false, error: clientErrors.cancelled() };
    let request: ApprovalRequest;
    try {
      request = await this.deps.broker.open({
        requester: session.requester,
        resource: session.resource.name,
        protocol: session.protocol,
        rule: ruleName,
        approval,
        sql,
        params,
        redact_params: d.rule?.audit?.params === 'redact',
        binding,
        kinds: kindsOf(verdict.classification),
        tables: tablesOf(verdict.classification),
        session_id: session.sessionId,
        client_addr: session.clientAddr,
      });
    } catch (err) {
      return { run: false, error: storeError(err) };
    }
    if (approval.hold === 'retry') return { run: false, error: clientErrors.retryPending(request.id) };
    hooks.onHeld(request);
    const outcome = await this.deps.broker.wait(request.id, hooks.signal);
    switch (outcome.verdict) {
      case 'approved': {
        // The wait no longer listens to the signal once it is settled: from here the gate checks it itself.
        if (hooks.signal.aborted) return this.withdrawn(request.id, CLIENT_GONE);
        let claimed: boolean;
        try {
          claimed = await this.deps.broker.claimExecution(request.id);
        } catch (err) {
          // Whether the claim reached the store is unknown; nothing runs, so it is handed back either way.
          await this.deps.broker.withdraw(request.id, 'the approval store failed while the statement was being claimed');
          return { run: false, error: storeError(err) };
        }
        // Not claimed: the request changed under us (cancelled by this client's abort, or cleaned up).
        if (!claimed) return { run: false, error: hooks.signal.aborted ? clientErrors.cancelled(request.id) : clientErrors.abandoned(request.id) };
        return this.release(session, request.id, sql, outcome.breakGlass, hooks.signal);
      }
      case 'denied':
        return { run: false, error: clientErrors.deniedByApprover(request.id, outcome.by, outcome.reason) };
      case 'expired':
        return { run: false, error: clientErrors.expired(request.id, approval.timeout_ms) };
      case 'cancelled':
        return { run: false, error: clientErrors.cancelled(request.id) };
      case 'abandoned':
        return { run: false, error: clientErrors.abandoned(request.id) };
      case 'unavailable':
        return { run: false, error: clientErrors.storeUnavailable(outcome.message) };
    }
  }

  /** Approved statements the relay will not forward after all (another statement of their batch was refused). */
  async withdraw(requestIds: readonly string[], reason: string): Promise<void> {
    for (const id of requestIds) await this.deps.broker.withdraw(id, reason);
  }

  /**
   * A claimed statement goes to the relay only if its client is still there once the intent record is
   * written. The relay forwards it in the same turn (no await in between), so a request ends executed only
   * when its statement went up; a client gone during the claim or the fsync leaves it cancelled instead.
   */
  private async release(session: SessionIdentity, requestId: string, sql: string, breakGlass: boolean, signal: AbortSignal): Promise<GateResult> {
    if (signal.aborted) return this.withdrawn(requestId, CLIENT_GONE);
    const intended = await this.intend(session, requestId, sql, breakGlass);
    if (!intended.run) {
      await this.deps.broker.withdraw(requestId, 'the audit log could not be written, so the statement did not run');
      return intended;
    }
    if (signal.aborted) return this.withdrawn(requestId, CLIENT_GONE);
    return intended;
  }

  private async withdrawn(requestId: string, reason: string): Promise<GateResult> {
    await this.deps.broker.withdraw(requestId, reason);
    return { run: false, error: clientErrors.cancelled(requestId) };
  }

  /** An approved statement is about to run: its intent record is fsynced first, or it does not run. */
  private async intend(session: SessionIdentity, requestId: string, sql: string, breakGlass: boolean): Promise<GateResult> {
    try {
      await this.deps.audit.append(
        'execution.intent',
        // The digest ties the intent to the exact text about to run, even with audit.sql: hash.
        { request_id: requestId, session_id: session.sessionId, requester: session.requester.email, resource: session.resource.name, sql_sha256: sha256Hex(sql) },
        { sync: true },
      );
    } catch {
      return { run: false, error: clientErrors.auditUnavailable() };
    }
    return { run: true, requestId, breakGlass };
  }

}

/** A store failure as the client sees it: the store's own client error, else 'approval store unavailable'. */
function storeError(err: unknown): ClientError {
  return err instanceof ClientError ? err : clientErrors.storeUnavailable(String((err as Error)?.message ?? err));
}
