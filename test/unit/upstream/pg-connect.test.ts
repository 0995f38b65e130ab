// Upstream PostgreSQL connect: the machine's server (trust) for the real thing, a fake backend for the
// authentication methods and TLS answers the real one will not produce.
import t, { type Test } from 'tap';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { connectUpstreamPg, sendCancelRequest, UpstreamPgError, type UpstreamPg } from '../../../src/upstream/pg-connect.js';
import { noticeResponse } from '../../../src/protocol/pg/messages.js';
import type { ScramVerifier } from '../../../src/identity/types.js';
import { startFakeUpstream, type FakeUpstreamOptions } from '../../helpers/fake-pg-upstream.js';

const PG = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' };
const fixture = (name: string) => readFileSync(new URL(`../../fixtures/tls/${name}`, import.meta.url));
const keyCert = { key: fixture('server.key'), cert: fixture('server.crt') };
const base = { connectTimeoutMs: 10_000, startupParams: {} };

/** Reads backend frames from a connection handed over by connectUpstreamPg (leftover first). */
function frames(up: UpstreamPg) {
  let buffered = up.leftover;
  let waiter: (() => void) | undefined;
  up.socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    waiter?.();
  });
  up.socket.resume();
  return async (): Promise<{ type: string; body: Buffer }> => {
    while (buffered.length < 5 || buffered.length < 1 + buffered.readInt32BE(1)) {
      await new Promise<void>((resolve) => (waiter = resolve));
    }
    const length = buffered.readInt32BE(1);
    const frame = { type: String.fromCharCode(buffered[0]!), body: buffered.subarray(5, 1 + length) };
    buffered = buffered.subarray(1 + length);
    return frame;
  };
}

/** Simple-query round trip with hand-built bytes: 'Q' Int32 length, SQL, NUL. Returns text cells and the error SQLSTATE. */
async function query(up: UpstreamPg, next: ReturnType<typeof frames>, sql: string) {
  const text = Buffer.from(sql + '\0');
  const header = Buffer.alloc(5);
  header.write('Q');
  header.writeInt32BE(4 + text.length, 1);
  up.socket.write(Buffer.concat([header, text]));
  const rows: string[][] = [];
  let sqlstate: string | undefined;
  for (;;) {
    const { type, body } = await next();
    if (type === 'D') {
      const row: string[] = [];
      let at = 2;
      for (let i = 0; i < body.readInt16BE(0); i++) {
        const len = body.readInt32BE(at);
        row.push(body.toString('utf8', at + 4, at + 4 + len));
        at += 4 + len;
      }
      rows.push(row);
    } else if (type === 'E') {
      sqlstate = /C([0-9A-Z]{5})\0/.exec(body.toString('latin1'))?.[1];
    } else if (type === 'Z') {
      return { rows, sqlstate };
    }
  }
}

const parameter = (up: UpstreamPg, name: string): string | undefined => {
  for (const frame of up.parameterStatus) {
    const [key, value] = frame.toString('utf8', 5).split('\0');
    if (key === name) return value;
  }
  return undefined;
};

async function withFake(t: Test, options: FakeUpstreamOptions) {
  const fake = await startFakeUpstream(options);
  t.teardown(() => fake.close());
  return fake;
}

// ---------------------------------------------------------------- real server

let admin: pg.Client;
t.before(async () => {
  admin = new pg.Client(PG);
  await admin.connect().catch((err: Error) => {
    throw new Error(`PostgreSQL must run on 127.0.0.1:5432 (trust, user postgres, db test): ${err.message}`);
  });
});
t.teardown(async () => {
  await admin.query('DROP ROLE IF EXISTS airlock_pgconnect_md5');
  await admin.query('DROP ROLE IF EXISTS airlock_pgconnect_scram');
  await admin.end();
});

