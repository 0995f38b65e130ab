// Each configured limit, hit with a real client: the error text and SQLSTATE it sees, and the metric.

import net from 'node:net';
import pg from 'pg';
import t from 'tap';
import { startAirlock } from '../helpers/airlock.js';
import { run } from '../helpers/processes.js';
import { scrape } from '../helpers/prom-text.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

type PgError = { code?: string; message: string };

async function connectError(config: pg.ClientConfig): Promise<PgError | pg.Client> {
  const c = new pg.Client(config);
  c.on('error', () => {});
  return c.connect().then(() => c, (e: PgError) => e);
}

t.test('connection counts and message size', async (t) => {
  const airlock = await startAirlock({ config: { limits: { max_connections: 3, max_connections_per_user: 2, max_message_bytes: '64KiB' } } });
  t.teardown(() => airlock.stop());
  const open: pg.Client[] = [];
  t.teardown(() => Promise.all(open.map((c) => c.end().catch(() => {}))));
  const connect = async (email: string) => {
    const c = await connectError(airlock.pgConfig(email));
    if (c instanceof pg.Client) open.push(c);
    return c;
  };

  t.test('max_connections_per_user', async (t) => {
    t.type(await connect('bob@corp.com'), pg.Client);
    t.type(await connect('bob@corp.com'), pg.Client);
    t.match(await connect('bob@corp.com'), { code: '53300', message: 'too many connections for bob@corp.com (airlock limits.max_connections_per_user = 2)' });
    // psql shows the same text.
    const r = await run('psql', ['-X', '-c', 'SELECT 1', airlock.pgUrl('bob@corp.com')]);
    t.equal(r.code, 2);
    t.match(r.stderr, /FATAL:\s+too many connections for bob@corp.com \(airlock limits.max_connections_per_user = 2\)/);
  });

  t.test('max_connections', async (t) => {
    t.type(await connect('alice@corp.com'), pg.Client);
    t.match(await connect('carol@corp.com'), { code: '53300', message: 'sorry, too many clients already (airlock limits.max_connections = 3)' });
    // A slot comes back when a session ends.
    await open.shift()!.end();
    const again = await connect('carol@corp.com');
    t.type(again, pg.Client, 'a freed slot is usable');
  });

  t.test('max_message_bytes', async (t) => {
    const c = open.find((x) => x.user === 'carol@corp.com')!;
    const errors: PgError[] = [];
    c.on('error', (e) => errors.push(e));
    const big = 'x'.repeat(100 * 1024);
    t.match(await c.query(`SELECT '${big}'`).catch((e: PgError) => e), { code: '54000', message: /exceeds the limit of 65536 bytes \(limits.max_message_bytes\)/ });
    // Just under the limit goes through.
    const d = open.find((x) => x.user === 'alice@corp.com')!;
    const fits = 'y'.repeat(60 * 1024);
    t.equal((await d.query(`SELECT length('${fits}') AS n`)).rows[0].n, 60 * 1024);
  });

  t.test('metrics count each limit', async (t) => {
    const m = await scrape(airlock.adminUrl);
    t.equal(m.value('airlock_limits_hit_total', { limit: 'max_connections_per_user' }), 2, 'pg driver and psql');
    t.equal(m.value('airlock_limits_hit_total', { limit: 'max_connections' }), 1);
    t.equal(m.value('airlock_limits_hit_total', { limit: 'max_message_bytes' }), 1);
    t.equal(m.sum('airlock_auth_failures_total'), 0, 'a limit is not an authentication failure');
  });
});

t.test('auth and idle timeouts', async (t) => {
  const airlock = await startAirlock({ config: { limits: { auth_timeout: '1s', idle_timeout: '1s' } } });
  t.teardown(() => airlock.stop());

  t.test('a socket that connects and sends nothing is closed after auth_timeout', async (t) => {
    const s = net.connect(airlock.pgPort, '127.0.0.1');
    let received = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    s.on('error', () => {});
    await new Promise((r) => s.once('close', r));
    t.equal(String.fromCharCode(received[0] ?? 0), 'E', 'an ErrorResponse came before the close');
    const text = received.toString('latin1');
    t.match(text, /C08006\0/);
    t.match(text, /authentication timed out \(limits.auth_timeout\)/);
  });

  t.test('a client stuck after the startup message is closed too', async (t) => {
    const s = net.connect(airlock.pgPort, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const params = Buffer.from('user\0bob@corp.com\0database\0orders\0\0');
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4);
    params.copy(startup, 8);
    s.write(startup);
    let received = '';
    s.on('data', (d: Buffer) => (received += d.toString('latin1')));
    await new Promise((r) => s.once('close', r));
    t.match(received, /SCRAM-SHA-256/, 'got the SASL challenge');
    t.match(received, /authentication timed out/);
  });

  t.test('idle_timeout ends an idle session with 57P05, but not a running query', async (t) => {
    const busy = new pg.Client(airlock.pgConfig('bob@corp.com'));
    busy.on('error', () => {});
    await busy.connect();
    t.same((await busy.query(`SELECT 'done' AS r, pg_sleep(2)`)).rows[0].r, 'done', 'a 2 s query outlives a 1 s idle timeout');
    await busy.end();

    const idle = new pg.Client(airlock.pgConfig('bob@corp.com'));
    const err = new Promise<PgError>((resolve) => idle.on('error', resolve));
    await idle.connect();
    t.match(await err, { code: '57P05', message: /idle timeout \(limits.idle_timeout\)/ });
  });

  t.test('psql sees the idle timeout too', async (t) => {
    const r = await run('psql', ['-X', '-c', 'SELECT pg_sleep(0)', '-c', '\\! sleep 2', '-c', 'SELECT 1', airlock.pgUrl('bob@corp.com')]);
    t.not(r.code, 0);
    t.match(r.stderr, /terminating connection due to idle timeout/);
  });

  t.test('metrics', async (t) => {
    const m = await scrape(airlock.adminUrl);
    t.equal(m.value('airlock_limits_hit_total', { limit: 'auth_timeout' }), 2);
    t.equal(m.value('airlock_auth_failures_total', { protocol: 'postgres', reason: 'timeout' }), 2);
    t.equal(m.value('airlock_limits_hit_total', { limit: 'idle_timeout' }), 2);
  });
});
