// Relays one authenticated PostgreSQL session: client bytes go up unchanged once the gate allows the
// statement they carry; held statements and everything behind them wait; refusals are answered here.

import type { Socket } from 'node:net';
import type { AuditSink } from '../../audit/types.js';
import { ClientError } from '../../errors.js';
import type { GateResult, SessionIdentity, StatementGate, Verdict } from '../../session/gate.js';
import { clientErrors } from '../../session/client-errors.js';
import { ClientInbox } from '../../listener/client-inbox.js';
import { heldNotice } from './held-notice.js';
import type { PgFrame } from './framer.js';
import { PgFramer } from './framer.js';
import { ExtendedBatch, UNKNOWN_PORTAL, type PendingStatement, type TakenBatch } from './extended-batch.js';
import { FrontendCode, decodeQuery } from './frontend.js';
import { errorResponse, readyForQuery } from './messages.js';
import { PreparedState } from './prepared-state.js';
import { ResponseTracker, type StatementOutcome } from './response-tracker.js';
import { isAsciiUnsafeClientEncoding } from '../../classify/pg/classifier.js';

/** ParameterStatus settings that change how the server reads statement text, so classification follows them. */
export const LEXING_SETTINGS: ReadonlySet<string> = new Set(['standard_conforming_strings', 'client_encoding']);

export interface RelayObserver {
  statementFinished?(protocol: 'postgres', seconds: number, upstreamSeconds: number): void;
}

export interface PgRelayOptions {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly session: SessionIdentity;
  readonly gate: StatementGate;
  readonly audit: AuditSink;
  readonly maxMessageBytes: number;
  /** Client-side framer already past startup (may hold a partial frame). */
  readonly clientFramer: PgFramer;
  /** Frames the client sent right behind its startup, already split off. */
  readonly initialFrames: readonly PgFrame[];
  /** Server-side settings that change how SQL is lexed (standard_conforming_strings). */
  readonly settings: Map<string, string>;
  readonly observer?: RelayObserver;
  readonly onClose: (reason: string) => void;
  readonly log: { debug: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
}

export class PgRelay {
  private readonly o: PgRelayOptions;
  private readonly upstreamFramer: PgFramer;
  private readonly tracker = new ResponseTracker();
  private readonly inbox: ClientInbox<PgFrame>;
  private closed = false;
  /** Extended-protocol messages waiting for their Sync or Flush. */
  private readonly batch = new ExtendedBatch();
  /** Statement and portal names as the server's answers confirm them: what an Execute really runs. */
  private readonly prepared = new PreparedState();
  /** After a refused extended batch: drop client messages until Sync, as the server would. */
  private skippingToSync = false;
  private holdAbort: AbortController | null = null;

  constructor(options: PgRelayOptions) {
    this.o = options;
    this.inbox = new ClientInbox(options.client, (frame) => this.handle(frame), (err) => this.failClient(err), () => this.closed);
    // Only the server's small control messages are read; row and copy data are relayed unread.
    this.upstreamFramer = new PgFramer({ typed: true, maxMessageBytes: Number.MAX_SAFE_INTEGER, skipBody: (type) => type === 0x44 || type === 0x64 });
  }

  start(): void {
    const { client, upstream } = this.o;
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    upstream.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
    client.on('drain', () => upstream.resume());
    upstream.on('drain', () => {
      if (!this.inbox.holdsClientPaused) client.resume();
    });
    client.on('close', () => this.close('client disconnected'));
    upstream.on('close', () => this.close('upstream closed'));
    client.on('error', () => this.close('client socket error'));
    upstream.on('error', () => this.close('upstream socket error'));
    for (const f of this.o.initialFrames) this.inbox.push(f);
    this.inbox.process();
    // The connector hands the upstream socket over paused, so no reply is read before we listen.
    upstream.resume();
  }

  /** A CancelRequest for this session: a held statement is dropped here; else true = forward it. */
  cancel(): 'cancelled-hold' | 'forward' {
    if (this.holdAbort) {
      this.holdAbort.abort(new Error('cancel request'));
      return 'cancelled-hold';
    }
    return 'forward';
  }

  /** Who this session runs as (a reload checks they may still). */
  get requester(): SessionIdentity['requester'] {
    return this.o.session.requester;
  }

