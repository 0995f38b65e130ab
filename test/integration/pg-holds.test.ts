// psql against airlock: held statements approved, denied, expired and cancelled; denied DROP; \copy.

import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { airlockCli, start, run } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
if (!fs.existsSync(new URL('../../dist/main.js', import.meta.url))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');

// A rule with a short timeout for the expiry case, bound to a table of its own.
const policy = examplePolicy(`
  - name: quick-expiry
    resources: [orders]
    match: { tables: [airlock_holds_expiring] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, timeout: 1s }`);
const airlock = await startAirlock({ policy });
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_holds; CREATE TABLE airlock_holds (id int primary key, note text);
  INSERT INTO airlock_holds SELECT g, 'row ' || g FROM generate_series(1, 10) g;
  DROP TABLE IF EXISTS airlock_holds_expiring; CREATE TABLE airlock_holds_expiring (id int);`);

const bob = () => airlock.daemon.approvalBroker;
const userRecord = (email: string) => {
  // The daemon's own directory: the same records the API would authenticate.
  const users = (airlock.daemon as unknown as { users: { get(e: string): unknown } }).users;
  return users.get(email) as Parameters<ReturnType<typeof bob>['approve']>[1];
};

function psql(sql: string, email = 'alice@corp.com') {
  return start('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', sql, airlock.pgUrl(email)]);
}

t.test('reads pass untouched', async (t) => {
  const r = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT count(*) FROM airlock_holds', airlock.pgUrl('alice@corp.com')]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), '10');
});

t.test('a held DELETE waits with a NOTICE, then runs once approved', async (t) => {
  const p = psql('DELETE FROM airlock_holds WHERE id <= 3');
  const m = await p.waitFor(/request ([a-z0-9]+)/);
  const id = m[1]!;
  t.match(p.stderr(), /NOTICE:\s+airlock: statement held for approval/);
  t.match(p.stderr(), /Needs 1 approval\(s\) from: dba/);
  t.match(p.stderr(), /airlock approvals approve/);
  // Nothing ran yet.
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_holds')).rows[0].n, 10);
  const req = await bob().get(id);
  t.equal(req?.state, 'pending');
  t.equal(req?.sql, 'DELETE FROM airlock_holds WHERE id <= 3');
  // The approver uses the real CLI against the admin API.
  const cli = await airlockCli(['approvals', 'approve', id], {
    env: { AIRLOCK_ADMIN_URL: airlock.adminUrl, AIRLOCK_USER: 'bob@corp.com', AIRLOCK_TOKEN: airlock.tokens['bob@corp.com']! },
  }).done;
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stdout, /approved/);
  const r = await p.done;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /DELETE 3/);
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_holds')).rows[0].n, 7);
  t.equal((await bob().get(id))?.state, 'executed');
});

t.test('an approver deny reaches psql as 42501 with the reason', async (t) => {
  const p = psql('UPDATE airlock_holds SET note = $$x$$');
  const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
  await bob().deny(id, userRecord('bob@corp.com'), 'not during the freeze', 'cli');
  const r = await p.done;
  t.equal(r.code, 1);
  t.match(r.stderr, /ERROR:\s+airlock: request \w+ was denied by bob@corp.com: not during the freeze/);
  t.equal((await direct.query(`SELECT count(*)::int AS n FROM airlock_holds WHERE note = 'x'`)).rows[0].n, 0);
});

t.test('the requester cannot approve their own request', async (t) => {
  const c = new pg.Client(airlock.pgConfig('alice@corp.com'));
  await c.connect();
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  const q = c.query('INSERT INTO airlock_holds VALUES (100, $1)', ['self']).catch((e: Error) => e);
  while (notices.length === 0) await new Promise((r) => setTimeout(r, 20));
  const id = /request (\w+)/.exec(notices[0]!)![1]!;
  await t.rejects(bob().approve(id, userRecord('alice@corp.com'), 'cli'), { code: 'AIRLOCK_ERR_FORBIDDEN' });
  await bob().approve(id, userRecord('bob@corp.com'), 'cli');
  const res = await q;
  t.notOk(res instanceof Error, String(res));
  t.equal((await direct.query('SELECT note FROM airlock_holds WHERE id = 100')).rows[0]?.note, 'self', 'bound parameter value ran');
  await c.end();
});

t.test('a denied DROP never touches the database', async (t) => {
  const r = await psql('DROP TABLE airlock_holds').done;
  t.equal(r.code, 1);
  t.match(r.stderr, /ERROR:\s+airlock: statement denied by policy rule "no-drop"/);
  t.equal((await direct.query(`SELECT to_regclass('airlock_holds') IS NOT NULL AS present`)).rows[0].present, true);
});

t.test('an unapproved request expires with 57014', async (t) => {
  const c = new pg.Client(airlock.pgConfig('bob@corp.com'));
  await c.connect();
  const err = await c.query('INSERT INTO airlock_holds_expiring VALUES (1)').catch((e: { code: string; message: string }) => e);
  t.match(err, { code: '57014', message: /timed out after 1s; the statement did not run/ });
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_holds_expiring')).rows[0].n, 0);
  // The session is still usable.
  t.same((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  await c.end();
});

t.test('Ctrl-C in psql cancels the held request', async (t) => {
  const p = psql('DELETE FROM airlock_holds');
  const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
  p.child.kill('SIGINT');
  const r = await p.done;
  t.not(r.code, 0);
  t.match(r.stderr, /canceling statement due to user request/);
  t.equal((await bob().get(id))?.state, 'cancelled');
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_holds')).rows[0].n > 0, true);
});

t.test('a held statement inside a transaction block leaves the state the server agrees with', async (t) => {
  const c = new pg.Client(airlock.pgConfig('alice@corp.com'));
  await c.connect();
  await c.query('BEGIN');
  await c.query('SELECT 1');
  const q = c.query('DELETE FROM airlock_holds WHERE id = 9').catch((e: { code: string }) => e);
  let id: string | undefined;
  for (let i = 0; i < 200 && !id; i++) {
    id = (await bob().list({ states: ['pending'] }))[0]?.id;
    if (!id) await new Promise((r) => setTimeout(r, 25));
  }
  await bob().deny(id!, userRecord('bob@corp.com'), 'no', 'cli');
  t.match(await q, { code: '42501' });
  // The server's transaction was untouched by the refusal: it is still open and can commit.
  t.same((await c.query('SELECT 2 AS two')).rows, [{ two: 2 }]);
  await c.query('COMMIT');
  await c.end();
});

t.test('\\copy out (bob: no rule applies) and \\copy in (alice: held, approved) pass through', async (t) => {
  const csv = path.join(airlock.dir, 'in.csv');
  fs.writeFileSync(csv, Array.from({ length: 500 }, (_, i) => `${1000 + i},copied ${i}`).join('\n') + '\n');
  const out = path.join(airlock.dir, 'out.csv');
  const r1 = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy airlock_holds TO '${out}' CSV`, airlock.pgUrl('bob@corp.com')]);
  t.equal(r1.code, 0, r1.stderr);
  t.equal(fs.readFileSync(out, 'utf8').trim().split('\n').length, Number((await direct.query('SELECT count(*) FROM airlock_holds')).rows[0].count));
  const p = start('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy airlock_holds FROM '${csv}' CSV`, airlock.pgUrl('alice@corp.com')]);
  const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
  await bob().approve(id, userRecord('bob@corp.com'), 'cli');
  const r2 = await p.done;
  t.equal(r2.code, 0, r2.stderr);
  t.match(r2.stdout, /COPY 500/);
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_holds WHERE id >= 1000')).rows[0].n, 500);
});

