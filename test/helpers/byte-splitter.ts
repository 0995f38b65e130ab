// A loopback relay that re-sends what a real client writes one byte per TCP write (startup, SCRAM
// and queries alike), so airlock sees every message split across reads.

import net from 'node:net';

export async function startByteSplitter(targetPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    let queue = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      client.pause();
      queue = queue.then(async () => {
        for (let i = 0; i < chunk.length && !upstream.destroyed; i++) {
          upstream.write(chunk.subarray(i, i + 1));
          // Yield so each byte leaves in its own segment.
          await new Promise((r) => setImmediate(r));
        }
        client.resume();
      });
    });
    client.on('end', () => void queue.then(() => upstream.end()));
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
