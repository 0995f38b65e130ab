// canonicalJson against the `canonicalize` reference implementation and RFC 8785's own examples.

import fc from 'fast-check';
import canonicalize from 'canonicalize';
import t from 'tap';
import { canonicalJson } from '../../../src/audit/canonical.js';

t.test('RFC 8785 examples', async (t) => {
  // §3.2.2.3 number serialisation samples.
  t.equal(canonicalJson([1e30, 4.5, 0.002, 1e-27, -0, 333333333.3333333, 1e21, 1e20]), '[1e+30,4.5,0.002,1e-27,0,333333333.3333333,1e+21,100000000000000000000]');
  // §3.2.3 sorting by UTF-16 code units.
  const sorted = canonicalJson({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' });
  // Object.keys would reorder integer-like keys, so read the order off the text itself.
  const order = ['Carriage Return', 'One', 'Control', 'Latin Small', 'Euro Sign', 'Emoji', 'Hebrew'].map((name) => sorted.indexOf(name));
  t.same(order, [...order].sort((a, b) => a - b), `keys in UTF-16 order: ${sorted}`);
  t.ok(order.every((i) => i > 0));
});

t.test('refuses what has no canonical form', async (t) => {
  t.throws(() => canonicalJson({ a: NaN }), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
  t.throws(() => canonicalJson({ a: Infinity }), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
  t.throws(() => canonicalJson('\ud800x'), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
  t.throws(() => canonicalJson(undefined), { code: 'AIRLOCK_ERR_AUDIT_WRITE' });
  t.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
});

t.test('same bytes as the reference implementation on random JSON', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const ours = canonicalJson(v);
      const theirs = canonicalize(v);
      if (ours !== theirs) throw new Error(`differs for ${JSON.stringify(v)}: ${ours} vs ${theirs}`);
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 random values agree');
});

t.test('strings with every kind of code unit: escapes, controls, non-ASCII, surrogate pairs', async (t) => {
  for (const s of ['', 'plain', '"', '\\', '\u0000', '\n\r\t\b\f', '\u001f', '\u007f', 'é', '€', '😀', 'a"b\\c\u0001d', '\u2028\u2029']) {
    t.equal(canonicalJson({ [s]: s }), canonicalize({ [s]: s }), `code points ${[...s].map((c) => c.codePointAt(0)!.toString(16)).join(' ')}`);
  }
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
      if (!s.isWellFormed()) return;
      if (canonicalJson([s]) !== canonicalize([s])) throw new Error(`differs for ${JSON.stringify(s)}`);
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 random strings of any code units agree');
});

t.test('a sealed line is the canonical form of its record, hash included', async (t) => {
  const { sealRecordLine, serializeRecord, hasValidHash, EMPTY_HEAD } = await import('../../../src/audit/chain.js');
  fc.assert(
    fc.property(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue(), { maxKeys: 8 }), (payload) => {
      const { record, line } = sealRecordLine(EMPTY_HEAD, { chain_id: 'c', instance: 'i', type: 'statement.decided', ts: '2026-01-01T00:00:00.000Z' }, payload);
      if (line !== serializeRecord(record)) throw new Error(`line differs for ${JSON.stringify(payload)}`);
      if (!hasValidHash(record)) throw new Error('hash does not verify');
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 random payloads');
});
