// Cache key for MySQL text: plain integers replaced, only where no comment or escape could change the lexing.

import type { Normalised } from './cache.js';

const INTEGER = /^[0-9]{1,9}$/;

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9_$@.\u0080-\uffff]/.test(ch);
}

/**
 * MySQL lexing depends on sql_mode, server flavour and /*! *\/ executable comments, and the MySQL
 * classifier cannot report which literals it read. So this stays narrow: texts with any comment
 * opener, backslash or sql_mode/@@ reference are not normalised at all, strings and quoted names are
 * kept verbatim, and only stand-alone integers (no identifier character either side) become `0`.
 */
export function normaliseMysql(sql: string): Normalised | undefined {
  if (/\/\*|#|--|\\|sql_mode|@@/i.test(sql)) return undefined;
  let key = '';
  let copied = 0;
  let replaced = 0;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      // '' doubling is the only escape left once backslashes are excluded.
      let j = i + 1;
      for (;;) {
        if (j >= n) return undefined;
        if (sql[j] === ch) {
          if (sql[j + 1] === ch) { j += 2; continue; }
          break;
        }
        j++;
      }
      i = j + 1;
      continue;
    }
    if (/[0-9]/.test(ch) && !isWordChar(sql[i - 1])) {
      let j = i;
      while (j < n && /[0-9]/.test(sql[j]!)) j++;
      if (!isWordChar(sql[j]) && INTEGER.test(sql.slice(i, j))) {
        key += `${sql.slice(copied, i)}0`;
        copied = j;
        replaced++;
      }
      i = j;
      continue;
    }
    i++;
  }
  if (replaced === 0) return undefined;
  // Offsets are not used for MySQL: its classifier cannot confirm them, the cache trusts this normaliser.
  return { key: key + sql.slice(copied), literalOffsets: [] };
}