  /** The token stamp the session logged in with (a rotation ends the session). */
  get credential(): string | undefined {
    return this.o.session.credential;
  }

  /** A statement is running upstream (shutdown lets it finish within the grace period). */
  get busy(): boolean {
    return !this.tracker.idle;
  }

  get holding(): boolean {
    return this.holdAbort !== null;
  }

  /** Ends the session with a FATAL error (shutdown, limits). */
  terminate(error: ClientError): void {
    if (this.closed) return;
    this.holdAbort?.abort(new Error('shutdown'));
    this.o.client.end(errorResponse({ severity: 'FATAL', sqlstate: error.sqlstate, message: error.message, hint: error.hint }));
    this.close('terminated');
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.holdAbort?.abort(new Error(reason));
    this.tracker.abandonAll();
    this.o.upstream.destroy();
    this.o.client.destroy();
    this.o.onClose(reason);
  }

  private onClientData(chunk: Buffer): void {
    try {
      this.o.clientFramer.push(chunk, (frame) => this.inbox.push(frame));
    } catch (err) {
      this.failClient(err);
      return;
    }
    this.inbox.process();
  }

  private onUpstreamData(chunk: Buffer): void {
    if (!this.o.client.write(chunk)) this.o.upstream.pause();
    try {
      this.upstreamFramer.push(chunk, (frame) => this.observeUpstream(frame));
    } catch (err) {
      this.o.log.warn({ err }, 'unreadable upstream frame');
      this.close('upstream protocol error');
    }
  }

  private observeUpstream(frame: PgFrame): void {
    // ParameterStatus: track settings that change how statements are lexed.
    if (frame.type === 0x53) {
      const end = frame.body.indexOf(0);
      if (end > 0) {
        const name = frame.body.toString('utf8', 0, end);
        if (LEXING_SETTINGS.has(name)) this.o.settings.set(name, frame.body.toString('utf8', end + 1, frame.body.length - 1));
      }
    }
    this.tracker.observe(frame.type, frame.body);
  }

  /** Returns a promise only when the statement must wait (hold, refusal sequencing). */
  private handle(frame: PgFrame): Promise<void> | void {
    if (this.skippingToSync) {
      if (frame.type === FrontendCode.Sync) {
        this.skippingToSync = false;
        this.answerSync();
      } else if (frame.type === FrontendCode.Terminate) {
        this.close('client terminated');
      }
      return;
    }
    switch (frame.type) {
      case FrontendCode.Query:
        if (!this.batch.empty) return Promise.resolve(this.flushBatch(false)).then(() => this.handleQuery(frame));
        return this.handleQuery(frame);
      case FrontendCode.Parse:
      case FrontendCode.Bind:
      case FrontendCode.Execute:
      case FrontendCode.Close:
      case FrontendCode.Describe:
        this.batch.add(frame);
        return;
      case FrontendCode.Sync:
        this.batch.add(frame);
        return this.flushBatch(true);
      case FrontendCode.Flush:
        this.batch.add(frame);
        return this.flushBatch(false);
      case FrontendCode.FunctionCall:
        return this.refuseSimple(clientErrors.fastPathRefused());
      case FrontendCode.Terminate:
        this.o.upstream.write(frame.raw);
        this.close('client terminated');
        return;
      default:
        // CopyData/CopyDone/CopyFail and anything else carry no statement: forward in order.
        if (!this.batch.empty) return Promise.resolve(this.flushBatch(false)).then(() => this.forwardRaw(frame.raw));
        this.forwardRaw(frame.raw);
        return;
    }
  }

  private handleQuery(frame: PgFrame): Promise<void> | void {
    const sql = decodeQuery(frame.body);
    const arrived = performance.now();
    const verdict = this.judge(sql);
    if (verdict.decision.action === 'allow') {
      if (!this.admit(sql, [], verdict)) return this.refuseSimple(clientErrors.auditUnavailable());
      this.tracker.expect(FrontendCode.Query, this.outcomeRecorder(undefined, arrived));
      this.prepared.forwardedSql(verdict.classification);
      this.forwardRaw(frame.raw);
      return;
    }
    return this.decideSlow([{ sql, params: [] }], [verdict]).then((result) => {
      if (!result.run) return this.refuseSimple(result.error);
      this.tracker.expect(FrontendCode.Query, this.outcomeRecorder(result.requestId));
      this.prepared.forwardedSql(verdict.classification);
      this.forwardRaw(frame.raw);
    });
  }

