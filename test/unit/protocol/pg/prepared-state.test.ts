// Statement and portal names follow the server's answers: a Parse counts at ParseComplete, a Close at
// CloseComplete, and what an error made the server skip never happened. Driven through the real
// ExtendedBatch and ResponseTracker, with the server's replies written out by hand.

import t from 'tap';
import type { PgFrame } from '../../../../src/protocol/pg/framer.js';
import { ExtendedBatch, UNKNOWN_PORTAL, type TakenBatch } from '../../../../src/protocol/pg/extended-batch.js';
import { PreparedState, UNCERTAIN } from '../../../../src/protocol/pg/prepared-state.js';
import { ResponseTracker } from '../../../../src/protocol/pg/response-tracker.js';
import { fe } from '../../../helpers/pg-wire.js';

const DELETE = 'DELETE FROM t WHERE id=301';

function framesOf(bytes: Buffer): PgFrame[] {
  const out: PgFrame[] = [];
  for (let i = 0; i < bytes.length; ) {
    const len = bytes.readInt32BE(i + 1);
    out.push({ type: bytes[i]!, raw: bytes.subarray(i, i + 1 + len), body: bytes.subarray(i + 5, i + 1 + len) });
    i += 1 + len;
  }
  return out;
}

/** The relay's part without sockets: collect, resolve, forward in order, feed the server's answers. */
class Session {
  readonly state = new PreparedState();
  readonly tracker = new ResponseTracker();
  private readonly batch = new ExtendedBatch();

  /** Collects a batch; undefined when it must wait for answers to an earlier one. */
  take(...messages: Buffer[]): TakenBatch | undefined {
    for (const f of framesOf(Buffer.concat(messages))) this.batch.add(f);
    return this.batch.take(this.state);
  }

  forward(taken: TakenBatch): void {
    taken.frames.forEach((f, i) => {
      if (f.type !== 0x48) this.tracker.expect(f.type, f.type === 0x45 ? undefined : this.state.forwarded(taken.effects[i]));
      if (f.type === 0x53) this.state.syncForwarded();
    });
  }

  send(...messages: Buffer[]): TakenBatch {
    const taken = this.take(...messages);
    if (!taken) throw new Error('batch unexpectedly waits');
    this.forward(taken);
    return taken;
  }

  /** Server replies as type letters; E carries the given SQLSTATE. */
  reply(letters: string, sqlstate = '42P05'): void {
    for (const l of letters) {
      const body =
        l === 'Z' ? Buffer.from('I') : l === 'E' ? Buffer.from(`SERROR\0C${sqlstate}\0Mboom\0\0`) : l === 'C' ? Buffer.from('SELECT 1\0') : Buffer.alloc(0);
      this.tracker.observe(l.charCodeAt(0), body);
    }
  }

  /** What Bind ""←stmt, Execute "" would run now. */
  runs(stmt: string): string | undefined {
    const taken = this.take(fe.bind('', stmt, []), fe.execute(''), fe.sync());
    return taken?.statements[0]?.sql;
  }
}

const classified = (...kinds: string[]) => ({ statements: kinds.map((kind) => ({ kind, writes: false, tables: [] })) });

t.test('a named Parse counts only once the server answers ParseComplete', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', DELETE), fe.flush());
  t.equal(s.state.statement('s1'), DELETE, 'assumed until a Sync: if it fails, the server skips what uses it');
  s.send(fe.sync());
  t.equal(s.state.statement('s1'), UNCERTAIN, 'unanswered behind a Sync');
  s.reply('1Z');
  t.equal(s.state.statement('s1'), DELETE);
});

t.test('42P05: the server keeps the old statement', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', DELETE), fe.sync());
  s.reply('1Z');
  s.send(fe.parse('s1', 'SELECT 1'), fe.sync());
  s.reply('EZ', '42P05');
  t.equal(s.runs('s1'), DELETE);
});

t.test('Close and Parse skipped after an error never happened', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', DELETE), fe.sync());
  s.reply('1Z');
  s.send(fe.bind('', 'nope', []), fe.close('S', 's1'), fe.parse('s1', 'SELECT 1'), fe.sync());
  s.reply('EZ', '26000');
  t.equal(s.runs('s1'), DELETE);
});

t.test('the unnamed statement: skipped Parse keeps it, a failed Parse of its own drops it', async (t) => {
  const s = new Session();
  s.send(fe.parse('', DELETE), fe.sync());
  s.reply('1Z');
  s.send(fe.bind('', 'nope', []), fe.parse('', 'SELECT 1'), fe.sync());
  s.reply('EZ', '26000');
  t.equal(s.runs(''), DELETE);
  s.send(fe.parse('', 'SELEC 1'), fe.sync());
  s.reply('EZ', '42601');
  t.equal(s.runs(''), UNKNOWN_PORTAL, 'the server dropped the old one before parsing the new text');
});

t.test('a Close counts at CloseComplete', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', 'SELECT 1'), fe.sync());
  s.reply('1Z');
  s.send(fe.close('S', 's1'), fe.sync());
  s.reply('3Z');
  t.equal(s.state.statement('s1'), null);
});

