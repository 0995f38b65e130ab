// Password literals inside SQL (CREATE ROLE ... PASSWORD '...', IDENTIFIED BY '...', SET PASSWORD = '...',
// connection strings with password=...): replaced before the text is written or shown to a channel.

/** A quoted SQL literal: '...' with '' or backslash escapes, or "..." (MySQL), or $tag$...$tag$ (PostgreSQL). */
function literal(tag: string): string {
  return String.raw`(?:[EeNn]?'(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*"|\$(?<${tag}>[A-Za-z_]*)\$[\s\S]*?\$\k<${tag}>\$)`;
}
const LITERAL = literal('tag');

const PATTERNS: readonly RegExp[] = [
  // PostgreSQL CREATE/ALTER ROLE|USER ... [ENCRYPTED] PASSWORD '...'; CREATE SERVER / USER MAPPING OPTIONS (password '...').
  new RegExp(String.raw`(\bPASSWORD\s+)${LITERAL}`, 'gi'),
  // MySQL IDENTIFIED [WITH plugin] BY [PASSWORD] '...' / AS '...'.
  new RegExp(String.raw`(\bIDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS)\s+(?:PASSWORD\s+)?)${LITERAL}`, 'gi'),
  // MySQL SET PASSWORD [FOR u] = '...' | PASSWORD('...'); MASTER_PASSWORD = '...', SOURCE_PASSWORD = '...'.
  new RegExp(String.raw`(\b(?:PASSWORD(?:\s+FOR\s+(?:${literal('user')}|[^\s=])+?)?|MASTER_PASSWORD|SOURCE_PASSWORD)\s*=\s*(?:PASSWORD\s*\(\s*)?)${LITERAL}`, 'gi'),
  // password=... inside a libpq connection string literal (dblink_connect, CREATE SUBSCRIPTION ... CONNECTION).
  /(\bpassword\s*=\s*)(?:'[^']*'|[^\s'"]+)/gi,
];

/** The SQL with every password literal replaced by '***'; `redacted` says whether anything was. */
export function redactSqlSecrets(sql: string): { readonly text: string; readonly redacted: boolean } {
  // Cheap test first: this runs for every audited statement.
  if (!/password|identified/i.test(sql)) return { text: sql, redacted: false };
  let text = sql;
  for (const re of PATTERNS) text = text.replace(re, (_m, keep: string) => `${keep}'***'`);
  return { text, redacted: text !== sql };
}