  /** Sync or Flush ends an extended batch: decide every Execute in it, then forward it whole or refuse it whole. */
  private flushBatch(endsWithSync: boolean): Promise<void> | void {
    const taken = this.batch.take(this.prepared);
    // A name it uses depends on how the server answered an earlier batch: decide once that is known.
    if (!taken) return this.prepared.settled().then(() => (this.closed ? undefined : this.flushBatch(endsWithSync)));
    const { statements } = taken;
    if (statements.some((st) => st.sql === UNKNOWN_PORTAL)) {
      // The server would answer 34000/26000; asking approvers about it would be asking about nothing.
      return this.tracker.quiescent().then(() => {
        this.writeClient(this.errorFrame(clientErrors.unknownPortal()));
        if (endsWithSync) this.answerSync();
        else this.skippingToSync = true;
      });
    }
    const arrived = performance.now();
    const verdicts = statements.map((s) => this.judge(s.sql));
    statements.forEach((s, i) => {
      if (s.portal?.cleared) verdicts[i] = { ...verdicts[i]!, decision: { ...verdicts[i]!.decision, action: 'allow', reason: 'portal already approved' } };
    });
    if (verdicts.every((v) => v.decision.action === 'allow')) {
      if (!statements.every((s, i) => this.admit(s.sql, s.params, verdicts[i]!))) return this.refuseBatch(clientErrors.auditUnavailable(), endsWithSync);
      this.forwardBatch(taken, verdicts, undefined, arrived);
      return;
    }
    return this.decideSlow(statements, verdicts).then((result) => {
      if (result.run) return this.forwardBatch(taken, verdicts, result.requestId);
      return this.refuseBatch(result.error, endsWithSync);
    });
  }

  /** The whole batch is refused: one error once earlier replies are out, then ReadyForQuery at its Sync. */
  private async refuseBatch(error: ClientError, endsWithSync: boolean): Promise<void> {
    await this.tracker.quiescent();
    if (error.fatal) return this.terminate(error);
    this.writeClient(this.errorFrame(error));
    if (endsWithSync) this.answerSync();
    else this.skippingToSync = true;
  }

  private forwardBatch({ frames, effects }: TakenBatch, verdicts: readonly Verdict[], requestId: string | undefined, arrived?: number): void {
    const upstream = this.o.upstream;
    upstream.cork();
    let executes = 0;
    frames.forEach((f, i) => {
      if (f.type === FrontendCode.Execute) this.tracker.expect(f.type, this.outcomeRecorder(requestId, arrived));
      else if (f.type !== FrontendCode.Flush) this.tracker.expect(f.type, this.prepared.forwarded(effects[i]));
      if (f.type === FrontendCode.Execute) this.prepared.forwardedSql(verdicts[executes++]!.classification);
      if (f.type === FrontendCode.Sync) this.prepared.syncForwarded();
      this.forwardRaw(f.raw);
    });
    process.nextTick(() => upstream.uncork());
  }

  /**
   * Deny or hold: the strictest statement decides. A refusal is answered only after the server has
   * answered everything already forwarded, so the client sees replies in order.
   */
  private async decideSlow(statements: PendingStatement[], verdicts: Verdict[]): Promise<GateResult> {
    const session = this.o.session;
    const denied = verdicts.findIndex((v) => v.decision.action === 'deny');
    if (denied >= 0) {
      const s = statements[denied]!;
      return { run: false, error: await this.o.gate.refuse(session, s.sql, s.params, verdicts[denied]!) };
    }
    let last: GateResult = { run: true };
    const claimed: string[] = [];
    const refused = async (result: GateResult): Promise<GateResult> => {
      // Statements approved earlier in this batch are not forwarded either: their claims go back.
      if (claimed.length > 0) await this.o.gate.withdraw(claimed, 'another statement of its batch did not run');
      return result;
    };
    for (let i = 0; i < statements.length; i++) {
      const s = statements[i]!;
      const v = verdicts[i]!;
      if (v.decision.action === 'allow') {
        if (!this.admit(s.sql, s.params, v)) return refused({ run: false, error: clientErrors.auditUnavailable() });
        continue;
      }
      await this.tracker.quiescent();
      this.holdAbort = new AbortController();
      // Closed while earlier replies drained: the hold must see the client is gone.
      if (this.closed) this.holdAbort.abort(new Error('client gone'));
      try {
        last = await this.o.gate.hold(session, s.sql, s.params, v, {
          signal: this.holdAbort.signal,
          onHeld: (request) => this.writeClient(heldNotice(request)),
        });
      } finally {
        this.holdAbort = null;
      }
      if (!last.run) return refused(last);
      if (last.requestId) claimed.push(last.requestId);
      if (s.portal) s.portal.cleared = true;
    }
    return last;
  }

