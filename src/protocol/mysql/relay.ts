// Relays one authenticated MySQL session: each client command goes up unchanged once the gate allows the
// statement it carries; held commands and everything behind them wait; refusals are answered here.
// Both legs negotiated the same capability flags, so server replies are forwarded byte for byte.

import type { Socket } from 'node:net';
import type { AuditSink } from '../../audit/types.js';
import type { ClassifyContext } from '../../classify/types.js';
import { ClientError } from '../../errors.js';
import type { GateResult, SessionIdentity, StatementGate, Verdict } from '../../session/gate.js';
import { ClientInbox } from '../../listener/client-inbox.js';
import { clientErrors } from '../../session/client-errors.js';
import type { AuthChannel } from './auth.js';
import { Capability, Command, Errno, LAST_PREPARED_STATEMENT, sqlstateForErrno } from './codes.js';
import { commandText, decodeChangeUser, decodeProcessKill, decodeSendLongData, decodeStmtExecute, statementId, type ChangeUser } from './commands.js';
import { MysqlFramer, PacketTooLargeError, framePayload, type MysqlPacket } from './framer.js';
import { encodeErr, encodeOk } from './packets.js';
import { PreparedStatements } from './prepared.js';
import { ResponseTracker, type Expectation, type ReplyOutcome, type ReplyShape } from './response-tracker.js';
import { SessionText, type KillTarget } from './session-text.js';

export interface MysqlRelayObserver {
  statementFinished?(protocol: 'mysql', seconds: number, upstreamSeconds: number): void;
}

export interface MysqlRelayHooks {
  /** KILL [QUERY|CONNECTION] n from this session, n being an airlock connection id. */
  kill(target: KillTarget, session: SessionIdentity): Promise<ClientError | undefined>;
  /** COM_CHANGE_USER: authenticate the new user over `channel`; the new identity, or why not. */
  changeUser(request: ChangeUser, channel: AuthChannel, session: SessionIdentity): Promise<{ ok: true; session: SessionIdentity } | { ok: false; error: ClientError }>;
}

export interface MysqlRelayOptions {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly clientFramer: MysqlFramer;
  readonly upstreamFramer: MysqlFramer;
  readonly initialPackets: readonly MysqlPacket[];
  readonly session: SessionIdentity;
  readonly gate: StatementGate;
  readonly audit: AuditSink;
  /** Flags in force on both legs. */
  readonly capabilities: number;
  readonly text: SessionText;
  readonly tls: boolean;
  readonly hooks: MysqlRelayHooks;
  readonly observer?: MysqlRelayObserver;
  readonly onClose: (reason: string) => void;
  readonly log: { info: (obj: object, msg: string) => void; debug: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
}

const SINGLE_REPLY = new Set<number>([Command.Ping, Command.Statistics, Command.StmtReset, Command.SetOption, Command.ResetConnection]);

export class MysqlRelay {
  private readonly o: MysqlRelayOptions;
  private session: SessionIdentity;

  /** Who this session runs as now (COM_CHANGE_USER may change it); a reload checks they may still. */
  get requesterIdentity(): SessionIdentity['requester'] {
    return this.session.requester;
  }
  private readonly tracker: ResponseTracker;
  private readonly statements = new PreparedStatements();
  private readonly inbox: ClientInbox<MysqlPacket>;
  private closed = false;
  private holdAbort: AbortController | null = null;
  /** The client is streaming a LOCAL INFILE file the server asked for. */
  private clientInfile = false;
  /** A command handler is reading auth packets (COM_CHANGE_USER). */
  private packetWaiter: ((p: MysqlPacket) => void) | null = null;

  constructor(options: MysqlRelayOptions) {
    this.o = options;
    this.session = options.session;
    this.tracker = new ResponseTracker((options.capabilities & Capability.DeprecateEof) !== 0);
    this.inbox = new ClientInbox(
      options.client,
      (p) => this.handle(p),
      (err) => {
        this.o.log.warn({ err: (err as Error).message }, 'session failed');
        this.writeClient(framePayload(encodeErr(2027, 'airlock: internal error; the session is closed'), 1));
        this.close('internal error');
      },
      () => this.closed,
    );
  }

  get identity(): SessionIdentity {
    return this.session;
  }

  get holding(): boolean {
    return this.holdAbort !== null;
  }

  get busy(): boolean {
    return this.tracker.busy;
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
    for (const p of this.o.initialPackets) this.enqueue(p);
    this.inbox.process();
  }

