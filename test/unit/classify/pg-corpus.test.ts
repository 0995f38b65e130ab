// Every PostgreSQL line of the shared corpus is one test of the PostgreSQL classifier.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { toCorpusShape, type CorpusShape } from '../../../src/classify/format.js';
import { createPgClassifier, initPgClassifier } from '../../../src/classify/pg/index.js';

interface CorpusLine {
  id: string;
  dialect: string;
  sql: string;
  expect: CorpusShape;
  settings?: Record<string, string>;
}

const corpus = readFileSync(new URL('../../fixtures/sql-corpus.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as CorpusLine)
  .filter((line) => line.dialect === 'postgres');

/** Tables are compared as sets (order is not part of the contract), everything else exactly. */
function comparable(shape: CorpusShape): unknown {
  if ('unparseable' in shape) return { unparseable: true };
  return {
    statements: shape.statements.map((s) => ({ ...s, tables: [...s.tables].sort() })),
  };
}

await initPgClassifier();
const classifier = createPgClassifier();

t.ok(corpus.length >= 150, `corpus has its PostgreSQL lines (${corpus.length})`);
for (const line of corpus) {
  t.test(line.id, async (t) => {
    const got = toCorpusShape(classifier.classify(line.sql, line.settings ? { settings: line.settings } : undefined));
    t.same(comparable(got), comparable(line.expect), line.sql);
  });
}
