// `airlock classify`: JSON-lines mode reproduces the corpus shape; single-SQL mode prints and exits sensibly.

import { readFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { runClassify, type ClassifyOptions } from '../../../src/cli/commands/classify.js';

async function run(input: string, options: ClassifyOptions, sql?: string): Promise<{ code: number; out: string; err: string }> {
  const output = new PassThrough();
  const errors = new PassThrough();
  let out = '';
  let err = '';
  output.on('data', (c: Buffer) => { out += c.toString(); });
  errors.on('data', (c: Buffer) => { err += c.toString(); });
  const code = await runClassify(sql, options, { input: Readable.from([input]), output, errors });
  return { code, out, err };
}

t.test('jsonl: one corpus-shaped line per request, settings honoured', async (t) => {
  const requests = [
    { dialect: 'postgres', sql: 'WITH d AS (DELETE FROM users RETURNING *) SELECT count(*) FROM d' },
    { dialect: 'postgres', sql: "SELECT 'x\\''; DROP TABLE users; -- '", settings: { standard_conforming_strings: 'off' } },
    { dialect: 'postgres', sql: 'SELEC 1' },
    { dialect: 'postgres', sql: '-- nothing' },
    { dialect: 'postgres', sql: 'SET ROLE admin' },
  ];
  const { code, out } = await run(requests.map((r) => JSON.stringify(r)).join('\n') + '\n', { jsonl: true });
  t.equal(code, 0);
  t.same(out.trim().split('\n').map((l) => JSON.parse(l)), [
    { statements: [{ kind: 'SELECT', writes: true, tables: ['users'], nested_kinds: ['DELETE'] }] },
    { statements: [{ kind: 'SELECT', writes: false, tables: [] }, { kind: 'DROP', writes: true, tables: ['users'] }] },
    { unparseable: true },
    { statements: [] },
    { statements: [{ kind: 'SET', writes: false, tables: [], subkind: 'SET ROLE' }] },
  ]);
});

t.test('jsonl: every postgres corpus line reproduces its expectation', async (t) => {
  const lines = readFileSync(new URL('../../fixtures/sql-corpus.jsonl', import.meta.url), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const pgLines = lines.map((l) => JSON.parse(l) as { dialect: string; expect: unknown }).filter((l) => l.dialect === 'postgres');
  const { code, out } = await run(pgLines.map((l) => JSON.stringify(l)).join('\n'), { jsonl: true });
  t.equal(code, 0);
  const results = out.trim().split('\n').map((l) => JSON.parse(l) as { statements?: { tables: string[] }[] });
  t.equal(results.length, pgLines.length, 'one result per request');
  const sortTables = (v: unknown): unknown => {
    const s = v as { statements?: { tables: string[] }[] };
    return s.statements ? { statements: s.statements.map((x) => ({ ...x, tables: [...x.tables].sort() })) } : v;
  };
  let matching = 0;
  results.forEach((r, i) => { if (JSON.stringify(sortTables(r)) === JSON.stringify(sortTables(pgLines[i]!.expect))) matching++; });
  t.equal(matching, pgLines.length);
});

t.test('jsonl: a malformed line yields an error line and exit code 1, later lines still answered', async (t) => {
  const { code, out } = await run('not json\n{"sql": 5}\n{"dialect": "postgres", "sql": "SELECT 1"}\n', { jsonl: true });
  t.equal(code, 1);
  const parsed = out.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(parsed.length, 3);
  t.match(parsed[0], { error: /line 1/ });
  t.match(parsed[1], { error: /line 2/ });
  t.same(parsed[2], { statements: [{ kind: 'SELECT', writes: false, tables: [] }] });
});

t.test('single SQL: human-readable and --json', async (t) => {
  const human = await run('', {}, 'EXPLAIN ANALYZE DELETE FROM users');
  t.equal(human.code, 0);
  t.match(human.out, /1\. EXPLAIN\n {3}writes: yes\n {3}tables: users\n {3}nested: DELETE/);
  const json = await run('', { json: true }, "SELECT pg_read_file('/etc/passwd')");
  t.match(JSON.parse(json.out), { statements: [{ kind: 'SELECT', writes: false, tags: ['server-file-read'] }] });
  const bad = await run('', {}, 'SELEC 1');
  t.equal(bad.code, 1);
  t.match(bad.out, /unparseable/);
  const fromStdin = await run('TRUNCATE users', {});
  t.match(fromStdin.out, /TRUNCATE/);
  const scs = await run('', { setting: ['standard_conforming_strings=off'] }, "SELECT 'x\\''; DROP TABLE users; -- '");
  t.match(scs.out, /2\. DROP/);
});

t.test('usage errors', async (t) => {
  t.equal((await run('', { dialect: 'oracle' }, 'SELECT 1')).code, 2);
  t.equal((await run('', { setting: ['nonsense'] }, 'SELECT 1')).code, 2);
});
