// The PostgreSQL framer: every split of the byte stream gives the same frames, bodies skipped on request.

import fc from 'fast-check';
import t from 'tap';
import { PgFramer, type PgFrame } from '../../../../src/protocol/pg/framer.js';

// Independent byte builders: type byte, Int32 length counting itself, body.
function typed(type: string, body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b.write(type, 0, 'latin1');
  b.writeInt32BE(4 + body.length, 1);
  body.copy(b, 5);
  return b;
}
function startup(params: string): Buffer {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from(params, 'latin1')]);
  const b = Buffer.alloc(4 + body.length);
  b.writeInt32BE(b.length, 0);
  body.copy(b, 4);
  return b;
}

const stream = Buffer.concat([
  typed('Q', Buffer.from('SELECT 1\0')),
  typed('S', Buffer.alloc(0)),
  typed('D', Buffer.alloc(70000, 7)),
  typed('Z', Buffer.from('I')),
]);

function frames(chunks: Buffer[], opts: ConstructorParameters<typeof PgFramer>[0]): PgFrame[] {
  const f = new PgFramer(opts);
  const out: PgFrame[] = [];
  for (const c of chunks) f.push(c, (fr) => out.push({ type: fr.type, raw: Buffer.from(fr.raw), body: Buffer.from(fr.body) }));
  return out;
}

t.test('the same frames whatever the read boundaries', async (t) => {
  const whole = frames([stream], { typed: true, maxMessageBytes: 1 << 20 });
  t.same(whole.map((f) => String.fromCharCode(f.type)), ['Q', 'S', 'D', 'Z']);
  t.same(Buffer.concat(whole.map((f) => f.raw)), stream, 'raw frames are the input bytes');
  // Every single split point, and one byte at a time.
  for (let cut = 1; cut < 40; cut++) t.same(frames([stream.subarray(0, cut), stream.subarray(cut)], { typed: true, maxMessageBytes: 1 << 20 }), whole);
  const bytes = [...stream].map((b) => Buffer.from([b]));
  t.same(frames(bytes, { typed: true, maxMessageBytes: 1 << 20 }), whole, 'one byte per read');
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const bounds = [0, ...points, stream.length];
      const parts = bounds.slice(1).map((end, i) => stream.subarray(bounds[i], end));
      const got = frames(parts, { typed: true, maxMessageBytes: 1 << 20 });
      if (JSON.stringify(got.map((f) => [f.type, f.raw.toString('hex')])) !== JSON.stringify(whole.map((f) => [f.type, f.raw.toString('hex')]))) throw new Error(`differs for cuts ${points}`);
    }),
  );
});

t.test('startup phase is untyped, then typed from the next frame of the same read', async (t) => {
  const bytes = Buffer.concat([startup('user\0a@b.c\0\0'), typed('p', Buffer.from('x'))]);
  const f = new PgFramer({ typed: false, maxMessageBytes: 1 << 20 });
  const got: number[] = [];
  f.push(bytes, (fr) => {
    got.push(fr.type);
    if (fr.type === 0) f.setTyped(true);
  });
  t.same(got, [0, 'p'.charCodeAt(0)]);
});

t.test('skipBody: straddling DataRows are passed over, not assembled', async (t) => {
  const skip = { typed: true, maxMessageBytes: 1 << 20, skipBody: (type: number) => type === 0x44 };
  for (const cut of [3, 5, 1000, 69990, stream.length - 7]) {
    const got = frames([stream.subarray(0, cut), stream.subarray(cut)], skip);
    t.same(got.map((f) => String.fromCharCode(f.type)), ['Q', 'S', 'D', 'Z'], `cut at ${cut}`);
    t.equal(got.at(-1)!.body.toString(), 'I', 'frames after a skipped one are read correctly');
  }
});

t.test('lengths that cannot be right are refused with a client error', async (t) => {
  const f = new PgFramer({ typed: true, maxMessageBytes: 1000 });
  t.throws(() => f.push(Buffer.from([0x51, 0, 0, 0, 2]), () => {}), { sqlstate: '08P01' });
  const g = new PgFramer({ typed: true, maxMessageBytes: 1000 });
  t.throws(() => g.push(Buffer.from([0x51, 0, 0, 0x10, 0]), () => {}), { sqlstate: '54000' });
});
