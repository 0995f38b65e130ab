// The audit trail fails (its file cannot grow, as on a full disk): allowed statements are refused
// from then on with 58030 (PostgreSQL) / 1290 (MySQL) instead of running unrecorded, the daemon stays
// up, /readyz says why, and every statement that reached the database has its decision record.

import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import t from 'tap';
import { auditVerify, spawnAirlock, writeConfig } from '../helpers/airlock-process.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
await requireService('mariadb');

const TABLE = 'airlock_diskfull';
const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} (id int)`);
t.teardown(() => direct.query(`DROP TABLE IF EXISTS ${TABLE}`));

const files = writeConfig({
  policy: `version: 1
resources:
  orders: {protocol: postgres, host: 127.0.0.1, port: 5432, database: test, user: postgres}
  shop: {protocol: mysql, host: 127.0.0.1, port: 3306, database: test, user: root}
defaults: {action: allow, on_unparseable: deny}
rules: []
`,
  config: { listen: { postgres: '127.0.0.1:0', mysql: '127.0.0.1:0', admin: '127.0.0.1:0' }, audit: { dir: './audit', rotate_bytes: '64MiB' } },
});
// Room for startup and a few hundred records, then every write fails.
const airlock = await spawnAirlock(files, [], { fileSizeLimitKiB: 96 });
t.teardown(() => airlock.stop());
const mysqlPort = Number((await airlock.proc.waitFor(/MySQL listener on [\d.]+:(\d+)/))[1]);

t.test('once the audit log cannot grow, allowed statements are refused, not run unrecorded', async (t) => {
  const alice = new pg.Client(airlock.pgConfig('alice@corp.com'));
  await alice.connect();
  t.teardown(() => alice.end());
  let ran = 0;
  let refusal: (Error & { code?: string }) | undefined;
  for (let i = 1; i <= 5000 && !refusal; i++) {
    try {
      await alice.query(`INSERT INTO ${TABLE} VALUES (${i})`);
      ran++;
    } catch (err) {
      refusal = err as Error & { code?: string };
    }
  }
  t.ok(ran > 10, `statements ran while the audit log could grow (${ran})`);
  t.equal(refusal?.code, '58030', 'then SQLSTATE 58030');
  t.match(refusal?.message, /the audit log cannot be written, so this statement is refused/);
  await t.rejects(alice.query('SELECT 1'), { code: '58030' }, 'and reads too, from then on: nothing runs unrecorded');

  const rows = (await direct.query(`SELECT count(*)::int AS n FROM ${TABLE}`)).rows[0].n as number;
  t.equal(rows, ran, 'exactly the statements the client saw succeed reached the database');
  const decided = fs.readdirSync(path.join(airlock.dir, 'audit')).filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => fs.readFileSync(path.join(airlock.dir, 'audit', f), 'utf8').split('\n'))
    .filter((l) => l.startsWith('{') && l.endsWith('}'))
    .map((l) => JSON.parse(l) as { type: string; sql?: string })
    .filter((r) => r.type === 'statement.decided' && r.sql?.startsWith(`INSERT INTO ${TABLE}`));
  t.equal(decided.length, rows, 'every row has its complete decision record');

  const ready = await fetch(`${airlock.adminUrl}/readyz`);
  t.equal(ready.status, 503, '/readyz fails');
  t.match(await ready.text(), /the audit log cannot be written/);
  t.equal((await fetch(`${airlock.adminUrl}/healthz`)).status, 200, 'the process is alive');
});

t.test('the MySQL path refuses too (errno 1290)', async (t) => {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: mysqlPort, user: 'alice@corp.com', password: airlock.tokens['alice@corp.com']!, database: 'shop' });
  t.teardown(() => conn.end());
  await t.rejects(conn.query('SELECT 1'), { errno: 1290, message: /the audit log cannot be written/ });
});

t.test('after the cause is gone, a restart recovers the chain and it verifies', async (t) => {
  await airlock.stop();
  const again = await spawnAirlock(files);
  t.teardown(() => again.stop());
  const alice = new pg.Client(again.pgConfig('alice@corp.com'));
  await alice.connect();
  await alice.query('SELECT 1');
  await alice.end();
  const stopped = await again.stop();
  t.equal(stopped.code, 0, 'clean shutdown');
  const verify = await auditVerify(files.configFile);
  t.equal(verify.code, 0, verify.stdout + verify.stderr);
  t.match(verify.stdout, /records valid/);
  t.match(verify.stdout, /unclosed_segment_recovered/, 'the segment the failed writer could not close was closed and signed at restart');
});
