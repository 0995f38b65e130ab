// Finds the SQL statements in a PL/pgSQL body (DO, functions) without a PL/pgSQL parser: best effort, fail closed.

import { lexPg, TokenType, type Token } from './lexer.js';

export interface BodyStatement {
  sql: string;
  /** Kind to report if `sql` does not parse: the leading word. */
  leadingKind: string;
  /** Text built from EXECUTE's string: SELECT INTO there creates a table, unlike in PL/pgSQL proper. */
  dynamic: boolean;
}

export interface BodyStatements {
  statements: BodyStatement[];
  /** Some part could not be understood (dynamic SQL built at run time, unlexable text). */
  opaque: boolean;
}

const BLOCK_WORDS = new Set(['begin', 'else', 'loop', 'exception']);
const IGNORED_WORDS = new Set(['raise', 'null', 'exit', 'continue', 'get', 'assert', 'open', 'fetch', 'close', 'move', 'end']);

export function plpgsqlStatements(source: string, backslashStrings = false): BodyStatements {
  const lex = lexPg(source, backslashStrings);
  if (lex.error) return { statements: [], opaque: true };
  const out: BodyStatements = { statements: [], opaque: false };
  const state = { declaring: false };
  let piece: Token[] = [];
  for (const t of lex.tokens) {
    if (t.type === TokenType.Space || t.type === TokenType.Comment) continue;
    if (t.type === TokenType.Semicolon) {
      readPiece(piece, source, out, state);
      piece = [];
    } else {
      piece.push(t);
    }
  }
  readPiece(piece, source, out, state);
  return out;
}

function word(t: Token | undefined, source: string): string {
  return t && t.type === TokenType.Identifier ? source.slice(t.start, t.end).toLowerCase() : '';
}

function textOf(tokens: Token[], source: string): string {
  return tokens.length === 0 ? '' : source.slice(tokens[0]!.start, tokens[tokens.length - 1]!.end);
}

function indexOfWord(tokens: Token[], source: string, words: string[], from = 0): number {
  for (let i = from; i < tokens.length; i++) if (words.includes(word(tokens[i], source))) return i;
  return -1;
}

function pushExpression(tokens: Token[], source: string, out: BodyStatements): void {
  if (tokens.length > 0) out.statements.push({ sql: `SELECT ${textOf(tokens, source)}`, leadingKind: 'SELECT', dynamic: false });
}

/** One ';'-terminated piece: strips block structure, then keeps the statement or expression inside. */
function readPiece(tokens: Token[], source: string, out: BodyStatements, state: { declaring: boolean }): void {
  let rest = tokens;
  for (;;) {
    if (rest.length === 0) return;
    const first = word(rest[0], source);
    if (first === 'declare') {
      state.declaring = true;
      rest = rest.slice(1);
      continue;
    }
    if (state.declaring && first !== 'begin') {
      // name [CONSTANT] type [NOT NULL] [{DEFAULT | := | =} expr]: only the expression runs.
      const at = rest.findIndex((t) => word(t, source) === 'default' || (t.type === TokenType.Operator && [':=', '='].includes(source.slice(t.start, t.end))));
      if (at > 0) pushExpression(rest.slice(at + 1), source, out);
      return;
    }
    if (first === 'begin') state.declaring = false;
    const firstText = source.slice(rest[0]!.start, rest[0]!.end);
    if (firstText === '<<') {
      // <<label>>
      rest = rest.slice(3);
      continue;
    }
    if (first === 'end' || first === 'elsif' || first === 'if' || first === 'while' || first === 'when') {
      if (first === 'end') return;
      const then = indexOfWord(rest, source, ['then', 'loop']);
      if (then < 0) return;
      pushExpression(rest.slice(1, then), source, out);
      rest = rest.slice(then + 1);
      continue;
    }
    if (first === 'for' || first === 'foreach') {
      const inAt = indexOfWord(rest, source, ['in']);
      const loop = indexOfWord(rest, source, ['loop'], Math.max(inAt, 0));
      if (inAt < 0 || loop < 0) return;
      const query = rest.slice(inAt + 1, loop);
      if (['select', 'with', 'values', 'table'].includes(word(query[0], source))) {
        out.statements.push({ sql: textOf(query, source), leadingKind: 'SELECT', dynamic: false });
      } else if (word(query[0], source) === 'execute') {
        pushDynamic(query.slice(1), source, out);
      }
      rest = rest.slice(loop + 1);
      continue;
    }
    if (BLOCK_WORDS.has(first)) {
      rest = rest.slice(1);
      if (first === 'exception' && word(rest[0], source) !== 'when') return;
      continue;
    }
    break;
  }
  const first = word(rest[0], source);
  if (first === 'perform') return pushExpression(rest.slice(1), source, out);
  if (first === 'execute') return pushDynamic(rest.slice(1), source, out);
  if (first === 'return') {
    if (word(rest[1], source) === 'query') {
      if (word(rest[2], source) === 'execute') return pushDynamic(rest.slice(3), source, out);
      out.statements.push({ sql: textOf(rest.slice(2), source), leadingKind: 'SELECT', dynamic: false });
      return;
    }
    return pushExpression(rest.slice(1), source, out);
  }
  if (IGNORED_WORDS.has(first)) return;
  const assign = rest.findIndex((t) => t.type === TokenType.Operator && [':=', '='].includes(source.slice(t.start, t.end)));
  if (assign > 0 && assign <= 3 && !/^(update|insert|delete|merge|select|with)$/.test(first)) {
    return pushExpression(rest.slice(assign + 1), source, out);
  }
  if (rest[0]!.type !== TokenType.Identifier) {
    out.opaque = true;
    return;
  }
  out.statements.push({ sql: stripReturningInto(rest, source), leadingKind: first.toUpperCase(), dynamic: false });
}

/** `... RETURNING x INTO v` assigns variables in PL/pgSQL; the server's SQL grammar does not know it. */
function stripReturningInto(tokens: Token[], source: string): string {
  const returning = indexOfWord(tokens, source, ['returning']);
  const into = returning < 0 ? -1 : indexOfWord(tokens, source, ['into'], returning);
  return textOf(into < 0 ? tokens : tokens.slice(0, into), source);
}

/** EXECUTE 'DROP TABLE ' || 'users' [INTO ...] [USING ...]: folds constant concatenation, else opaque. */
function pushDynamic(tokens: Token[], source: string, out: BodyStatements): void {
  const end = indexOfWord(tokens, source, ['into', 'using']);
  const expr = end < 0 ? tokens : tokens.slice(0, end);
  let sql = '';
  for (let i = 0; i < expr.length; i++) {
    const t = expr[i]!;
    const text = source.slice(t.start, t.end);
    if (i % 2 === 1) {
      if (text !== '||') { out.opaque = true; return; }
      continue;
    }
    const value = literalValue(t, text);
    if (value === undefined) { out.opaque = true; return; }
    sql += value;
  }
  if (expr.length === 0 || expr.length % 2 === 0) { out.opaque = true; return; }
  const leading = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'EXECUTE';
  out.statements.push({ sql, leadingKind: leading, dynamic: true });
}

/** Value of a '...' or $$...$$ literal; undefined for anything whose value we would have to guess. */
function literalValue(t: Token, text: string): string | undefined {
  if (t.type === TokenType.String && !t.backslash) return text.slice(1, -1).replaceAll("''", "'");
  if (t.type === TokenType.Dollar) {
    const tag = text.slice(0, text.indexOf('$', 1) + 1);
    return text.slice(tag.length, text.length - tag.length);
  }
  return undefined;
}
