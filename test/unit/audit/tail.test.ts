import t from 'tap';
import type { AuditRecord } from '../../../src/audit/chain.js';
import { formatRecord } from '../../../src/audit/tail.js';

const base = { v: 1, chain_id: 'c', seq: 7, ts: '2026-12-04T07:00:00.000Z', type: 'statement.decided', instance: 'i', prev_hash: 'p', hash: 'h' };
const line = (fields: Record<string, unknown>) => formatRecord({ ...base, ...fields } as unknown as AuditRecord);

t.equal(line({ decision: 'allow', sql: 'SELECT 1' }), '2026-12-04T07:00:00.000Z #7 statement.decided decision=allow sql="SELECT 1"');

// Regression: a space-free string with an escape sequence was printed bare, so the terminal ran it.
t.test('client text never reaches the terminal as control sequences', async (t) => {
  const out = line({ sql: 'DROP\x1b[2K\rSELECT', user: 'eve\u202emoc.proc@', note: 'a\x9bb' });
  t.notMatch(out, /[\r\x1b\u202e\x9b]/);
  t.match(out, 'sql="DROP\\u001b[2K\\rSELECT"');
  t.match(out, 'user="eve\\u202emoc.proc@"');
  t.match(out, 'note="a\\x9bb"');
});
