// SCRAM-SHA-256 server exchange, driven by an independent client (the pg driver's sasl.js), RFC 7677's
// published vector and a verifier made by the machine's PostgreSQL.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { X509Certificate } from 'node:crypto';
import pg from 'pg';
import {
  ScramServerExchange,
  authFailedError,
  deriveScramVerifier,
  tlsServerEndPoint,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
} from '../../../../src/protocol/pg/scram-server.js';
import type { ScramVerifier } from '../../../../src/identity/types.js';

interface PgSaslSession {
  mechanism: string;
  response: string;
}
const sasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as {
  startSession(mechanisms: string[], stream?: unknown): PgSaslSession;
  continueSession(session: PgSaslSession, password: string, serverData: string, stream?: unknown): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
};

const TOKEN = 'airlock-token-Ω-1';
const verifier = deriveScramVerifier(TOKEN);

/** A stand-in for the TLS socket the pg client reads our certificate from. */
const tlsStream = (certFile: string) => ({
  getPeerCertificate: () => ({ raw: new X509Certificate(readFileSync(new URL(`../../../fixtures/tls/${certFile}`, import.meta.url))).raw }),
});
const certDer = (certFile: string): Buffer => tlsStream(certFile).getPeerCertificate().raw;

/** Runs a whole exchange: pg client on one side, ScramServerExchange on the other. */
async function login(opts: {
  server: ScramServerExchange;
  password: string;
  offered?: string[];
  stream?: unknown;
}): Promise<{ ok: boolean; serverFinal?: string; error?: unknown; reason?: string }> {
  const session = sasl.startSession(opts.offered ?? opts.server.mechanisms(), opts.stream);
  const first = opts.server.start(session.response, session.mechanism);
  if ('error' in first) return { ok: false, error: first.error };
  await sasl.continueSession(session, opts.password, first.serverFirst, opts.stream);
  const final = opts.server.finish(session.response);
  if (!final.ok) return { ok: false, reason: final.reason };
  sasl.finalizeSession(session, final.serverFinal); // throws if our server signature is wrong
  return { ok: true, serverFinal: final.serverFinal };
}

t.test('the pg driver logs in with the right token and accepts our server signature', async (t) => {
  const result = await login({ server: new ScramServerExchange(verifier), password: TOKEN });
  t.equal(result.ok, true);
  t.match(result.serverFinal, /^v=[A-Za-z0-9+/]+=*$/);
});

t.test('a wrong token fails', async (t) => {
  const result = await login({ server: new ScramServerExchange(verifier), password: TOKEN + 'x' });
  t.equal(result.ok, false);
  t.equal(result.reason, 'wrong password or unknown user');
});

t.test('the token is SASLprep-normalized like libpq does (NFKC)', async (t) => {
  const v = deriveScramVerifier('\u2168'); // ROMAN NUMERAL NINE normalizes to "IX"
  t.equal((await login({ server: new ScramServerExchange(v), password: 'IX' })).ok, true);
});

