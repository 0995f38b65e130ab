// Walks a whole libpg-query tree: tables read or written, DML hidden in CTEs, and what called functions do.

import { KINDS_UNKNOWN, TABLES_UNKNOWN } from '../types.js';
import { classifyEmbedded } from './embedded.js';
import type { Facts, Session } from './facts.js';
import { functionEffect } from './functions.js';
import { relationNames, splitIdentifierList } from './names.js';

export type Json = Record<string, unknown>;

export interface WalkContext {
  session: Session;
  facts: Facts;
  /** CTE names visible here: an unqualified reference to one is not a table. */
  scope: ReadonlySet<string>;
  /** Inside a PL/pgSQL body, SELECT ... INTO fills variables instead of creating a table. */
  plpgsql?: boolean;
}

const DML_KINDS: Record<string, string> = {
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
};

// Fields whose content runs later, not as part of this statement (CREATE FUNCTION ... BEGIN ATOMIC).
const SKIPPED_FIELDS = new Set(['sql_body']);

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A wrapped node ({"SelectStmt": {...}}) as [type, body]; undefined for unwrapped structs and scalars. */
export function unwrap(v: unknown): [string, Json] | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const type = keys[0]!;
  const body = v[type];
  return /^[A-Z]/.test(type) && isObject(body) ? [type, body] : undefined;
}

/** Text of a string constant, looking through casts ('s'::regclass). Reading it makes the result literal-dependent. */
export function stringConstant(node: unknown, session: Session): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  const [type, body] = n;
  if (type === 'TypeCast') return stringConstant(body['arg'], session);
  let value: unknown;
  if (type === 'A_Const' && isObject(body['sval'])) value = body['sval']['sval'];
  else if (type === 'String') value = body['sval'];
  if (typeof value !== 'string') return undefined;
  session.constantsInspected = true;
  return value;
}

export function nameParts(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((item) => {
    const n = unwrap(item);
    return n && typeof n[1]['sval'] === 'string' ? n[1]['sval'] : '';
  });
}

export function walk(value: unknown, ctx: WalkContext): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, ctx);
    return;
  }
  if (!isObject(value)) return;
  const node = unwrap(value);
  if (node) walkNode(node[0], node[1], ctx);
  else walkStruct(value, ctx);
}

function walkNode(type: string, body: Json, ctx: WalkContext): void {
  switch (type) {
    case 'RangeVar':
      addRangeVar(body, ctx);
      return;
    case 'FuncCall':
      walkFuncCall(body, ctx);
      return;
    case 'ExecuteStmt': {
      // CREATE TABLE ... AS EXECUTE p runs p: take in what p does when it was prepared earlier in the string.
      const known = typeof body['name'] === 'string' ? ctx.session.prepared.get(body['name']) : undefined;
      if (known) ctx.facts.absorb(known);
      else {
        ctx.facts.writes = true;
        ctx.facts.tags.add(TABLES_UNKNOWN);
        ctx.facts.tags.add(KINDS_UNKNOWN);
      }
      break;
    }
    case 'A_Expr':
      // OPERATOR(myschema.===) resolves to a user function: fail closed like any unknown call.
      if (Array.isArray(body['name']) && body['name'].length > 1 && nameParts(body['name'])[0] !== 'pg_catalog') {
        ctx.facts.writes = true;
      }
      break;
  }
  const dml = DML_KINDS[type];
  if (dml) {
    ctx.facts.addNested(dml);
    ctx.facts.writes = true;
  }
  walkStruct(body, ctx);
}

/** Fields of a node (wrapped or not). Handles WITH scoping, row locks and SELECT INTO wherever they occur. */
export function walkStruct(obj: Json, ctx: WalkContext): void {
  if (typeof obj['relname'] === 'string') {
    addRangeVar(obj, ctx);
    return;
  }
  let inner = ctx;
  const withClause = obj['withClause'];
  if (isObject(withClause)) inner = walkWithClause(withClause, ctx);
  if (Array.isArray(obj['lockingClause']) && obj['lockingClause'].length > 0) {
    // FOR UPDATE/SHARE needs UPDATE privilege and writes tuple headers.
    ctx.facts.writes = true;
  }
  const into = obj['intoClause'];
  if (isObject(into) && !ctx.plpgsql) {
    ctx.facts.writes = true;
    ctx.facts.addNested('CREATE');
  }
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'withClause' || SKIPPED_FIELDS.has(key)) continue;
    if (key === 'intoClause' && ctx.plpgsql) continue;
    if (typeof value === 'object' && value !== null) walk(value, inner);
  }
}

/** Walks the CTE bodies and returns the context in which the statement's own body sees the CTE names. */
function walkWithClause(withClause: Json, ctx: WalkContext): WalkContext {
  const ctes = Array.isArray(withClause['ctes']) ? withClause['ctes'] : [];
  const names = ctes.map((c) => {
    const n = unwrap(c);
    return n && typeof n[1]['ctename'] === 'string' ? n[1]['ctename'] : '';
  });
  const all = new Set([...ctx.scope, ...names]);
  // Without RECURSIVE a CTE sees only the ones before it; a later name there is a real table.
  const visible = new Set(ctx.scope);
  ctes.forEach((cte, i) => {
    const n = unwrap(cte);
    const scope = withClause['recursive'] ? all : new Set(visible);
    if (n) walk(n[1]['ctequery'], { ...ctx, scope });
    visible.add(names[i]!);
  });
  return { ...ctx, scope: all };
}

