// Opens an authenticated connection to an upstream PostgreSQL as the resource's user, up to its first ReadyForQuery.
//
// Startup flow (PostgreSQL docs §55.2.1): [SSLRequest → 'S' → TLS] → StartupMessage → authentication
// (trust, cleartext, MD5 or SCRAM-SHA-256) → ParameterStatus*, BackendKeyData, NoticeResponse* → ReadyForQuery.
// The frames the client must see (ParameterStatus, ReadyForQuery) are returned raw so the session relays
// them byte for byte.

import net from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { AirlockError } from '../errors.js';
import * as msg from '../protocol/pg/messages.js';
import { AuthCode } from '../protocol/pg/messages.js';
import { SCRAM_SHA_256 } from '../protocol/pg/scram-server.js';
import { ScramClient } from './pg-scram-client.js';
import { Deadline, FrameReader } from './pg-startup-reader.js';

export interface UpstreamPgTls {
  /** require: encrypt, trust any certificate (libpq's sslmode=require). verify-full: check the chain and host name. */
  readonly mode: 'disable' | 'require' | 'verify-full';
  /** PEM CA bundle for verify-full; Node's default roots when omitted. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

export interface UpstreamPgOptions {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password?: string;
  readonly tls?: UpstreamPgTls;
  /** The client's startup parameters minus user/database, forwarded verbatim (options, application_name, _pq_.*, ...). */
  readonly startupParams: Readonly<Record<string, string>>;
  /** Covers everything: TCP connect, TLS, authentication and the wait for ReadyForQuery. */
  readonly connectTimeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface UpstreamPg {
  /** Paused, with no listeners of ours: attach yours, then resume(). */
  readonly socket: net.Socket | tls.TLSSocket;
  /** Raw ParameterStatus frames in arrival order, to relay verbatim. */
  readonly parameterStatus: Buffer[];
  readonly backendKey: { readonly pid: number; readonly secret: number };
  readonly serverVersion?: string;
  /** Bytes the upstream sent after ReadyForQuery (normally none); process them before new socket data. */
  readonly leftover: Buffer;
  readonly initialReadyForQuery: Buffer;
  /** Raw NoticeResponse frames received during startup. */
  readonly notices: Buffer[];
  /** Raw NegotiateProtocolVersion frame, when the server downgraded the minor version or refused _pq_ options. */
  readonly negotiateProtocolVersion?: Buffer;
}

/** What the upstream itself said when it refused us (an ErrorResponse during startup). */
export interface UpstreamErrorFields {
  readonly severity?: string;
  readonly sqlstate: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

export class UpstreamPgError extends AirlockError {
  readonly upstream: UpstreamErrorFields;
  constructor(code: 'AIRLOCK_ERR_UPSTREAM_AUTH' | 'AIRLOCK_ERR_UPSTREAM_CONNECT', message: string, upstream: UpstreamErrorFields) {
    super(code, message);
    this.name = 'UpstreamPgError';
    this.upstream = upstream;
  }
}

export async function connectUpstreamPg(opts: UpstreamPgOptions): Promise<UpstreamPg> {
  const where = `${opts.host}:${opts.port}`;
  const deadline = new Deadline(opts.connectTimeoutMs, opts.signal, `connecting to upstream PostgreSQL ${where}`);
  let reader: FrameReader | undefined;
  try {
    reader = await dial(opts.host, opts.port, opts.tls, deadline);
    const params: Record<string, string> = { user: opts.user, database: opts.database };
    for (const [name, value] of Object.entries(opts.startupParams)) {
      if (name !== 'user' && name !== 'database') params[name] = value;
    }
    reader.socket.write(msg.startupMessage(params));
    const result = await runStartup(reader, opts, where);
    deadline.clear();
    return { ...result, socket: reader.socket, leftover: reader.detach() };
  } catch (err) {
    deadline.clear();
    reader?.socket.destroy();
    throw err;
  }
}

/** Asks the upstream to cancel what backend pid/secret is running: a fresh connection, a CancelRequest, then close. */
export async function sendCancelRequest(
  target: { readonly host: string; readonly port: number; readonly tls?: UpstreamPgTls; readonly timeoutMs?: number },
  pid: number,
  secret: number,
): Promise<void> {
  const deadline = new Deadline(target.timeoutMs ?? 10_000, undefined, `cancelling on upstream ${target.host}:${target.port}`);
  let reader: FrameReader | undefined;
  try {
    reader = await dial(target.host, target.port, target.tls, deadline);
    // The server answers nothing: it acts on the request and closes, so wait for that close.
    reader.socket.write(msg.cancelRequest(pid, secret));
    await reader.closed();
  } finally {
    deadline.clear();
    reader?.socket.destroy();
  }
}

// ---------------------------------------------------------------- startup conversation

type StartupResult = Omit<UpstreamPg, 'socket' | 'leftover'>;

async function runStartup(reader: FrameReader, opts: UpstreamPgOptions, where: string): Promise<StartupResult> {
  const parameterStatus: Buffer[] = [];
  const notices: Buffer[] = [];
  let serverVersion: string | undefined;
  let backendKey: { pid: number; secret: number } | undefined;
  let negotiateProtocolVersion: Buffer | undefined;
  let scram: ScramClient | undefined;
  let authenticated = false;

  const authError = (message: string) => new AirlockError('AIRLOCK_ERR_UPSTREAM_AUTH', `${message} (upstream ${where}, user "${opts.user}")`);
  const needPassword = (): string => {
    if (!opts.password) throw authError('upstream asked for a password but none is configured for this resource');
    return opts.password;
  };

  for (;;) {
    const { type, frame, body } = await reader.message();
    switch (type) {
      case 'R': {
        if (authenticated || body.length < 4) throw protocolError(`unexpected authentication message from upstream ${where}`);
        const code = body.readInt32BE(0);
        if (code === AuthCode.Ok) {
          // A server that skips SASLFinal never proved it knows the verifier: refuse, as libpq does.
          if (scram && !scram.verified) throw authError('upstream ended SCRAM authentication without proving its identity');
          authenticated = true;
        } else if (code === AuthCode.CleartextPassword) {
          reader.socket.write(msg.passwordMessage(needPassword()));
        } else if (code === AuthCode.MD5Password) {
          reader.socket.write(msg.passwordMessage(md5PasswordResponse(opts.user, needPassword(), body.subarray(4, 8))));
        } else if (code === AuthCode.SASL) {
          const mechanisms = readCStrings(body.subarray(4));
          // We do not bind to the upstream's TLS channel, so we pick plain SCRAM-SHA-256 and say "n" honestly.
          if (!mechanisms.includes(SCRAM_SHA_256)) {
            throw authError(`upstream offers no supported SASL mechanism (${mechanisms.join(', ')})`);
          }
          scram = new ScramClient(needPassword());
          reader.socket.write(msg.saslInitialResponse(SCRAM_SHA_256, scram.clientFirst));
        } else if (code === AuthCode.SASLContinue) {
          if (!scram) throw protocolError(`upstream ${where} sent SASLContinue outside SASL`);
          reader.socket.write(msg.saslResponse(await scram.clientFinal(body.subarray(4).toString('utf8'))));
        } else if (code === AuthCode.SASLFinal) {
          if (!scram) throw protocolError(`upstream ${where} sent SASLFinal outside SASL`);
          const problem = scram.verifyServerFinal(body.subarray(4).toString('utf8'));
          if (problem) throw authError(problem);
        } else {
          throw authError(`upstream requested an unsupported authentication method (code ${code})`);
        }
        break;
      }
      case 'S': {
        parameterStatus.push(frame);
        const [name, value] = readCStrings(body);
        if (name === 'server_version') serverVersion = value;
        break;
      }
      case 'K':
        if (body.length < 8) throw protocolError(`malformed BackendKeyData from upstream ${where}`);
        backendKey = { pid: body.readInt32BE(0), secret: body.readInt32BE(4) };
        break;
      case 'N':
        notices.push(frame);
        break;
      case 'v':
        negotiateProtocolVersion = frame;
        break;
      case 'E': {
        const fields = parseErrorFields(body);
        const code = fields.sqlstate.startsWith('28') ? 'AIRLOCK_ERR_UPSTREAM_AUTH' : 'AIRLOCK_ERR_UPSTREAM_CONNECT';
        throw new UpstreamPgError(code, `upstream ${where} refused the connection: ${fields.sqlstate} ${fields.message}`, fields);
      }
      case 'Z':
        if (!authenticated) throw protocolError(`upstream ${where} sent ReadyForQuery before authentication finished`);
        if (!backendKey) throw protocolError(`upstream ${where} sent no BackendKeyData, so queries could not be cancelled`);
        return { parameterStatus, notices, serverVersion, backendKey, initialReadyForQuery: frame, negotiateProtocolVersion };
      default:
        throw protocolError(`unexpected message '${type}' from upstream ${where} during startup`);
    }
  }
}

/** MD5 auth: "md5" + md5hex(md5hex(password + user) + salt), PostgreSQL docs §55.3.2. */
function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user, 'utf8').digest('hex');
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner, 'utf8'), salt])).digest('hex');
}

