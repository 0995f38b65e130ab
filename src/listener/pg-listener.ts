// The PostgreSQL listener: accepts clients, answers SSL/GSSENC/Cancel requests, authenticates the
// developer with SCRAM-SHA-256, opens the upstream connection of the resource, then hands over to the relay.

import net from 'node:net';
import tls from 'node:tls';
import crypto, { randomBytes, randomInt } from 'node:crypto';
import { ClientError } from '../errors.js';
import type { UserRecord } from '../identity/types.js';
import type { ResourceSpec } from '../policy/types.js';
import { PgFramer, type PgFrame } from '../protocol/pg/framer.js';
import { decodeStartup, FrontendCode } from '../protocol/pg/frontend.js';
import * as msg from '../protocol/pg/messages.js';
import { LEXING_SETTINGS, PgRelay } from '../protocol/pg/relay.js';
import { authFailedError, ScramServerExchange, tlsServerEndPoint } from '../protocol/pg/scram-server.js';
import { connectUpstreamPg, sendCancelRequest } from '../upstream/pg-connect.js';
import { StartupFrameReader } from './frame-reader.js';
import { SessionListener, type ListenerDeps, type ListenerLog } from './session-listener.js';
import { credentialStamp } from '../identity/verifiers.js';
import { clientErrors } from '../session/client-errors.js';

export type PgListenerDeps = ListenerDeps<'postgres', ConstructorParameters<typeof PgRelay>[0]['observer']>;

interface LiveSession {
  readonly secret: number;
  readonly relay: PgRelay;
  readonly upstreamKey: { pid: number; secret: number };
  readonly resource: ResourceSpec;
}

/** The client-facing BackendKeyData is ours; the upstream's stays private and is used to route cancels. */
export class PgListener extends SessionListener<PgRelay, LiveSession> {
  private readonly tlsOptions: tls.SecureContextOptions | undefined;
  private readonly certificateDer: Buffer | undefined;

  constructor(private readonly deps: PgListenerDeps, tlsMaterial?: { cert: Buffer; key: Buffer }) {
    super();
    if (tlsMaterial) {
      this.tlsOptions = { cert: tlsMaterial.cert, key: tlsMaterial.key };
      this.certificateDer = new crypto.X509Certificate(tlsMaterial.cert).raw;
    }
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
    let release: () => void;
    let refusal: ClientError | undefined;
    if (pending.ok) {
      release = pending.release;
    } else {
      // libpq shows an ErrorResponse sent in reply to its SSLRequest only as "server sent an error
      // response during SSL exchange", so a refused client is answered where PostgreSQL answers it:
      // after the StartupMessage, with SSL and GSSENC requests handled as usual first.
      const slot = this.deps.limits.beginRefusal();
      if (!slot) {
        socket.end(errorFrame(pending.error));
        return;
      }
      release = slot;
      refusal = pending.error;
    }
    socket.once('close', release);
    const conn: Startup = { socket, sessionId, remote, log, release, refusal };
    this.startup(conn).catch((err) => {
      release();
      if (err instanceof ClientError) {
        if (err.sqlstate === '54000') this.deps.limits.noteLimit('max_message_bytes');
        else if (err.sqlstate === '08P01') this.deps.metrics?.authFailed('postgres', 'protocol_error');
        // After a TLS upgrade the error must go through TLS, not onto the raw socket beneath it.
        if (!conn.socket.destroyed) conn.socket.end(errorFrame(err));
        log.info({ sqlstate: err.sqlstate, client: remote }, 'connection refused');
      } else {
        log.warn({ err: (err as Error).message, client: remote }, 'connection failed during startup');
        conn.socket.destroy();
      }
    });
  }

