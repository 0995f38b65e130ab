// The MySQL/MariaDB listener: greets clients as a server would, authenticates the developer against
// users.yaml (mysql_native_password, caching_sha2_password), opens the resource's upstream connection
// with the same capability flags the client agreed to, then hands over to the relay.
//
// Connection ids: the greeting carries airlock's own id, so `KILL [QUERY] n` from a second connection
// names an airlock session. KILL is session control airlock answers itself, not a database statement:
// policy does not judge it and it needs no database (mysql's Ctrl-C and mysql2 send it on a fresh
// connection opened without one). A requester may kill only their own sessions (ERR 1094/1095 otherwise).
// A KILL QUERY aimed at a held statement cancels the hold (the held client gets ERR 1317); otherwise
// airlock sends KILL QUERY <upstream thread id> on a fresh upstream connection with the resource's credentials.
//
// Holding: MySQL has no notice channel, so a held client simply waits; the request id is logged.

import net from 'node:net';
import tls from 'node:tls';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Classifier } from '../classify/types.js';
import { ClientError } from '../errors.js';
import type { UserRecord } from '../identity/types.js';
import type { ResourceSpec } from '../policy/types.js';
import { NATIVE, authenticateClient, newScramble, type AuthChannel, type RsaKeyPair } from '../protocol/mysql/auth.js';
import { Capability, Command, DEFAULT_COLLATION, Errno, OFFERED_CAPABILITIES, RELAYED_CAPABILITIES, ServerStatus, sqlstateForErrno } from '../protocol/mysql/codes.js';
import { commandText, decodeProcessKill } from '../protocol/mysql/commands.js';
import { MysqlFramer, framePayload } from '../protocol/mysql/framer.js';
import { decodeHandshakeResponse41, encodeErr, encodeHandshakeV10, encodeOk, isSslRequest, type HandshakeResponse41 } from '../protocol/mysql/packets.js';
import { MysqlRelay, type MysqlRelayHooks, type MysqlRelayObserver } from '../protocol/mysql/relay.js';
import { SessionText, type KillTarget } from '../protocol/mysql/session-text.js';
import { PacketSocketReader } from '../protocol/mysql/socket-reader.js';
import type { SessionIdentity } from '../session/gate.js';
import { connectUpstreamMysql, killUpstream, probeMysqlServer, type MysqlUpstream } from '../upstream/mysql-connect.js';
import { SessionListener, type ListenerDeps, type ListenerLog } from './session-listener.js';

export type MysqlListenerLog = ListenerLog;

export interface MysqlListenerDeps extends ListenerDeps<'mysql', MysqlRelayObserver> {
  readonly classifier?: Classifier;
  /** caching_sha2_password full authentication without TLS; generated at start when absent. */
  readonly rsaKeyPair?: RsaKeyPair;
}

interface LiveSession {
  readonly relay: MysqlRelay;
  readonly upstreamThreadId: number;
  readonly resource: ResourceSpec;
}

interface Handshake {
  readonly socket: net.Socket;
  readonly reader: PacketSocketReader;
  readonly connectionId: number;
  readonly scramble: Buffer;
  readonly sessionId: string;
  readonly remote: string;
  readonly log: MysqlListenerLog;
  readonly tlsActive: boolean;
  seq: number;
}

const FALLBACK_VERSION = '8.0.36';

/** Handshake and auth packets are a few hundred bytes (an RSA-encrypted password under 1 KiB). */
const PRE_AUTH_MAX_PAYLOAD_BYTES = 16 * 1024;

export class MysqlListener extends SessionListener<MysqlRelay, LiveSession> {
  private readonly tlsOptions: tls.SecureContextOptions | undefined;
  private readonly rsa: RsaKeyPair;
  private upstreamInfo: { version: string; capabilities: number } | undefined;
  private nextConnectionId = 1 + Math.floor(Math.random() * 1000);