// ---------------------------------------------------------------- transport

/** Opens TCP, and TLS when asked, ready for the first startup packet. */
async function dial(host: string, port: number, tlsOpts: UpstreamPgTls | undefined, deadline: Deadline): Promise<FrameReader> {
  const where = `${host}:${port}`;
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  socket.setKeepAlive(true);
  const plain = new FrameReader(socket, where);
  deadline.onExpire((err) => plain.fail(err));
  await plain.connected();
  if (!tlsOpts || tlsOpts.mode === 'disable') return plain;

  socket.write(msg.sslRequest());
  const answer = await plain.byte();
  if (answer !== 0x53 /* S */) {
    socket.destroy();
    throw new AirlockError(
      'AIRLOCK_ERR_UPSTREAM_CONNECT',
      answer === 0x4e ? `upstream ${where} does not accept TLS but tls.mode is ${tlsOpts.mode}` : `upstream ${where} answered the SSLRequest with byte ${answer}`,
    );
  }
  // CVE-2021-23222: bytes after 'S' and before the handshake could be injected by a man in the middle.
  if (plain.detach().length > 0) {
    socket.destroy();
    throw protocolError(`upstream ${where} sent unencrypted data after accepting TLS`);
  }
  const verify = tlsOpts.mode === 'verify-full';
  const secure = tls.connect({
    socket,
    servername: net.isIP(host) ? undefined : host,
    ca: tlsOpts.ca as tls.ConnectionOptions['ca'],
    rejectUnauthorized: verify,
    checkServerIdentity: verify ? tls.checkServerIdentity : () => undefined,
  });
  const reader = new FrameReader(secure, where);
  deadline.onExpire((err) => reader.fail(err));
  await reader.secured();
  return reader;
}

/** Collects socket data and hands out whole backend frames (Byte1 type + Int32 length + body). */
// ---------------------------------------------------------------- small decoders

function protocolError(message: string): AirlockError {
  return new AirlockError('AIRLOCK_ERR_PROTOCOL', message);
}

/** NUL-terminated strings back to back, stopping at an empty one or the end (AuthenticationSASL, ParameterStatus). */
function readCStrings(body: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < body.length) {
    const end = body.indexOf(0, at);
    if (end < 0 || end === at) break;
    out.push(body.toString('utf8', at, end));
    at = end + 1;
  }
  return out;
}

/** ErrorResponse body: (Byte1 field code, String value)* terminated by a zero byte. */
function parseErrorFields(body: Buffer): UpstreamErrorFields {
  const fields = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    fields.set(String.fromCharCode(body[at]!), body.toString('utf8', at + 1, end));
    at = end + 1;
  }
  return {
    severity: fields.get('V') ?? fields.get('S'),
    sqlstate: fields.get('C') ?? 'XX000',
    message: fields.get('M') ?? 'unknown error',
    detail: fields.get('D'),
    hint: fields.get('H'),
  };
}
