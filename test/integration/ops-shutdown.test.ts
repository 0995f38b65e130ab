// SIGTERM with a held statement and a long query in flight: what each client sees, exit 0, audit intact.

import pg from 'pg';
import t from 'tap';
import { auditVerify, spawnAirlock, writeConfig } from '../helpers/airlock-process.js';
import { start } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_ops_shutdown; CREATE TABLE airlock_ops_shutdown (id int)`);

t.test('SIGTERM: held client gets 57P01, running query finishes, exit 0, audit verifies', async (t) => {
  const files = writeConfig({ config: { limits: { shutdown_grace: '20s' } } });
  const airlock = await spawnAirlock(files);
  t.teardown(() => airlock.stop());

  // alice's INSERT is held (writes-need-dba).
  const held = start('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', 'INSERT INTO airlock_ops_shutdown VALUES (1)', airlock.pgUrl('alice@corp.com')]);
  await held.waitFor(/statement held for approval, request ([a-z0-9]+)/);

  // bob's long read is running upstream when the signal arrives.
  const sleeper = start('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', "SELECT 'slept', pg_sleep(2)", airlock.pgUrl('bob@corp.com')]);
  for (let i = 0; i < 200; i++) {
    const r = await direct.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND state = 'active' AND pid <> pg_backend_pid()`);
    if (r.rows[0].n > 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }

  airlock.proc.child.kill('SIGTERM');

  const heldResult = await held.done;
  t.not(heldResult.code, 0, 'the held psql fails');
  t.match(heldResult.stderr, /airlock is shutting down; the held statement did not run/);
  const sleepResult = await sleeper.done;
  t.equal(sleepResult.code, 0, `the running query completes within the grace period\n${sleepResult.stderr}`);
  t.match(sleepResult.stdout, /^slept\|/m);

  const exit = await airlock.proc.done;
  t.equal(exit.code, 0, `airlock exits 0 after SIGTERM\n${exit.stderr}`);
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_ops_shutdown')).rows[0].n, 0, 'the held INSERT never ran');

  const verify = await auditVerify(files.configFile);
  t.equal(verify.code, 0, `audit verify passes\n${verify.stdout}${verify.stderr}`);
  t.match(verify.stdout, /audit trail intact/);
  const lines = airlock.logLines();
  t.ok(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'), 'the shutdown is logged');
});

t.test('SIGTERM with the pg driver: the held query rejects with SQLSTATE 57P01', async (t) => {
  const files = writeConfig({ config: { limits: { shutdown_grace: '5s' } } });
  const airlock = await spawnAirlock(files);
  t.teardown(() => airlock.stop());
  const c = new pg.Client(airlock.pgConfig('alice@corp.com'));
  c.on('error', () => {});
  await c.connect();
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  const q = c.query('DELETE FROM airlock_ops_shutdown').catch((e: { code?: string; message: string }) => e);
  for (let i = 0; i < 400 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  t.equal(notices.length, 1, 'the statement is held');
  airlock.proc.child.kill('SIGTERM');
  t.match(await q, { code: '57P01', message: /shutting down/ });
  const exit = await airlock.proc.done;
  t.equal(exit.code, 0, exit.stderr);
  const verify = await auditVerify(files.configFile);
  t.equal(verify.code, 0, verify.stdout + verify.stderr);
});

t.test('SIGTERM on an idle daemon and new connections after it are refused', async (t) => {
  const files = writeConfig();
  const airlock = await spawnAirlock(files);
  const idle = new pg.Client(airlock.pgConfig('bob@corp.com'));
  const idleErrors: Error[] = [];
  idle.on('error', (e) => idleErrors.push(e));
  await idle.connect();
  airlock.proc.child.kill('SIGTERM');
  const exit = await airlock.proc.done;
  t.equal(exit.code, 0, exit.stderr);
  const late = new pg.Client(airlock.pgConfig('bob@corp.com'));
  late.on('error', () => {});
  await t.rejects(late.connect(), 'the listener is closed');
  // The idle session was told why it ends.
  for (let i = 0; i < 200 && idleErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.match(idleErrors[0], { code: '57P01', message: /terminating connection because airlock is shutting down/ });
  const verify = await auditVerify(files.configFile);
  t.equal(verify.code, 0, verify.stdout + verify.stderr);
});

t.test('during the grace period: /readyz says shutting down and a new hold is refused with 57P01', async (t) => {
  const files = writeConfig({ config: { limits: { shutdown_grace: '20s' } } });
  const airlock = await spawnAirlock(files);
  t.teardown(() => airlock.stop());
  const idle = new pg.Client(airlock.pgConfig('alice@corp.com'));
  idle.on('error', () => {});
  await idle.connect();
  const sleeper = start('psql', ['-X', '-A', '-t', '-c', "SELECT 'slept', pg_sleep(3)", airlock.pgUrl('bob@corp.com')]);
  for (let i = 0; i < 200; i++) {
    const r = await direct.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND state = 'active' AND pid <> pg_backend_pid()`);
    if (r.rows[0].n > 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  airlock.proc.child.kill('SIGTERM');
  let ready: { status: number; body: { checks: { name: string; ok: boolean; detail?: string }[] } } | undefined;
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${airlock.adminUrl}/readyz`);
    ready = { status: res.status, body: (await res.json()) as never };
    if (res.status === 503) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(ready?.status, 503, '/readyz fails while draining');
  t.match(ready?.body.checks.find((c) => c.name === 'shutdown'), { ok: false, detail: /shutting down|draining/ });
  const metrics = await (await fetch(`${airlock.adminUrl}/metrics`)).text();
  t.match(metrics, /^airlock_shutdown_in_progress 1$/m);

  t.match(await idle.query('INSERT INTO airlock_ops_shutdown VALUES (3)').catch((e: { code?: string }) => e), { code: '57P01', message: /shutting down/ }, 'no new hold');
  t.same((await idle.query('SELECT 1').catch((e: Error) => e)) instanceof Error, true, 'and that session is closed');
  const slept = await sleeper.done;
  t.equal(slept.code, 0, slept.stderr);
  t.match(slept.stdout, /^slept\|/m);
  t.equal((await airlock.proc.done).code, 0);
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_ops_shutdown')).rows[0].n, 0);
  const verify = await auditVerify(files.configFile);
  t.equal(verify.code, 0, verify.stdout + verify.stderr);
});
