// Rewrites SQL written for standard_conforming_strings=off so a parser fixed at "on" reads it the same way.

import { lexPg, TokenType } from './lexer.js';

export type Rewrite = { ok: true; sql: string } | { ok: false; reason: string };

/**
 * With scs=off the server reads every '...' with backslash escapes, exactly as it reads E'...'.
 * Prefixing each plain string with E gives the parser that meaning. Forms whose rewrite would not be
 * exact are refused (fail closed): U&'' (the server rejects it), N'' and multi-line continuations.
 */
export function rewriteForScsOff(sql: string): Rewrite {
  const lex = lexPg(sql, true);
  if (lex.error) return { ok: false, reason: lex.error };
  let out = '';
  let copied = 0;
  let previousWasString = false;
  for (const t of lex.tokens) {
    if (t.type === TokenType.Space || t.type === TokenType.Comment) continue;
    const text = sql.slice(t.start, t.end);
    if (t.type === TokenType.PrefixedString && /^[uUnN]/.test(text)) {
      return { ok: false, reason: 'U& or N string with standard_conforming_strings=off' };
    }
    if (t.type === TokenType.String) {
      // 'a'<newline>'b' continues one literal in the server's lexer; E'a' E'b' would not. Refuse it.
      if (previousWasString) return { ok: false, reason: 'string continuation with standard_conforming_strings=off' };
      const before = t.start > 0 ? sql[t.start - 1]! : ' ';
      out += sql.slice(copied, t.start) + (/[A-Za-z0-9_$\u0080-\uffff]/.test(before) ? ' E' : 'E');
      copied = t.start;
    }
    previousWasString = t.type === TokenType.String || t.type === TokenType.PrefixedString;
  }
  return { ok: true, sql: out + sql.slice(copied) };
}
