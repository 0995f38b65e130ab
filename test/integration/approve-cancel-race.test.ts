// Approve and Ctrl-C (or disconnect) at the same moment, with a real PostgreSQL client through a whole airlock
// on Redis: the request always ends final, cancelled (nothing ran) or executed, never left approved.

import net from 'node:net';
import pg from 'pg';
import t from 'tap';
import { cancelRequest } from '../../src/protocol/pg/messages.js';
import type { AuditFields, AuditType } from '../../src/audit/types.js';
import { startAirlock } from '../helpers/airlock.js';
import { api, auditRecords, cli, sendHeld, until } from '../helpers/approval-e2e.js';
import { dedicatedRedisDb } from '../helpers/redis-db.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
const redis = await dedicatedRedisDb(12, (fn) => t.teardown(fn));
const airlock = await startAirlock({ config: { state: { redis }, approvals: { lease: '2s' } } });
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query('DROP TABLE IF EXISTS airlock_race; CREATE TABLE airlock_race (id int primary key); INSERT INTO airlock_race SELECT generate_series(1, 100)');

const bob = { email: 'bob@corp.com', token: airlock.tokens['bob@corp.com']! };
const read = async (id: string) => (await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, bob)).body.request;
const approve = (id: string) => api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/approve`, bob);
const present = async (id: number) => (await direct.query('SELECT count(*)::int AS n FROM airlock_race WHERE id = $1', [id])).rows[0].n === 1;
const recordsOf = (id: string) => auditRecords(airlock.dir).filter((r) => r.request_id === id).map((r) => r.type as string);

// The daemon's audit writer, with a step that can be held: that is where the windows of this race are.
type Append = (type: AuditType, fields: AuditFields, opts?: object) => Promise<void>;
const writer = (airlock.daemon as unknown as { audit: { append: Append } }).audit;
const append = writer.append.bind(writer);
const latches: Array<{ match: (type: AuditType, fields: AuditFields) => boolean; reached: () => void; opened: Promise<void> }> = [];
writer.append = async (type, fields, opts) => {
  const i = latches.findIndex((l) => l.match(type, fields));
  if (i >= 0) {
    const [l] = latches.splice(i, 1);
    l!.reached();
    await l!.opened;
  }
  return append(type, fields, opts);
};
function latch(match: (type: AuditType, fields: AuditFields) => boolean, hold = true): { arrived: Promise<void>; open: () => void } {
  let open!: () => void;
  let reached!: () => void;
  const opened = hold ? new Promise<void>((resolve) => (open = resolve)) : Promise.resolve();
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  latches.push({ match, reached, opened });
  return { arrived, open: () => open?.() };
}

async function connect(): Promise<pg.Client> {
  const c = new pg.Client(airlock.pgConfig('alice@corp.com'));
  c.on('error', () => {}); // a disconnect is the point of some rounds
  await c.connect();
  return c;
}

/** What psql sends on Ctrl-C: a CancelRequest on a new connection. */
function ctrlC(c: pg.Client): Promise<void> {
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
  return new Promise((resolve, reject) => {
    const s = net.connect(airlock.pgPort, '127.0.0.1', () => s.end(cancelRequest(processID, secretKey)));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

function disconnect(c: pg.Client): void {
  (c as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
}

t.test('Ctrl-C after the approval is stored, before the client is released: cancelled, audited, not run', async (t) => {
  const c = await connect();
  const { id, result } = await sendHeld(c, 'DELETE FROM airlock_race WHERE id = 1');
  // The client is released only once the approval is on record: hold that write, and press Ctrl-C meanwhile.
  const granted = latch((type, f) => type === 'approval.granted' && f.request_id === id);
  const approving = approve(id);
  await granted.arrived;
  t.equal((await read(id)).state, 'approved', 'the store already says approved');
  await ctrlC(c);
  await until('the cancel to reach the store', async () => (await read(id)).state === 'cancelled');
  granted.open();
  t.equal((await approving).status, 200, 'the approver was told it is approved');
  t.match(await result, { code: '57014', message: new RegExp(`${id} cancelled; the statement did not run`) });
  t.ok(await present(1), 'the DELETE did not run');

  const shown = await cli(['approvals', 'show', id, '--json', '--admin', airlock.adminUrl], bob);
  t.equal(shown.code, 0, shown.stderr);
  t.match(JSON.parse(shown.stdout), { state: 'cancelled', final_reason: /client cancelled or disconnected/, approvals: [{ by: 'bob@corp.com' }] });
  const records = recordsOf(id);
  t.ok(records.indexOf('approval.granted') >= 0 && records.indexOf('approval.granted') < records.indexOf('approval.cancelled'), `granted, then cancelled (${records.join(', ')})`);
  t.notOk(records.includes('execution.intent'));
  t.equal((await approve(id)).status, 409, 'a cancelled request cannot be approved into running');
  t.same((await c.query('SELECT 1 AS alive')).rows, [{ alive: 1 }], 'the session goes on');
  await c.end();
});

t.test('disconnect while the intent record is written: cancelled, never executed', async (t) => {
  const c = await connect();
  const { id } = await sendHeld(c, 'DELETE FROM airlock_race WHERE id = 2');
  const sessionId = (await read(id)).session_id as string;
  const intent = latch((type, f) => type === 'execution.intent' && f.request_id === id);
  const ended = latch((type, f) => type === 'session.end' && f.session_id === sessionId, false);
  t.equal((await approve(id)).status, 200);
  await intent.arrived;
  disconnect(c);
  await ended.arrived;
  intent.open();
  await until('the request to end', async () => (await read(id)).state !== 'approved' && (await read(id)).state !== 'executed');
  t.match(await read(id), { state: 'cancelled', final_reason: /before the statement was forwarded/ });
  t.ok(await present(2), 'the DELETE did not run');
  const records = recordsOf(id);
  t.ok(records.indexOf('execution.intent') < records.indexOf('approval.cancelled'), `the intent is followed by the cancellation (${records.join(', ')})`);
});

t.test('approve and cancel at once, many times: every request ends cancelled or executed', async (t) => {
  const rounds = 16;
  const ids: Array<{ id: string; row: number; how: string }> = [];
  await Promise.all(
    Array.from({ length: rounds }, async (_, i) => {
      const row = 10 + i;
      const c = await connect();
      const { id, result } = await sendHeld(c, `DELETE FROM airlock_race WHERE id = ${row}`);
      const how = i % 2 ? 'ctrl-c' : 'disconnect';
      // The approval's path (API, store, fsyncs) is longer than the cancel's: the cancel trails by 0 to 42 ms
      // or leads slightly, so the rounds land on both sides of the race and inside it.
      const skew = (i % 8) * 6 - 6;
      const wait = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
      await Promise.all([
        wait(-skew).then(() => approve(id)),
        wait(skew).then(() => (how === 'ctrl-c' ? ctrlC(c) : disconnect(c))),
      ]);
      await result;
      ids.push({ id, row, how });
      if (how === 'ctrl-c') await c.end().catch(() => {});
    }),
  );
  const outcomes: Record<string, number> = {};
  for (const { id, row, how } of ids) {
    await until(`request ${id} to end`, async () => ['cancelled', 'executed'].includes((await read(id)).state));
    const state = (await read(id)).state as string;
    outcomes[`${how} ${state}`] = (outcomes[`${how} ${state}`] ?? 0) + 1;
    const records = recordsOf(id);
    if (state === 'cancelled') {
      t.ok(await present(row), `${id} (${how}) cancelled: its DELETE did not run`);
      t.ok(records.includes('approval.cancelled'), `${id} cancelled: audited`);
    } else {
      t.ok(records.includes('execution.intent'), `${id} (${how}) executed: its intent is on record`);
    }
  }
  t.comment(`outcomes: ${JSON.stringify(outcomes)}`);
  // Past a sweep of the lease, nothing moved and nothing is left approved or pending.
  await new Promise((r) => setTimeout(r, 1000));
  const left = await cli(['approvals', 'list', '--state', 'approved,pending', '--admin', airlock.adminUrl], bob);
  t.equal(left.code, 0, left.stderr);
  t.match(left.stdout, /no approved\/pending requests/);
});

t.test('a batch whose second held statement is denied hands the first one\'s approval back', async (t) => {
  const { connectWire, fe, errorOf } = await import('../helpers/pg-wire.js');
  const c = await connectWire({ port: airlock.pgPort, user: 'alice@corp.com', password: airlock.tokens['alice@corp.com']!, database: 'orders' });
  t.teardown(() => c.close());
  const first = 'DELETE FROM airlock_race WHERE id = 3';
  const second = 'DELETE FROM airlock_race WHERE id = 4';
  await c.send(Buffer.concat([fe.parse('', first), fe.bind('', '', []), fe.execute(''), fe.parse('', second), fe.bind('', '', []), fe.execute(''), fe.sync()]));
  const pendingId = async (sql: string) => {
    let id: string | undefined;
    await until(`"${sql}" to be held`, async () => Boolean((id = (await api(airlock.adminUrl, 'GET', '/api/v1/requests?state=pending', bob)).body.requests.find((r: { sql: string }) => r.sql === sql)?.id)));
    return id!;
  };
  const id1 = await pendingId(first);
  t.equal((await approve(id1)).status, 200);
  const id2 = await pendingId(second);
  t.equal((await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id2}/deny`, bob, { reason: 'not this one' })).status, 200);
  t.match(errorOf(await c.untilReady()), { code: '42501' }, 'the whole batch is refused');
  await until('the first request to end', async () => (await read(id1)).state === 'cancelled');
  t.match(await read(id1), { final_reason: /another statement of its batch did not run/ });
  t.equal((await read(id2)).state, 'denied');
  t.ok((await present(3)) && (await present(4)), 'neither DELETE ran');
  t.ok(recordsOf(id1).includes('approval.cancelled'));
});
