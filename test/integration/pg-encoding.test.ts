// Regression (fresh-user report): in a client-only encoding (SJIS, GBK, BIG5...) the server reads a
// multi-byte character where airlock's UTF-8 reading sees a backslash, so a DELETE hid inside a
// "string" and ran without approval. Such sessions are classified as unparseable (fail closed).

import pg from 'pg';
import t from 'tap';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { run } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
const airlock = await startAirlock({ policy: examplePolicy().replace('on_unparseable: require_approval', 'on_unparseable: deny') });
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query('DROP TABLE IF EXISTS airlock_enc; CREATE TABLE airlock_enc (id int); INSERT INTO airlock_enc VALUES (5)');
const rows = async () => (await direct.query('SELECT count(*)::int AS n FROM airlock_enc')).rows[0].n as number;

// E'ぁ\' in UTF-8 bytes (e3 81 81 5c): in SJIS e3 81 and 81 5c are two characters and no backslash.
// psql -c sends the whole string as one Query message.
const sql = "SELECT E'ぁ\\'; DELETE FROM airlock_enc WHERE id=5; --'";

t.test('PGCLIENTENCODING=SJIS: the hidden DELETE does not run', async (t) => {
  const r = await run('psql', ['-X', '-c', sql, airlock.pgUrl('alice@corp.com')], { env: { PGCLIENTENCODING: 'SJIS' } });
  t.match(r.stderr, /could not be classified|client_encoding SJIS/, r.stderr);
  t.notMatch(r.stdout, /DELETE 1/);
  t.equal(await rows(), 1, 'the row is still there');
});

t.test('SET client_encoding mid-session: the same', async (t) => {
  const r = await run('psql', ['-X', '-c', "SET client_encoding = 'SJIS'", '-c', sql, airlock.pgUrl('alice@corp.com')]);
  t.match(r.stderr, /could not be classified|client_encoding SJIS/, r.stderr);
  t.notMatch(r.stdout, /DELETE 1/);
  t.equal(await rows(), 1);
});

t.test('UTF8 and LATIN1 sessions classify as before', async (t) => {
  const r = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 40 + 2', airlock.pgUrl('bob@corp.com')], { env: { PGCLIENTENCODING: 'LATIN1' } });
  t.equal(r.stdout.trim(), '42', r.stderr);
});