t.test('trust login to the real server returns its ParameterStatus frames, key and ReadyForQuery', async (t) => {
  const up = await connectUpstreamPg({
    ...PG,
    ...base,
    startupParams: { application_name: 'airlock-pgconnect-test', options: '-c airlock.note=escaped\\ space', extra_float_digits: '2' },
  });
  t.teardown(() => up.socket.destroy());
  t.match(up.serverVersion, /^\d+/);
  t.equal(parameter(up, 'server_version'), up.serverVersion);
  t.equal(parameter(up, 'application_name'), 'airlock-pgconnect-test', 'startup parameters reach the server');
  for (const frame of up.parameterStatus) {
    t.equal(frame[0], 0x53, 'raw frame with its type byte');
    t.equal(frame.readInt32BE(1), frame.length - 1, 'and its full length');
  }
  t.equal(up.initialReadyForQuery.toString('hex'), '5a0000000549');
  t.equal(up.leftover.length, 0);
  t.equal(up.socket.isPaused(), true, 'handed over paused');

  const next = frames(up);
  const result = await query(up, next, "SELECT pg_backend_pid()::text, current_setting('airlock.note'), current_setting('extra_float_digits')");
  t.same(result.rows, [[String(up.backendKey.pid), 'escaped space', '2']], 'pid matches BackendKeyData; options escaped space survived');
});

t.test('an unknown database is refused with the upstream SQLSTATE', async (t) => {
  const err = await connectUpstreamPg({ ...PG, ...base, database: 'airlock_no_such_db' }).catch((e: unknown) => e);
  t.type(err, UpstreamPgError);
  t.match(err, { code: 'AIRLOCK_ERR_UPSTREAM_CONNECT', upstream: { sqlstate: '3D000', message: /airlock_no_such_db/, severity: 'FATAL' } });
});

t.test('an unknown role is an authentication failure', async (t) => {
  const err = await connectUpstreamPg({ ...PG, ...base, user: 'airlock_no_such_role' }).catch((e: unknown) => e);
  t.match(err, { code: 'AIRLOCK_ERR_UPSTREAM_AUTH', upstream: { sqlstate: '28000' } });
});

t.test('a refused TCP connection is a connect error', async (t) => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port }), { code: 'AIRLOCK_ERR_UPSTREAM_CONNECT', message: /ECONNREFUSED/ });
});

t.test('tls require against a server without TLS fails instead of falling back to plaintext', async (t) => {
  await t.rejects(connectUpstreamPg({ ...PG, ...base, tls: { mode: 'require' } }), {
    code: 'AIRLOCK_ERR_UPSTREAM_CONNECT',
    message: /does not accept TLS/,
  });
});

t.test('sendCancelRequest cancels a running query on the real server', async (t) => {
  const up = await connectUpstreamPg({ ...PG, ...base });
  t.teardown(() => up.socket.destroy());
  const next = frames(up);
  const running = query(up, next, 'SELECT pg_sleep(10)');
  // Cancel only once the backend is really running the statement, or the cancel may land before it starts.
  for (;;) {
    const { rows } = await admin.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE 'SELECT pg_sleep%'",
      [up.backendKey.pid],
    );
    if (rows[0]!.n === '1') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await sendCancelRequest({ host: PG.host, port: PG.port }, up.backendKey.pid, up.backendKey.secret);
  t.equal((await running).sqlstate, '57014', 'canceling statement due to user request');
});

t.test('an already aborted signal stops the attempt', async (t) => {
  await t.rejects(connectUpstreamPg({ ...PG, ...base, signal: AbortSignal.abort() }), {
    code: 'AIRLOCK_ERR_UPSTREAM_CONNECT',
    message: /aborted/,
  });
});

// ---------------------------------------------------------------- fake server: authentication methods

t.test('a silent upstream times out', async (t) => {
  const fake = await withFake(t, { auth: { kind: 'trust' }, silent: true });
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port: fake.port, connectTimeoutMs: 200 }), {
    code: 'AIRLOCK_ERR_UPSTREAM_CONNECT',
    message: /timed out after 200 ms/,
  });
});

