// Session-control commands in the relay: KILL, COM_CHANGE_USER, COM_INIT_DB and COM_RESET_CONNECTION.

import type { AuditSink } from '../../audit/types.js';
import { ClientError } from '../../errors.js';
import type { SessionIdentity } from '../../session/gate.js';
import type { AuthChannel } from './auth.js';
import { Command, Errno } from './codes.js';
import { commandText, decodeChangeUser, decodeProcessKill, type ChangeUser } from './commands.js';
import { framePayload, type MysqlPacket } from './framer.js';
import { encodeErr } from './packets.js';
import type { RelayPort } from './relay-port.js';
import type { ReplyOutcome } from './response-tracker.js';
import type { KillTarget, SessionText } from './session-text.js';

export interface MysqlRelayHooks {
  /** KILL [QUERY|CONNECTION] n from this session, n being an airlock connection id. */
  kill(target: KillTarget, session: SessionIdentity): Promise<ClientError | undefined>;
  /** COM_CHANGE_USER: authenticate the new user over `channel`; the new identity, or why not. */
  changeUser(request: ChangeUser, channel: AuthChannel, session: SessionIdentity): Promise<{ ok: true; session: SessionIdentity } | { ok: false; error: ClientError }>;
}

export interface RelayControlOptions {
  readonly hooks: MysqlRelayHooks;
  readonly audit: AuditSink;
  readonly text: SessionText;
  /** Flags in force on both legs. */
  readonly capabilities: number;
  readonly tls: boolean;
  readonly log: { info: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
}

export class RelayControl {
  constructor(
    private readonly port: RelayPort,
    private readonly o: RelayControlOptions,
  ) {}

  initDb(p: MysqlPacket): Promise<void> | void {
    const port = this.port;
    const name = commandText(p.payload);
    const target = this.o.text.resolveSchema(name, port.session.resource);
    if (!target) return port.refuse(schemaDenied(name, port.session.resource.name));
    const raw = target === name ? p.raw : framePayload(Buffer.concat([Buffer.from([Command.InitDb]), Buffer.from(target, 'utf8')]), p.seq);
    return port.send(raw, { shape: 'single', onDone: (o) => !o.error && this.o.text.setDatabase(target) });
  }

  resetConnection(p: MysqlPacket): void {
    this.port.resetSessionState();
    return this.port.send(p.raw, { shape: 'single' });
  }

  processKill(p: MysqlPacket): Promise<void> {
    return this.kill(`KILL ${decodeProcessKill(p.payload)}`, { id: decodeProcessKill(p.payload), what: 'CONNECTION' });
  }

  /** KILL as a query (`invalid`: no literal connection id). */
  killQuery(sql: string, target: KillTarget | 'invalid'): Promise<void> {
    if (target === 'invalid') return this.port.refuse(new ClientError({ sqlstate: '42000', mysqlErrno: Errno.NotSupported, message: 'airlock: KILL needs a literal connection id (the one your client saw)' }));
    return this.kill(sql, target);
  }

  async changeUser(p: MysqlPacket): Promise<void> {
    const port = this.port;
    await port.tracker.quiescent();
    const request = decodeChangeUser(p.payload, this.o.capabilities);
    let seq = p.seq + 1;
    const channel: AuthChannel = {
      tls: this.o.tls,
      send: (payload) => port.writeClient(framePayload(payload, seq++)),
      receive: () =>
        port.nextClientPacket().then((reply) => {
          seq = reply.seq + 1;
          return reply.payload;
        }),
    };
    const result = await this.o.hooks.changeUser(request, channel, port.session);
    if (!result.ok) {
      port.writeClient(framePayload(port.errPayload(result.error), seq));
      port.endClient();
      port.close('change user refused');
      return;
    }
    // The server side resets too: prepared statements, variables and temporary tables go, as with a real change.
    let failed: ReplyOutcome | undefined;
    port.tracker.expect({ shape: 'single', internal: true, onDone: (o) => (failed = o.error ? o : undefined) });
    port.forward(framePayload(Buffer.from([Command.ResetConnection]), 0));
    await port.tracker.quiescent();
    if (failed?.error) {
      port.writeClient(framePayload(encodeErr(failed.error.errno, failed.error.message, failed.error.sqlstate), seq));
      port.close('upstream reset failed');
      return;
    }
    port.resetSessionState();
    port.session = result.session;
    this.o.log.info({ requester: result.session.requester.email }, 'COM_CHANGE_USER: session now acts for another user');
    port.writeClient(framePayload(port.okPayload(), seq));
  }

  /**
   * KILL is session control airlock answers itself, never a database statement: policy does not judge it
   * (a read-only resource must still let a requester cancel their own held statement), and the hook lets
   * it reach only the requester's own sessions. It is audited as decided by airlock.
   */
  private async kill(sql: string, target: KillTarget): Promise<void> {
    const port = this.port;
    await port.tracker.quiescent();
    const s = port.session;
    this.o.audit
      .append('statement.decided', { session_id: s.sessionId, requester: s.requester.email, resource: s.resource.name, decision: 'allow', rule: null, source: 'session-control', kinds: ['KILL'], tables: [], writes: false, sql, params: [] })
      .catch((err) => this.o.log.warn({ err }, 'audit write failed for a KILL'));
    const seq = port.replySeq;
    const error = await this.o.hooks.kill(target, port.session);
    if (error) port.writeClient(framePayload(port.errPayload(error), seq));
    else port.writeClient(framePayload(port.okPayload(), seq));
  }
}

/** USE / COM_INIT_DB naming a schema outside the resource. */
export function schemaDenied(name: string, resource: string): ClientError {
  return new ClientError({ sqlstate: '42000', mysqlErrno: Errno.DbAccessDenied, message: `airlock: database '${name}' is not among the allowed schemas of resource "${resource}"` });
}