  /** KILL QUERY aimed at this session: a held statement is dropped here; else 'forward' to the server. */
  cancel(): 'cancelled-hold' | 'forward' {
    if (this.holdAbort) {
      this.holdAbort.abort(new Error('KILL QUERY'));
      return 'cancelled-hold';
    }
    return 'forward';
  }

  /** Ends the session; a client waiting on a held statement gets the error first. */
  terminate(error: ClientError): void {
    if (this.closed) return;
    if (this.holdAbort) {
      this.holdAbort.abort(new Error('terminated'));
      this.writeClient(framePayload(this.errPayload(error), 1));
    }
    this.o.client.end();
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

  private enqueue(p: MysqlPacket): void {
    if (this.packetWaiter) {
      const w = this.packetWaiter;
      this.packetWaiter = null;
      w(p);
      return;
    }
    this.inbox.push(p);
  }

  private onClientData(chunk: Buffer): void {
    try {
      this.o.clientFramer.push(chunk, (p) => this.enqueue(p));
    } catch (err) {
      if (err instanceof PacketTooLargeError) {
        this.writeClient(framePayload(encodeErr(Errno.NetPacketTooLarge, `airlock: packet of ${err.size} bytes exceeds limits.max_message_bytes (${err.limit})`), 1));
        this.o.client.end();
        this.close('client packet too large');
        return;
      }
      throw err;
    }
    this.inbox.process();
  }

  private onUpstreamData(chunk: Buffer): void {
    const out: Buffer[] = [];
    let whole = true;
    let aligned: boolean;
    try {
      aligned = this.o.upstreamFramer.push(chunk, (p) => {
        const seen = this.tracker.observe(p.payload);
        if (seen.kind === 'local-infile') {
          if (!seen.allowed) throw new RogueInfileError();
          this.clientInfile = true;
        }
        if (seen.owner?.internal) whole = false;
        else out.push(p.raw);
      });
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, err instanceof RogueInfileError ? 'upstream asked for a client file the statement did not load; session closed' : 'unreadable upstream packet');
      this.writeClient(framePayload(encodeErr(2027, 'airlock: the server sent a reply airlock cannot relay; the session is closed'), 1));
      this.close('upstream protocol error');
      return;
    }
    const data = aligned && whole ? chunk : out.length === 1 ? out[0]! : Buffer.concat(out);
    if (data.length > 0 && !this.closed && !this.o.client.write(data)) this.o.upstream.pause();
  }



  /** Returns a promise only when the command must wait (hold, refusal ordering, auth). */
  private handle(p: MysqlPacket): Promise<void> | void {
    if (this.clientInfile) {
      this.forward(p.raw);
      // The file ends with an empty packet (possibly right behind a 16 MiB one).
      if (p.raw.length - (p.parts - 1) * (0xffffff + 4) === 4) this.clientInfile = false;
      return;
    }
    const command = p.payload[0];
    switch (command) {
      case Command.Query:
        return this.handleQuery(p);
      case Command.InitDb:
        return this.handleInitDb(p);
      case Command.StmtPrepare:
        return this.handlePrepare(p);
      case Command.StmtExecute:
        return this.handleExecute(p);
      case Command.StmtSendLongData: {
        const d = decodeSendLongData(p.payload);
        // Unknown statement: the server ignores it too (and fails the execute).
        if (!this.statements.appendLongData(d.statementId, d.param, d.data, p.raw)) this.forward(p.raw);
        return;
      }
      case Command.StmtClose: {
        const s = this.statements.get(statementId(p.payload));
        if (s) this.statements.takeLongData(s);
        this.statements.delete(statementId(p.payload));
        this.forward(p.raw);
        return;
      }
      case Command.StmtReset: {
        const s = this.statements.get(statementId(p.payload));
        if (s) {
          this.statements.takeLongData(s);
          s.cursorOpen = false;
        }
        return this.send(p.raw, { shape: 'single' });
      }
      case Command.StmtFetch: {
        const s = this.statements.get(statementId(p.payload));
        if (s && !s.cursorOpen) return this.refuse(new ClientError({ sqlstate: 'HY000', mysqlErrno: Errno.UnknownStmtHandler, message: 'airlock: COM_STMT_FETCH without an open cursor' }));
        return this.send(p.raw, { shape: 'rows' });
      }
      case Command.FieldList:
        return this.send(p.raw, { shape: 'rows' });
      case Command.ResetConnection:
        this.statements.clear();
        this.o.text.reset();
        return this.send(p.raw, { shape: 'single' });
      case Command.ChangeUser:
        return this.handleChangeUser(p);
      case Command.ProcessKill:
        return this.runKill(`KILL ${decodeProcessKill(p.payload)}`, { id: decodeProcessKill(p.payload), what: 'CONNECTION' });
      case Command.Quit:
        this.forward(p.raw);
        this.o.client.end();
        this.close('client quit');
        return;
      default:
        if (command !== undefined && SINGLE_REPLY.has(command)) return this.send(p.raw, { shape: 'single' });
        return this.refuse(new ClientError({ sqlstate: '08S01', mysqlErrno: Errno.UnknownCom, message: `airlock: command 0x${(command ?? 0).toString(16)} is not supported through airlock` }));
    }
  }