t.test('cleartext password', async (t) => {
  const fake = await withFake(t, { auth: { kind: 'cleartext', password: 'open sesame' } });
  const up = await connectUpstreamPg({ ...PG, ...base, port: fake.port, password: 'open sesame' });
  up.socket.destroy();
  t.equal(up.backendKey.pid, 4242);
  t.equal(up.backendKey.secret, 0x7eadbeef);
  t.equal(up.serverVersion, '15.99 (fake)');
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port: fake.port, password: 'wrong' }), {
    code: 'AIRLOCK_ERR_UPSTREAM_AUTH',
    upstream: { sqlstate: '28P01' },
  });
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port: fake.port }), {
    code: 'AIRLOCK_ERR_UPSTREAM_AUTH',
    message: /none is configured/,
  });
});

t.test('md5 password, checked against a hash PostgreSQL itself stored', async (t) => {
  await admin.query('DROP ROLE IF EXISTS airlock_pgconnect_md5');
  await admin.query("SET password_encryption = 'md5'");
  await admin.query("CREATE ROLE airlock_pgconnect_md5 LOGIN PASSWORD 'md5 secret'");
  await admin.query("RESET password_encryption");
  const { rows } = await admin.query<{ rolpassword: string }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'airlock_pgconnect_md5'");
  t.match(rows[0]!.rolpassword, /^md5[0-9a-f]{32}$/);
  const fake = await withFake(t, { auth: { kind: 'md5', rolpassword: rows[0]!.rolpassword } });
  const opts = { ...PG, ...base, port: fake.port, user: 'airlock_pgconnect_md5' };
  (await connectUpstreamPg({ ...opts, password: 'md5 secret' })).socket.destroy();
  await t.rejects(connectUpstreamPg({ ...opts, password: 'md5 secreT' }), { upstream: { sqlstate: '28P01' } });
});

async function pgScramVerifier(t: Test): Promise<ScramVerifier> {
  await admin.query('DROP ROLE IF EXISTS airlock_pgconnect_scram');
  await admin.query("SET password_encryption = 'scram-sha-256'");
  await admin.query("CREATE ROLE airlock_pgconnect_scram LOGIN PASSWORD 'scram secret'");
  const { rows } = await admin.query<{ rolpassword: string }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'airlock_pgconnect_scram'");
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(rows[0]!.rolpassword);
  t.ok(m, 'PostgreSQL stored a SCRAM verifier');
  return { iterations: Number(m![1]), salt: m![2]!, stored_key: m![3]!, server_key: m![4]! };
}

t.test('SCRAM-SHA-256 against a verifier PostgreSQL itself made', async (t) => {
  const verifier = await pgScramVerifier(t);
  const fake = await withFake(t, { auth: { kind: 'scram', verifier } });
  const opts = { ...PG, ...base, port: fake.port, user: 'airlock_pgconnect_scram' };
  (await connectUpstreamPg({ ...opts, password: 'scram secret' })).socket.destroy();
  await t.rejects(connectUpstreamPg({ ...opts, password: 'scram secreT' }), {
    code: 'AIRLOCK_ERR_UPSTREAM_AUTH',
    upstream: { sqlstate: '28P01' },
  });
});

t.test('SCRAM: plain SCRAM-SHA-256 is chosen when -PLUS is offered too', async (t) => {
  const verifier = await pgScramVerifier(t);
  const fake = await withFake(t, { auth: { kind: 'scram', verifier, mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] } });
  (await connectUpstreamPg({ ...PG, ...base, port: fake.port, password: 'scram secret' })).socket.destroy();
  const only = await withFake(t, { auth: { kind: 'scram', verifier, mechanisms: ['SCRAM-SHA-256-PLUS'] } });
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port: only.port, password: 'scram secret' }), {
    code: 'AIRLOCK_ERR_UPSTREAM_AUTH',
    message: /no supported SASL mechanism/,
  });
});

