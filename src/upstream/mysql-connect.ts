// Opens a MySQL/MariaDB upstream connection with the resource's credentials: handshake, optional TLS,
// mysql_native_password / caching_sha2_password (fast, TLS and RSA full paths) / MariaDB client_ed25519,
// asking for exactly the capability flags the developer's client agreed to, so replies can be relayed
// byte for byte.

import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { AirlockError } from '../errors.js';
import { Capability, Command, DEFAULT_COLLATION, RELAYED_CAPABILITIES } from '../protocol/mysql/codes.js';
import { MysqlFramer, framePayload } from '../protocol/mysql/framer.js';
import { CACHING_SHA2, CLEAR, NATIVE, cachingSha2Token, nativeToken, rsaEncryptPassword } from '../protocol/mysql/auth.js';
import { ED25519, ed25519Token } from '../protocol/mysql/ed25519.js';
import { decodeAuthSwitchRequest, decodeErr, decodeHandshakeV10, encodeHandshakeResponse41, encodeSslRequest, isEofOrOkTerminator, type ErrPacket, type HandshakeV10 } from '../protocol/mysql/packets.js';
import { PacketSocketReader } from '../protocol/mysql/socket-reader.js';
import { PacketReader } from '../protocol/mysql/wire.js';

export interface MysqlTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  readonly database?: string;
  readonly tls?: { readonly mode: 'disable' | 'require' | 'verify-full'; readonly ca?: string };
}

export interface MysqlConnectOptions {
  /** Flags the client agreed to; the RELAYED ones are requested from the upstream exactly. */
  readonly clientCapabilities: number;
  readonly collation?: number;
  readonly connectTimeoutMs: number;
  readonly attributes?: Readonly<Record<string, string>>;
  /** Run `SELECT @@SESSION.sql_mode` after login (the classifier lexes with it). */
  readonly readSqlMode?: boolean;
}

export interface MysqlUpstream {
  readonly socket: net.Socket;
  /** Framer already past the handshake (may hold nothing; kept so no byte is lost). */
  readonly framer: MysqlFramer;
  readonly greeting: HandshakeV10;
  readonly threadId: number;
  readonly flavour: 'mysql' | 'mariadb';
  /** Flags in force on this leg. */
  readonly capabilities: number;
  readonly sqlMode?: string;
  /** @@GLOBAL.sql_mode at login: what `SET sql_mode = DEFAULT` gives the session. */
  readonly globalSqlMode?: string;
  /** character_set_client after login (from the client's handshake collation), and its global default. */
  readonly charset?: string;
  readonly globalCharset?: string;
  readonly status: number;
}

/** An upstream refusal, with the server's own error for the operator's log. */
export class MysqlUpstreamError extends AirlockError {
  constructor(message: string, readonly upstream?: ErrPacket) {
    super(upstream ? 'AIRLOCK_ERR_UPSTREAM_AUTH' : 'AIRLOCK_ERR_UPSTREAM_CONNECT', message);
  }
}

export function flavourOf(serverVersion: string): 'mysql' | 'mariadb' {
  return /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql';
}