  private handleQuery(p: MysqlPacket): Promise<void> | void {
    const sql = commandText(p.payload);
    const kill = this.o.text.killTarget(sql);
    if (kill === 'invalid') return this.refuse(new ClientError({ sqlstate: '42000', mysqlErrno: Errno.NotSupported, message: 'airlock: KILL needs a literal connection id (the one your client saw)' }));
    if (kill) return this.runKill(sql, kill);
    const use = this.o.text.schemaSwitch(sql, this.session.resource);
    if (use && !use.allowed) return this.refuse(schemaDenied(use.name, this.session.resource.name));
    return this.gateThen(sql, [], (requestId, verdict) => {
      const raw = use?.rewritten ? framePayload(Buffer.concat([Buffer.from([Command.Query]), Buffer.from(use.rewritten, 'utf8')]), p.seq) : p.raw;
      this.o.text.afterForward(sql);
      const loadsLocal = !verdict.classification.unparseable && verdict.classification.statements.some((s) => s.kind === 'LOAD') && /\bLOCAL\b/i.test(sql);
      return this.send(raw, { shape: 'resultset', localInfileAllowed: loadsLocal }, requestId);
    });
  }

  private handleInitDb(p: MysqlPacket): Promise<void> | void {
    const name = commandText(p.payload);
    const target = this.o.text.resolveSchema(name, this.session.resource);
    if (!target) return this.refuse(schemaDenied(name, this.session.resource.name));
    const raw = target === name ? p.raw : framePayload(Buffer.concat([Buffer.from([Command.InitDb]), Buffer.from(target, 'utf8')]), p.seq);
    return this.send(raw, { shape: 'single', onDone: (o) => !o.error && this.o.text.setDatabase(target) });
  }

  private handlePrepare(p: MysqlPacket): void {
    const sql = commandText(p.payload);
    this.forward(p.raw);
    this.tracker.expect({
      shape: 'prepare',
      onPrepared: (ok) => (ok ? this.statements.add(ok.statementId, sql, ok.params) : this.statements.prepareFailed()),
    });
  }

  private async handleExecute(p: MysqlPacket): Promise<void> {
    const id = statementId(p.payload);
    // A pipelined execute (or the "last prepared" id) may race its PREPARE_OK: wait for the server.
    if (id === LAST_PREPARED_STATEMENT || !this.statements.get(id)) await this.tracker.quiescent();
    const s = this.statements.get(id);
    if (!s) return this.send(p.raw, { shape: 'resultset' });
    let decoded;
    try {
      decoded = decodeStmtExecute(p.payload, s.params, s.types, s.longData);
    } catch (err) {
      this.statements.takeLongData(s);
      return this.refuse(new ClientError({ sqlstate: 'HY000', mysqlErrno: 1210, message: `airlock: unreadable COM_STMT_EXECUTE: ${(err as Error).message}` }));
    }
    s.types = decoded.types;
    const longData = this.statements.takeLongData(s);
    return this.gateThen(s.sql, decoded.params, (requestId) => {
      for (const raw of longData) this.forward(raw);
      s.cursorOpen = (decoded.flags & 0x0f) !== 0;
      return this.send(p.raw, { shape: 'resultset' }, requestId);
    });
  }