t.test('within one batch a pending Parse decides (the server applies it first, or skips the rest)', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', DELETE), fe.sync());
  s.reply('1Z');
  const taken = s.take(fe.close('S', 's1'), fe.parse('s1', 'SELECT 1'), fe.bind('', 's1', []), fe.execute(''), fe.sync());
  t.equal(taken?.statements[0]?.sql, 'SELECT 1');
  t.same(taken?.effects.map((e) => e?.kind), ['close-statement', 'parse', 'bind', undefined, undefined]);
  const fresh = s.take(fe.parse('q', 'SELECT $1'), fe.bind('', 'q', ['7']), fe.execute(''), fe.sync());
  t.same(fresh?.statements, [{ sql: 'SELECT $1', params: ['7'], portal: { sql: 'SELECT $1', params: ['7'] } }]);
});

t.test('behind a Sync the next batch waits for the answer, then sees what the server did', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', DELETE), fe.sync());
  s.reply('1Z');
  s.send(fe.parse('s1', 'SELECT 1'), fe.sync());
  t.equal(s.take(fe.bind('', 's1', []), fe.execute(''), fe.sync()), undefined, 'uncertain: the Parse may fail and the Bind still runs');
  let settled = false;
  const done = s.state.settled().then(() => (settled = true));
  await Promise.resolve();
  t.notOk(settled);
  s.reply('EZ', '42P05');
  await done;
  t.equal(s.take()?.statements[0]?.sql, DELETE, 'the same batch, decided on the server\'s state');
});

t.test('no Sync in between (Flush): an earlier pending Parse is assumed, its failure skips the rest', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', DELETE), fe.sync());
  s.reply('1Z');
  s.send(fe.close('S', 's1'), fe.parse('s1', 'SELECT 1'), fe.flush());
  t.equal(s.runs('s1'), 'SELECT 1');
});

t.test('a name re-parsed earlier in the batch does not wait on an older uncertain Close', async (t) => {
  const s = new Session();
  s.send(fe.close('S', 's1'), fe.sync());
  const taken = s.take(fe.parse('s1', 'SELECT 2'), fe.bind('', 's1', []), fe.execute(''), fe.sync());
  t.equal(taken?.statements[0]?.sql, 'SELECT 2');
});

t.test('a portal keeps the text it was bound from', async (t) => {
  const s = new Session();
  const taken = s.send(fe.parse('', DELETE), fe.bind('p', '', []), fe.parse('', 'SELECT 1'), fe.execute('p'), fe.sync());
  t.equal(taken.statements[0]?.sql, DELETE);
  s.reply('121CZ');
  s.send(fe.parse('', 'SELECT 1'), fe.sync());
  s.reply('1Z');
  t.equal(s.take(fe.execute('p'), fe.sync())?.statements[0]?.sql, DELETE);
});

t.test('Bind failures: a named portal is kept, the unnamed one and unknown statements are not trusted', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', 'SELECT 1'), fe.bind('p', 's1', []), fe.bind('', 's1', []), fe.sync());
  s.reply('122Z');
  s.send(fe.bind('p', 's1', []), fe.sync());
  s.reply('EZ', '42P03');
  t.equal((s.state.portal('p') as { sql: string }).sql, 'SELECT 1');
  s.send(fe.bind('', 's1', ['x']), fe.sync());
  s.reply('EZ', '08P01');
  t.equal(s.state.portal(''), null);
  s.send(fe.bind('p2', 'made-by-sql-prepare', []), fe.sync());
  s.reply('2Z');
  t.equal(s.state.portal('p2'), null, 'bound from a statement airlock never saw parsed');
});

t.test('SQL DEALLOCATE, DISCARD, CLOSE: names are forgotten, waiting effects from before do not come back', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', 'SELECT 1'), fe.parse('', 'SELECT 2'), fe.bind('p', 's1', []), fe.sync());
  s.reply('112Z');
  s.send(fe.parse('s2', 'SELECT 3'), fe.sync());
  s.state.forwardedSql(classified('DEALLOCATE'));
  s.reply('1Z');
  t.equal(s.state.statement('s1'), null);
  t.equal(s.state.statement('s2'), null, 'the DEALLOCATE ran after that Parse: its ParseComplete does not bring s2 back');
  t.equal(s.state.statement(''), 'SELECT 2', 'SQL cannot name the unnamed statement');
  t.ok(s.state.portal('p'), 'portals stay');
  s.state.forwardedSql(classified('SELECT'));
  t.ok(s.state.portal('p'));
  s.state.forwardedSql(classified('CLOSE'));
  t.equal(s.state.portal('p'), null);
  s.send(fe.parse('s1', 'SELECT 4'), fe.sync());
  s.reply('1Z');
  s.state.forwardedSql({ unparseable: true, reason: 'x' });
  t.equal(s.state.statement('s1'), 'SELECT 4', 'unreadable SQL is the policy\'s call, not a reason to break prepared statements');
  s.state.forwardedSql(classified('SELECT', 'DISCARD'));
  t.equal(s.state.statement('s1'), null, 'any statement of a multi-statement string counts');
});

t.test('a voided effect no longer holds up settled()', async (t) => {
  const s = new Session();
  s.send(fe.parse('s1', 'SELECT 1'), fe.sync());
  s.send(fe.sync());
  t.equal(s.state.statement('s1'), UNCERTAIN);
  s.state.forwardedSql(classified('DISCARD'));
  await s.state.settled();
  t.equal(s.state.statement('s1'), null);
});
