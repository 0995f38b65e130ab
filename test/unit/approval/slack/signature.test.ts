// Slack v0 signatures: the known-answer vector, freshness both ways, tampering, missing headers.

import t from 'tap';
import { computeSignature, verifySignature } from '../../../../src/approval/slack/signature.js';

const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const body = Buffer.from('token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c');
const ts = '1531420618';

t.test('matches the example from Slack\'s documentation', async (t) => {
  t.equal(computeSignature(secret, ts, body), 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503');
  t.same(verifySignature({ signingSecret: secret, timestamp: ts, signature: computeSignature(secret, ts, body), rawBody: body, nowSeconds: Number(ts) + 10 }), { ok: true });
});

t.test('refuses timestamps more than five minutes off, either way', async (t) => {
  const signature = computeSignature(secret, ts, body);
  const at = (now: number) => verifySignature({ signingSecret: secret, timestamp: ts, signature, rawBody: body, nowSeconds: now });
  t.same(at(Number(ts) + 301), { ok: false, reason: 'stale' });
  t.same(at(Number(ts) - 301), { ok: false, reason: 'stale' });
  t.same(at(Number(ts) + 300), { ok: true });
  t.same(verifySignature({ signingSecret: secret, timestamp: 'nope', signature, rawBody: body, nowSeconds: Number(ts) }), { ok: false, reason: 'stale' });
});

t.test('refuses a changed body, a wrong secret, a malformed signature', async (t) => {
  const signature = computeSignature(secret, ts, body);
  const now = Number(ts);
  t.same(verifySignature({ signingSecret: secret, timestamp: ts, signature, rawBody: Buffer.concat([body, Buffer.from('x')]), nowSeconds: now }), { ok: false, reason: 'bad_signature' });
  t.same(verifySignature({ signingSecret: 'other', timestamp: ts, signature, rawBody: body, nowSeconds: now }), { ok: false, reason: 'bad_signature' });
  t.same(verifySignature({ signingSecret: secret, timestamp: ts, signature: 'v0=abc', rawBody: body, nowSeconds: now }), { ok: false, reason: 'bad_signature' });
  // Signed for another timestamp: the timestamp is part of what is signed.
  t.same(verifySignature({ signingSecret: secret, timestamp: String(now + 1), signature, rawBody: body, nowSeconds: now }), { ok: false, reason: 'bad_signature' });
});

t.test('refuses missing headers and an empty secret', async (t) => {
  const signature = computeSignature(secret, ts, body);
  const now = Number(ts);
  t.same(verifySignature({ signingSecret: secret, timestamp: undefined, signature, rawBody: body, nowSeconds: now }), { ok: false, reason: 'missing' });
  t.same(verifySignature({ signingSecret: secret, timestamp: ts, signature: undefined, rawBody: body, nowSeconds: now }), { ok: false, reason: 'missing' });
  t.same(verifySignature({ signingSecret: '', timestamp: ts, signature, rawBody: body, nowSeconds: now }), { ok: false, reason: 'missing' });
});
