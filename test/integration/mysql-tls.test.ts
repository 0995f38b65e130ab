// MySQL TLS through airlock when the client does not wait after its SSLRequest: the ClientHello follows
// at once, often in the same TCP segment (regression: "bytes after the SSLRequest" refused such clients,
// and the stock mariadb client failed 1 in 3..20 connections with "TLS/SSL error: wrong version number").

import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import t from 'tap';
import { nativeToken, NATIVE } from '../../src/protocol/mysql/auth.js';
import { Capability, Command } from '../../src/protocol/mysql/codes.js';
import { MysqlFramer, framePayload, type MysqlPacket } from '../../src/protocol/mysql/framer.js';
import { decodeErr, decodeHandshakeV10, encodeHandshakeResponse41, encodeSslRequest } from '../../src/protocol/mysql/packets.js';
import { PacketSocketReader } from '../../src/protocol/mysql/socket-reader.js';
import { mysqlCli, startAirlock, type Airlock } from '../helpers/mysql-airlock.js';

const a = await startAirlock('', { tls: true });
t.teardown(() => a.stop());

const CAPS = Capability.Protocol41 | Capability.SecureConnection | Capability.PluginAuth | Capability.ConnectWithDb | Capability.Transactions | Capability.Ssl;

/** The TLS layer's transport: its first write goes out in one socket write together with `prefix`. */
class JoinFirstWrite extends Duplex {
  readonly writes: Buffer[] = [];

  constructor(private readonly socket: net.Socket, private prefix: Buffer | null) {
    super();
    socket.on('data', (d: Buffer) => this.push(d));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const out = this.prefix ? Buffer.concat([this.prefix, chunk]) : chunk;
    this.prefix = null;
    this.writes.push(out);
    this.socket.write(out, done);
  }
}

/** Connects and reads the greeting; the reader is detached so that nothing else consumes the socket. */
async function greeted(): Promise<{ socket: net.Socket; scramble: Buffer }> {
  const socket = net.connect(a.port, '127.0.0.1');
  socket.setNoDelay(true);
  const reader = new PacketSocketReader(socket, new MysqlFramer(), 'airlock');
  const greeting = decodeHandshakeV10((await reader.next()).payload);
  reader.detach();
  return { socket, scramble: greeting.scramble };
}

/** SSLRequest and the start of the ClientHello in a single write, then login and a query inside TLS. */
async function loginJoined(who = a.dev): Promise<{ first: Buffer; rows: MysqlPacket[] }> {
  const { socket, scramble } = await greeted();
  const sslRequest = framePayload(encodeSslRequest(CAPS, 0x1000000, 45), 1);
  const transport = new JoinFirstWrite(socket, sslRequest);
  const secure = tls.connect({ socket: transport, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  const reader = new PacketSocketReader(secure, new MysqlFramer(), 'airlock');
  try {
    const response = encodeHandshakeResponse41({ capabilities: CAPS, maxPacketSize: 0x1000000, collation: 45, user: who.email, authResponse: nativeToken(who.token, scramble), database: 'shop', authPlugin: NATIVE });
    secure.write(framePayload(response, 2));
    const ok = await reader.next();
    if (ok.payload[0] !== 0x00) throw new Error(`login refused: ${decodeErr(ok.payload).message}`);
    secure.write(framePayload(Buffer.from([Command.Query, ...Buffer.from('SELECT 1')]), 0));
    const rows: MysqlPacket[] = [];
    let eofs = 0;
    while (eofs < 2) {
      const p = await reader.next();
      if (p.payload[0] === 0xff) throw new Error(decodeErr(p.payload).message);
      rows.push(p);
      if (p.payload[0] === 0xfe && p.payload.length < 9) eofs++;
    }
    return { first: transport.writes[0]!, rows };
  } finally {
    secure.destroy();
  }
}

function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    socket.once('close', () => resolve(true));
    setTimeout(() => resolve(false), ms);
  });
}

async function selectOverTls(conn: Airlock): Promise<unknown> {
  const c = await conn.connect({ ssl: { rejectUnauthorized: false } });
  try {
    const [rows] = await c.query('SELECT 1 AS n');
    return rows;
  } finally {
    await c.end();
  }
}

t.test('the SSLRequest and the ClientHello in one write: TLS, login, SELECT 1', async (t) => {
  for (let i = 0; i < 5; i++) {
    const { first, rows } = await loginJoined();
    t.equal(first.readUIntLE(0, 3), 32, 'the write starts with the SSLRequest');
    t.ok(first.length > 36 && first[36] === 0x16, 'and carries the TLS handshake record right behind it');
    t.equal(rows.at(-2)!.payload.toString('latin1', 1), '1', 'the row');
  }
});

t.test('garbage behind an SSLRequest ends that connection only', async (t) => {
  const { socket } = await greeted();
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.write(Buffer.concat([framePayload(encodeSslRequest(CAPS, 0x1000000, 45), 1), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]));
  t.ok(await closedWithin(socket, 5000), 'closed');
  t.same(await selectOverTls(a), [{ n: 1 }], 'airlock goes on');
});

t.test('mysql2 with TLS, 30 connections in a row', async (t) => {
  let ok = 0;
  for (let i = 0; i < 30; i++) {
    const rows = await selectOverTls(a);
    if (JSON.stringify(rows) === '[{"n":1}]') ok++;
  }
  t.equal(ok, 30);
});

t.test('the mysql CLI with --ssl, 15 connections in a row', async (t) => {
  const failures: string[] = [];
  for (let i = 0; i < 15; i++) {
    const r = await mysqlCli(a, ['-D', 'shop', '--ssl', '--ssl-verify-server-cert=0', '-e', 'SELECT 8 AS n'], { tls: true });
    if (r.code !== 0 || r.stdout !== 'n\n8\n') failures.push(r.stderr);
  }
  t.same(failures, []);
});