  private async startup(conn: Startup): Promise<void> {
    const { config } = this.deps;
    const framer = new PgFramer({ typed: false, maxMessageBytes: PRE_AUTH_MAX_MESSAGE_BYTES });
    framer.setMaxMessageBytes(PRE_AUTH_MAX_MESSAGE_BYTES, 'the limit before authentication');
    const reader = new StartupFrameReader(conn.socket, framer);
    let tlsActive = false;
    const { refusal } = conn;
    const timer = setTimeout(
      () => {
        if (refusal) {
          conn.socket.end(errorFrame(refusal));
        } else {
          this.deps.limits.noteLimit('auth_timeout');
          this.deps.metrics?.authFailed('postgres', 'timeout');
          conn.socket.end(msg.errorResponse({ severity: 'FATAL', sqlstate: '08006', message: 'airlock: authentication timed out (limits.auth_timeout)' }));
        }
        conn.socket.destroy();
      },
      refusal ? Math.min(REFUSAL_WAIT_MS, config.limits.auth_timeout_ms) : config.limits.auth_timeout_ms,
    );
    try {
      for (;;) {
        const packet = decodeStartup((await reader.next()).body);
        if (packet.kind === 'ssl') {
          if (!this.tlsOptions || tlsActive) {
            conn.socket.write('N');
            continue;
          }
          reader.detach();
          conn.socket.write('S');
          conn.socket = await this.upgrade(conn.socket);
          tlsActive = true;
          reader.rebind(conn.socket);
          continue;
        }
        if (packet.kind === 'gssenc') {
          conn.socket.write('N');
          continue;
        }
        if (packet.kind === 'cancel') {
          // Served even when refusing: cancelling a runaway query matters most when airlock is busy.
          reader.detach();
          conn.socket.destroy();
          conn.release();
          this.routeCancel(packet.pid, packet.secret, conn.log);
          return;
        }
        if (refusal) throw refusal;
        return await this.authenticate(conn.socket, reader, packet.params, { ...conn, tlsActive, timer });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private upgrade(socket: net.Socket): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: tls.createSecureContext(this.tlsOptions) });
      secure.once('secure', () => resolve(secure));
      secure.once('error', reject);
    });
  }

  private async authenticate(
    socket: net.Socket,
    reader: StartupFrameReader,
    params: Record<string, string>,
    ctx: { sessionId: string; remote: string; log: ListenerLog; tlsActive: boolean; release: () => void; timer: NodeJS.Timeout },
  ): Promise<void> {
    const { config, metrics } = this.deps;
    const email = params.user ?? '';
    const database = params.database || email;
    if (params.replication && params.replication !== 'false' && params.replication !== '0') {
      throw new ClientError({ sqlstate: '28000', mysqlErrno: 1045, message: 'airlock: replication connections are not allowed', fatal: true });
    }
    if (config.tls?.require && !ctx.tlsActive) throw clientErrors.tlsRequired();
    const user = this.deps.users().get(email);
    const usable = user && !user.disabled ? user : undefined;
    const scram = new ScramServerExchange(usable?.scram, {
      user: email,
      channelBinding: ctx.tlsActive && this.certificateDer ? tlsServerEndPoint(this.certificateDer) : undefined,
    });
    socket.write(msg.authenticationSasl(scram.mechanisms()));
    const initial = await this.expectPassword(reader);
    const mechEnd = initial.indexOf(0);
    if (mechEnd < 0) throw authFailedError(email);
    const mechanism = initial.toString('utf8', 0, mechEnd);
    const dataLen = initial.readInt32BE(mechEnd + 1);
    const clientFirst = dataLen < 0 ? Buffer.alloc(0) : initial.subarray(mechEnd + 5, mechEnd + 5 + dataLen);
    const started = scram.start(clientFirst, mechanism);
    if ('error' in started) {
      metrics?.authFailed('postgres', scram.mechanisms().includes(mechanism) ? 'protocol_error' : 'unsupported_method');
      throw started.error;
    }
    socket.write(msg.authenticationSaslContinue(started.serverFirst));
    const final = scram.finish(await this.expectPassword(reader));
    if (!final.ok || !usable) {
      metrics?.authFailed('postgres', !user ? 'unknown_user' : user.disabled ? 'disabled_user' : 'bad_credentials');
      ctx.log.info({ client: ctx.remote, reason: final.ok ? 'unknown or disabled user' : final.reason }, 'authentication failed');
      throw authFailedError(email);
    }
    socket.write(msg.authenticationSaslFinal(final.serverFinal));
    reader.framer.setMaxMessageBytes(config.limits.max_message_bytes, 'limits.max_message_bytes');
    const resource = this.deps.policy().resources.get(database);
    if (!resource || resource.protocol !== 'postgres') {
      metrics?.authFailed('postgres', 'unknown_resource');
      throw new ClientError({ sqlstate: '3D000', mysqlErrno: 1049, message: `database "${database}" does not exist`, hint: 'The database name is the name of a postgres resource in the airlock policy.', fatal: true });
    }
    ctx.release();
    const admitted = this.deps.limits.admitSession(usable.email);
    if (!admitted.ok) throw admitted.error;
    socket.once('close', admitted.release);
    await this.openSession(socket, reader, params, usable, resource, ctx);
  }

  private async expectPassword(reader: StartupFrameReader): Promise<Buffer> {
    const frame: PgFrame = await reader.next();
    if (frame.type !== FrontendCode.Password) {
      throw new ClientError({ sqlstate: '08P01', mysqlErrno: 1043, message: 'expected SASL response during authentication', fatal: true });
    }
    return frame.body;
  }

  private async openSession(
    socket: net.Socket,
    reader: StartupFrameReader,
    params: Record<string, string>,
    user: UserRecord,
    resource: ResourceSpec,
    ctx: { sessionId: string; remote: string; log: ListenerLog; tlsActive: boolean; timer: NodeJS.Timeout },
  ): Promise<void> {
    const { config, metrics, audit } = this.deps;
    const forwarded: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) {
      if (FORWARDED_STARTUP_PARAMS.has(k)) forwarded[k] = v;
    }
    let upstream;
    try {
      upstream = await connectUpstreamPg({
        host: resource.host,
        port: resource.port,
        database: resource.database,
        user: resource.user,
        password: resource.password,
        tls: resource.tls,
        startupParams: forwarded,
        connectTimeoutMs: config.limits.auth_timeout_ms,
      });
    } catch (err) {
      metrics?.upstreamConnectFailed('postgres', resource.name);
      ctx.log.warn({ resource: resource.name, err: (err as Error).message }, 'upstream connection failed');
      const upstreamError = (err as { upstream?: { sqlstate: string; message: string } }).upstream;
      throw new ClientError({
        sqlstate: '08006',
        mysqlErrno: 2013,
        message: `airlock could not connect to resource "${resource.name}"${upstreamError ? `: ${upstreamError.message}` : ''}`,
        fatal: true,
      });
    }
    clearTimeout(ctx.timer);
    const pid = this.newPid();
    const secret = randomInt(0, 2 ** 31);
    const out: Buffer[] = [msg.authenticationOk(), ...upstream.parameterStatus, msg.backendKeyData(pid, secret), ...(upstream.notices ?? []), msg.readyForQuery('I')];
    socket.write(Buffer.concat(out));
    const settings = new Map<string, string>();
    for (const frame of upstream.parameterStatus) {
      const body = frame.subarray(5);
      const end = body.indexOf(0);
      const name = body.toString('utf8', 0, end);
      if (LEXING_SETTINGS.has(name)) settings.set(name, body.toString('utf8', end + 1, body.length - 1));
    }
    const session = {
      sessionId: ctx.sessionId,
      requester: { email: user.email, groups: user.groups },
      resource,
      protocol: 'postgres' as const,
      clientAddr: ctx.remote,
      credential: credentialStamp(user),
    };
    const startedAt = Date.now();
    audit
      .append('session.start', {
        session_id: ctx.sessionId,
        requester: user.email,
        resource: resource.name,
        protocol: 'postgres',
        client_addr: ctx.remote,
        application_name: params.application_name ?? null,
        tls: ctx.tlsActive,
      })
      .catch(() => {});
    metrics?.connectionOpened('postgres', resource.name);
    ctx.log.info({ requester: user.email, resource: resource.name, client: ctx.remote, tls: ctx.tlsActive }, 'session started');
    const initialFrames = reader.detach();
    const relay = new PgRelay({
      client: socket,
      upstream: upstream.socket,
      session,
      gate: this.deps.gate,
      audit,
      maxMessageBytes: config.limits.max_message_bytes,
      clientFramer: reader.framer,
      initialFrames,
      settings,
      observer: this.deps.relayObserver,
      log: ctx.log,
      onClose: (reason) => {
        this.sessions.delete(pid);
        if (reason === 'client error 54000') this.deps.limits.noteLimit('max_message_bytes');
        metrics?.connectionClosed('postgres', resource.name);
        audit
          .append('session.end', { session_id: ctx.sessionId, requester: user.email, resource: resource.name, duration_ms: Date.now() - startedAt, reason })
          .catch(() => {});
        ctx.log.info({ reason }, 'session ended');
      },
    });
    this.sessions.set(pid, { secret, relay, upstreamKey: upstream.backendKey, resource });
    if (upstream.leftover.length > 0) socket.write(upstream.leftover);
    relay.start();
    if (config.limits.idle_timeout_ms > 0) {
      socket.setTimeout(config.limits.idle_timeout_ms, () => {
        // A held or running statement is not idleness (PostgreSQL's idle_session_timeout agrees).
        if (relay.holding || relay.busy) return;
        this.deps.limits.noteLimit('idle_timeout');
        relay.terminate(new ClientError({ sqlstate: '57P05', mysqlErrno: 4031, message: 'airlock: terminating connection due to idle timeout (limits.idle_timeout)', fatal: true }));
      });
    }
  }

  private newPid(): number {
    for (;;) {
      const pid = randomInt(1, 2 ** 31);
      if (!this.sessions.has(pid)) return pid;
    }
  }

  private routeCancel(pid: number, secret: number, log: ListenerLog): void {
    const live = this.sessions.get(pid);
    // A wrong secret is ignored silently, as PostgreSQL does.
    if (!live || live.secret !== secret) return;
    if (live.relay.cancel() === 'cancelled-hold') {
      log.info({}, 'cancel request cancelled a held statement');
      return;
    }
    sendCancelRequest({ host: live.resource.host, port: live.resource.port }, live.upstreamKey.pid, live.upstreamKey.secret).catch((err) => {
      log.warn({ err: (err as Error).message }, 'forwarding cancel request failed');
    });
  }
}

