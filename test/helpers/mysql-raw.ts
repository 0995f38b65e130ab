// A raw MySQL client for tests that need exact packets (long data, pipelining, rarely used commands):
// logs in with airlock's own upstream connector, then writes payloads and reads logical packets.

import { connectUpstreamMysql } from '../../src/upstream/mysql-connect.js';
import { Capability } from '../../src/protocol/mysql/codes.js';
import { framePayload, type MysqlPacket } from '../../src/protocol/mysql/framer.js';
import { PacketSocketReader } from '../../src/protocol/mysql/socket-reader.js';
import type { Airlock, Person } from './mysql-airlock.js';

export interface RawClient {
  send(payload: Buffer, seq?: number): void;
  next(): Promise<MysqlPacket>;
  /** Reads until a packet whose first byte is OK (0x00), ERR (0xFF) or EOF/OK (0xFE, short). */
  untilEnd(): Promise<MysqlPacket[]>;
  /** COM_STMT_PREPARE and its whole reply; the statement id, or the ERR. */
  prepare(sql: string): Promise<{ id: number; params: number } | { error: Buffer }>;
  close(): void;
}

export async function rawClient(a: Airlock, who?: Person, deprecateEof = true): Promise<RawClient> {
  const p = who ?? a.dev;
  const caps = Capability.MultiStatements | Capability.MultiResults | Capability.PsMultiResults | (deprecateEof ? Capability.DeprecateEof : 0);
  const up = await connectUpstreamMysql({ host: '127.0.0.1', port: a.port, user: p.email, password: p.token, database: 'shop' }, { clientCapabilities: caps, connectTimeoutMs: 5000 });
  const reader = new PacketSocketReader(up.socket, up.framer, 'airlock');
  return {
    send: (payload, seq = 0) => void up.socket.write(framePayload(payload, seq)),
    next: () => reader.next(),
    async untilEnd() {
      const out: MysqlPacket[] = [];
      for (;;) {
        const pkt = await reader.next();
        out.push(pkt);
        const b = pkt.payload[0];
        if (b === 0x00 || b === 0xff || (b === 0xfe && pkt.payload.length < 9)) return out;
      }
    },
    async prepare(sql) {
      up.socket.write(framePayload(Buffer.concat([Buffer.from([0x16]), Buffer.from(sql)]), 0));
      const ok = await reader.next();
      if (ok.payload[0] !== 0x00) return { error: ok.payload };
      const id = ok.payload.readUInt32LE(1);
      const columns = ok.payload.readUInt16LE(5);
      const params = ok.payload.readUInt16LE(7);
      let more = params + columns;
      if (!deprecateEof) more += (params > 0 ? 1 : 0) + (columns > 0 ? 1 : 0);
      for (let i = 0; i < more; i++) await reader.next();
      return { id, params };
    },
    close: () => up.socket.destroy(),
  };
}

export const cmd = (code: number, ...parts: (Buffer | string)[]) => Buffer.concat([Buffer.from([code]), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))]);

export function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
