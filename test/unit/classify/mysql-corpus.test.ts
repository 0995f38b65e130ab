// Every MySQL line of the classification corpus, as a test: exact kinds, writes, tables, nested kinds, subkind.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { createMysqlClassifier } from '../../../src/classify/mysql/index.js';
import type { Classification, ClassifyContext } from '../../../src/classify/types.js';

interface ExpectedStatement {
  kind: string;
  writes: boolean;
  tables: string[];
  nested_kinds?: string[];
  subkind?: string;
}
type Expected = { unparseable: true } | { statements: ExpectedStatement[] };
interface Entry {
  id: string;
  dialect: string;
  sql: string;
  expect: Expected;
  expect_mariadb?: Expected;
  server?: 'mariadb';
  settings?: Record<string, string>;
}

const corpus = readFileSync(new URL('../../fixtures/sql-corpus.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Entry)
  .filter((e) => e.dialect === 'mysql');

/** The fields the corpus specifies, in a shape that compares exactly. */
function comparable(c: Classification | Expected): unknown {
  if ('unparseable' in c && c.unparseable) return { unparseable: true };
  return (c as { statements: ExpectedStatement[] }).statements.map((s) => ({
    kind: s.kind,
    subkind: s.subkind ?? null,
    writes: s.writes,
    tables: s.tables,
    nested_kinds: s.nested_kinds ?? [],
  }));
}

const classifier = createMysqlClassifier();

t.ok(corpus.length >= 130, 'the corpus has its MySQL entries');

for (const entry of corpus) {
  t.test(entry.id, async (t) => {
    const settings = entry.settings;
    const asMysql: ClassifyContext = { server: entry.server ?? 'mysql', settings };
    const got = classifier.classify(entry.sql, asMysql);
    t.same(comparable(got), comparable(entry.expect), `${entry.sql} (${asMysql.server})`);
    if (entry.expect_mariadb) {
      const onMariadb = classifier.classify(entry.sql, { server: 'mariadb', settings });
      t.same(comparable(onMariadb), comparable(entry.expect_mariadb), `${entry.sql} (mariadb)`);
    }
  });
}