/** A connection during startup; `socket` becomes the TLS socket after an upgrade. */
interface Startup {
  socket: net.Socket;
  readonly sessionId: string;
  readonly remote: string;
  readonly log: ListenerLog;
  /** Frees the pending-auth (or refusal) slot; idempotent. */
  readonly release: () => void;
  /** Set when a pre-auth limit refused the connection: sent once the StartupMessage arrives. */
  readonly refusal?: ClientError;
}

function errorFrame(err: ClientError): Buffer {
  return msg.errorResponse({ severity: 'FATAL', sqlstate: err.sqlstate, message: err.message, hint: err.hint });
}

/** A client sends each startup packet within a round trip of our answer; a refused socket silent this long is not one. */
const REFUSAL_WAIT_MS = 5000;

/** Startup packets and SASL messages are a few hundred bytes; PostgreSQL caps the startup packet at 10000. */
const PRE_AUTH_MAX_MESSAGE_BYTES = 16 * 1024;

/** Startup parameters passed to the upstream: presentation settings only, never identity or options. */
const FORWARDED_STARTUP_PARAMS = new Set([
  'application_name',
  'client_encoding',
  'DateStyle',
  'datestyle',
  'IntervalStyle',
  'TimeZone',
  'timezone',
  'extra_float_digits',
  'search_path',
]);

