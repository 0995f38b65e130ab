// KILL through airlock is session control, not a statement: the mysql CLI's Ctrl-C and mysql2's KILL QUERY
// arrive on a fresh connection with no database, and must cancel the requester's own held statement even
// where policy denies writes. Other users' connections stay out of reach.

import { spawn } from 'node:child_process';
import t from 'tap';
import type { ApprovalRequest } from '../../src/approval/types.js';
import { direct, startAirlock, type Airlock } from '../helpers/mysql-airlock.js';

const P = 'myk_';
const setup = await direct();
await setup.query(`DROP TABLE IF EXISTS ${P}hold, ${P}secret`);
await setup.query(`CREATE TABLE ${P}hold (id INT PRIMARY KEY, v INT)`);
await setup.query(`INSERT INTO ${P}hold VALUES (1, 1)`);
await setup.query(`CREATE TABLE ${P}secret (id INT PRIMARY KEY, v INT)`);
await setup.query(`INSERT INTO ${P}secret VALUES (1, 1)`);

const held = await startAirlock(`  - name: held-writes
    match: {tables: ["${P}hold"], writes: true}
    action: require_approval
    approval: {approvers: [dba], timeout: 10m}
`);
// Like the example policy's analytics-is-read-only: every write is denied, reads of one table are held.
const readOnly = await startAirlock(`  - name: read-only
    match: {writes: true}
    action: deny
  - name: held-reads
    match: {tables: ["${P}secret"]}
    action: require_approval
    approval: {approvers: [dba], timeout: 10m}
`);

t.teardown(async () => {
  await held.stop();
  await readOnly.stop();
  await setup.query(`DROP TABLE IF EXISTS ${P}hold, ${P}secret`);
  await setup.end();
});

async function stateOf(a: Airlock, r: ApprovalRequest): Promise<string | undefined> {
  return (await a.daemon.approvalBroker.list({})).find((x) => x.id === r.id)?.state;
}

async function valueOf(table: string): Promise<number> {
  const [rows] = await setup.query(`SELECT v FROM ${table} WHERE id = 1`);
  return (rows as { v: number }[])[0]!.v;
}

t.test('mysql -e on a held UPDATE, interrupted with SIGINT: the CLI exits with the cancel error', async (t) => {
  const child = spawn('mysql', ['--protocol=TCP', '-h', '127.0.0.1', '-P', String(held.port), '-u', held.dev.email, '--skip-ssl', '-D', 'shop', '-e', `UPDATE ${P}hold SET v = 2 WHERE id = 1`], {
    env: { ...process.env, MYSQL_PWD: held.dev.token },
  });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const request = await held.pending((r) => r.sql.includes(`UPDATE ${P}hold SET v = 2`));
  child.kill('SIGINT');
  const code = await exited;
  t.match(stdout, /query killed/);
  t.not(code, 0, 'the CLI reports the statement failed');
  t.match(stderr, /ERROR 1317/);
  t.match(stderr, new RegExp(`${request.id} cancelled`));
  t.equal(await stateOf(held, request), 'cancelled');
  t.equal(await valueOf(`${P}hold`), 1, 'the UPDATE never ran');
});

t.test('mysql2: KILL QUERY from a connection without a database cancels the hold', async (t) => {
  const a = await held.connect();
  const running = a.query(`UPDATE ${P}hold SET v = 3 WHERE id = 1`);
  running.catch(() => {});
  const request = await held.pending((r) => r.sql.includes(`UPDATE ${P}hold SET v = 3`));
  const b = await held.connect({ database: undefined });
  const [ok] = await b.query(`KILL QUERY ${a.threadId}`);
  t.equal((ok as { affectedRows: number }).affectedRows, 0, 'OK packet');
  await t.rejects(running, { errno: 1317, message: new RegExp(`${request.id} cancelled`) });
  t.equal(await stateOf(held, request), 'cancelled');
  t.equal(await valueOf(`${P}hold`), 1);
  const [rows] = await a.query('SELECT 1 AS alive');
  t.same(rows, [{ alive: 1 }], 'the cancelled session goes on');
  await b.end();
  await a.end();
});

t.test('KILL QUERY cancels a hold on a resource whose policy denies writes (with and without a database)', async (t) => {
  for (const database of [undefined, 'shop']) {
    const a = await readOnly.connect();
    const running = a.query(`SELECT v FROM ${P}secret WHERE id = 1`);
    running.catch(() => {});
    const request = await readOnly.pending((r) => r.sql.includes(`FROM ${P}secret`));
    const b = await readOnly.connect({ database });
    await t.resolves(b.query(`KILL QUERY ${a.threadId}`), `KILL QUERY allowed (database ${database ?? 'none'})`);
    await t.rejects(running, { errno: 1317, message: new RegExp(`${request.id} cancelled`) });
    t.equal(await stateOf(readOnly, request), 'cancelled');
    if (database) await t.rejects(b.query(`UPDATE ${P}secret SET v = 9`), { errno: 1142 }, 'writes are still denied');
    await b.end();
    await a.end();
  }
});

t.test("KILL of another user's connection is refused and cancels nothing", async (t) => {
  const a = await held.connect();
  const running = a.query(`UPDATE ${P}hold SET v = 4 WHERE id = 1`);
  running.catch(() => {});
  const request = await held.pending((r) => r.sql.includes(`UPDATE ${P}hold SET v = 4`));
  for (const database of [undefined, 'shop']) {
    const stranger = await held.connect({ who: held.other, database });
    await t.rejects(stranger.query(`KILL QUERY ${a.threadId}`), { errno: 1095 });
    await t.rejects(stranger.query(`KILL ${a.threadId}`), { errno: 1095 });
    await t.rejects(stranger.query('KILL QUERY 4000000000'), { errno: 1094 });
    await stranger.end();
  }
  t.equal(await stateOf(held, request), 'pending', 'the held statement still waits');
  await held.deny(request, 'test over');
  await t.rejects(running, { errno: 1142 });
  await a.end();
});

t.test('KILL CONNECTION from a connection without a database ends the own session', async (t) => {
  const a = await held.connect();
  const running = a.query(`UPDATE ${P}hold SET v = 5 WHERE id = 1`);
  running.catch(() => {});
  const request = await held.pending((r) => r.sql.includes(`UPDATE ${P}hold SET v = 5`));
  const b = await held.connect({ database: undefined });
  await b.query(`KILL ${a.threadId}`);
  await t.rejects(running);
  t.equal(await stateOf(held, request), 'cancelled');
  t.equal(await valueOf(`${P}hold`), 1);
  await b.end();
  a.destroy();
});