t.test('RFC 7677 §3 test vector reproduces byte for byte', async (t) => {
  const v = deriveScramVerifier('pencil', { salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), iterations: 4096 });
  const server = new ScramServerExchange(v, { serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
  const first = server.start('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  t.same(first, { serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096' });
  const final = server.finish(
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  );
  t.same(final, { ok: true, serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=' });
});

t.test('a verifier made by PostgreSQL itself works, and ours matches it', async (t) => {
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
  await client.connect().catch((err: Error) => {
    throw new Error(`PostgreSQL must run on 127.0.0.1:5432 (trust, user postgres, db test): ${err.message}`);
  });
  t.teardown(async () => {
    await client.query('DROP ROLE IF EXISTS airlock_scram_server_test');
    await client.end();
  });
  await client.query('DROP ROLE IF EXISTS airlock_scram_server_test');
  await client.query("SET password_encryption = 'scram-sha-256'");
  await client.query(`CREATE ROLE airlock_scram_server_test PASSWORD 'pg-made token'`);
  const { rows } = await client.query<{ rolpassword: string }>(
    "SELECT rolpassword FROM pg_authid WHERE rolname = 'airlock_scram_server_test'",
  );
  // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(rows[0]!.rolpassword);
  t.ok(m, 'PostgreSQL stored a SCRAM verifier');
  const pgVerifier: ScramVerifier = { iterations: Number(m![1]), salt: m![2]!, stored_key: m![3]!, server_key: m![4]! };
  t.same(deriveScramVerifier('pg-made token', { salt: Buffer.from(pgVerifier.salt, 'base64'), iterations: pgVerifier.iterations }), pgVerifier);
  t.equal((await login({ server: new ScramServerExchange(pgVerifier), password: 'pg-made token' })).ok, true);
  t.equal((await login({ server: new ScramServerExchange(pgVerifier), password: 'pg-made tokeN' })).ok, false);
});

t.test('an unknown user gets a plausible, stable exchange and always fails', async (t) => {
  const secret = Buffer.alloc(32, 7);
  const serverFirstFor = (user: string) => {
    const first = new ScramServerExchange(undefined, { user, mockSecret: secret }).start('n,,n=,r=abc');
    if ('error' in first) throw first.error;
    return first.serverFirst;
  };
  const shape = /^r=abc[A-Za-z0-9+/]{24},s=([A-Za-z0-9+/]{22}==),i=4096$/;
  const a1 = serverFirstFor('ghost@corp.com');
  const a2 = serverFirstFor('ghost@corp.com');
  const b = serverFirstFor('other@corp.com');
  t.match(a1, shape, 'looks like a real 16-byte salt and PostgreSQL default iterations');
  t.equal(shape.exec(a1)![1], shape.exec(a2)![1], 'same salt on every attempt for the same name');
  t.not(shape.exec(a1)![1], shape.exec(b)![1], 'different names, different salts');
  t.match(serverFirstFor('x'), shape);

  const realFirst = new ScramServerExchange(verifier).start('n,,n=,r=abc');
  t.match('serverFirst' in realFirst ? realFirst.serverFirst : '', shape, 'a real user looks the same');

  for (const password of [TOKEN, '', 'anything']) {
    const result = await login({ server: new ScramServerExchange(undefined, { user: 'ghost@corp.com' }), password: password || 'x' });
    t.equal(result.ok, false);
    t.equal(result.reason, 'wrong password or unknown user', 'same reason as a wrong token');
  }
  t.equal(authFailedError('ghost@corp.com').message, 'password authentication failed for user "ghost@corp.com"');
  t.equal(authFailedError('ghost@corp.com').sqlstate, '28P01');
  t.equal(authFailedError('ghost@corp.com').fatal, true);
});

t.test('channel binding without TLS is refused clearly', async (t) => {
  const server = new ScramServerExchange(verifier);
  t.same(server.mechanisms(), [SCRAM_SHA_256]);
  const plus = server.start('p=tls-server-end-point,,n=,r=abc', SCRAM_SHA_256_PLUS);
  t.ok('error' in plus && plus.error.message === 'client selected an invalid SASL authentication mechanism');
  const sneaky = new ScramServerExchange(verifier).start('p=tls-server-end-point,,n=,r=abc', SCRAM_SHA_256);
  t.ok('error' in sneaky);
  if ('error' in sneaky) {
    t.equal(sneaky.error.sqlstate, '08P01');
    t.match(sneaky.error.detail, /without channel binding, but the SCRAM message includes channel binding data/);
  }
});

t.test('a client that supports binding but was not offered it ("y") logs in', async (t) => {
  const stream = tlsStream('server.crt');
  const result = await login({ server: new ScramServerExchange(verifier), password: TOKEN, offered: [SCRAM_SHA_256], stream });
  t.equal(result.ok, true);
});

for (const certFile of ['server.crt', 'ecdsa-sha384.crt']) {
  t.test(`SCRAM-SHA-256-PLUS with tls-server-end-point over ${certFile}`, async (t) => {
    const binding = tlsServerEndPoint(certDer(certFile));
    t.ok(binding);
    t.equal(binding!.length, certFile.includes('384') ? 48 : 32, 'hash follows the certificate signature algorithm');
    const server = new ScramServerExchange(verifier, { channelBinding: binding });
    t.same(server.mechanisms(), [SCRAM_SHA_256_PLUS, SCRAM_SHA_256]);
    t.equal((await login({ server, password: TOKEN, stream: tlsStream(certFile) })).ok, true);

    // a client that saw a different certificate (a second TLS terminator in between) must fail
    const other = certFile === 'server.crt' ? 'ecdsa-sha384.crt' : 'server.crt';
    const mitm = await login({
      server: new ScramServerExchange(verifier, { channelBinding: binding }),
      password: TOKEN,
      stream: tlsStream(other),
    });
    t.equal(mitm.ok, false);
    t.equal(mitm.reason, 'channel binding data does not match');

    // a client told -PLUS was not offered (a stripped list) answers "y": that is a downgrade
    const downgraded = await login({
      server: new ScramServerExchange(verifier, { channelBinding: binding }),
      password: TOKEN,
      offered: [SCRAM_SHA_256],
      stream: tlsStream(certFile),
    });
    t.equal(downgraded.ok, false);
    t.match((downgraded.error as Error).message, /channel binding negotiation error/);
  });
}

t.test('malformed client-first-messages are protocol violations', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /GS2 header/],
    ['x,,n=,r=abc', /channel-binding flag/],
    ['n,a=admin,n=,r=abc', /authorization identity/],
    ['n,,m=ext,n=,r=abc', /extension/],
    ['n,,r=abc', /attribute "n"/],
    ['n,,n=', /attribute "n"/],
    ['n,,n=,r=', /nonce/],
    ['n,,n=,r=a,b', /nonce|attribute/],
    ['n,,n=,x=abc', /nonce/],
    ['n,,n=,r=ab\x01c', /nonce/],
  ];
  for (const [message, detail] of cases) {
    const result = new ScramServerExchange(verifier).start(message);
    t.ok('error' in result, JSON.stringify(message));
    if ('error' in result) {
      t.equal(result.error.sqlstate, '08P01');
      t.match(`${result.error.message} ${result.error.detail ?? ''}`, detail, JSON.stringify(message));
    }
  }
});

