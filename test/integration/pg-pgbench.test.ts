// pgbench through airlock: initialisation, then the select-only script in all three query modes.

import pg from 'pg';
import t from 'tap';
import { startAirlock } from '../helpers/airlock.js';
import { run } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

// pgbench -i drops and recreates pgbench_* tables: a database of its own keeps other test files out of the way.
const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await admin.connect();
const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'airlock_pgbench'`);
if (exists.rowCount === 0) await admin.query('CREATE DATABASE airlock_pgbench');
await admin.end();

const policy = `version: 1
resources:
  bench:
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    database: airlock_pgbench
    user: postgres
defaults:
  action: allow
  on_unparseable: deny
rules:
  - name: no-drop-for-engineering
    requesters: [engineering]
    match: { commands: [DROP] }
    action: deny
`;

const airlock = await startAirlock({ policy, people: [{ email: 'bench@corp.com', groups: ['benchmarkers'] }, { email: 'alice@corp.com', groups: ['engineering'] }] });
t.teardown(() => airlock.stop());

const env = { PGPASSWORD: airlock.tokens['bench@corp.com']!, PGSSLMODE: 'disable' };
const conn = ['-h', '127.0.0.1', '-p', String(airlock.pgPort), '-U', 'bench@corp.com'];

t.test('pgbench -i through airlock', async (t) => {
  const r = await run('pgbench', ['-i', '-s', '1', '-q', ...conn, 'bench'], { env });
  t.equal(r.code, 0, `pgbench -i exits 0\n${r.stderr}`);
  t.match(r.stderr, /done in/);
});

for (const mode of ['simple', 'extended', 'prepared']) {
  t.test(`pgbench -S -M ${mode}: no failed transactions`, async (t) => {
    const r = await run('pgbench', ['-S', '-M', mode, '-c', '4', '-j', '2', '-t', '300', '-n', ...conn, 'bench'], { env });
    t.equal(r.code, 0, `pgbench exits 0\n${r.stderr}`);
    t.match(r.stdout, /number of transactions actually processed: 1200\/1200/);
    t.match(r.stdout, /number of failed transactions: 0 /);
  });
}

t.test('a denied statement reaches pgbench users as an error, not a hang', async (t) => {
  const r = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', 'DROP TABLE pgbench_history', airlock.pgUrl('alice@corp.com', 'bench')]);
  t.equal(r.code, 1);
  t.match(r.stderr, /denied by policy rule "no-drop-for-engineering"/);
});