  constructor(private readonly deps: MysqlListenerDeps, tlsMaterial?: { cert: Buffer; key: Buffer }) {
    super();
    if (tlsMaterial) this.tlsOptions = { cert: tlsMaterial.cert, key: tlsMaterial.key };
    this.rsa = deps.rsaKeyPair ?? generateRsa();
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
    const admission = this.deps.limits.admit();
    if (!admission.ok) {
      socket.end(framePayload(encodeErr(1040, admission.message), 0));
      return;
    }
    socket.once('close', admission.release);
    const connectionId = this.newConnectionId();
    const scramble = newScramble();
    const caps = this.offeredCapabilities();
    socket.write(
      framePayload(
        encodeHandshakeV10({
          serverVersion: `${this.upstreamInfo?.version ?? FALLBACK_VERSION}-airlock`,
          connectionId,
          scramble,
          capabilities: caps,
          collation: DEFAULT_COLLATION,
          status: ServerStatus.Autocommit,
          authPlugin: NATIVE,
        }),
        0,
      ),
    );
    // A stranger must not make airlock buffer megabytes: the handshake is a few hundred bytes.
    const reader = new PacketSocketReader(socket, new MysqlFramer({ maxPayloadBytes: PRE_AUTH_MAX_PAYLOAD_BYTES }), 'client');
    const hs: Handshake = { socket, reader, connectionId, scramble, sessionId, remote, log, tlsActive: false, seq: 1 };
    const timer = setTimeout(() => {
      hs.socket.end(framePayload(encodeErr(Errno.HandshakeError, 'airlock: authentication timed out (limits.auth_timeout)'), hs.seq));
      hs.socket.destroy();
    }, this.deps.config.limits.auth_timeout_ms);
    this.startup(hs, caps, timer).catch((err) => {
      clearTimeout(timer);
      if (err instanceof ClientError) {
        if (!hs.socket.destroyed) hs.socket.end(framePayload(encodeErr(err.mysqlErrno, err.message, sqlstateForErrno(err.mysqlErrno)), hs.seq));
        log.info({ errno: err.mysqlErrno, client: remote }, 'connection refused');
      } else {
        log.warn({ err: (err as Error).message, client: remote }, 'connection failed during startup');
        hs.socket.destroy();
      }
    });
  }

