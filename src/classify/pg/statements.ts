// Classifies one top-level PostgreSQL statement node, including statements that run other statements.

import { KINDS_UNKNOWN, TABLES_UNKNOWN, type StatementClass } from '../types.js';
import { classifyEmbedded } from './embedded.js';
import { Facts, type Session } from './facts.js';
import { kindOf } from './kinds.js';
import { namesFromParts } from './names.js';
import { plpgsqlStatements } from './plpgsql.js';
import { isObject, nameParts, stringConstant, unwrap, walk, walkStruct, type Json, type WalkContext } from './walker.js';

export interface StatementOptions {
  /** The statement is a piece of a PL/pgSQL body. */
  plpgsql?: boolean;
  /** First command word of the statement text, for node types this module does not know. */
  leadingWord?: () => string;
}

// Object types whose names are relations, for statements that carry names as string lists.
const RELATION_OBJECTS = new Set([
  'OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE', 'OBJECT_INDEX',
]);

const KNOWN_KINDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'CREATE', 'ALTER', 'DROP', 'GRANT', 'REVOKE',
  'COPY', 'CALL', 'DO', 'SET', 'RESET', 'VACUUM', 'ANALYZE', 'CLUSTER', 'REINDEX', 'REFRESH', 'LOCK', 'NOTIFY', 'COMMENT',
  'COMMIT', 'ROLLBACK', 'IMPORT', 'REASSIGN', 'LOAD', 'CHECKPOINT', 'EXECUTE', 'PREPARE']);

/** parse_bool's false spellings, prefixes included ("of" and "off" but not "o"). Anything else counts as true. */
function isFalseWord(word: string): boolean {
  if (word === '0') return true;
  if (word.length >= 1 && ('false'.startsWith(word) || 'no'.startsWith(word))) return true;
  return word.length >= 2 && 'off'.startsWith(word);
}

export function walkStatement(type: string, body: Json, session: Session, options: StatementOptions = {}): StatementClass {
  const info = kindOf(type, body);
  const kind = info?.kind ?? (options.leadingWord?.() || 'UNKNOWN');
  const facts = new Facts();
  // An unknown statement type might do anything.
  facts.writes = info?.writes ?? true;
  const ctx: WalkContext = { session, facts, scope: new Set(), plpgsql: options.plpgsql };
  switch (type) {
    case 'ExplainStmt':
      walkExplain(body, ctx);
      break;
    case 'CopyStmt':
      // COPY FROM fills a table; COPY TO a file or program acts on the server. Only TO STDOUT just reads.
      if (body['is_from'] || body['is_program'] || typeof body['filename'] === 'string') facts.writes = true;
      walkStruct(body, ctx);
      break;
    case 'PrepareStmt': {
      const inner = innerStatement(body['query'], session, options);
      if (inner) {
        copyTablesAndKinds(inner, facts);
        if (typeof body['name'] === 'string') session.prepared.set(body['name'], inner);
      }
      break;
    }
    case 'ExecuteStmt': {
      const known = typeof body['name'] === 'string' ? session.prepared.get(body['name']) : undefined;
      if (known) {
        copyTablesAndKinds(known, facts);
        facts.writes = known.writes;
      } else {
        // Prepared by an earlier query or a protocol-level Parse: it may be anything (a DROP, a read of secrets).
        facts.tags.add(TABLES_UNKNOWN);
        facts.tags.add(KINDS_UNKNOWN);
      }
      walk(body['params'], ctx);
      break;
    }
    case 'DeallocateStmt':
      if (typeof body['name'] === 'string') session.prepared.delete(body['name']);
      else session.prepared.clear();
      break;
    case 'DoStmt':
      walkDo(body, ctx);
      break;
    case 'CreateFunctionStmt':
      recordRoutine(body, session);
      break;
    case 'ViewStmt':
      walkView(body, ctx);
      break;
    case 'VariableSetStmt':
      applySet(body, session);
      break;
    case 'DiscardStmt':
      if (body['target'] === 'DISCARD_ALL') {
        session.searchPath = null;
        session.prepared.clear();
      }
      break;
    case 'DropStmt':
      if (RELATION_OBJECTS.has(String(body['removeType'])) && Array.isArray(body['objects'])) {
        for (const obj of body['objects']) addNamedRelation(obj, facts, session, false);
      }
      break;
    case 'CommentStmt':
    case 'SecLabelStmt':
      if (RELATION_OBJECTS.has(String(body['objtype']))) addNamedRelation(body['object'], facts, session, false);
      else if (body['objtype'] === 'OBJECT_COLUMN') addNamedRelation(body['object'], facts, session, true);
      break;
    case 'CallStmt':
      walk({ FuncCall: body['funccall'] }, ctx);
      facts.writes = true;
      break;
    default:
      walkStruct(body, ctx);
  }
  return facts.toStatement(kind, info?.subkind);
}