t.test('client-final-messages that do not continue this exchange fail', async (t) => {
  const begin = () => {
    const server = new ScramServerExchange(verifier, { serverNonce: 'SERVER' });
    server.start('n,,n=,r=abc');
    return server;
  };
  const proof = 'p=' + Buffer.alloc(32).toString('base64');
  t.same(begin().finish(`c=biws,r=abcSERVER`), { ok: false, reason: 'client-final-message has no proof' });
  t.same(begin().finish(`c=biws,r=abcOTHER,${proof}`), { ok: false, reason: 'nonce does not match' });
  t.same(begin().finish(`c=eSws,r=abcSERVER,${proof}`), { ok: false, reason: 'channel binding data does not match' });
  t.same(begin().finish(`r=abcSERVER,c=biws,${proof}`), { ok: false, reason: 'client-final-message is malformed' });
  t.same(begin().finish(`c=biws,r=abcSERVER,p=AAAA`), { ok: false, reason: 'proof has the wrong length' });
  t.same(begin().finish(`c=biws,r=abcSERVER,${proof}`), { ok: false, reason: 'wrong password or unknown user' });

  const fresh = new ScramServerExchange(verifier);
  t.same(fresh.finish(`c=biws,r=abc,${proof}`), { ok: false, reason: 'SCRAM exchange not in progress' });
});

t.test('an exchange cannot be replayed', async (t) => {
  const server = new ScramServerExchange(verifier);
  const session = sasl.startSession(server.mechanisms());
  const first = server.start(session.response);
  if ('error' in first) throw first.error;
  await sasl.continueSession(session, TOKEN, first.serverFirst);
  t.equal(server.finish(session.response).ok, true);
  t.same(server.finish(session.response), { ok: false, reason: 'SCRAM exchange not in progress' });
  t.ok('error' in server.start(session.response), 'start after the end is refused');
});

t.test('tlsServerEndPoint refuses what it cannot hash', async (t) => {
  t.equal(tlsServerEndPoint(Buffer.from('not a certificate')), undefined);
  t.equal(tlsServerEndPoint(Buffer.alloc(0)), undefined);
});
