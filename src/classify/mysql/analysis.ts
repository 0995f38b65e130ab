// The per-string session a MySQL classification runs in, and the result builder every statement handler fills.

import type { StatementClass } from '../types.js';
import type { Token } from './lexer.js';
import { QueryFacts, matchParens, type TableRef } from './query.js';

export interface Session {
  readonly server: 'mysql' | 'mariadb';
  /** Default database: from the context, then from USE earlier in the same string. */
  database: string | undefined;
  /** User variables with a value we could fold to a constant; undefined when the value is unknown. */
  readonly userVars: Map<string, string | undefined>;
  /** Prepared statements by lower-cased name; undefined when the text is unknown. */
  readonly prepared: Map<string, StatementClass | undefined>;
  /** HANDLER aliases (lower-cased) to the table they opened. */
  readonly handlers: Map<string, string>;
  /** Classifies the text of PREPARE/EXECUTE IMMEDIATE; throws Unparseable unless it is exactly one statement. */
  classifyNested(sql: string): StatementClass;
  /** Classifies a statement embedded in another one (MariaDB SET STATEMENT ... FOR stmt). */
  classifyTokens(tokens: readonly Token[]): StatementClass;
}

/** A table name per the corpus README: `db.table`, case kept, a part containing '.' back-quoted. */
export function formatTable(ref: TableRef, database: string | undefined): string {
  const part = (p: string): string => (p.includes('.') ? '`' + p.replaceAll('`', '``') + '`' : p);
  const schema = ref.schema ?? database;
  return schema === undefined ? part(ref.name) : `${part(schema)}.${part(ref.name)}`;
}

/** Accumulates one statement's classification. */
export class Analysis {
  readonly facts: QueryFacts;
  subkind: string | undefined;
  writes = false;
  nested: string[] = [];
  /** Plain EXPLAIN shows a plan without running the functions or locks it mentions. */
  ignoreFactWrites = false;
  private readonly extraTables: { name: string; index: number }[] = [];

  constructor(
    public kind: string,
    readonly tokens: readonly Token[],
    readonly session: Session,
  ) {
    this.facts = new QueryFacts(tokens, matchParens(tokens));
  }

  /** A table known by its formatted name (HANDLER aliases, PREPARE text), placed at token index. */
  addFormatted(name: string, index: number): void {
    this.extraTables.push({ name, index });
  }

  result(): StatementClass {
    const f = this.facts;
    const ordered = [
      ...f.tables.map((t) => ({ name: formatTable(t.ref, this.session.database), index: t.index })),
      ...this.extraTables,
    ].sort((a, b) => a.index - b.index);
    const tables: string[] = [];
    for (const t of ordered) if (!tables.includes(t.name)) tables.push(t.name);
    const writes = this.writes || (!this.ignoreFactWrites && (f.unknownFunction || f.forUpdate || f.fileWrite || f.sequenceWrite));
    const out: StatementClass = { kind: this.kind, writes, tables };
    if (this.subkind !== undefined) out.subkind = this.subkind;
    if (this.nested.length > 0) out.nested_kinds = [...new Set(this.nested)];
    if (f.functions.length > 0) out.functions = [...f.functions];
    if (f.tags.size > 0) out.tags = [...f.tags];
    return out;
  }
}
