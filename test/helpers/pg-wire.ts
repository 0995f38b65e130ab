// A raw PostgreSQL wire client for tests that must control bytes: pipelines, split writes, huge messages.

import type { Socket } from 'node:net';
import { connectUpstreamPg } from '../../src/upstream/pg-connect.js';
import { PgFramer, type PgFrame } from '../../src/protocol/pg/framer.js';

export interface WireClient {
  readonly socket: Socket;
  /** Writes bytes, optionally one byte per write with a pause (exercises split reads). */
  send(bytes: Buffer, opts?: { byteByByte?: boolean }): Promise<void>;
  /** Resolves with every frame up to and including the next ReadyForQuery. */
  untilReady(): Promise<PgFrame[]>;
  /** Resolves with every frame up to and including the next one of this type (a NOTICE while held). */
  until(type: number): Promise<PgFrame[]>;
  close(): void;
}

export async function connectWire(opts: { port: number; user: string; password: string; database: string }): Promise<WireClient> {
  const up = await connectUpstreamPg({
    host: '127.0.0.1',
    port: opts.port,
    database: opts.database,
    user: opts.user,
    password: opts.password,
    startupParams: { application_name: 'airlock-wire-test' },
    connectTimeoutMs: 10000,
  });
  const framer = new PgFramer({ typed: true, maxMessageBytes: 1 << 30 });
  const frames: PgFrame[] = [];
  let waiter: (() => void) | null = null;
  const onData = (chunk: Buffer) => {
    framer.push(chunk, (f) => frames.push({ type: f.type, raw: Buffer.from(f.raw), body: Buffer.from(f.body) }));
    waiter?.();
  };
  up.socket.on('data', onData);
  if (up.leftover.length) onData(up.leftover);
  up.socket.resume();
  const until = async (type: number): Promise<PgFrame[]> => {
    for (;;) {
      const i = frames.findIndex((f) => f.type === type);
      if (i >= 0) return frames.splice(0, i + 1);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no '${String.fromCharCode(type)}'; frames so far: ${frames.map((f) => String.fromCharCode(f.type)).join('')}`)), 20000);
        waiter = () => {
          clearTimeout(t);
          waiter = null;
          resolve();
        };
      });
    }
  };
  return {
    socket: up.socket,
    async send(bytes, o) {
      if (!o?.byteByByte) {
        up.socket.write(bytes);
        return;
      }
      for (let i = 0; i < bytes.length; i++) {
        up.socket.write(bytes.subarray(i, i + 1));
        await new Promise((r) => setImmediate(r));
      }
    },
    untilReady: () => until(0x5a),
    until,
    close() {
      up.socket.destroy();
    },
  };
}

// Frontend message builders written out here so the tests do not depend on airlock's own encoders.
function msg(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

export const fe = {
  query: (sql: string) => msg('Q', cstr(sql)),
  parse: (name: string, sql: string) => msg('P', Buffer.concat([cstr(name), cstr(sql), int16(0)])),
  bind: (portal: string, stmt: string, params: (string | null)[]) =>
    msg(
      'B',
      Buffer.concat([
        cstr(portal),
        cstr(stmt),
        int16(0),
        int16(params.length),
        ...params.map((p) => (p === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(p)), Buffer.from(p)]))),
        int16(0),
      ]),
    ),
  describePortal: (portal: string) => msg('D', Buffer.concat([Buffer.from('P'), cstr(portal)])),
  close: (target: 'S' | 'P', name: string) => msg('C', Buffer.concat([Buffer.from(target), cstr(name)])),
  execute: (portal: string, maxRows = 0) => msg('E', Buffer.concat([cstr(portal), int32(maxRows)])),
  sync: () => msg('S', Buffer.alloc(0)),
  flush: () => msg('H', Buffer.alloc(0)),
};

export function tags(frames: PgFrame[]): string {
  return frames.map((f) => String.fromCharCode(f.type)).join('');
}

export function errorOf(frames: PgFrame[]): { code: string; message: string } | undefined {
  const e = frames.find((f) => f.type === 0x45);
  if (!e) return undefined;
  const fields: Record<string, string> = {};
  let i = 0;
  while (i < e.body.length && e.body[i] !== 0) {
    const end = e.body.indexOf(0, i + 1);
    fields[String.fromCharCode(e.body[i]!)] = e.body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return { code: fields.C ?? '', message: fields.M ?? '' };
}