  private async handleChangeUser(p: MysqlPacket): Promise<void> {
    await this.tracker.quiescent();
    const request = decodeChangeUser(p.payload, this.o.capabilities);
    let seq = p.seq + 1;
    const channel: AuthChannel = {
      tls: this.o.tls,
      send: (payload) => this.writeClient(framePayload(payload, seq++)),
      receive: () =>
        new Promise<MysqlPacket>((resolve) => {
          const queued = this.inbox.take();
          if (queued) resolve(queued);
          else this.packetWaiter = resolve;
        }).then((reply) => {
          seq = reply.seq + 1;
          return reply.payload;
        }),
    };
    const result = await this.o.hooks.changeUser(request, channel, this.session);
    if (!result.ok) {
      this.writeClient(framePayload(this.errPayload(result.error), seq));
      this.o.client.end();
      this.close('change user refused');
      return;
    }
    // The server side resets too: prepared statements, variables and temporary tables go, as with a real change.
    let failed: ReplyOutcome | undefined;
    this.tracker.expect({ shape: 'single', internal: true, onDone: (o) => (failed = o.error ? o : undefined) });
    this.forward(framePayload(Buffer.from([Command.ResetConnection]), 0));
    await this.tracker.quiescent();
    if (failed?.error) {
      this.writeClient(framePayload(encodeErr(failed.error.errno, failed.error.message, failed.error.sqlstate), seq));
      this.close('upstream reset failed');
      return;
    }
    this.statements.clear();
    this.o.text.reset();
    this.session = result.session;
    this.o.log.info({ requester: result.session.requester.email }, 'COM_CHANGE_USER: session now acts for another user');
    this.writeClient(framePayload(this.okPayload(), seq));
  }

  /**
   * KILL is session control airlock answers itself, never a database statement: policy does not judge it
   * (a read-only resource must still let a requester cancel their own held statement), and the hook lets
   * it reach only the requester's own sessions. It is audited as decided by airlock.
   */
  private async runKill(sql: string, target: KillTarget): Promise<void> {
    await this.tracker.quiescent();
    const s = this.session;
    this.o.audit
      .append('statement.decided', { session_id: s.sessionId, requester: s.requester.email, resource: s.resource.name, decision: 'allow', rule: null, source: 'session-control', kinds: ['KILL'], tables: [], writes: false, sql, params: [] })
      .catch((err) => this.o.log.warn({ err }, 'audit write failed for a KILL'));
    const error = await this.o.hooks.kill(target, this.session);
    if (error) this.writeClient(framePayload(this.errPayload(error), 1));
    else this.writeClient(framePayload(this.okPayload(), 1));
  }

  /** Judge, then run (forward) or refuse. Allowed statements take the synchronous path. */
  private gateThen(sql: string, params: readonly (string | null)[], run: (requestId: string | undefined, verdict: Verdict) => Promise<void> | void): Promise<void> | void {
    const verdict = this.o.gate.judge(this.session, sql, this.classifyContext());
    if (verdict.decision.action === 'allow') {
      this.o.gate.recordDecision(this.session, sql, params, verdict).catch((err) => this.o.log.warn({ err }, 'audit write failed for an allowed statement'));
      return run(undefined, verdict);
    }
    return this.decideSlow(sql, params, verdict).then((result) => (result.run ? run(result.requestId, verdict) : this.refuse(result.error)));
  }

  private async decideSlow(sql: string, params: readonly (string | null)[], verdict: Verdict): Promise<GateResult> {
    const session = this.session;
    if (verdict.decision.action === 'deny') return { run: false, error: await this.o.gate.refuse(session, sql, params, verdict) };
    // Earlier replies reach the client first; MySQL has no notice channel, so the client simply waits.
    await this.tracker.quiescent();
    this.holdAbort = new AbortController();
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
  private send(raw: Buffer, e: Omit<Expectation, 'shape'> & { shape: ReplyShape }, requestId?: string): void {
    const started = performance.now();
    const session = this.session;
    const onDone = e.onDone;
    this.tracker.expect({
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
    this.forward(raw);
  }

  private refuse(error: ClientError): Promise<void> {
    return this.tracker.quiescent().then(() => this.writeClient(framePayload(this.errPayload(error), 1)));
  }

  private errPayload(error: ClientError): Buffer {
    return encodeErr(error.mysqlErrno, error.message, sqlstateForErrno(error.mysqlErrno));
  }

  private okPayload(): Buffer {
    return encodeOk({ status: this.tracker.lastStatus, sessionTrack: (this.o.capabilities & Capability.SessionTrack) !== 0 });
  }

  private forward(raw: Buffer): void {
    if (!this.o.upstream.write(raw)) this.o.client.pause();
  }

  private writeClient(buf: Buffer): void {
    if (!this.closed) this.o.client.write(buf);
  }

  private classifyContext(): ClassifyContext {
    return this.o.text.classifyContext();
  }
}

class RogueInfileError extends Error {}

function schemaDenied(name: string, resource: string): ClientError {
  return new ClientError({ sqlstate: '42000', mysqlErrno: Errno.DbAccessDenied, message: `airlock: database '${name}' is not among the allowed schemas of resource "${resource}"` });
}
