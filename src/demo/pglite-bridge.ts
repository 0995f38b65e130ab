// Serves an in-process PGlite database on a loopback TCP port, so the demo's upstream is reached
// through exactly the same connector and relay as a real PostgreSQL server.

import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PgFramer } from '../protocol/pg/framer.js';

const SSL_REQUEST = 80877103;

export interface PgliteBridge {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * PGlite is one backend session: every TCP client shares it, one message at a time. Fine for a
 * walkthrough; not a database server.
 */
export async function servePglite(db: PGlite, host = '127.0.0.1'): Promise<PgliteBridge> {
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => {});
    return next;
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const framer = new PgFramer({ typed: false, maxMessageBytes: 1 << 30 });
    socket.on('data', (chunk: Buffer) => {
      try {
        framer.push(chunk, (frame) => {
          if (frame.type === 0 && frame.body.readInt32BE(0) === SSL_REQUEST) {
            socket.write('N');
            return;
          }
          if (frame.type === 0) framer.setTyped(true);
          if (frame.type === 0x58) {
            socket.end();
            return;
          }
          const raw = Buffer.from(frame.raw);
          void serial(async () => {
            const out = await db.execProtocolRaw(raw);
            if (out.length > 0 && !socket.destroyed) socket.write(Buffer.from(out));
          }).catch(() => socket.destroy());
        });
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
