// Which sql_mode a session is in, as far as it changes lexing, and how a SET statement changes it.

import type { Token } from './lexer.js';

/** sqlModeAssignment's answer when sql_mode is assigned something a lexer cannot evaluate. */
export const SQL_MODE_UNKNOWN = '\u0000unknown';
/** sqlModeOfTokens' answer for `SET sql_mode = DEFAULT` (or = @@GLOBAL.sql_mode): the server's global mode. */
export const SQL_MODE_DEFAULT = '\u0000default';

export interface Mode {
  ansiQuotes: boolean;
  noBackslashEscapes: boolean;
}

/** Modes that MySQL expands to a set including ANSI_QUOTES. */
const ANSI_QUOTES_MODES = new Set(['ANSI_QUOTES', 'ANSI', 'DB2', 'MAXDB', 'MSSQL', 'ORACLE', 'POSTGRESQL']);

/** Returns undefined when the mode changes the grammar beyond quoting (MariaDB ORACLE mode parses PL/SQL). */
export function parseSqlMode(sqlMode: string | undefined, server: 'mysql' | 'mariadb' = 'mysql'): Mode | undefined {
  // The global mode is known to the session (SessionText), not to the lexer.
  if (sqlMode === SQL_MODE_UNKNOWN || sqlMode === SQL_MODE_DEFAULT) return undefined;
  const parts = (sqlMode ?? '').toUpperCase().split(',').map((p) => p.trim());
  if (server === 'mariadb' && parts.includes('ORACLE')) return undefined;
  return {
    ansiQuotes: parts.some((p) => ANSI_QUOTES_MODES.has(p)),
    noBackslashEscapes: parts.includes('NO_BACKSLASH_ESCAPES'),
  };
}

const SESSION_SCOPES = new Set(['SESSION', 'LOCAL']);

/**
 * The sql_mode a SET statement gives this session, from its tokens: the literal value,
 * SQL_MODE_DEFAULT for DEFAULT or @@GLOBAL.sql_mode, SQL_MODE_UNKNOWN when assigned an expression
 * (@var, CONCAT...), or undefined.
 */
export function sqlModeOfTokens(tokens: readonly Token[]): string | undefined {
  if (tokens[0]?.up !== 'SET') return undefined;
  let result: string | undefined;
  let i = 1;
  while (i < tokens.length) {
    const t = tokens[i]!;
    let target = false;
    let j = i;
    if (t.type === 'word' && SESSION_SCOPES.has(t.up) && tokens[i + 1]?.up === 'SQL_MODE') {
      target = true;
      j = i + 2;
    } else if (t.type === 'word' && t.up === 'SQL_MODE') {
      target = true;
      j = i + 1;
    } else if (t.type === 'sysvar' && (t.value === 'sql_mode' || t.value === 'session.sql_mode' || t.value === 'local.sql_mode')) {
      target = true;
      j = i + 1;
    }
    if (target && (tokens[j]?.value === '=' || tokens[j]?.value === ':=')) {
      const v = tokens[j + 1];
      const after = tokens[j + 2];
      const single = after === undefined || after.value === ',';
      if (v && single && (v.type === 'string' || v.type === 'hex')) result = v.value;
      else if (v && single && ((v.type === 'word' && v.up === 'DEFAULT') || (v.type === 'sysvar' && v.value === 'global.sql_mode'))) result = SQL_MODE_DEFAULT;
      else result = SQL_MODE_UNKNOWN;
    }
    // Skip to the next top-level comma: one assignment each.
    let depth = 0;
    for (i = j; i < tokens.length; i++) {
      const v = tokens[i]!.value;
      if (tokens[i]!.type !== 'op') continue;
      if (v === '(') depth++;
      else if (v === ')') depth--;
      else if (v === ',' && depth === 0) break;
    }
    i++;
  }
  return result;
}

