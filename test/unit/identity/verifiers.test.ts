// Token verifiers checked against independent vectors: RFC 7677's SCRAM exchange, mysql2's client hashing, and hash chains computed here.
import t from 'tap';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { UserRecord } from '../../../src/identity/types.js';
import {
  cachingSha2Verifier,
  generateToken,
  mysqlNativeVerifier,
  safeEqual,
  scramVerifier,
  verifyCachingSha2Fast,
  verifyCachingSha2Plain,
  verifyMysqlNative,
  verifyScramToken,
} from '../../../src/identity/verifiers.js';

const require = createRequire(import.meta.url);
// mysql2 does not export its auth helpers, so load them by file: the client's own hashing is the independent side.
const mysql2Lib = join(dirname(require.resolve('mysql2')), 'lib');
const auth41 = require(join(mysql2Lib, 'auth_41.js')) as { calculateToken(pw: string, s1: Buffer, s2: Buffer): Buffer };
const sha2Plugin = require(join(mysql2Lib, 'auth_plugins/caching_sha2_password.js')) as { calculateToken(pw: string, scramble: Buffer): Buffer };

const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest();
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));

function recordFor(token: string, extra: Partial<UserRecord> = {}): UserRecord {
  return {
    email: 'a@b.c',
    groups: [],
    scram: scramVerifier(token),
    mysql_native: mysqlNativeVerifier(token),
    caching_sha2: cachingSha2Verifier(token),
    created_at: '2024-01-01T00:00:00.000Z',
    ...extra,
  };
}

t.test('tokens: prefix, 32 random bytes, different each time', async (t) => {
  const a = generateToken();
  t.match(a, /^alk_[A-Za-z0-9_-]{43}$/);
  t.equal(Buffer.from(a.slice(4), 'base64url').length, 32);
  t.not(a, generateToken());
});

t.test('SCRAM-SHA-256 verifier reproduces the RFC 7677 section 3 exchange', async (t) => {
  const v = scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  t.equal(v.iterations, 4096);
  t.equal(v.salt, 'W22ZaJ0SNY7soEsUEjb6gQ==');
  const clientFirstBare = 'n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const clientFinalNoProof = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinalNoProof}`;
  const serverSignature = createHmac('sha256', Buffer.from(v.server_key, 'base64')).update(authMessage).digest('base64');
  t.equal(serverSignature, '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  // The server's check of the client proof: SHA256(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey.
  const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
  const clientSignature = createHmac('sha256', Buffer.from(v.stored_key, 'base64')).update(authMessage).digest();
  t.equal(sha256(xor(proof, clientSignature)).toString('base64'), v.stored_key);
});

t.test('SCRAM token check and fresh salts', async (t) => {
  const token = generateToken();
  const v = scramVerifier(token);
  t.equal(Buffer.from(v.salt, 'base64').length, 16);
  t.not(v.salt, scramVerifier(token).salt, 'a new salt each time');
  t.ok(verifyScramToken(v, token));
  t.notOk(verifyScramToken(v, token + 'x'));
  t.notOk(verifyScramToken(v, ''));
});

t.test('mysql_native_password', async (t) => {
  const token = generateToken();
  t.equal(mysqlNativeVerifier(token), sha1(sha1(token)).toString('hex'));
  const rec = recordFor(token);
  const scramble = randomBytes(20);
  // mysql2's own client computation is the independent side.
  const response = auth41.calculateToken(token, scramble.subarray(0, 8), scramble.subarray(8));
  t.ok(verifyMysqlNative(rec, scramble, response));
  t.notOk(verifyMysqlNative(rec, scramble, auth41.calculateToken('wrong', scramble.subarray(0, 8), scramble.subarray(8))));
  t.notOk(verifyMysqlNative(rec, randomBytes(20), response), 'bound to the scramble');
  t.notOk(verifyMysqlNative(rec, scramble, Buffer.alloc(0)), 'empty response');
  t.notOk(verifyMysqlNative(rec, scramble.subarray(0, 19), response), 'short scramble');
  t.notOk(verifyMysqlNative({ ...rec, disabled: true }, scramble, response), 'disabled');
});

t.test('caching_sha2_password fast and full paths', async (t) => {
  const token = generateToken();
  t.equal(cachingSha2Verifier(token), sha256(sha256(token)).toString('hex'));
  const rec = recordFor(token);
  const scramble = randomBytes(20);
  const clientResponse = (pw: string) => xor(sha256(pw), sha256(Buffer.concat([sha256(sha256(pw)), scramble])));
  t.ok(verifyCachingSha2Fast(rec, scramble, clientResponse(token)));
  t.ok(verifyCachingSha2Fast(rec, scramble, sha2Plugin.calculateToken(token, scramble)), 'mysql2 client hashing agrees');
  t.notOk(verifyCachingSha2Fast(rec, scramble, clientResponse('nope')));
  t.notOk(verifyCachingSha2Fast(rec, randomBytes(20), clientResponse(token)), 'bound to the scramble');
  t.notOk(verifyCachingSha2Fast(rec, scramble, clientResponse(token).subarray(0, 31)));
  t.notOk(verifyCachingSha2Fast({ ...rec, disabled: true }, scramble, clientResponse(token)));

  t.ok(verifyCachingSha2Plain(rec, token));
  t.ok(verifyCachingSha2Plain(rec, Buffer.from(`${token}\0`)), 'trailing NUL from the client is ignored');
  t.notOk(verifyCachingSha2Plain(rec, `${token}x`));
  t.notOk(verifyCachingSha2Plain(rec, ''));
  t.notOk(verifyCachingSha2Plain(rec, Buffer.from([0])));
  t.notOk(verifyCachingSha2Plain({ ...rec, disabled: true }, token));
});

t.test('safeEqual', async (t) => {
  t.ok(safeEqual(Buffer.from('ab'), Buffer.from('ab')));
  t.notOk(safeEqual(Buffer.from('ab'), Buffer.from('abc')));
  t.notOk(safeEqual(Buffer.from('ab'), Buffer.from('ac')));
});
