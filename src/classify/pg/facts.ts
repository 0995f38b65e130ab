// What a walk over one PostgreSQL statement has learnt, and the session state earlier statements leave behind.

import type { StatementClass } from '../types.js';
import type { SearchPath } from './names.js';

/** Side effects of selecting from a view created earlier in the same string. */
export interface ViewEffect {
  writes: boolean;
  nested: readonly string[];
  tags: readonly string[];
}

/** State carried from one statement to the next within one classified string. */
export interface Session {
  searchPath: SearchPath;
  /** PREPARE name → what EXECUTE name runs. */
  prepared: Map<string, StatementClass>;
  /** View name → what reading it runs. */
  views: Map<string, ViewEffect>;
  /** Function/procedure name → kinds its body runs. */
  routines: Map<string, readonly string[]>;
  /** Set once the result depends on the value of some constant: it may then only be cached by exact text. */
  constantsInspected: boolean;
  /** Depth of SQL-in-strings recursion, bounded so crafted nesting cannot exhaust the stack. */
  depth: number;
  /** standard_conforming_strings=off: SQL inside strings is lexed by the server with backslash escapes too. */
  backslashStrings: boolean;
}

export function newSession(backslashStrings = false): Session {
  return { searchPath: null, prepared: new Map(), views: new Map(), routines: new Map(), constantsInspected: false, depth: 0, backslashStrings };
}

/** Accumulates one statement's writes flag, tables, nested kinds, functions and tags, each in first-seen order. */
export class Facts {
  writes = false;
  readonly tables = new Set<string>();
  readonly nested = new Set<string>();
  readonly functions = new Set<string>();
  readonly tags = new Set<string>();

  /** Records a statement that runs inside this one. SELECT is left out: a read adds no kind a policy keys on. */
  addNested(kind: string): void {
    if (kind !== 'SELECT') this.nested.add(kind);
  }

  /** Takes in everything a statement that runs as part of this one does. */
  absorb(inner: StatementClass): void {
    this.addNested(inner.kind);
    for (const k of inner.nested_kinds ?? []) this.addNested(k);
    for (const t of inner.tables) this.tables.add(t);
    for (const t of inner.tags ?? []) this.tags.add(t);
    for (const fn of inner.functions ?? []) this.functions.add(fn);
    if (inner.writes) this.writes = true;
  }

  toStatement(kind: string, subkind?: string): StatementClass {
    const out: StatementClass = { kind, writes: this.writes, tables: [...this.tables] };
    if (subkind !== undefined) out.subkind = subkind;
    if (this.nested.size > 0) out.nested_kinds = [...this.nested];
    if (this.functions.size > 0) out.functions = [...this.functions];
    if (this.tags.size > 0) out.tags = [...this.tags];
    return out;
  }
}