  private refuseSimple(error: ClientError): Promise<void> {
    return this.tracker.quiescent().then(() => {
      // A FATAL error ends the session (shutdown): the client must not be left on a connection it was told is gone.
      if (error.fatal) return this.terminate(error);
      this.writeClient(this.errorFrame(error));
      this.writeClient(readyForQuery(this.tracker.lastStatus));
    });
  }

  /** Sync after a refusal: the server answers if it has unsynced work, else airlock does, with its state. */
  private answerSync(): void {
    if (this.tracker.unsynced) {
      this.tracker.expect(FrontendCode.Sync);
      this.prepared.syncForwarded();
      this.forwardRaw(Buffer.from([0x53, 0, 0, 0, 4]));
    } else {
      this.writeClient(readyForQuery(this.tracker.lastStatus));
    }
  }

  private errorFrame(error: ClientError): Buffer {
    return errorResponse({ severity: error.fatal ? 'FATAL' : 'ERROR', sqlstate: error.sqlstate, message: error.message, detail: error.detail, hint: error.hint });
  }

  private forwardRaw(raw: Buffer): void {
    if (!this.o.upstream.write(raw)) this.o.client.pause();
  }

  private writeClient(buf: Buffer): void {
    if (!this.closed) this.o.client.write(buf);
  }

  private judge(sql: string): Verdict {
    const verdict = this.o.gate.judge(this.o.session, sql, this.classifyContext());
    // The logger drops `sql` above debug: statement text is personal data operators rarely need.
    this.o.log.debug({ sql, decision: verdict.decision.action, rule: verdict.decision.rule?.name ?? null }, 'statement decided');
    return verdict;
  }

  /** Only settings that change the classification go in: every variation is a separate cache entry. */
  private classifyContext() {
    const settings: Record<string, string> = {};
    if (this.o.settings.get('standard_conforming_strings') === 'off') settings.standard_conforming_strings = 'off';
    const encoding = this.o.settings.get('client_encoding');
    if (isAsciiUnsafeClientEncoding(encoding)) settings.client_encoding = encoding!;
    return Object.keys(settings).length > 0 ? { settings } : undefined;
  }

  private admit(sql: string, params: readonly (string | null)[], verdict: Verdict): boolean {
    return this.o.gate.admit(this.o.session, sql, params, verdict);
  }

  /**
   * arrived: when the statement reached airlock (statement latency includes classification and
   * policy); a held statement passes none, so its latency starts after the approval wait.
   */
  private outcomeRecorder(requestId: string | undefined, arrived?: number): (outcome: StatementOutcome) => void {
    const started = performance.now();
    const since = arrived ?? started;
    return (outcome) => {
      const now = performance.now();
      const seconds = (now - started) / 1000;
      this.o.observer?.statementFinished?.('postgres', (now - since) / 1000, seconds);
      this.o.gate.recordExecution(this.o.session, requestId, {
        outcome: outcome.error ? 'error' : outcome.skipped ? 'skipped' : 'ok',
        command_tag: outcome.tag,
        sqlstate: outcome.error?.sqlstate,
        rows: outcome.rows,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
      });
    };
  }

  private failClient(err: unknown): void {
    if (err instanceof ClientError) {
      this.writeClient(this.errorFrame(err));
      if (err.fatal) {
        this.o.client.end();
        this.close(`client error ${err.sqlstate}`);
      }
      return;
    }
    this.o.log.warn({ err }, 'session failed');
    this.writeClient(errorResponse({ severity: 'FATAL', sqlstate: 'XX000', message: 'airlock: internal error; the session is closed' }));
    this.close('internal error');
  }
}