function innerStatement(query: unknown, session: Session, options: StatementOptions): StatementClass | undefined {
  const node = unwrap(query);
  return node ? walkStatement(node[0], node[1], session, { plpgsql: options.plpgsql }) : undefined;
}

/** PREPARE and EXECUTE name the statement's tables and kinds; whether they write is decided apart. */
function copyTablesAndKinds(inner: StatementClass, facts: Facts): void {
  facts.addNested(inner.kind);
  for (const k of inner.nested_kinds ?? []) facts.addNested(k);
  for (const t of inner.tables) facts.tables.add(t);
}

function walkExplain(body: Json, ctx: WalkContext): void {
  const inner = innerStatement(body['query'], ctx.session, {});
  if (!inner) return;
  if (explainExecutes(body['options'], ctx.session)) {
    ctx.facts.absorb(inner);
  } else {
    // Plain EXPLAIN plans without running: the tables still tell the policy what is being looked at.
    for (const t of inner.tables) ctx.facts.tables.add(t);
  }
}

/** Whether EXPLAIN's options include ANALYZE with a true (or unreadable, so fail closed) value. */
function explainExecutes(options: unknown, session: Session): boolean {
  if (!Array.isArray(options)) return false;
  let analyze = false;
  for (const opt of options) {
    const n = unwrap(opt);
    if (!n || n[1]['defname'] !== 'analyze') continue;
    const arg = unwrap(n[1]['arg']);
    if (!arg) { analyze = true; continue; }
    session.constantsInspected = true;
    const [type, value] = arg;
    if (type === 'Boolean') analyze = value['boolval'] === true;
    else if (type === 'Integer') analyze = value['ival'] !== undefined && value['ival'] !== 0;
    else if (type === 'String' && typeof value['sval'] === 'string') {
      analyze = !isFalseWord(value['sval'].trim().toLowerCase());
    } else analyze = true;
  }
  return analyze;
}

function defElemArg(list: unknown, name: string): unknown {
  if (!Array.isArray(list)) return undefined;
  for (const item of list) {
    const n = unwrap(item);
    if (n && n[1]['defname'] === name) return n[1]['arg'];
  }
  return undefined;
}

/** DO always counts as a write; a PL/pgSQL body is read for the tables and kinds it names. */
function walkDo(body: Json, ctx: WalkContext): void {
  const { facts, session } = ctx;
  facts.writes = true;
  const language = stringConstant(defElemArg(body['args'], 'language'), session) ?? 'plpgsql';
  const source = stringConstant(defElemArg(body['args'], 'as'), session);
  if (source === undefined || language.toLowerCase() !== 'plpgsql') {
    facts.tags.add('code-exec');
    return;
  }
  for (const inner of classifyPlpgsql(source, session)) facts.absorb(inner);
}

