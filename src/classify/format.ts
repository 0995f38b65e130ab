// The corpus shape of a classification: what `airlock classify --jsonl` prints and the corpus tests compare.

import type { Classification } from './types.js';

export interface CorpusStatement {
  kind: string;
  writes: boolean;
  tables: string[];
  nested_kinds?: string[];
  subkind?: string;
}

export type CorpusShape = { statements: CorpusStatement[] } | { unparseable: true };

/** Keeps only the corpus README's fields, omitting absent optional ones (functions, tags and reason are dropped). */
export function toCorpusShape(c: Classification): CorpusShape {
  if (c.unparseable) return { unparseable: true };
  return {
    statements: c.statements.map((s) => {
      const out: CorpusStatement = { kind: s.kind, writes: s.writes, tables: [...s.tables] };
      if (s.nested_kinds && s.nested_kinds.length > 0) out.nested_kinds = [...s.nested_kinds];
      if (s.subkind !== undefined) out.subkind = s.subkind;
      return out;
    }),
  };
}