t.test('a prepared statement run with different parameters needs an approval per run', async (t) => {
  const c = new pg.Client(airlock.pgConfig('alice@corp.com'));
  await c.connect();
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  const nextId = async () => {
    for (let i = 0; i < 400; i++) {
      const m = notices.length ? /request (\w+)/.exec(notices.shift()!) : null;
      if (m) return m[1]!;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('no hold notice');
  };
  const ins = (id: number) => c.query({ name: 'ins-note', text: 'INSERT INTO airlock_holds VALUES ($1, $2)', values: [id, `prepared ${id}`] });
  const first = ins(201);
  const id1 = await nextId();
  t.same((await bob().get(id1))?.params, ['201', 'prepared 201']);
  await bob().approve(id1, userRecord('bob@corp.com'), 'cli');
  await first;
  const second = ins(202).then(() => null, (e: { code: string }) => e);
  const id2 = await nextId();
  t.not(id2, id1, 'a new request for the new values');
  t.same((await bob().get(id2))?.params, ['202', 'prepared 202']);
  await bob().deny(id2, userRecord('dave@corp.com'), 'one is enough', 'cli');
  t.match(await second, { code: '42501' });
  t.same((await direct.query('SELECT id FROM airlock_holds WHERE id IN (201, 202) ORDER BY id')).rows, [{ id: 201 }]);
  await c.end();
});

t.test('what the client sends behind a held statement waits, then runs in order', async (t) => {
  const { connectWire, fe, tags } = await import('../helpers/pg-wire.js');
  const c = await connectWire({ port: airlock.pgPort, user: 'alice@corp.com', password: airlock.tokens['alice@corp.com']!, database: 'orders' });
  await c.send(Buffer.concat([fe.query('DELETE FROM airlock_holds WHERE id = 1000'), fe.query('SELECT 7')]));
  let id: string | undefined;
  for (let i = 0; i < 200 && !id; i++) {
    id = (await bob().list({ states: ['pending'] })).find((r) => r.sql === 'DELETE FROM airlock_holds WHERE id = 1000')?.id;
    if (!id) await new Promise((r) => setTimeout(r, 25));
  }
  t.ok(id, 'held');
  await new Promise((r) => setTimeout(r, 200));
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_holds WHERE id = 1000')).rows[0].n, 1, 'nothing ran while held');
  await bob().approve(id!, userRecord('bob@corp.com'), 'cli');
  const first = await c.untilReady();
  t.equal(tags(first), 'NCZ', 'the NOTICE, then DELETE 1');
  const second = await c.untilReady();
  t.equal(tags(second), 'TDCZ', 'then the queued SELECT');
  c.close();
});
