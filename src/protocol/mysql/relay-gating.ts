// Statements through the gate for the relay: judge, hold for approval (cancellable), record how each ran.

import type { ClassifyContext } from '../../classify/types.js';
import type { GateResult, StatementGate, Verdict } from '../../session/gate.js';
import { clientErrors } from '../../session/client-errors.js';
import type { RelayPort, SendExpectation } from './relay-port.js';

export interface MysqlRelayObserver {
  statementFinished?(protocol: 'mysql', seconds: number, upstreamSeconds: number): void;
}

export interface RelayGatingOptions {
  readonly gate: StatementGate;
  readonly observer?: MysqlRelayObserver;
  readonly text: { classifyContext(): ClassifyContext };
  readonly log: { info: (obj: object, msg: string) => void; debug: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
}

export class RelayGating {
  private holdAbort: AbortController | null = null;
  private closed = false;

  constructor(
    private readonly port: Pick<RelayPort, 'tracker' | 'session' | 'forward' | 'refuse'>,
    private readonly o: RelayGatingOptions,
  ) {}

  /** A statement is waiting for approval. */
  get holding(): boolean {
    return this.holdAbort !== null;
  }

  /** Drops a held statement (its client gets the gate's error); false when nothing is held. */
  abortHold(why: string): boolean {
    if (!this.holdAbort) return false;
    this.holdAbort.abort(new Error(why));
    return true;
  }

  /** The session is over: a held statement is dropped, and one still waiting for earlier replies is never held. */
  close(why: string): void {
    this.closed = true;
    this.abortHold(why);
  }

  /** Judge, then run (forward) or refuse. Allowed statements take the synchronous path. */
  gateThen(sql: string, params: readonly (string | null)[], run: (requestId: string | undefined, verdict: Verdict) => Promise<void> | void): Promise<void> | void {
    const session = this.port.session;
    const verdict = this.o.gate.judge(session, sql, this.o.text.classifyContext());
    // As on PostgreSQL: the logger drops `sql` above debug.
    this.o.log.debug({ sql, decision: verdict.decision.action, rule: verdict.decision.rule?.name ?? null }, 'statement decided');
    if (verdict.decision.action === 'allow') {
      if (!this.o.gate.admit(session, sql, params, verdict)) return this.port.refuse(clientErrors.auditUnavailable());
      return run(undefined, verdict);
    }
    return this.decideSlow(sql, params, verdict).then((result) => (result.run ? run(result.requestId, verdict) : this.port.refuse(result.error)));
  }

  private async decideSlow(sql: string, params: readonly (string | null)[], verdict: Verdict): Promise<GateResult> {
    const session = this.port.session;
    if (verdict.decision.action === 'deny') return { run: false, error: await this.o.gate.refuse(session, sql, params, verdict) };
    // Earlier replies reach the client first; MySQL has no notice channel, so the client simply waits.
    await this.port.tracker.quiescent();
    this.holdAbort = new AbortController();
    if (this.closed) this.holdAbort.abort(new Error('client gone'));
    let result: GateResult;
    try {
      result = await this.o.gate.hold(session, sql, params, verdict, {
        signal: this.holdAbort.signal,
        onHeld: (request) =>
          this.o.log.info({ request_id: request.id, rule: request.rule, expires_at: new Date(request.expires_at).toISOString() }, `statement held for approval: airlock approvals approve ${request.id}`),
      });
    } finally {
      this.holdAbort = null;
    }
    return result;
  }

  /** Forwards a command that expects a reply, recording its outcome. */
  send(raw: Buffer, e: SendExpectation, requestId?: string): void {
    const started = performance.now();
    const session = this.port.session;
    const onDone = e.onDone;
    this.port.tracker.expect({
      ...e,
      onDone: (outcome) => {
        onDone?.(outcome);
        const seconds = (performance.now() - started) / 1000;
        this.o.observer?.statementFinished?.('mysql', seconds, seconds);
        this.o.gate.recordExecution(session, requestId, {
          outcome: outcome.error ? 'error' : 'ok',
          errno: outcome.error?.errno,
          sqlstate: outcome.error?.sqlstate,
          rows: outcome.rows,
          affected_rows: outcome.affectedRows,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
        });
      },
    });
    this.port.forward(raw);
  }
}
