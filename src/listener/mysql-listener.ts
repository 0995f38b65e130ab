// The MySQL/MariaDB listener: accepts clients, picks their resource, opens the upstream and hands over to the relay.
//
// Clients are greeted and authenticated against users.yaml by mysql-handshake; the upstream connection
// uses the same capability flags the client agreed to. KILL across connections: mysql-kill.
// Holding: MySQL has no notice channel, so a held client simply waits; the request id is logged.

import net from 'node:net';
import type tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { Classifier } from '../classify/types.js';
import { ClientError } from '../errors.js';
import type { UserRecord } from '../identity/types.js';
import type { ResourceSpec } from '../policy/types.js';
import type { RsaKeyPair } from '../protocol/mysql/auth.js';
import { Capability, Command, Errno, OFFERED_CAPABILITIES, RELAYED_CAPABILITIES, ServerStatus, sqlstateForErrno } from '../protocol/mysql/codes.js';
import { commandText, decodeProcessKill } from '../protocol/mysql/commands.js';
import { framePayload } from '../protocol/mysql/framer.js';
import { encodeErr, encodeOk, type HandshakeResponse41 } from '../protocol/mysql/packets.js';
import { MysqlRelay, type MysqlRelayHooks, type MysqlRelayObserver } from '../protocol/mysql/relay.js';
import { SessionText, type KillTarget } from '../protocol/mysql/session-text.js';
import type { SessionIdentity } from '../session/gate.js';
import { connectUpstreamMysql, probeMysqlServer, type MysqlUpstream } from '../upstream/mysql-connect.js';
import { MysqlClientAuth, beginHandshake, type Handshake } from './mysql-handshake.js';
import { killSession, type LiveSession } from './mysql-kill.js';
import { SessionListener, type ListenerDeps, type ListenerLog } from './session-listener.js';
import { credentialStamp } from '../identity/verifiers.js';

export type MysqlListenerLog = ListenerLog;

export interface MysqlListenerDeps extends ListenerDeps<'mysql', MysqlRelayObserver> {
  readonly classifier?: Classifier;
  /** caching_sha2_password full authentication without TLS; generated at start when absent. */
  readonly rsaKeyPair?: RsaKeyPair;
}

const FALLBACK_VERSION = '8.0.36';

export class MysqlListener extends SessionListener<MysqlRelay, LiveSession> {
  private readonly tlsOptions: tls.SecureContextOptions | undefined;
  private readonly auth: MysqlClientAuth;
  private upstreamInfo: { version: string; capabilities: number } | undefined;
  private nextConnectionId = 1 + Math.floor(Math.random() * 1000);

  constructor(private readonly deps: MysqlListenerDeps, tlsMaterial?: { cert: Buffer; key: Buffer }) {
    super();
    if (tlsMaterial) this.tlsOptions = { cert: tlsMaterial.cert, key: tlsMaterial.key };
    this.auth = new MysqlClientAuth(deps, this.tlsOptions);
  }

  override async listen(host: string, port: number): Promise<net.AddressInfo> {
    const address = await super.listen(host, port);
    await this.probeUpstream();
    return address;
  }

  /** The greeting must promise only what upstreams can keep: learn one mysql resource's version and flags. */
  private async probeUpstream(): Promise<void> {
    const resource = [...this.deps.policy().resources.values()].find((r) => r.protocol === 'mysql');
    if (!resource) return;
    try {
      const greeting = await probeMysqlServer(resource.host, resource.port, Math.min(this.deps.config.limits.auth_timeout_ms, 3000));
      this.upstreamInfo = { version: greeting.serverVersion, capabilities: greeting.capabilities };
    } catch (err) {
      this.deps.log.warn({ resource: resource.name, err: (err as Error).message }, 'could not probe the MySQL upstream; greeting with defaults');
    }
  }

  private offeredCapabilities(): number {
    const upstream = this.upstreamInfo?.capabilities ?? 0xffffffff;
    let caps = OFFERED_CAPABILITIES & (upstream | ~RELAYED_CAPABILITIES);
    if (this.tlsOptions) caps |= Capability.Ssl;
    return caps >>> 0;
  }