/** Statements of a PL/pgSQL body; pieces that cannot be read leave a 'dynamic-sql' tag behind. */
function classifyPlpgsql(source: string, session: Session): StatementClass[] {
  const out: StatementClass[] = [];
  const pieces = plpgsqlStatements(source, session.backslashStrings);
  if (pieces.opaque) out.push({ kind: 'SELECT', writes: true, tables: [], tags: ['dynamic-sql', TABLES_UNKNOWN, KINDS_UNKNOWN] });
  for (const piece of pieces.statements) {
    const inner = classifyEmbedded(piece.sql, session, { plpgsql: !piece.dynamic });
    if (inner) out.push(...inner);
    // Unreadable piece: keep its kind only when the leading word is a real command word.
    else out.push({ kind: KNOWN_KINDS.has(piece.leadingKind) ? piece.leadingKind : 'SELECT', writes: true, tables: [], tags: ['dynamic-sql', TABLES_UNKNOWN, KINDS_UNKNOWN] });
  }
  return out;
}

/** CREATE FUNCTION/PROCEDURE: the body runs later, when it is called, so only its kinds are remembered. */
function recordRoutine(body: Json, session: Session): void {
  const name = nameParts(body['funcname']).join('.');
  const language = (stringConstant(defElemArg(body['options'], 'language'), session) ?? 'sql').toLowerCase();
  const as = defElemArg(body['options'], 'as');
  const asList = unwrap(as);
  const source = asList?.[0] === 'List' && Array.isArray(asList[1]['items']) ? stringConstant(asList[1]['items'][0], session) : undefined;
  if (source === undefined) return;
  let inner: StatementClass[] | undefined;
  if (language === 'sql') inner = classifyEmbedded(source, session);
  else if (language === 'plpgsql') inner = classifyPlpgsql(source, session);
  if (!inner) return;
  const kinds = new Facts();
  for (const stmt of inner) {
    kinds.addNested(stmt.kind);
    for (const k of stmt.nested_kinds ?? []) kinds.addNested(k);
  }
  session.routines.set(name, [...kinds.nested]);
}

/** CREATE VIEW: reading the view later runs its query, so remember whether that query has side effects. */
function walkView(body: Json, ctx: WalkContext): void {
  const view = body['view'];
  if (isObject(view)) walkStruct(view, ctx);
  const queryFacts = new Facts();
  walk(body['query'], { ...ctx, facts: queryFacts });
  for (const t of queryFacts.tables) ctx.facts.tables.add(t);
  if (isObject(view) && typeof view['relname'] === 'string') {
    const key = typeof view['schemaname'] === 'string' && view['schemaname'] !== '' ? `${view['schemaname']}.${view['relname']}` : view['relname'];
    ctx.session.views.set(key, { writes: queryFacts.writes, nested: [...queryFacts.nested], tags: [...queryFacts.tags] });
  }
}

/** SET search_path changes which table later unqualified names mean. */
function applySet(body: Json, session: Session): void {
  const kind = String(body['kind']);
  if (kind === 'VAR_RESET_ALL') {
    session.searchPath = null;
    return;
  }
  if (body['name'] !== 'search_path') return;
  if (kind === 'VAR_SET_VALUE' && Array.isArray(body['args'])) {
    const schemas = body['args'].map((a) => stringConstant(a, session));
    session.searchPath = schemas.every((s) => s !== undefined) ? (schemas as string[]) : ['?'];
  } else if (kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET') {
    session.searchPath = null;
  } else {
    session.searchPath = ['?'];
  }
}

/** A relation named by a list of String nodes; for a column the last part is the column. */
function addNamedRelation(list: unknown, facts: Facts, session: Session, dropLast: boolean): void {
  const n = unwrap(list);
  const items = n?.[0] === 'List' ? n[1]['items'] : undefined;
  const parts = nameParts(items);
  if (dropLast) parts.pop();
  for (const name of namesFromParts(parts, session.searchPath)) facts.tables.add(name);
}
