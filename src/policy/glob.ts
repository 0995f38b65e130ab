// Table globs for rules: `*` is any run of characters (dots included), `?` is one character.

/** Compiles a glob once; MySQL table names compare without case (lower_case_table_names may be 1 or 2). */
export function compileGlob(glob: string, caseInsensitive: boolean): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'si' : 's');
}