  protected accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    if (!this.accepting) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const sessionId = randomBytes(8).toString('hex');
    const log = this.deps.log.child({ session_id: sessionId });
    const pending = this.deps.limits.admitPending(socket.remoteAddress);
    if (!pending.ok) {
      // The server speaks first, so the refusal can take the greeting's place, as MySQL's own
      // "Too many connections" does; clients show an ERR received instead of the greeting.
      socket.end(framePayload(encodeErr(pending.error.mysqlErrno, pending.error.message), 0));
      return;
    }
    socket.once('close', pending.release);
    const connectionId = this.newConnectionId();
    const caps = this.offeredCapabilities();
    const serverVersion = `${this.upstreamInfo?.version ?? FALLBACK_VERSION}-airlock`;
    const hs = beginHandshake(socket, { connectionId, sessionId, remote, log, capabilities: caps, serverVersion });
    const timer = setTimeout(() => {
      hs.socket.end(framePayload(encodeErr(Errno.HandshakeError, 'airlock: authentication timed out (limits.auth_timeout)'), hs.seq));
      hs.socket.destroy();
    }, this.deps.config.limits.auth_timeout_ms);
    this.startup(hs, caps, timer, pending.release).catch((err) => {
      clearTimeout(timer);
      pending.release();
      if (err instanceof ClientError) {
        if (!hs.socket.destroyed) hs.socket.end(framePayload(encodeErr(err.mysqlErrno, err.message, sqlstateForErrno(err.mysqlErrno)), hs.seq));
        log.info({ errno: err.mysqlErrno, client: remote }, 'connection refused');
      } else {
        log.warn({ err: (err as Error).message, client: remote }, 'connection failed during startup');
        hs.socket.destroy();
      }
    });
  }

  /** releasePending: frees the pending-auth slot once the client has authenticated. */
  private async startup(hs: Handshake, offered: number, timer: NodeJS.Timeout, releasePending: () => void): Promise<void> {
    const { response, agreed, user } = await this.auth.authenticate(hs, offered);
    releasePending();
    const admitted = this.deps.limits.admitSession(user.email);
    if (!admitted.ok) throw admitted.error;
    hs.socket.once('close', admitted.release);
    hs.reader.framer.setMaxPayloadBytes(this.deps.config.limits.max_message_bytes);
    clearTimeout(timer);
    let resource: ResourceSpec;
    if (response.database) {
      resource = this.resourceNamed(response.database);
    } else {
      hs.socket.write(framePayload(encodeOk({ status: ServerStatus.Autocommit, sessionTrack: (agreed & Capability.SessionTrack) !== 0 }), hs.seq));
      const chosen = await this.awaitResource(hs, agreed, user);
      if (!chosen) return;
      resource = chosen;
    }
    const upstream = await this.connectUpstream(resource, response, agreed, hs);
    hs.socket.write(framePayload(encodeOk({ status: upstream.status, sessionTrack: (agreed & Capability.SessionTrack) !== 0 }), hs.seq));
    this.openSession(hs, user, resource, upstream, agreed, response);
  }

  /** Connected without a database: the first COM_INIT_DB (or USE) names the resource. */
  private async awaitResource(hs: Handshake, agreed: number, user: UserRecord): Promise<ResourceSpec | undefined> {
    const text = new SessionText({ server: /mariadb/i.test(this.upstreamInfo?.version ?? '') ? 'mariadb' : 'mysql' });
    for (;;) {
      const p = await hs.reader.next();
      hs.seq = p.seq + 1;
      const command = p.payload[0];
      let name: string | undefined;
      const kill = command === Command.Query ? text.killTarget(commandText(p.payload)) : command === Command.ProcessKill ? { id: decodeProcessKill(p.payload), what: 'CONNECTION' as const } : undefined;
      if (kill) {
        const error = kill === 'invalid' ? new ClientError({ sqlstate: '42000', mysqlErrno: Errno.NotSupported, message: 'airlock: KILL needs a literal connection id (the one your client saw)' }) : await this.kill(kill, user.email, hs.log);
        hs.socket.write(framePayload(error ? encodeErr(error.mysqlErrno, error.message, sqlstateForErrno(error.mysqlErrno)) : encodeOk({ status: ServerStatus.Autocommit, sessionTrack: (agreed & Capability.SessionTrack) !== 0 }), hs.seq));
        continue;
      }
      if (command === Command.InitDb) name = commandText(p.payload);
      else if (command === Command.Query) name = /^\s*use\s+`?([^`;\s]+)`?\s*;?\s*$/i.exec(commandText(p.payload))?.[1];
      else if (command === Command.Quit) {
        hs.socket.end();
        return undefined;
      } else if (command === Command.Ping) {
        hs.socket.write(framePayload(encodeOk({ status: ServerStatus.Autocommit, sessionTrack: (agreed & Capability.SessionTrack) !== 0 }), hs.seq));
        continue;
      }
      if (name === undefined) {
        hs.socket.write(framePayload(encodeErr(Errno.NoDb, 'airlock: no database selected; the database is the name of a mysql resource in the airlock policy (USE <resource>)'), hs.seq));
        continue;
      }
      try {
        return this.resourceNamed(name);
      } catch (err) {
        if (!(err instanceof ClientError)) throw err;
        hs.socket.write(framePayload(encodeErr(err.mysqlErrno, err.message), hs.seq));
      }
    }
  }

  private resourceNamed(name: string): ResourceSpec {
    const resource = this.deps.policy().resources.get(name);
    if (!resource || resource.protocol !== 'mysql') {
      throw new ClientError({ sqlstate: '42000', mysqlErrno: Errno.BadDb, message: `Unknown database '${name}' (airlock: the database is the name of a mysql resource in the policy)`, fatal: true });
    }
    return resource;
  }

  private async connectUpstream(resource: ResourceSpec, response: HandshakeResponse41, agreed: number, hs: Handshake): Promise<MysqlUpstream> {
    try {
      const upstream = await connectUpstreamMysql(resource, {
        clientCapabilities: agreed,
        collation: response.collation,
        connectTimeoutMs: this.deps.config.limits.auth_timeout_ms,
        readSqlMode: true,
        attributes: response.attributes?.program_name ? { program_name: response.attributes.program_name } : undefined,
      });
      this.upstreamInfo ??= { version: upstream.greeting.serverVersion, capabilities: upstream.greeting.capabilities };
      return upstream;
    } catch (err) {
      this.deps.metrics?.upstreamConnectFailed('mysql', resource.name);
      hs.log.warn({ resource: resource.name, err: (err as Error).message }, 'upstream connection failed');
      throw new ClientError({ sqlstate: '08S01', mysqlErrno: Errno.UpstreamUnavailable, message: `airlock could not connect to resource "${resource.name}"`, fatal: true });
    }
  }

  private openSession(hs: Handshake, user: UserRecord, resource: ResourceSpec, upstream: MysqlUpstream, agreed: number, response: HandshakeResponse41): void {
    const { config, metrics, audit } = this.deps;
    const session: SessionIdentity = {
      sessionId: hs.sessionId,
      requester: { email: user.email, groups: user.groups },
      resource,
      protocol: 'mysql',
      clientAddr: hs.remote,
      credential: credentialStamp(user),
    };
    const startedAt = Date.now();
    audit
      .append('session.start', { session_id: hs.sessionId, requester: user.email, resource: resource.name, protocol: 'mysql', client_addr: hs.remote, application_name: response.attributes?.program_name ?? null, tls: hs.tlsActive })
      .catch(() => {});
    metrics?.connectionOpened('mysql', resource.name);
    hs.log.info({ requester: user.email, resource: resource.name, client: hs.remote, tls: hs.tlsActive, connection_id: hs.connectionId }, 'session started');
    const initialPackets = hs.reader.detach();
    const relay = new MysqlRelay({
      client: hs.socket,
      upstream: upstream.socket,
      clientFramer: hs.reader.framer,
      upstreamFramer: upstream.framer,
      initialPackets,
      session,
      gate: this.deps.gate,
      audit,
      capabilities: agreed,
      text: new SessionText({ sqlMode: upstream.sqlMode, globalSqlMode: upstream.globalSqlMode, charset: upstream.charset, globalCharset: upstream.globalCharset, database: resource.database, server: upstream.flavour }),
      tls: hs.tlsActive,
      hooks: this.hooks(hs),
      observer: this.deps.relayObserver,
      log: hs.log,
      onClose: (reason) => {
        this.sessions.delete(hs.connectionId);
        metrics?.connectionClosed('mysql', resource.name);
        audit.append('session.end', { session_id: hs.sessionId, requester: relay.identity.requester.email, resource: resource.name, duration_ms: Date.now() - startedAt, reason }).catch(() => {});
        hs.log.info({ reason }, 'session ended');
      },
    });
    this.sessions.set(hs.connectionId, { relay, upstreamThreadId: upstream.threadId, resource });
    relay.start();
    if (config.limits.idle_timeout_ms > 0) {
      hs.socket.setTimeout(config.limits.idle_timeout_ms, () => {
        if (relay.holding || relay.busy) return;
        relay.terminate(new ClientError({ sqlstate: 'HY000', mysqlErrno: 4031, message: 'airlock: connection closed after limits.idle_timeout', fatal: true }));
      });
    }
  }

  private hooks(hs: Handshake): MysqlRelayHooks {
    return {
      kill: (target, session) => this.kill(target, session.requester.email, hs.log),
      changeUser: (request, channel, session) => this.auth.changeUser(hs, request, channel, session),
    };
  }

  /** KILL from `requester` (with or without a resource chosen) aimed at airlock connection `target.id`. */
  private kill(target: KillTarget, requester: string, log: MysqlListenerLog): Promise<ClientError | undefined> {
    return killSession(this.sessions, target, requester, { timeoutMs: this.deps.config.limits.auth_timeout_ms, log });
  }

  private newConnectionId(): number {
    for (;;) {
      const id = this.nextConnectionId;
      this.nextConnectionId = this.nextConnectionId >= 0xfffffff0 ? 1 : this.nextConnectionId + 1;
      if (!this.sessions.has(id)) return id;
    }
  }
}
