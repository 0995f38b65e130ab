// The mysql CLI (MariaDB's client) through airlock: holds approved, denials, LOAD DATA LOCAL, plugins, TLS.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { direct, mysqlCli, startAirlock } from '../helpers/mysql-airlock.js';

const P = 'myc_';
const setup = await direct();
await setup.query(`DROP TABLE IF EXISTS ${P}hold, ${P}load, ${P}keep`);
await setup.query(`CREATE TABLE ${P}hold (id INT PRIMARY KEY, v INT)`);
await setup.query(`INSERT INTO ${P}hold VALUES (1, 1), (2, 2), (3, 3)`);
await setup.query(`CREATE TABLE ${P}load (id INT, name VARCHAR(20))`);
await setup.query(`CREATE TABLE ${P}keep (id INT)`);

const a = await startAirlock(`  - name: no-drop
    match: {commands: [DROP]}
    action: deny
  - name: held-writes
    match: {tables: ["${P}hold", "${P}load"], writes: true}
    action: require_approval
    approval: {approvers: [dba]}
`, { tls: true });
const files = mkdtempSync(join(tmpdir(), 'airlock-mysql-cli-'));

t.teardown(async () => {
  await a.stop();
  await setup.query(`DROP TABLE IF EXISTS ${P}hold, ${P}load, ${P}keep`);
  await setup.end();
  rmSync(files, { recursive: true, force: true });
});

t.test('reads print as usual', async (t) => {
  const r = await mysqlCli(a, ['-D', 'shop', '-e', `SELECT id, v FROM ${P}hold ORDER BY id`]);
  t.equal(r.stderr, '');
  t.equal(r.stdout, 'id\tv\n1\t1\n2\t2\n3\t3\n');
});

t.test('a held UPDATE is approved and the CLI prints its affected rows', async (t) => {
  const running = mysqlCli(a, ['-D', 'shop', '-vvv', '-e', `UPDATE ${P}hold SET v = v * 10 WHERE id <= 2`]);
  const request = await a.pending((r) => r.sql.includes(`UPDATE ${P}hold`));
  t.equal(request.requester.email, a.dev.email);
  await a.approve(request);
  const r = await running;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Query OK, 2 rows affected/);
  const [rows] = await setup.query(`SELECT v FROM ${P}hold ORDER BY id`);
  t.same(rows, [{ v: 10 }, { v: 20 }, { v: 3 }]);
});

t.test('a denied DROP prints ERROR 1142 (42000) with the rule', async (t) => {
  const r = await mysqlCli(a, ['-D', 'shop', '-e', `DROP TABLE ${P}keep`]);
  t.not(r.code, 0);
  t.match(r.stderr, /ERROR 1142 \(42000\).*no-drop/);
});

t.test('LOAD DATA LOCAL INFILE is held; the file is sent only after approval', async (t) => {
  const file = join(files, 'rows.tsv');
  writeFileSync(file, '1\tada\n2\tgrace\n3\tlinus\n');
  const running = mysqlCli(a, ['-D', 'shop', '--local-infile=1', '-vvv', '-e', `LOAD DATA LOCAL INFILE '${file}' INTO TABLE ${P}load`]);
  const request = await a.pending((r) => r.sql.includes('LOAD DATA LOCAL'));
  const [before] = await setup.query(`SELECT COUNT(*) AS n FROM ${P}load`);
  t.same(before, [{ n: 0 }]);
  await a.approve(request);
  const r = await running;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Query OK, 3 rows affected/);
  const [rows] = await setup.query(`SELECT id, name FROM ${P}load ORDER BY id`);
  t.same(rows, [{ id: 1, name: 'ada' }, { id: 2, name: 'grace' }, { id: 3, name: 'linus' }]);
});

t.test('a wrong token is ERROR 1045; an unknown resource ERROR 1049', async (t) => {
  const wrong = await mysqlCli(a, ['-D', 'shop', '-e', 'SELECT 1'], { who: { ...a.dev, token: 'alk_wrong' } });
  t.match(wrong.stderr, /ERROR 1045 \(28000\)/);
  const unknown = await mysqlCli(a, ['-D', 'nope', '-e', 'SELECT 1']);
  t.match(unknown.stderr, /ERROR 1049/);
});

t.test('no database at connect: the first USE names the resource', async (t) => {
  const r = await mysqlCli(a, [], { stdin: 'SELECT 1;\nUSE shop;\nSELECT DATABASE() AS db;\n' });
  t.match(r.stderr, /ERROR 1046/);
  const late = await mysqlCli(a, ['-e', 'USE shop; SELECT DATABASE() AS db']);
  t.equal(late.stderr, '');
  t.match(late.stdout, /db\ntest\n/);
});

t.test('caching_sha2_password fast path and an AuthSwitchRequest from another plugin', async (t) => {
  const sha2 = await mysqlCli(a, ['-D', 'shop', '--default-auth=caching_sha2_password', '-e', 'SELECT 5 AS n']);
  t.equal(sha2.stderr, '');
  t.equal(sha2.stdout, 'n\n5\n');
  const switched = await mysqlCli(a, ['-D', 'shop', '--default-auth=client_ed25519', '-e', 'SELECT 6 AS n']);
  t.equal(switched.stderr, '');
  t.equal(switched.stdout, 'n\n6\n');
});

t.test('TLS: the SSLRequest upgrade, then the session inside TLS', async (t) => {
  const r = await mysqlCli(a, ['-D', 'shop', '--ssl', '--ssl-verify-server-cert=0', '-e', "SHOW SESSION STATUS LIKE 'Ssl_version'"], { tls: true });
  t.equal(r.stderr, '');
  const viaAirlock = await mysqlCli(a, ['-D', 'shop', '--ssl', '-e', 'SELECT 8 AS n'], { tls: true });
  t.equal(viaAirlock.stdout, 'n\n8\n');
});
