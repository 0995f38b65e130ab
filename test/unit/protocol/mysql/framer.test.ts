// Framer: every split point of a stream, 16 MiB continuation packets, raw bytes kept for forwarding.

import t from 'tap';
import { MysqlFramer, PacketTooLargeError, framePayload, packetCount, type MysqlPacket } from '../../../../src/protocol/mysql/framer.js';

function collect(framer: MysqlFramer, chunks: Buffer[]): MysqlPacket[] {
  const out: MysqlPacket[] = [];
  for (const c of chunks) framer.push(c, (p) => out.push(p));
  return out;
}

t.test('a stream of packets split at every byte boundary gives the same packets', async (t) => {
  const payloads = [Buffer.from([0x03, ...Buffer.from('SELECT 1')]), Buffer.alloc(0), Buffer.from([0x0e]), Buffer.alloc(300, 0x61)];
  const stream = Buffer.concat(payloads.map((p, i) => framePayload(p, i)));
  for (let cut = 0; cut <= stream.length; cut++) {
    const got = collect(new MysqlFramer(), [stream.subarray(0, cut), stream.subarray(cut)]);
    t.same(got.map((p) => p.payload), payloads, `cut at ${cut}`);
    t.same(got.map((p) => p.seq), [0, 1, 2, 3]);
  }
  const bytes = collect(new MysqlFramer(), [...stream].map((b) => Buffer.from([b])));
  t.same(Buffer.concat(bytes.map((p) => p.raw)), stream, 'one byte at a time keeps the raw bytes');
});

t.test('payloads of 0xFFFFFF bytes and more are split, joined, and end with a shorter packet', async (t) => {
  for (const size of [0xfffffe, 0xffffff, 0xffffff + 1, 2 * 0xffffff]) {
    const payload = Buffer.alloc(size, 0x78);
    payload[0] = 0x03;
    payload[size - 1] = 0x7a;
    const framed = framePayload(payload, 5);
    t.equal(framed.length, size + 4 * packetCount(size), `${size}: headers`);
    const got = collect(new MysqlFramer(), [framed.subarray(0, 100_000), framed.subarray(100_000, 0xffffff + 7), framed.subarray(0xffffff + 7)]);
    t.equal(got.length, 1, `${size}: one logical packet`);
    t.equal(got[0]!.payload.length, size);
    t.equal(got[0]!.payload[size - 1], 0x7a);
    t.equal(got[0]!.seq, 5);
    t.equal(got[0]!.lastSeq, 5 + packetCount(size) - 1);
    t.ok(got[0]!.raw.equals(framed), `${size}: raw bytes unchanged`);
  }
});

t.test('the exact-multiple case ends with an empty packet', async (t) => {
  const framed = framePayload(Buffer.alloc(0xffffff), 0);
  t.same([...framed.subarray(framed.length - 4)], [0, 0, 0, 1]);
});

t.test('push reports whether a chunk was whole packets', async (t) => {
  const f = new MysqlFramer();
  const a = framePayload(Buffer.from('abc'), 0);
  t.equal(f.push(a, () => {}), true);
  t.equal(f.push(a.subarray(0, 2), () => {}), false);
  t.equal(f.push(a.subarray(2), () => {}), false, 'a chunk finishing an earlier packet is not aligned');
  t.equal(f.push(Buffer.concat([a, a]), () => {}), true);
});

t.test('a packet over the limit is refused as soon as its header says so', async (t) => {
  const f = new MysqlFramer({ maxPayloadBytes: 1000 });
  const big = framePayload(Buffer.alloc(2000), 0);
  t.throws(() => f.push(big.subarray(0, 10), () => {}), PacketTooLargeError);
});

t.test('stop() from onPacket leaves the bytes behind that packet raw until resume()', async (t) => {
  const f = new MysqlFramer({ maxPayloadBytes: 1000 });
  const sslRequest = framePayload(Buffer.alloc(32, 1), 1);
  const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]); // read as a MySQL header: 66326 bytes
  const got: MysqlPacket[] = [];
  f.push(Buffer.concat([sslRequest, clientHello]), (p) => {
    got.push(p);
    f.stop();
  });
  f.push(Buffer.from('more'), (p) => got.push(p));
  t.equal(got.length, 1, 'the SSLRequest only');
  t.same(f.resume(), Buffer.concat([clientHello, Buffer.from('more')]), 'the rest as it came, no size check');
  const after = collect(f, [framePayload(Buffer.from('abc'), 2)]);
  t.same(after.map((p) => p.payload.toString()), ['abc'], 'framing again after resume');
});
