// A person removed, disabled or regrouped in users.yaml loses the sessions opened as they were.

import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import YAML from 'yaml';
import mysql from 'mysql2/promise';
import { rotateUser } from '../../src/identity/user-admin.js';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
const withShop = examplePolicy().replace('resources:\n', 'resources:\n  shop: { protocol: mysql, host: 127.0.0.1, port: 3306, database: test, user: root }\n');
const airlock = await startAirlock({ policy: withShop, config: { listen: { postgres: '127.0.0.1:0', mysql: '127.0.0.1:0', admin: '127.0.0.1:0' } } });
t.teardown(() => airlock.stop());
const usersFile = path.join(airlock.dir, 'users.yaml');

function editUsers(edit: (users: Record<string, unknown>[]) => Record<string, unknown>[]): void {
  const doc = YAML.parse(fs.readFileSync(usersFile, 'utf8')) as { users: Record<string, unknown>[] };
  fs.writeFileSync(usersFile, YAML.stringify({ users: edit(doc.users) }));
  t.ok(airlock.daemon.reload().ok, 'the users file reloads');
}

async function session(email: string) {
  const c = new pg.Client(airlock.pgConfig(email));
  c.on('error', () => {});
  await c.connect();
  t.same((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  return c;
}

t.test('removed: the open session ends with 57P01 (regression: it kept running and could open requests)', async (t) => {
  const alice = await session('alice@corp.com');
  const bob = await session('bob@corp.com');
  editUsers((users) => users.filter((u) => u.email !== 'alice@corp.com'));
  const err = await alice.query('SELECT 2').catch((e: { code?: string; message: string }) => e);
  t.match(err, { message: /access changed|Connection terminated|terminat/ });
  t.same((await bob.query('SELECT 3 AS three')).rows, [{ three: 3 }], 'other people keep their sessions');
  await bob.end();
});

t.test('regrouped: sessions opened with the old groups end', async (t) => {
  const carol = await session('carol@corp.com');
  editUsers((users) => users.map((u) => (u.email === 'carol@corp.com' ? { ...u, groups: ['sre'] } : u)));
  const err = await carol.query('SELECT 4').catch((e: { message: string }) => e);
  t.match(err, { message: /access changed|Connection terminated|terminat/ });
  const again = await session('carol@corp.com');
  t.pass('carol reconnects with her new groups');
  await again.end();
});

// Regression (fresh-user report): `users rotate` left sessions opened with the old (perhaps leaked)
// token running.
t.test('rotated: sessions opened with the old token end; the new token works, the old one not', async (t) => {
  const oldToken = airlock.tokens['dave@corp.com']!;
  const dave = await session('dave@corp.com');
  const daveMy = await mysql.createConnection({ host: '127.0.0.1', port: airlock.daemon.addresses.mysql!.port, user: 'dave@corp.com', password: oldToken, database: 'shop' });
  daveMy.on('error', () => {});
  const bob = await session('bob@corp.com');
  const { token } = rotateUser(usersFile, 'dave@corp.com');
  t.ok(airlock.daemon.reload().ok, 'the users file reloads');
  t.match(await dave.query('SELECT 5').catch((e: Error) => e), { message: /access changed|Connection terminated|terminat/ }, 'PostgreSQL session ended');
  t.match(await daveMy.query('SELECT 5').catch((e: Error) => e), { message: /access changed|closed|terminat/i }, 'MySQL session ended');
  t.same((await bob.query('SELECT 6 AS six')).rows, [{ six: 6 }], 'other people keep their sessions');
  await bob.end();
  const fresh = new pg.Client({ ...airlock.pgConfig('dave@corp.com'), password: token });
  await fresh.connect();
  t.same((await fresh.query('SELECT 7 AS seven')).rows, [{ seven: 7 }], 'the new token logs in');
  await fresh.end();
  const stale = new pg.Client({ ...airlock.pgConfig('dave@corp.com'), password: oldToken });
  t.match(await stale.connect().catch((e: { code?: string }) => e), { code: '28P01' }, 'the old token is refused');
});