t.test('SCRAM: a server that cannot prove it knows the password is refused', async (t) => {
  const verifier = await pgScramVerifier(t);
  const forged = await withFake(t, { auth: { kind: 'scram', verifier, forgeServerSignature: true } });
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port: forged.port, password: 'scram secret' }), {
    code: 'AIRLOCK_ERR_UPSTREAM_AUTH',
    message: /server signature is invalid/,
  });
  const skipped = await withFake(t, { auth: { kind: 'scram', verifier, skipServerFinal: true } });
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port: skipped.port, password: 'scram secret' }), {
    code: 'AIRLOCK_ERR_UPSTREAM_AUTH',
    message: /without proving/,
  });
});

// ---------------------------------------------------------------- fake server: framing and TLS

t.test('messages arriving one byte per read are reassembled; bytes after ReadyForQuery are kept', async (t) => {
  const notice = noticeResponse({ severity: 'WARNING', sqlstate: '01000', message: 'startup warning' });
  const extra = Buffer.from('4e00000004', 'hex');
  const fake = await withFake(t, { auth: { kind: 'cleartext', password: 'pw' }, byteByByte: true, beforeReady: [notice], afterReady: extra });
  const up = await connectUpstreamPg({ ...PG, ...base, port: fake.port, password: 'pw' });
  up.socket.destroy();
  t.equal(up.parameterStatus.length, 2);
  t.same(up.notices, [notice]);
  t.equal(up.initialReadyForQuery.toString('hex'), '5a0000000549');
  t.equal(up.leftover.toString('hex'), extra.toString('hex'));
});

t.test('startup parameters are forwarded verbatim, but user and database come from the resource', async (t) => {
  const fake = await withFake(t, { auth: { kind: 'trust' } });
  const startupParams = { user: 'alice@corp.com', database: 'orders-prod', application_name: 'psql', _pq_x: 'y', options: '-c a=b\\ c' };
  (await connectUpstreamPg({ ...PG, ...base, port: fake.port, startupParams })).socket.destroy();
  t.same(fake.startups[0], { user: 'postgres', database: 'test', application_name: 'psql', _pq_x: 'y', options: '-c a=b\\ c' });
});

t.test('tls require encrypts without checking the certificate', async (t) => {
  const fake = await withFake(t, { auth: { kind: 'cleartext', password: 'pw' }, ssl: 'S', tlsKeyCert: keyCert });
  const up = await connectUpstreamPg({ ...PG, ...base, port: fake.port, password: 'pw', tls: { mode: 'require' } });
  up.socket.destroy();
  t.type(up.socket, tls.TLSSocket);
  t.equal((up.socket as tls.TLSSocket).encrypted, true);
});

t.test('tls verify-full checks the chain', async (t) => {
  const fake = await withFake(t, { auth: { kind: 'trust' }, ssl: 'S', tlsKeyCert: keyCert });
  const up = await connectUpstreamPg({ ...PG, ...base, port: fake.port, tls: { mode: 'verify-full', ca: keyCert.cert } });
  up.socket.destroy();
  t.equal((up.socket as tls.TLSSocket).authorized, true);
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port: fake.port, tls: { mode: 'verify-full' } }), {
    code: 'AIRLOCK_ERR_UPSTREAM_CONNECT',
    message: /self[- ]signed/,
  });
});

t.test('plaintext bytes after the S answer are refused (CVE-2021-23222)', async (t) => {
  const fake = await withFake(t, { auth: { kind: 'trust' }, ssl: 'S+junk' });
  await t.rejects(connectUpstreamPg({ ...PG, ...base, port: fake.port, tls: { mode: 'require' } }), {
    code: 'AIRLOCK_ERR_PROTOCOL',
    message: /unencrypted data after accepting TLS/,
  });
});
