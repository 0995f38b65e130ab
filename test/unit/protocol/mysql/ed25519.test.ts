// MariaDB client_ed25519 tokens: standard Ed25519 signatures whose secret is the whole password.
import t from 'tap';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { ed25519PublicKey, ed25519Token } from '../../../../src/protocol/mysql/ed25519.js';
import { decodeAuthSwitchRequest } from '../../../../src/protocol/mysql/packets.js';

// RFC 8410 DER wrappers, so Node's own Ed25519 can check the signatures independently.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const publicKeyObject = (b64: string) => createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(b64, 'base64')]), format: 'der', type: 'spki' });

t.test('the public key is the one MariaDB stores for PASSWORD("secret")', async (t) => {
  // From MariaDB 10.11: CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('secret'), then
  // JSON_VALUE(Priv, '$.authentication_string') FROM mysql.global_priv.
  t.equal(ed25519PublicKey('secret'), 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY');
});

t.test('tokens verify as Ed25519 signatures of the nonce, for any password length', async (t) => {
  for (const password of ['secret', '', 'ü-ñ-€ long password with spaces and more than sixty-four bytes of text in it ......']) {
    const nonce = Buffer.alloc(32, 7);
    const token = ed25519Token(password, nonce);
    t.equal(token.length, 64, `${JSON.stringify(password)}: R and S`);
    t.ok(verify(null, nonce, publicKeyObject(ed25519PublicKey(password)), token), `${JSON.stringify(password)}: verifies`);
    t.notOk(verify(null, Buffer.alloc(32, 8), publicKeyObject(ed25519PublicKey(password)), token), 'not for another nonce');
  }
});

t.test('with a 32-byte password it is exactly RFC 8032 Ed25519 with that seed', async (t) => {
  const password = 'abcdefghijklmnopqrstuvwxyz012345';
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(password)]), format: 'der', type: 'pkcs8' });
  const nonce = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddee00', 'hex');
  t.same(ed25519Token(password, nonce), sign(null, nonce, key), 'byte for byte, deterministic');
});

t.test('a nonce ending in 0x00 keeps that byte through the AuthSwitchRequest', async (t) => {
  const nonce = Buffer.alloc(32, 0x41);
  nonce[31] = 0;
  const packet = Buffer.concat([Buffer.from([0xfe]), Buffer.from('client_ed25519\0'), nonce]);
  const sw = decodeAuthSwitchRequest(packet);
  t.equal(sw.plugin, 'client_ed25519');
  t.same(sw.raw, nonce, 'raw keeps all 32 bytes');
  t.equal(sw.data.length, 31, 'data drops the NUL the SHA plugins end their scramble with');
});