export async function connectUpstreamMysql(target: MysqlTarget, opts: MysqlConnectOptions): Promise<MysqlUpstream> {
  let socket = await openSocket(target, opts.connectTimeoutMs);
  const timer = setTimeout(() => socket.destroy(new Error(`no MySQL login within ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
  try {
    const framer = new MysqlFramer();
    const reader = new PacketSocketReader(socket, framer, `upstream ${target.host}:${target.port}`);
    const first = await reader.next();
    if (first.payload[0] === 0xff) throw new MysqlUpstreamError(`upstream refused the connection: ${decodeErr(first.payload).message}`, decodeErr(first.payload));
    const greeting = decodeHandshakeV10(first.payload);
    const wanted = opts.clientCapabilities & RELAYED_CAPABILITIES;
    const missing = wanted & ~greeting.capabilities;
    if (missing) throw new MysqlUpstreamError(`upstream ${target.host}:${target.port} lacks capability flags 0x${missing.toString(16)} the client negotiated`);
    const optional = Capability.PluginAuth | Capability.PluginAuthLenencClientData | Capability.ConnectAttrs | Capability.Transactions;
    let caps = wanted | Capability.LongPassword | Capability.Protocol41 | Capability.SecureConnection | (greeting.capabilities & optional);
    if (target.database) caps |= Capability.ConnectWithDb;
    let seq = 1;
    let tlsActive = false;
    const collation = opts.collation ?? DEFAULT_COLLATION;
    if (target.tls && target.tls.mode !== 'disable') {
      if (!(greeting.capabilities & Capability.Ssl)) throw new MysqlUpstreamError(`upstream ${target.host}:${target.port} does not offer TLS but the resource requires it`);
      caps |= Capability.Ssl;
      socket.write(framePayload(encodeSslRequest(caps, 0x40000000, collation), seq++));
      reader.detach();
      socket = await upgrade(socket, target);
      reader.rebind(socket);
      tlsActive = true;
    }
    const password = target.password ?? '';
    let plugin = greeting.authPlugin;
    let scramble = greeting.scramble;
    socket.write(
      framePayload(
        encodeHandshakeResponse41({
          capabilities: caps,
          maxPacketSize: 0x40000000,
          collation,
          user: target.user,
          authResponse: tokenFor(plugin, password, scramble, tlsActive),
          database: target.database,
          authPlugin: plugin,
          attributes: { _client_name: 'airlock', ...(opts.attributes ?? {}) },
        }),
        seq,
      ),
    );
    for (;;) {
      const p = await reader.next();
      seq = p.seq + 1;
      const kind = p.payload[0];
      if (kind === 0x00) break;
      if (kind === 0xff) {
        const err = decodeErr(p.payload);
        throw new MysqlUpstreamError(`upstream login as ${target.user} failed: ${err.message}`, err);
      }
      if (kind === 0xfe) {
        const sw = decodeAuthSwitchRequest(p.payload);
        plugin = sw.plugin;
        scramble = plugin === ED25519 ? sw.raw : sw.data;
        if (plugin === CLEAR && !tlsActive) throw new MysqlUpstreamError('upstream asks for mysql_clear_password without TLS; refusing to send the password');
        if (plugin !== NATIVE && plugin !== CACHING_SHA2 && plugin !== CLEAR && plugin !== ED25519) throw new MysqlUpstreamError(`upstream asks for unsupported auth plugin ${plugin}`);
        socket.write(framePayload(tokenFor(plugin, password, scramble, tlsActive), seq));
        continue;
      }
      if (kind === 0x01 && plugin === CACHING_SHA2) {
        const more = p.payload.subarray(1);
        if (more.length === 1 && more[0] === 0x03) continue;
        if (more.length === 1 && more[0] === 0x04) {
          socket.write(framePayload(tlsActive ? Buffer.from(`${password}\0`, 'utf8') : Buffer.from([0x02]), seq));
          continue;
        }
        socket.write(framePayload(rsaEncryptPassword(password, scramble, more), seq));
        continue;
      }
      throw new MysqlUpstreamError(`unexpected packet 0x${(kind ?? 0).toString(16)} from upstream during login`);
    }
    let sqlMode: string | undefined;
    let globalSqlMode: string | undefined;
    let charset: string | undefined;
    let globalCharset: string | undefined;
    if (opts.readSqlMode) {
      const rows = await simpleQuery(socket, reader, 'SELECT @@SESSION.sql_mode, @@GLOBAL.sql_mode, @@SESSION.character_set_client, @@GLOBAL.character_set_client', (caps & Capability.DeprecateEof) !== 0);
      [sqlMode, globalSqlMode, charset, globalCharset] = (rows[0] ?? []).map((v) => v ?? undefined);
    }
    const rest = reader.detach();
    if (rest.length > 0) throw new MysqlUpstreamError('upstream sent unexpected packets after login');
    clearTimeout(timer);
    return { socket, framer, greeting, threadId: greeting.connectionId, flavour: flavourOf(greeting.serverVersion), capabilities: caps, sqlMode, globalSqlMode, charset, globalCharset, status: greeting.status };
  } catch (err) {
    clearTimeout(timer);
    socket.destroy();
    if (err instanceof AirlockError) throw err;
    throw new MysqlUpstreamError(`upstream ${target.host}:${target.port}: ${(err as Error).message}`);
  }
}

/** Reads the greeting only (version and capability flags), then hangs up. */
export async function probeMysqlServer(host: string, port: number, timeoutMs: number): Promise<HandshakeV10> {
  const socket = await openSocket({ host, port }, timeoutMs);
  const timer = setTimeout(() => socket.destroy(new Error('no greeting')), timeoutMs);
  try {
    const reader = new PacketSocketReader(socket, new MysqlFramer(), 'upstream');
    const first = await reader.next();
    if (first.payload[0] === 0xff) throw new MysqlUpstreamError(decodeErr(first.payload).message, decodeErr(first.payload));
    return decodeHandshakeV10(first.payload);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/** `KILL QUERY n` / `KILL CONNECTION n` on a fresh connection with the resource's credentials. */
export async function killUpstream(target: MysqlTarget, threadId: number, what: 'QUERY' | 'CONNECTION', timeoutMs: number): Promise<void> {
  const up = await connectUpstreamMysql(target, { clientCapabilities: 0, connectTimeoutMs: timeoutMs });
  const reader = new PacketSocketReader(up.socket, up.framer, 'upstream');
  try {
    up.socket.write(framePayload(Buffer.concat([Buffer.from([Command.Query]), Buffer.from(`KILL ${what} ${threadId >>> 0}`)]), 0));
    const reply = await reader.next();
    if (reply.payload[0] === 0xff) {
      const err = decodeErr(reply.payload);
      // The query may have finished meanwhile: "Unknown thread id" is not a failure of the kill.
      if (err.errno !== 1094) throw new MysqlUpstreamError(`KILL ${what} ${threadId} failed: ${err.message}`, err);
    }
  } finally {
    reader.detach();
    up.socket.end(framePayload(Buffer.from([Command.Quit]), 0));
  }
}

function tokenFor(plugin: string, password: string, scramble: Buffer, tlsActive: boolean): Buffer {
  if (plugin === CACHING_SHA2) return cachingSha2Token(password, scramble);
  if (plugin === ED25519) return ed25519Token(password, scramble);
  if (plugin === CLEAR) return tlsActive ? Buffer.from(`${password}\0`, 'utf8') : Buffer.alloc(0);
  return nativeToken(password, scramble);
}

/** A text-protocol query on a connection airlock owns; returns the rows as strings. */
async function simpleQuery(socket: net.Socket, reader: PacketSocketReader, sql: string, deprecateEof: boolean): Promise<(string | null)[][]> {
  socket.write(framePayload(Buffer.concat([Buffer.from([Command.Query]), Buffer.from(sql, 'utf8')]), 0));
  const head = await reader.next();
  if (head.payload[0] === 0xff) throw new MysqlUpstreamError(`${sql}: ${decodeErr(head.payload).message}`, decodeErr(head.payload));
  if (head.payload[0] === 0x00) return [];
  const columns = new PacketReader(head.payload).lenenc() ?? 0;
  for (let i = 0; i < columns; i++) await reader.next();
  if (!deprecateEof) await reader.next();
  const rows: (string | null)[][] = [];
  for (;;) {
    const p = await reader.next();
    if (p.payload[0] === 0xff) throw new MysqlUpstreamError(`${sql}: ${decodeErr(p.payload).message}`, decodeErr(p.payload));
    if (isEofOrOkTerminator(p.payload)) return rows;
    const r = new PacketReader(p.payload);
    const row: (string | null)[] = [];
    for (let i = 0; i < columns; i++) row.push(r.lenencBytes()?.toString('utf8') ?? null);
    rows.push(row);
  }
}

function openSocket(target: { host: string; port: number }, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MysqlUpstreamError(`connecting to ${target.host}:${target.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new MysqlUpstreamError(`cannot connect to ${target.host}:${target.port}: ${err.message}`));
    });
  });
}

function upgrade(socket: net.Socket, target: MysqlTarget): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const verify = target.tls?.mode === 'verify-full';
    const secure = tls.connect({
      socket,
      servername: net.isIP(target.host) ? undefined : target.host,
      ca: target.tls?.ca ? fs.readFileSync(target.tls.ca) : undefined,
      rejectUnauthorized: verify,
    });
    secure.once('secureConnect', () => resolve(secure));
    secure.once('error', (err) => reject(new MysqlUpstreamError(`TLS with upstream ${target.host}:${target.port} failed: ${err.message}`)));
  });
}
