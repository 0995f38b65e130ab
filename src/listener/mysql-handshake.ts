// A MySQL client until it is authenticated: the greeting, the TLS upgrade, HandshakeResponse41 and the password check.

import type net from 'node:net';
import tls from 'node:tls';
import { generateKeyPairSync } from 'node:crypto';
import { ClientError } from '../errors.js';
import type { UserDirectory, UserRecord } from '../identity/types.js';
import { NATIVE, authenticateClient, newScramble, type AuthChannel, type AuthResult, type RsaKeyPair } from '../protocol/mysql/auth.js';
import { Capability, DEFAULT_COLLATION, Errno, ServerStatus } from '../protocol/mysql/codes.js';
import type { ChangeUser } from '../protocol/mysql/commands.js';
import { MysqlFramer, framePayload } from '../protocol/mysql/framer.js';
import { decodeHandshakeResponse41, encodeHandshakeV10, isSslRequest, type HandshakeResponse41 } from '../protocol/mysql/packets.js';
import type { MysqlRelayHooks } from '../protocol/mysql/relay.js';
import { PacketSocketReader } from '../protocol/mysql/socket-reader.js';
import type { SessionIdentity } from '../session/gate.js';
import { clientErrors } from '../session/client-errors.js';
import type { ListenerLog, ListenerMetrics } from './session-listener.js';
import { credentialStamp } from '../identity/verifiers.js';

/** One client connection before its session starts. */
export interface Handshake {
  readonly socket: net.Socket;
  readonly reader: PacketSocketReader;
  readonly connectionId: number;
  readonly scramble: Buffer;
  readonly sessionId: string;
  readonly remote: string;
  readonly log: ListenerLog;
  readonly tlsActive: boolean;
  seq: number;
}

/** Handshake and auth packets are a few hundred bytes (an RSA-encrypted password under 1 KiB). */
const PRE_AUTH_MAX_PAYLOAD_BYTES = 16 * 1024;

/** Greets the client as a server would and starts reading its answer. */
export function beginHandshake(
  socket: net.Socket,
  init: { readonly connectionId: number; readonly sessionId: string; readonly remote: string; readonly log: ListenerLog; readonly capabilities: number; readonly serverVersion: string },
): Handshake {
  const { connectionId, sessionId, remote, log } = init;
  const scramble = newScramble();
  socket.write(
    framePayload(
      encodeHandshakeV10({
        serverVersion: init.serverVersion,
        connectionId,
        scramble,
        capabilities: init.capabilities,
        collation: DEFAULT_COLLATION,
        status: ServerStatus.Autocommit,
        authPlugin: NATIVE,
      }),
      0,
    ),
  );
  // A stranger must not make airlock buffer megabytes: the handshake is a few hundred bytes.
  const reader = new PacketSocketReader(socket, new MysqlFramer({ maxPayloadBytes: PRE_AUTH_MAX_PAYLOAD_BYTES }), 'client', { rawAfterFirst: (p) => isSslRequest(p.payload) });
  return { socket, reader, connectionId, scramble, sessionId, remote, log, tlsActive: false, seq: 1 };
}

export interface MysqlClientAuthDeps {
  readonly users: () => UserDirectory;
  readonly metrics?: Pick<ListenerMetrics<'mysql'>, 'authFailed'>;
  /** caching_sha2_password full authentication without TLS; generated when absent. */
  readonly rsaKeyPair?: RsaKeyPair;
  readonly config?: { readonly tls?: { readonly require: boolean } };
}

/** Authenticates developers against users.yaml, at connect and on COM_CHANGE_USER. */
export class MysqlClientAuth {
  private readonly rsa: RsaKeyPair;

  constructor(
    private readonly deps: MysqlClientAuthDeps,
    private readonly tlsOptions: tls.SecureContextOptions | undefined,
  ) {
    this.rsa = deps.rsaKeyPair ?? generateRsa();
  }

  /** The client's HandshakeResponse41 (after TLS if it asked), checked; throws a ClientError when refused. */
  async authenticate(hs: Handshake, offered: number): Promise<{ response: HandshakeResponse41; agreed: number; user: UserRecord }> {
    let p = await hs.reader.next();
    if (isSslRequest(p.payload)) {
      if (!this.tlsOptions) throw protocolError('TLS was requested but airlock offers none');
      const secure = await this.upgrade(hs.socket, hs.reader.detachRaw());
      Object.assign(hs, { socket: secure, tlsActive: true });
      hs.reader.rebind(secure);
      p = await hs.reader.next();
    }
    hs.seq = p.seq + 1;
    const response = decodeHandshakeResponse41(p.payload);
    if (response.capabilities & Capability.Ssl && !hs.tlsActive) throw protocolError('CLIENT_SSL set in a cleartext HandshakeResponse');
    if (this.deps.config?.tls?.require && !hs.tlsActive) throw clientErrors.tlsRequired();
    const agreed = (response.capabilities & offered) >>> 0;
    const { user, result } = await this.check(channel(hs), hs.scramble, response.user, response.authPlugin, response.authResponse);
    if (!result.ok) {
      this.deps.metrics?.authFailed('mysql', !user ? 'unknown_user' : user.disabled ? 'disabled_user' : 'bad_credentials');
      hs.log.info({ client: hs.remote, reason: result.reason }, 'authentication failed');
      throw accessDenied(response.user, hs.remote);
    }
    return { response, agreed, user: result.user };
  }

  /** COM_CHANGE_USER (MysqlRelayHooks.changeUser): the new user, within the same resource. */
  async changeUser(hs: Handshake, request: ChangeUser, channel: AuthChannel, session: SessionIdentity): ReturnType<MysqlRelayHooks['changeUser']> {
    const { result } = await this.check(channel, hs.scramble, request.user, request.authPlugin, request.authResponse);
    if (!result.ok) {
      this.deps.metrics?.authFailed('mysql', 'bad_credentials');
      return { ok: false, error: accessDenied(request.user, hs.remote) };
    }
    const resource = session.resource;
    if (request.database && request.database !== resource.name && !(resource.allowed_schemas ?? [resource.database]).includes(request.database)) {
      return { ok: false, error: new ClientError({ sqlstate: '42000', mysqlErrno: Errno.DbAccessDenied, message: `airlock: COM_CHANGE_USER cannot move this connection from resource "${resource.name}" to "${request.database}"; connect again instead` }) };
    }
    return { ok: true, session: { ...session, requester: { email: result.user.email, groups: result.user.groups }, credential: credentialStamp(result.user) } };
  }

  private async check(channel: AuthChannel, scramble: Buffer, name: string, plugin: string | undefined, response: Buffer): Promise<{ user: UserRecord | undefined; result: AuthResult }> {
    const user = this.deps.users().get(name);
    const result = await authenticateClient(channel, {
      user: user && !user.disabled ? user : undefined,
      scramble,
      plugin: plugin ?? NATIVE,
      response,
      rsa: this.rsa,
    });
    return { user, result };
  }

  /** early: the start of the TLS handshake, read together with the SSLRequest. */
  private upgrade(socket: net.Socket, early: Buffer): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      if (early.length > 0) {
        // Paused, so the bytes stay buffered (nobody listens to 'data' now) until the TLS socket reads them.
        socket.pause();
        socket.unshift(early);
      }
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: tls.createSecureContext(this.tlsOptions) });
      secure.once('secure', () => resolve(secure));
      secure.once('error', reject);
    });
  }
}

/** The auth exchange over the handshake's socket, keeping its sequence numbers. */
function channel(hs: Handshake): AuthChannel {
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
