// SET in all its MySQL/MariaDB forms: session and global variables, user variables, roles, passwords, SET STATEMENT.

import type { StatementClass } from '../types.js';
import type { Token } from './lexer.js';
import { Analysis, type Session } from './analysis.js';
import { Unparseable, isOp, isWord, scanQuery } from './query.js';

const GLOBAL_SCOPES = new Set(['GLOBAL', 'PERSIST', 'PERSIST_ONLY']);
const SCOPES = new Set([...GLOBAL_SCOPES, 'SESSION', 'LOCAL']);

export function classifySet(tokens: readonly Token[], session: Session): StatementClass {
  const a = new Analysis('SET', tokens, session);
  const second = tokens[1];
  if (isWord(second, 'PASSWORD')) return fixed(a, 'SET PASSWORD', true);
  if (isWord(second, 'DEFAULT') && isWord(tokens[2], 'ROLE')) return fixed(a, 'SET DEFAULT ROLE', true);
  if (isWord(second, 'ROLE')) return fixed(a, 'SET ROLE', false);
  // Binds other threads to a resource group.
  if (isWord(second, 'RESOURCE') && isWord(tokens[2], 'GROUP')) return fixed(a, undefined, true);
  if (isWord(second, 'STATEMENT')) return setStatement(tokens, session);
  const scope = second?.type === 'word' && SCOPES.has(second.up) ? second.up : undefined;
  if (isWord(tokens[scope ? 2 : 1], 'TRANSACTION')) {
    return scope && GLOBAL_SCOPES.has(scope) ? fixed(a, 'SET GLOBAL', true) : fixed(a, undefined, false);
  }
  let global = false;
  for (const [from, to] of assignments(a)) {
    const target = readTarget(tokens, from, to);
    global ||= target.global;
    const value = target.valueFrom;
    if (value >= to) throw new Unparseable('SET without a value');
    if (target.userVar !== undefined) session.userVars.set(target.userVar, fold(tokens, value, to, session));
    scanQuery(a.facts, value, to);
  }
  if (global) {
    a.subkind = 'SET GLOBAL';
    a.writes = true;
  }
  return a.result();
}

function fixed(a: Analysis, subkind: string | undefined, writes: boolean): StatementClass {
  if (a.tokens.length < 3 && subkind !== 'SET ROLE') throw new Unparseable('SET needs arguments');
  a.subkind = subkind;
  a.writes = writes;
  return a.result();
}

/** [from, to) token ranges of the comma-separated assignments after SET. */
function assignments(a: Analysis): [number, number][] {
  const out: [number, number][] = [];
  let start = 1;
  let depth = 0;
  a.tokens.forEach((t, i) => {
    if (i === 0 || t.type !== 'op') return;
    if (t.value === '(') depth++;
    else if (t.value === ')') depth--;
    else if (t.value === ',' && depth === 0) {
      out.push([start, i]);
      start = i + 1;
    }
  });
  out.push([start, a.tokens.length]);
  return out;
}

interface Target {
  global: boolean;
  userVar?: string;
  valueFrom: number;
}

/** `[scope] name = `, `@@[scope.]name = `, `@var = `, or NAMES/CHARACTER SET without '='. */
function readTarget(tokens: readonly Token[], from: number, to: number): Target {
  let j = from;
  let global = false;
  const t = tokens[j];
  if (!t) throw new Unparseable('empty SET assignment');
  if (isWord(t, 'NAMES', 'CHARSET') || (isWord(t, 'CHARACTER') && isWord(tokens[j + 1], 'SET'))) {
    return { global: false, valueFrom: j + (t.up === 'CHARACTER' ? 2 : 1) };
  }
  if (t.type === 'word' && SCOPES.has(t.up)) {
    global = GLOBAL_SCOPES.has(t.up);
    j++;
  }
  const name = tokens[j];
  let userVar: string | undefined;
  if (name?.type === 'sysvar') {
    const scope = name.value.split('.')[0]!.toUpperCase();
    if (name.value.includes('.') && GLOBAL_SCOPES.has(scope)) global = true;
    j++;
  } else if (name?.type === 'uservar') {
    userVar = name.value;
    j++;
  } else if (name && (name.type === 'word' || name.type === 'qident')) {
    j++;
    // Structured variables: keycache.key_buffer_size.
    while (isOp(tokens[j], '.') && tokens[j + 1]) j += 2;
  } else throw new Unparseable('SET target expected');
  if (j >= to || !(isOp(tokens[j], '=') || isOp(tokens[j], ':='))) throw new Unparseable('SET needs = value');
  return { global, userVar, valueFrom: j + 1 };
}

/** The constant a user variable gets, when the value is a literal, hex, known variable or CONCAT of those. */
function fold(tokens: readonly Token[], from: number, to: number, session: Session): string | undefined {
  const t = tokens[from];
  if (!t || from >= to) return undefined;
  if (to - from === 1) {
    if (t.type === 'string' || t.type === 'hex' || t.type === 'number') return t.value;
    if (t.type === 'uservar') return session.userVars.get(t.value);
    return undefined;
  }
  // Adjacent string literals concatenate: 'DROP ' 'TABLE users'.
  if (tokens.slice(from, to).every((x) => x.type === 'string')) return tokens.slice(from, to).map((x) => x.value).join('');
  if (to - from === 2 && t.type === 'word' && t.value.startsWith('_') && tokens[from + 1]!.type === 'string') return tokens[from + 1]!.value;
  if (isWord(t, 'CONCAT') && isOp(tokens[from + 1], '(') && isOp(tokens[to - 1], ')')) {
    const parts = splitArgs(tokens, from + 2, to - 1).map(([s, e]) => fold(tokens, s, e, session));
    return parts.some((p) => p === undefined) ? undefined : parts.join('');
  }
  return undefined;
}

function splitArgs(tokens: readonly Token[], from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  let start = from;
  let depth = 0;
  for (let i = from; i < to; i++) {
    if (isOp(tokens[i], '(')) depth++;
    else if (isOp(tokens[i], ')')) depth--;
    else if (isOp(tokens[i], ',') && depth === 0) {
      out.push([start, i]);
      start = i + 1;
    }
  }
  out.push([start, to]);
  return out;
}

/** MariaDB SET STATEMENT var = value [, ...] FOR statement: runs the statement with those settings. */
function setStatement(tokens: readonly Token[], session: Session): StatementClass {
  if (session.server !== 'mariadb') throw new Unparseable('SET STATEMENT is MariaDB syntax');
  let depth = 0;
  let forAt = -1;
  for (let i = 2; i < tokens.length; i++) {
    if (isOp(tokens[i], '(')) depth++;
    else if (isOp(tokens[i], ')')) depth--;
    else if (depth === 0 && isWord(tokens[i], 'FOR')) {
      forAt = i;
      break;
    }
  }
  if (forAt === -1 || forAt + 1 >= tokens.length) throw new Unparseable('SET STATEMENT needs FOR statement');
  const inner = session.classifyTokens(tokens.slice(forAt + 1));
  const out: StatementClass = { kind: 'SET', writes: inner.writes, tables: inner.tables, nested_kinds: [inner.kind, ...(inner.nested_kinds ?? [])] };
  if (inner.functions) out.functions = inner.functions;
  if (inner.tags) out.tags = inner.tags;
  return out;
}
