// The server side of MySQL authentication against users.yaml verifiers, driven by airlock's own client tokens.

import { generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { CACHING_SHA2, NATIVE, authenticateClient, cachingSha2Token, nativeToken, newScramble, rsaEncryptPassword, type AuthChannel } from '../../../../src/protocol/mysql/auth.js';
import { decodeAuthSwitchRequest } from '../../../../src/protocol/mysql/packets.js';
import { cachingSha2Verifier, mysqlNativeVerifier, scramVerifier } from '../../../../src/identity/verifiers.js';
import type { UserRecord } from '../../../../src/identity/types.js';

const TOKEN = 'alk_test-token-for-mysql-auth';
const user: UserRecord = {
  email: 'dev@corp.com',
  groups: ['dev'],
  scram: scramVerifier(TOKEN),
  mysql_native: mysqlNativeVerifier(TOKEN),
  caching_sha2: cachingSha2Verifier(TOKEN),
  created_at: '2026-01-01T00:00:00Z',
};
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa = { publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };

/** A scripted client: each reply is computed from what the server sent. */
function channel(tls: boolean, replies: ((sent: Buffer) => Buffer)[]): AuthChannel & { sent: Buffer[] } {
  const sent: Buffer[] = [];
  return {
    tls,
    sent,
    send: (p) => void sent.push(p),
    receive: async () => {
      const next = replies.shift();
      if (!next) throw new Error('client has nothing more to say');
      return next(sent[sent.length - 1]!);
    },
  };
}

t.test('mysql_native_password: right and wrong tokens', async (t) => {
  const scramble = newScramble();
  t.equal(scramble.length, 20);
  t.notOk(scramble.includes(0), 'no NUL in the scramble');
  const ok = await authenticateClient(channel(false, []), { user, scramble, plugin: NATIVE, response: nativeToken(TOKEN, scramble), rsa });
  t.ok(ok.ok);
  const bad = await authenticateClient(channel(false, []), { user, scramble, plugin: NATIVE, response: nativeToken('alk_wrong', scramble), rsa });
  t.notOk(bad.ok);
  const nobody = await authenticateClient(channel(false, []), { user: undefined, scramble, plugin: NATIVE, response: nativeToken(TOKEN, scramble), rsa });
  t.notOk(nobody.ok);
});

t.test('caching_sha2_password fast path answers 0x01 0x03', async (t) => {
  const scramble = newScramble();
  const ch = channel(false, []);
  const r = await authenticateClient(ch, { user, scramble, plugin: CACHING_SHA2, response: cachingSha2Token(TOKEN, scramble), rsa });
  t.ok(r.ok);
  t.same(ch.sent, [Buffer.from([1, 3])]);
});

t.test('caching_sha2_password full authentication with the RSA key (no TLS)', async (t) => {
  const scramble = newScramble();
  const ch = channel(false, [
    (sent) => {
      t.same(sent, Buffer.from([1, 4]), 'perform full authentication');
      return Buffer.from([2]);
    },
    (sent) => {
      t.equal(sent[0], 1);
      t.match(sent.subarray(1).toString(), /BEGIN PUBLIC KEY/);
      return rsaEncryptPassword(TOKEN, scramble, sent.subarray(1));
    },
  ]);
  const r = await authenticateClient(ch, { user, scramble, plugin: CACHING_SHA2, response: Buffer.alloc(32, 1), rsa });
  t.ok(r.ok, 'a stale fast-path token falls through to full authentication');
  const wrong = await authenticateClient(
    channel(false, [() => Buffer.from([2]), (sent) => rsaEncryptPassword('alk_wrong', scramble, sent.subarray(1))]),
    { user, scramble, plugin: CACHING_SHA2, response: Buffer.alloc(32, 1), rsa },
  );
  t.notOk(wrong.ok);
});

t.test('caching_sha2_password full authentication in clear text only over TLS', async (t) => {
  const scramble = newScramble();
  const tls = await authenticateClient(channel(true, [() => Buffer.from(`${TOKEN}\0`)]), { user, scramble, plugin: CACHING_SHA2, response: Buffer.alloc(0x20), rsa });
  t.ok(tls.ok);
  const plain = await authenticateClient(channel(false, [() => Buffer.from(`${TOKEN}\0`)]), { user, scramble, plugin: CACHING_SHA2, response: Buffer.alloc(0x20), rsa });
  t.notOk(plain.ok, 'a cleartext password without TLS is refused');
});

t.test('another plugin gets an AuthSwitchRequest to mysql_native_password', async (t) => {
  const scramble = newScramble();
  const ch = channel(false, [
    (sent) => {
      const sw = decodeAuthSwitchRequest(sent);
      t.equal(sw.plugin, NATIVE);
      t.same(sw.data, scramble);
      return nativeToken(TOKEN, sw.data);
    },
  ]);
  const r = await authenticateClient(ch, { user, scramble, plugin: 'client_ed25519', response: Buffer.alloc(0), rsa });
  t.ok(r.ok);
});

t.test('an empty first answer gets a switch to the same plugin (libmariadb --default-auth)', async (t) => {
  const scramble = newScramble();
  const ch = channel(false, [
    (sent) => {
      const sw = decodeAuthSwitchRequest(sent);
      t.equal(sw.plugin, CACHING_SHA2);
      return cachingSha2Token(TOKEN, sw.data);
    },
  ]);
  const r = await authenticateClient(ch, { user, scramble, plugin: CACHING_SHA2, response: Buffer.alloc(0), rsa });
  t.ok(r.ok);
});

t.test('a disabled user never authenticates', async (t) => {
  const scramble = newScramble();
  const r = await authenticateClient(channel(false, []), { user: { ...user, disabled: true }, scramble, plugin: NATIVE, response: nativeToken(TOKEN, scramble), rsa });
  t.notOk(r.ok);
});
