// A tiny PostgreSQL backend for tests: demands the authentication the machine's (trust) server will not.
import net from 'node:net';
import tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as msg from '../../src/protocol/pg/messages.js';
import { ScramServerExchange } from '../../src/protocol/pg/scram-server.js';
import type { ScramVerifier } from '../../src/identity/types.js';

export type FakeAuth =
  | { kind: 'trust' }
  | { kind: 'cleartext'; password: string }
  /** rolpassword as PostgreSQL stores it: "md5" + md5(password + user) */
  | { kind: 'md5'; rolpassword: string }
  | { kind: 'scram'; verifier: ScramVerifier; forgeServerSignature?: boolean; skipServerFinal?: boolean; mechanisms?: string[] };

export interface FakeUpstreamOptions {
  auth: FakeAuth;
  /** Answer to SSLRequest; 'S+junk' answers S followed by plaintext bytes (the CVE-2021-23222 attack). */
  ssl?: 'S' | 'N' | 'S+junk';
  tlsKeyCert?: { key: Buffer; cert: Buffer };
  /** Extra frames before ReadyForQuery and raw bytes after it. */
  beforeReady?: Buffer[];
  afterReady?: Buffer;
  /** Deliver every outgoing byte in its own write, to exercise reassembly across reads. */
  byteByByte?: boolean;
  /** Accept and then say nothing at all. */
  silent?: boolean;
}

export interface FakeUpstream {
  port: number;
  /** Startup parameters of each connection, in order. */
  startups: Array<Record<string, string>>;
  close(): Promise<void>;
}

export async function startFakeUpstream(opts: FakeUpstreamOptions): Promise<FakeUpstream> {
  const startups: Array<Record<string, string>> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (opts.silent) return;
    serve(socket, opts, startups).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    startups,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serve(raw: net.Socket, opts: FakeUpstreamOptions, startups: Array<Record<string, string>>): Promise<void> {
  let io = new Io(raw);
  let packet = await io.startupPacket();
  if (packet.readInt32BE(0) === msg.SSL_REQUEST_CODE) {
    const answer = opts.ssl ?? 'N';
    if (answer === 'N') {
      raw.write('N');
    } else if (answer === 'S+junk') {
      raw.write(Buffer.concat([Buffer.from('S'), msg.authenticationOk()]));
      return;
    } else {
      raw.write('S');
      io.detach();
      const secure = new tls.TLSSocket(raw, { isServer: true, ...opts.tlsKeyCert! });
      secure.on('error', () => undefined);
      io = new Io(secure);
    }
    packet = await io.startupPacket();
  }
  const params = parseStartup(packet);
  startups.push(params);
  const send = (buf: Buffer) => io.send(buf, opts.byteByByte ?? false);
  const refuse = async () => {
    await send(msg.errorResponse({ severity: 'FATAL', sqlstate: '28P01', message: `password authentication failed for user "${params.user}"` }));
    io.socket.end();
  };

  const auth = opts.auth;
  if (auth.kind === 'cleartext') {
    await send(Buffer.from('520000000800000003', 'hex'));
    if ((await io.password()).toString('utf8') !== auth.password + '\0') return refuse();
  } else if (auth.kind === 'md5') {
    const salt = randomBytes(4);
    await send(Buffer.concat([Buffer.from('520000000c00000005', 'hex'), salt]));
    const expected = 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(auth.rolpassword.slice(3)), salt])).digest('hex');
    if ((await io.password()).toString('utf8') !== expected + '\0') return refuse();
  } else if (auth.kind === 'scram') {
    const exchange = new ScramServerExchange(auth.verifier, { user: params.user });
    await send(msg.authenticationSasl(auth.mechanisms ?? exchange.mechanisms()));
    const initial = await io.password();
    const mechanismEnd = initial.indexOf(0);
    const mechanism = initial.toString('utf8', 0, mechanismEnd);
    const dataLength = initial.readInt32BE(mechanismEnd + 1);
    const first = exchange.start(initial.subarray(mechanismEnd + 5, mechanismEnd + 5 + dataLength), mechanism);
    if ('error' in first) return refuse();
    await send(msg.authenticationSaslContinue(first.serverFirst));
    const final = exchange.finish(await io.password());
    if (!final.ok) return refuse();
    if (!auth.skipServerFinal) {
      const signature = auth.forgeServerSignature ? 'v=' + randomBytes(32).toString('base64') : final.serverFinal;
      await send(msg.authenticationSaslFinal(signature));
    }
  }
  await send(msg.authenticationOk());
  await send(msg.parameterStatus('server_version', '15.99 (fake)'));
  await send(msg.parameterStatus('client_encoding', 'UTF8'));
  await send(msg.backendKeyData(4242, 0x7eadbeef));
  for (const frame of opts.beforeReady ?? []) await send(frame);
  await send(Buffer.concat([msg.readyForQuery('I'), opts.afterReady ?? Buffer.alloc(0)]));
}

function parseStartup(packet: Buffer): Record<string, string> {
  const params: Record<string, string> = {};
  const parts = packet.toString('utf8', 4).split('\0');
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params[parts[i]!] = parts[i + 1]!;
  return params;
}

/** Minimal accumulating reader for the frontend side of the conversation. */
class Io {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.waiter?.();
  };
  constructor(readonly socket: net.Socket | tls.TLSSocket) {
    socket.on('data', this.onData);
  }
  detach(): void {
    this.socket.off('data', this.onData);
  }
  private async take(n: number): Promise<Buffer> {
    while (this.buffered.length < n) await new Promise<void>((resolve) => (this.waiter = resolve));
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }
  /** Untyped startup packet body (after its Int32 length). */
  async startupPacket(): Promise<Buffer> {
    const length = (await this.take(4)).readInt32BE(0);
    return this.take(length - 4);
  }
  /** A 'p' message body. */
  async password(): Promise<Buffer> {
    const header = await this.take(5);
    if (header[0] !== 0x70) throw new Error(`expected 'p', got ${header[0]}`);
    return this.take(header.readInt32BE(1) - 4);
  }
  async send(buf: Buffer, byteByByte: boolean): Promise<void> {
    if (!byteByByte) {
      this.socket.write(buf);
      return;
    }
    for (const byte of buf) {
      this.socket.write(Buffer.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
