// Sockets that never authenticate (regression: ~1100 idle TCP sockets filled max_connections and
// locked everyone out until auth_timeout, and psql only said "server sent an error response during
// SSL exchange"). They now count toward limits.max_pending_auth(_per_ip) only, and whoever is
// refused sees the limit named, with psql's default sslmode=prefer too.

import net from 'node:net';
import mysql from 'mysql2/promise';
import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock, type TestAirlock } from '../helpers/airlock.js';
import { run } from '../helpers/processes.js';
import { scrape } from '../helpers/prom-text.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
await requireService('mariadb');

const PENDING_MESSAGE = 'too many connections waiting to authenticate (airlock limits.max_pending_auth = 5)';
const TLS = { cert: new URL('../fixtures/tls/server.crt', import.meta.url).pathname, key: new URL('../fixtures/tls/server.key', import.meta.url).pathname };

interface Raw {
  readonly socket: net.Socket;
  received(): Buffer;
  /** Resolves once at least n bytes have arrived. */
  bytes(n: number): Promise<Buffer>;
  /** Resolves with everything received once the server has closed the connection. */
  closed(): Promise<Buffer>;
}

async function raw(port: number, localAddress = '127.0.0.1'): Promise<Raw> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  let got = Buffer.alloc(0);
  let wake = () => {};
  socket.on('data', (d: Buffer) => {
    got = Buffer.concat([got, d]);
    wake();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const within = <T>(p: Promise<T>, what: string) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(got.toString('latin1'))}`)), 8000))]);
  return {
    socket,
    received: () => got,
    bytes: (n) =>
      within(
        new Promise<Buffer>((resolve) => {
          wake = () => got.length >= n && resolve(got);
          wake();
        }),
        `${n} bytes`,
      ),
    closed: () => within(closed.then(() => got), 'the server to close'),
  };
}

/** Idle sockets that never send a byte; the in-process listener has accepted them when this resolves. */
async function idle(port: number, n: number, localAddress: string): Promise<net.Socket[]> {
  const sockets = await Promise.all(Array.from({ length: n }, () => raw(port, localAddress).then((r) => r.socket)));
  await new Promise((r) => setTimeout(r, 50));
  return sockets;
}

async function closeAll(sockets: net.Socket[]): Promise<void> {
  await Promise.all(sockets.splice(0).map((s) => new Promise((r) => (s.destroyed ? r(null) : s.once('close', r).destroy()))));
  await new Promise((r) => setTimeout(r, 50));
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

function startupMessage(user: string, database = 'orders'): Buffer {
  const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const out = Buffer.alloc(8 + params.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(196608, 4);
  params.copy(out, 8);
  return out;
}

/** The fields of the ErrorResponse that `bytes` starts with. */
function pgError(bytes: Buffer): Record<string, string> {
  if (bytes[0] !== 0x45) throw new Error(`expected an ErrorResponse, got ${JSON.stringify(bytes.toString('latin1'))}`);
  const fields: Record<string, string> = {};
  for (let i = 5; i < 1 + bytes.readInt32BE(1) && bytes[i] !== 0; ) {
    const end = bytes.indexOf(0, i + 1);
    fields[String.fromCharCode(bytes[i]!)] = bytes.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return fields;
}

/** psql as a developer runs it: libpq's default sslmode=prefer unless `sslmode` is given. */
function psql(a: TestAirlock, sql: string, sslmode?: string) {
  const url = a.pgUrl('bob@corp.com').replace('?sslmode=disable', sslmode ? `?sslmode=${sslmode}` : '');
  return run('psql', ['-X', '-A', '-t', '-c', sql, url]);
}

const policy = examplePolicy().replace('resources:\n', 'resources:\n  shop: {protocol: mysql, host: 127.0.0.1, port: 3306, database: test, user: root}\n');

t.test('pre-auth sockets have their own limit', async (t) => {
  const airlock = await startAirlock({
    policy,
    config: {
      listen: { postgres: '127.0.0.1:0', mysql: '127.0.0.1:0', admin: '127.0.0.1:0' },
      limits: { max_connections: 2, max_connections_per_user: 2, max_pending_auth: 5, max_pending_auth_per_ip: 3, auth_timeout: '30s' },
    },
  });
  t.teardown(() => airlock.stop());
  const mysqlPort = airlock.daemon.addresses.mysql!.port;
  const idlers: net.Socket[] = [];
  t.teardown(() => closeAll(idlers));
  const mysqlAs = (email: string) => mysql.createConnection({ host: '127.0.0.1', port: mysqlPort, user: email, password: airlock.tokens[email], database: 'shop' });

  t.test('idle sockets beyond max_connections do not lock people out', async (t) => {
    // Four silent sockets, twice max_connections, from two other addresses (the per-address cap is 3).
    idlers.push(...(await idle(airlock.pgPort, 3, '127.0.0.2')), ...(await idle(airlock.pgPort, 1, '127.0.0.3')));
    const r = await psql(airlock, 'SELECT 1');
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.trim(), '1');
    const sessions = [new pg.Client(airlock.pgConfig('bob@corp.com')), new pg.Client(airlock.pgConfig('alice@corp.com'))];
    for (const c of sessions) {
      await c.connect();
      t.same((await c.query('SELECT 1 AS n')).rows, [{ n: 1 }]);
    }
    // max_connections still applies to sessions, and psql shows it, not "during SSL exchange".
    const full = await psql(airlock, 'SELECT 1');
    t.equal(full.code, 2);
    t.match(full.stderr, /FATAL:\s+sorry, too many clients already \(airlock limits.max_connections = 2\)/);
    t.notMatch(full.stderr, /SSL exchange/);
    await Promise.all(sessions.map((c) => c.end()));
  });

  t.test('beyond max_pending_auth every client is told so', async (t) => {
    idlers.push(...(await idle(airlock.pgPort, 1, '127.0.0.3')));

    const viaSsl = await raw(airlock.pgPort);
    viaSsl.socket.write(SSL_REQUEST);
    t.equal((await viaSsl.bytes(1)).toString('latin1', 0, 1), 'N', "the SSLRequest is answered 'N', not with the error");
    viaSsl.socket.write(startupMessage('bob@corp.com'));
    const refused = pgError((await viaSsl.closed()).subarray(1));
    t.match(refused, { S: 'FATAL', C: '53300', M: PENDING_MESSAGE, H: /until it has logged in/ });

    const direct = await raw(airlock.pgPort);
    direct.socket.write(startupMessage('bob@corp.com'));
    t.match(pgError(await direct.closed()), { C: '53300', M: PENDING_MESSAGE });

    for (const sslmode of [undefined, 'disable']) {
      const r = await psql(airlock, 'SELECT 1', sslmode);
      t.equal(r.code, 2, `psql sslmode=${sslmode ?? 'prefer (default)'}`);
      t.match(r.stderr, new RegExp(`FATAL:\\s+${PENDING_MESSAGE.replace(/[().]/g, '\\$&')}`));
      t.notMatch(r.stderr, /SSL exchange/);
    }

    const c = new pg.Client(airlock.pgConfig('bob@corp.com'));
    c.on('error', () => {});
    t.match(await c.connect().catch((e: unknown) => e), { code: '53300', message: PENDING_MESSAGE });

    // MySQL: the server speaks first, so the ERR takes the greeting's place.
    const m = await raw(mysqlPort);
    const packet = await m.closed();
    t.equal(packet[3], 0, 'sequence 0');
    t.equal(packet[4], 0xff, 'an ERR packet');
    t.equal(packet.readUInt16LE(5), 1040);
    t.equal(packet.toString('utf8', 13, 4 + packet.readUIntLE(0, 3)), PENDING_MESSAGE);
    t.match(await mysqlAs('bob@corp.com').catch((e: unknown) => e), { errno: 1040, message: PENDING_MESSAGE });
    const cli = await run('mysql', ['--protocol=TCP', '-h', '127.0.0.1', '-P', String(mysqlPort), '-u', 'bob@corp.com', '--skip-ssl', '-e', 'SELECT 1'], {
      env: { MYSQL_PWD: airlock.tokens['bob@corp.com']! },
    });
    t.equal(cli.code, 1);
    t.match(cli.stderr, `ERROR 1040 (08004): ${PENDING_MESSAGE}`);
  });

  t.test('one address cannot take every pending slot', async (t) => {
    await closeAll(idlers.splice(3, 2)); // keep the three from 127.0.0.2
    const third = await raw(airlock.pgPort, '127.0.0.2');
    third.socket.write(startupMessage('bob@corp.com'));
    t.match(pgError(await third.closed()), { C: '53300', M: 'too many connections waiting to authenticate from 127.0.0.2 (airlock limits.max_pending_auth_per_ip = 3)' });
    const other = await raw(airlock.pgPort, '127.0.0.1');
    other.socket.write(startupMessage('bob@corp.com'));
    t.equal((await other.bytes(1)).toString('latin1', 0, 1), 'R', 'another address is asked for its password');
    other.socket.destroy();
    const r = await psql(airlock, 'SELECT 1');
    t.equal(r.code, 0, r.stderr);
  });

  t.test('once the idle sockets are gone, everyone gets in on both protocols', async (t) => {
    await closeAll(idlers);
    const r = await psql(airlock, 'SELECT 1');
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.trim(), '1');
    const m = await mysqlAs('alice@corp.com');
    t.same((await m.query('SELECT 1 AS n'))[0], [{ n: 1 }]);
    await m.end();
  });

  t.test('metrics count each refusal under a bounded label', async (t) => {
    const s = await scrape(airlock.adminUrl);
    // raw SSL, raw startup, psql ×2, pg driver, raw MySQL, mysql2, mysql CLI
    t.equal(s.value('airlock_limits_hit_total', { limit: 'max_pending_auth' }), 8);
    t.equal(s.value('airlock_limits_hit_total', { limit: 'max_pending_auth_per_ip' }), 1);
    t.equal(s.value('airlock_limits_hit_total', { limit: 'max_connections' }), 1);
    t.equal(s.value('airlock_limits_hit_total', { limit: 'auth_timeout' }), 0);
    t.equal(s.sum('airlock_auth_failures_total'), 0, 'a refusal is not an authentication failure');
  });
});

t.test('a refused socket that sends nothing gets the refusal, not an auth timeout, and is closed', async (t) => {
  const airlock = await startAirlock({ config: { limits: { max_pending_auth: 2, auth_timeout: '1s' } } });
  t.teardown(() => airlock.stop());
  const idlers = await idle(airlock.pgPort, 2, '127.0.0.1');
  t.teardown(() => closeAll(idlers));
  const silent = await raw(airlock.pgPort);
  const started = Date.now();
  t.match(pgError(await silent.closed()), { C: '53300', M: 'too many connections waiting to authenticate (airlock limits.max_pending_auth = 2)' });
  t.ok(Date.now() - started < 3000, 'within auth_timeout');
  // Bytes that are no PostgreSQL at all, from a refused socket: answered, closed, nothing crashes.
  await closeAll(idlers);
  idlers.push(...(await idle(airlock.pgPort, 2, '127.0.0.1')));
  const junk = await raw(airlock.pgPort);
  junk.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.equal((await junk.closed())[0], 0x45, 'an ErrorResponse');
  const s = await scrape(airlock.adminUrl);
  t.equal(s.value('airlock_limits_hit_total', { limit: 'max_pending_auth' }), 2);
});

t.test('TLS: psql with sslmode=require sees the refusal and auth errors over TLS', async (t) => {
  const airlock = await startAirlock({ config: { tls: TLS, limits: { max_pending_auth: 1 } } });
  t.teardown(() => airlock.stop());
  // A wrong password: the error must travel inside TLS (it used to go out in clear beneath it).
  const url = `postgresql://bob%40corp.com:wrong@127.0.0.1:${airlock.pgPort}/orders?sslmode=require`;
  const bad = await run('psql', ['-X', '-c', 'SELECT 1', url]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /FATAL:\s+password authentication failed for user "bob@corp.com"/);
  const idlers = await idle(airlock.pgPort, 1, '127.0.0.1');
  t.teardown(() => closeAll(idlers));
  for (const sslmode of ['require', 'prefer']) {
    const r = await psql(airlock, 'SELECT 1', sslmode);
    t.equal(r.code, 2);
    t.match(r.stderr, /FATAL:\s+too many connections waiting to authenticate \(airlock limits.max_pending_auth = 1\)/, `sslmode=${sslmode}`);
  }
  await closeAll(idlers);
  const ok = await psql(airlock, 'SELECT 1', 'require');
  t.equal(ok.code, 0, ok.stderr);
});
