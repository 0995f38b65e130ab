// airlock killed with SIGKILL during a write storm: after a restart the chain verifies, the crash is
// recorded, and every row the database holds has the audit record of the statement that wrote it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import t from 'tap';
import YAML from 'yaml';
import { readAuditRecords } from '../../src/audit/report.js';
import { writeUsers } from '../helpers/airlock.js';
import { run, start, type Running } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// dist/main.js rather than bin/airlock: tap's process hooks would load the extensionless bin as CommonJS.
const MAIN = path.join(ROOT, 'dist', 'main.js');
if (!fs.existsSync(MAIN)) {
  throw new Error('dist/main.js is missing: this test runs airlock as a child process; run `npm run build` first (npm test does)');
}

const TABLE = 'airlock_storm';
const USER = 'storm@corp.com';
/** Rows the database must hold before the kill, so the storm is in full flow when it lands. */
const ROWS_BEFORE_KILL = 3000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-sigkill-'));
const auditDir = path.join(dir, 'audit');
const tokens = writeUsers(path.join(dir, 'users.yaml'), [{ email: USER, groups: ['writers'] }]);
fs.writeFileSync(path.join(dir, 'policy.yaml'), `version: 1
resources:
  storm:
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    user: postgres
defaults:
  action: allow
  on_unparseable: deny
rules: []
`);
const configFile = path.join(dir, 'airlock.yaml');
fs.writeFileSync(configFile, YAML.stringify({
  instance_id: 'storm-test',
  listen: { postgres: '127.0.0.1:0', admin: '127.0.0.1:0' },
  policy: './policy.yaml',
  users: './users.yaml',
  state: {},
  audit: { dir: './audit' },
  log: { level: 'warn' },
}));
// Every statement carries a value of its own, substituted into the SQL text (simple protocol).
const script = path.join(dir, 'storm.sql');
fs.writeFileSync(script, `\\set tag random(1, 9000000000000000000)\nINSERT INTO ${TABLE}(client, tag) VALUES (:client_id, :tag);\n`);

const db = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await db.connect();
// Unlogged: the database's own commit fsync would otherwise cap the storm well below 1,000/s here.
await db.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE UNLOGGED TABLE ${TABLE} (client int NOT NULL, tag bigint NOT NULL, PRIMARY KEY (client, tag))`);
t.teardown(async () => {
  await db.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => {});
  await db.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function startAirlockProcess(): Promise<{ proc: Running; port: string }> {
  const proc = start('node', [MAIN, 'start', '--config', configFile], { cwd: ROOT });
  const m = await proc.waitFor(/PostgreSQL listener on [^\s:]+:(\d+)/);
  return { proc, port: m[1]! };
}

async function rowCount(): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`);
  return Number(r.rows[0]!.n);
}

t.test('SIGKILL mid-storm, restart, clean stop: verify passes and every row has its record', async (t) => {
  const first = await startAirlockProcess();
  t.teardown(() => { if (first.proc.child.exitCode === null && first.proc.child.signalCode === null) first.proc.child.kill('SIGKILL'); });
  const storm = start('pgbench', ['-n', '-M', 'simple', '-c', '8', '-j', '2', '-T', '60', '-f', script,
    '-h', '127.0.0.1', '-p', first.port, '-U', USER, 'storm'], { env: { PGPASSWORD: tokens[USER]!, PGSSLMODE: 'disable' } });
  t.teardown(() => { if (storm.child.exitCode === null) storm.child.kill('SIGTERM'); });

  const started = Date.now();
  let rows = 0;
  for (let i = 0; i < 400 && rows < ROWS_BEFORE_KILL; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    rows = await rowCount();
    if (storm.child.exitCode !== null) break;
  }
  t.ok(rows >= ROWS_BEFORE_KILL, `the storm wrote ${rows} rows before the kill\n${storm.stderr()}`);
  t.comment(`storm rate through airlock: ${Math.round(rows / ((Date.now() - started) / 1000))} statements/s`);

  first.proc.child.kill('SIGKILL');
  const killed = await first.proc.done;
  t.equal(killed.signal, 'SIGKILL', 'airlock died by SIGKILL');
  const stormDone = await storm.done;
  t.not(stormDone.code, 0, 'pgbench saw its connections die');
  const finalRows = await rowCount();

  const second = await startAirlockProcess();
  const probe = await run('psql', ['-X', '-At', '-c', `SELECT count(*) FROM ${TABLE}`,
    `postgresql://${encodeURIComponent(USER)}:${encodeURIComponent(tokens[USER]!)}@127.0.0.1:${second.port}/storm?sslmode=disable`]);
  t.equal(probe.stdout.trim(), String(finalRows), `the restarted airlock serves queries\n${probe.stderr}`);
  second.proc.child.kill('SIGTERM');
  const stopped = await second.proc.done;
  t.equal(stopped.code, 0, `clean stop on SIGTERM\n${stopped.stderr}`);

  const verify = await run('node', [MAIN, 'audit', 'verify', auditDir], { cwd: ROOT });
  t.equal(verify.code, 0, `audit verify exits 0\n${verify.stdout}${verify.stderr}`);
  t.match(verify.stdout, /audit trail intact/);
  t.match(verify.stdout, /info (unclosed_segment_recovered|torn_tail_recovered)/, 'the crash recovery is reported');

  const records = readAuditRecords(auditDir);
  t.ok(records.some((r) => (r.type === 'segment.close' && r.recovered === true) || r.type === 'chain.recovered'), 'the recovery is a record in the chain');
  const audited = new Set<string>();
  for (const r of records) {
    if (r.type !== 'statement.decided' || typeof r.sql !== 'string') continue;
    const m = /VALUES \((\d+), (\d+)\)/.exec(r.sql);
    if (m) audited.add(`${m[1]}:${m[2]}`);
  }
  const inDb = await db.query<{ client: number; tag: string }>(`SELECT client, tag::text AS tag FROM ${TABLE}`);
  const missing = inDb.rows.filter((row) => !audited.has(`${row.client}:${row.tag}`));
  t.equal(inDb.rows.length, finalRows);
  t.same(missing.slice(0, 5), [], `every one of the ${inDb.rows.length} rows has its statement.decided record (${missing.length} missing)`);
  t.ok(audited.size >= inDb.rows.length, `${audited.size} audited inserts cover ${inDb.rows.length} rows`);
});