  private async startup(hs: Handshake, offered: number, timer: NodeJS.Timeout): Promise<void> {
    let p = await hs.reader.next();
    if (isSslRequest(p.payload)) {
      if (!this.tlsOptions) throw protocolError('TLS was requested but airlock offers none');
      if (hs.reader.queued > 0) throw protocolError('bytes after the SSLRequest, before the TLS handshake');
      hs.reader.detach();
      const secure = await this.upgrade(hs.socket);
      Object.assign(hs, { socket: secure, tlsActive: true });
      hs.reader.rebind(secure);
      p = await hs.reader.next();
    }
    hs.seq = p.seq + 1;
    const response = decodeHandshakeResponse41(p.payload);
    if (response.capabilities & Capability.Ssl && !hs.tlsActive) throw protocolError('CLIENT_SSL set in a cleartext HandshakeResponse');
    const agreed = (response.capabilities & offered) >>> 0;
    const user = this.deps.users().get(response.user);
    const result = await authenticateClient(this.channel(hs), {
      user: user && !user.disabled ? user : undefined,
      scramble: hs.scramble,
      plugin: response.authPlugin ?? NATIVE,
      response: response.authResponse,
      rsa: this.rsa,
    });
    if (!result.ok) {
      this.deps.metrics?.authFailed('mysql', !user ? 'unknown_user' : user.disabled ? 'disabled_user' : 'bad_credentials');
      hs.log.info({ client: hs.remote, reason: result.reason }, 'authentication failed');
      throw accessDenied(response.user, hs.remote);
    }
    const perUser = this.deps.limits.admitUser(result.user.email);
    if (!perUser.ok) {
      throw new ClientError({ sqlstate: '08004', mysqlErrno: 1040, message: perUser.message, fatal: true });
    }
    hs.socket.once('close', perUser.release);
    hs.reader.framer.setMaxPayloadBytes(this.deps.config.limits.max_message_bytes);
    clearTimeout(timer);
    let resource: ResourceSpec;
    if (response.database) {
      resource = this.resourceNamed(response.database);
    } else {
      hs.socket.write(framePayload(encodeOk({ status: ServerStatus.Autocommit, sessionTrack: (agreed & Capability.SessionTrack) !== 0 }), hs.seq));
      const chosen = await this.awaitResource(hs, agreed, result.user);
      if (!chosen) return;
      resource = chosen;
    }
    const upstream = await this.connectUpstream(resource, response, agreed, hs);
    hs.socket.write(framePayload(encodeOk({ status: upstream.status, sessionTrack: (agreed & Capability.SessionTrack) !== 0 }), hs.seq));
    this.openSession(hs, result.user, resource, upstream, agreed, response);
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
      throw new ClientError({ sqlstate: '08S01', mysqlErrno: 2013, message: `airlock could not connect to resource "${resource.name}"`, fatal: true });
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
      text: new SessionText({ sqlMode: upstream.sqlMode, database: resource.database, server: upstream.flavour }),
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
      changeUser: async (request, channel, session) => {
        const user = this.deps.users().get(request.user);
        const result = await authenticateClient(channel, {
          user: user && !user.disabled ? user : undefined,
          scramble: hs.scramble,
          plugin: request.authPlugin ?? NATIVE,
          response: request.authResponse,
          rsa: this.rsa,
        });
        if (!result.ok) {
          this.deps.metrics?.authFailed('mysql', 'bad_credentials');
          return { ok: false, error: accessDenied(request.user, hs.remote) };
        }
        const resource = session.resource;
        if (request.database && request.database !== resource.name && !(resource.allowed_schemas ?? [resource.database]).includes(request.database)) {
          return { ok: false, error: new ClientError({ sqlstate: '42000', mysqlErrno: Errno.DbAccessDenied, message: `airlock: COM_CHANGE_USER cannot move this connection from resource "${resource.name}" to "${request.database}"; connect again instead` }) };
        }
        return { ok: true, session: { ...session, requester: { email: result.user.email, groups: result.user.groups } } };
      },
    };
  }

  /** KILL from `requester` (with or without a resource chosen) aimed at airlock connection `target.id`. */
  private async kill(target: KillTarget, requester: string, log: MysqlListenerLog): Promise<ClientError | undefined> {
    const live = this.sessions.get(target.id);
    if (!live) return new ClientError({ sqlstate: 'HY000', mysqlErrno: Errno.UnknownThread, message: `Unknown thread id: ${target.id}` });
    if (live.relay.identity.requester.email.toLowerCase() !== requester.toLowerCase()) {
      return new ClientError({ sqlstate: 'HY000', mysqlErrno: Errno.NotOwnerOfThread, message: `You are not owner of thread ${target.id} (airlock: only your own connections)` });
    }
    const timeout = this.deps.config.limits.auth_timeout_ms;
    if (target.what === 'CONNECTION') {
      live.relay.terminate(new ClientError({ sqlstate: '70100', mysqlErrno: Errno.ConnectionKilled, message: 'Connection was killed', fatal: true }));
      killUpstream(live.resource, live.upstreamThreadId, 'CONNECTION', timeout).catch(() => {});
      return undefined;
    }
    if (live.relay.cancel() === 'cancelled-hold') {
      log.info({ target: target.id }, 'KILL QUERY cancelled a held statement');
      return undefined;
    }
    try {
      await killUpstream(live.resource, live.upstreamThreadId, 'QUERY', timeout);
      return undefined;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'forwarding KILL QUERY failed');
      return new ClientError({ sqlstate: 'HY000', mysqlErrno: Errno.UnknownThread, message: `airlock could not kill the query of thread ${target.id}` });
    }
  }

  private channel(hs: Handshake): AuthChannel {
    return {
      get tls() {
        return hs.tlsActive;
      },
      send: (payload) => hs.socket.write(framePayload(payload, hs.seq++)),
      receive: async () => {
        const p = await hs.reader.next();
        hs.seq = p.seq + 1;
        return p.payload;
      },
    };
  }

  private upgrade(socket: net.Socket): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: tls.createSecureContext(this.tlsOptions) });
      secure.once('secure', () => resolve(secure));
      secure.once('error', reject);
    });
  }

  private newConnectionId(): number {
    for (;;) {
      const id = this.nextConnectionId;
      this.nextConnectionId = this.nextConnectionId >= 0xfffffff0 ? 1 : this.nextConnectionId + 1;
      if (!this.sessions.has(id)) return id;
    }
  }
}

function generateRsa(): RsaKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

function accessDenied(user: string, remote: string): ClientError {
  const host = remote.slice(0, remote.lastIndexOf(':'));
  return new ClientError({ sqlstate: '28000', mysqlErrno: Errno.AccessDenied, message: `Access denied for user '${user}'@'${host}' (using password: YES)`, fatal: true });
}

function protocolError(message: string): ClientError {
  return new ClientError({ sqlstate: '08S01', mysqlErrno: Errno.HandshakeError, message: `airlock: ${message}`, fatal: true });
}
