// tls.require: a client that does not use TLS is refused before any credential is checked, on both
// protocols (fresh-user report: sslmode=disable was accepted even with TLS configured).

import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { run } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
const tlsDir = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const policy = examplePolicy().replace('resources:\n', 'resources:\n  shop: { protocol: mysql, host: 127.0.0.1, port: 3306, database: test, user: root }\n');
const airlock = await startAirlock({
  policy,
  config: {
    listen: { postgres: '127.0.0.1:0', mysql: '127.0.0.1:0', admin: '127.0.0.1:0' },
    tls: { cert: `${tlsDir}server.crt`, key: `${tlsDir}server.key`, require: true },
  },
});
t.teardown(() => airlock.stop());
const base = airlock.pgUrl('bob@corp.com').replace(/\?sslmode=disable$/, '');

t.test('PostgreSQL: sslmode=disable is refused with the reason; sslmode=require works', async (t) => {
  const plain = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 1', `${base}?sslmode=disable`]);
  t.not(plain.code, 0);
  t.match(plain.stderr, /airlock requires TLS for every connection \(tls\.require in airlock\.yaml\)/);
  const secure = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 1', `${base}?sslmode=require`]);
  t.equal(secure.stdout.trim(), '1', secure.stderr);
});

t.test('MySQL: a cleartext login gets 3159; a TLS login works', async (t) => {
  const port = airlock.daemon.addresses.mysql!.port;
  const opts = { host: '127.0.0.1', port, user: 'bob@corp.com', password: airlock.tokens['bob@corp.com']!, database: 'shop' };
  const err = await mysql.createConnection(opts).then((c) => c.end().then(() => undefined), (e: { errno?: number; message: string }) => e);
  t.match(err, { errno: 3159, message: /requires TLS/ });
  const c = await mysql.createConnection({ ...opts, ssl: { rejectUnauthorized: false } });
  const [rows] = await c.query('SELECT 1 AS one');
  t.same(rows, [{ one: 1 }]);
  await c.end();
});