function addRangeVar(rv: Json, ctx: WalkContext): void {
  const relname = typeof rv['relname'] === 'string' ? rv['relname'] : '';
  const schema = typeof rv['schemaname'] === 'string' && rv['schemaname'] !== '' ? rv['schemaname'] : undefined;
  if (schema === undefined && ctx.scope.has(relname)) return;
  for (const name of relationNames(schema, relname, ctx.session.searchPath)) ctx.facts.tables.add(name);
  const view = ctx.session.views.get(schema === undefined ? relname : `${schema}.${relname}`);
  if (view) {
    if (view.writes) ctx.facts.writes = true;
    for (const k of view.nested) ctx.facts.addNested(k);
    for (const t of view.tags) ctx.facts.tags.add(t);
  }
}

function walkFuncCall(fc: Json, ctx: WalkContext): void {
  const parts = nameParts(fc['funcname']);
  const args = Array.isArray(fc['args']) ? fc['args'] : [];
  const { facts, session } = ctx;
  facts.functions.add(parts.join('.'));
  const effect = functionEffect(parts);
  switch (effect.kind) {
    case 'pure':
      break;
    case 'tagged-read':
      facts.tags.add(effect.tag);
      // A server file can be a table's data file (pg_relation_filepath names it): any table may be read.
      if (effect.tag === 'server-file-read') facts.tags.add(TABLES_UNKNOWN);
      break;
    case 'sequence': {
      if (effect.writes) facts.writes = true;
      const text = stringConstant(args[0], session);
      const seq = text === undefined ? undefined : splitIdentifierList(text, '.');
      if (seq && seq.length > 0) {
        const [schema, relname] = seq.length >= 2 ? [seq[seq.length - 2], seq[seq.length - 1]!] : [undefined, seq[0]!];
        for (const name of relationNames(schema, relname, session.searchPath)) facts.tables.add(name);
      } else {
        facts.writes = true;
      }
      break;
    }
    case 'reads-named-table': {
      const text = stringConstant(args[0], session);
      const rel = text === undefined ? undefined : splitIdentifierList(text, '.');
      if (rel && rel.length > 0) {
        const [schema, relname] = rel.length >= 2 ? [rel[rel.length - 2], rel[rel.length - 1]!] : [undefined, rel[0]!];
        for (const name of relationNames(schema, relname, session.searchPath)) facts.tables.add(name);
      } else {
        facts.writes = true;
        facts.tags.add(TABLES_UNKNOWN);
      }
      break;
    }
    case 'reads-unnamed-tables':
      facts.tags.add(TABLES_UNKNOWN);
      break;
    case 'runs-local-sql':
      if (effect.argCount === undefined || args.length === effect.argCount) absorbEmbedded(stringConstant(args[effect.sqlArg], session), ctx, true);
      break;
    case 'runs-remote-sql':
      facts.writes = true;
      absorbEmbedded(stringConstant(args[effect.sqlArg(args.length)], session), ctx, false);
      break;
    case 'set-config':
      facts.writes = true;
      applySetConfig(args, session);
      break;
    case 'write':
      facts.writes = true;
      break;
  }
  const routine = session.routines.get(parts.join('.')) ?? session.routines.get(parts[parts.length - 1] ?? '');
  for (const k of routine ?? []) facts.addNested(k);
  for (const [key, value] of Object.entries(fc)) {
    if (key !== 'funcname' && typeof value === 'object' && value !== null) walk(value, ctx);
  }
}

/** SQL text the server runs on our behalf. Unknown text (not a constant, or unparseable) fails closed as a write. */
function absorbEmbedded(sql: string | undefined, ctx: WalkContext, local: boolean): void {
  const inner = sql === undefined ? undefined : classifyEmbedded(sql, ctx.session);
  if (inner === undefined) {
    ctx.facts.writes = true;
    ctx.facts.tags.add('dynamic-sql');
    ctx.facts.tags.add(TABLES_UNKNOWN);
    ctx.facts.tags.add(KINDS_UNKNOWN);
    return;
  }
  for (const stmt of inner) {
    if (local) {
      ctx.facts.absorb(stmt);
    } else {
      // Remote tables belong to another database: only what runs there matters here.
      ctx.facts.addNested(stmt.kind);
      for (const k of stmt.nested_kinds ?? []) ctx.facts.addNested(k);
    }
  }
}

/** set_config('search_path', '...', is_local) changes how later statements of the string resolve names. */
function applySetConfig(args: unknown[], session: Session): void {
  const name = stringConstant(args[0], session);
  if (name?.toLowerCase() !== 'search_path') return;
  const value = stringConstant(args[1], session);
  const path = value === undefined ? undefined : splitIdentifierList(value, ',');
  // An unreadable value leaves resolution unknown; keeping the old path would name the wrong tables.
  session.searchPath = path ?? ['?'];
}
