// The MySQL session relay's core: sockets, backpressure, lifecycle, command dispatch and the query path.
//
// Each client command goes up unchanged once the gate allows the statement it carries; held commands and
// everything behind them wait; refusals are answered here. Both legs negotiated the same capability flags,
// so server replies are forwarded byte for byte. Judging and holding: relay-gating; COM_STMT_*:
// relay-statements; KILL, COM_CHANGE_USER, COM_INIT_DB, COM_RESET_CONNECTION: relay-control.

import type { Socket } from 'node:net';
import type { AuditSink } from '../../audit/types.js';
import { ClientError } from '../../errors.js';
import type { SessionIdentity, StatementGate } from '../../session/gate.js';
import { ClientInbox } from '../../listener/client-inbox.js';
import { Capability, Command, Errno, sqlstateForErrno } from './codes.js';
import { commandText, fieldListStatement } from './commands.js';
import { MysqlFramer, PacketTooLargeError, framePayload, type MysqlPacket } from './framer.js';
import { encodeErr, encodeOk } from './packets.js';
import { RelayControl, schemaDenied, type MysqlRelayHooks } from './relay-control.js';
import { RelayGating, type MysqlRelayObserver } from './relay-gating.js';
import type { RelayPort } from './relay-port.js';
import { RelayStatements } from './relay-statements.js';
import { ResponseTracker } from './response-tracker.js';
import type { SessionText } from './session-text.js';

export type { MysqlRelayHooks } from './relay-control.js';
export type { MysqlRelayObserver } from './relay-gating.js';

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

  get credential(): string | undefined {
    return this.session.credential;
  }
  private readonly tracker: ResponseTracker;
  private readonly gating: RelayGating;
  private readonly statements: RelayStatements;
  private readonly control: RelayControl;
  private readonly inbox: ClientInbox<MysqlPacket>;
  private closed = false;
  /** A command of 16 MiB or more arrives as several packets: the reply follows the last one, not seq 0. */
  private currentReplySeq = 1;
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
        this.writeClient(framePayload(encodeErr(Errno.Internal, 'airlock: internal error; the session is closed'), 1));
        this.close('internal error');
      },
      () => this.closed,
    );
    const port = this.port();
    this.gating = new RelayGating(port, options);
    this.statements = new RelayStatements(port);
    this.control = new RelayControl(port, options);
  }

  /** What the command handlers may do with this session. */
  private port(): RelayPort {
    const relay = this;
    return {
      tracker: this.tracker,
      get session() {
        return relay.session;
      },
      set session(s) {
        relay.session = s;
      },
      forward: (raw) => this.forward(raw),
      send: (raw, e, requestId) => this.gating.send(raw, e, requestId),
      refuse: (error) => this.refuse(error),
      gateThen: (sql, params, run) => this.gating.gateThen(sql, params, run),
      writeClient: (buf) => this.writeClient(buf),
      get replySeq() {
        return relay.currentReplySeq;
      },
      errPayload: (error) => this.errPayload(error),
      okPayload: () => this.okPayload(),
      nextClientPacket: () =>
        new Promise<MysqlPacket>((resolve) => {
          const queued = this.inbox.take();
          if (queued) resolve(queued);
          else this.packetWaiter = resolve;
        }),
      resetSessionState: () => {
        this.statements.clear();
        this.o.text.reset();
      },
      endClient: () => this.o.client.end(),
      close: (reason) => this.close(reason),
    };
  }

  get identity(): SessionIdentity {
    return this.session;
  }

  get holding(): boolean {
    return this.gating.holding;
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
    return this.gating.abortHold('KILL QUERY') ? 'cancelled-hold' : 'forward';
  }

  /** Ends the session; a client waiting on a held statement gets the error first. */
  terminate(error: ClientError): void {
    if (this.closed) return;
    if (this.gating.abortHold('terminated')) this.writeClient(framePayload(this.errPayload(error), this.currentReplySeq));
    this.o.client.end();
    this.close('terminated');
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.gating.close(reason);
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
      this.writeClient(framePayload(encodeErr(Errno.Internal, 'airlock: the server sent a reply airlock cannot relay; the session is closed'), 1));
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
    this.currentReplySeq = (p.lastSeq + 1) & 0xff;
    const command = p.payload[0];
    switch (command) {
      case Command.Query:
        return this.handleQuery(p);
      case Command.StmtPrepare:
        return this.statements.prepare(p);
      case Command.StmtExecute:
        return this.statements.execute(p);
      case Command.StmtSendLongData:
        return this.statements.sendLongData(p);
      case Command.StmtClose:
        return this.statements.close(p);
      case Command.StmtReset:
        return this.statements.reset(p);
      case Command.StmtFetch:
        return this.statements.fetch(p);
      case Command.FieldList:
        return this.gating.gateThen(fieldListStatement(p.payload), [], (requestId) => this.gating.send(p.raw, { shape: 'rows' }, requestId));
      case Command.InitDb:
        return this.control.initDb(p);
      case Command.ResetConnection:
        return this.control.resetConnection(p);
      case Command.ChangeUser:
        return this.control.changeUser(p);
      case Command.ProcessKill:
        return this.control.processKill(p);
      case Command.Quit:
        this.forward(p.raw);
        this.o.client.end();
        this.close('client quit');
        return;
      default:
        if (command !== undefined && SINGLE_REPLY.has(command)) return this.gating.send(p.raw, { shape: 'single' });
        return this.refuse(new ClientError({ sqlstate: '08S01', mysqlErrno: Errno.UnknownCom, message: `airlock: command 0x${(command ?? 0).toString(16)} is not supported through airlock` }));
    }
  }

  private handleQuery(p: MysqlPacket): Promise<void> | void {
    const sql = commandText(p.payload);
    const kill = this.o.text.killTarget(sql);
    if (kill) return this.control.killQuery(sql, kill);
    const use = this.o.text.schemaSwitch(sql, this.session.resource);
    if (use && !use.allowed) return this.refuse(schemaDenied(use.name, this.session.resource.name));
    return this.gating.gateThen(sql, [], (requestId, verdict) => {
      const raw = use?.rewritten ? framePayload(Buffer.concat([Buffer.from([Command.Query]), Buffer.from(use.rewritten, 'utf8')]), p.seq) : p.raw;
      this.o.text.afterForward(sql);
      const loadsLocal = !verdict.classification.unparseable && verdict.classification.statements.some((s) => s.kind === 'LOAD') && /\bLOCAL\b/i.test(sql);
      return this.gating.send(raw, { shape: 'resultset', localInfileAllowed: loadsLocal }, requestId);
    });
  }

  private refuse(error: ClientError): Promise<void> {
    const seq = this.currentReplySeq;
    return this.tracker.quiescent().then(() => this.writeClient(framePayload(this.errPayload(error), seq)));
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
}

class RogueInfileError extends Error {}
