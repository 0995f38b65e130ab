// PostgreSQL relation names written the corpus way: schema kept, catalog dropped, odd parts double-quoted.

/** Search-path state carried from earlier statements of the same string; null means the server default. */
export type SearchPath = readonly string[] | null;

/** A name part holding '.' or '"' is written double-quoted (with '"' doubled) so it cannot be misread as two parts. */
export function quotePart(part: string): string {
  return /[."]/.test(part) ? `"${part.replaceAll('"', '""')}"` : part;
}

/**
 * Name for a relation as the policy sees it. Parts arrive already folded, decoded and truncated by the parser.
 * An unqualified name is qualified by the schemas an earlier SET search_path made it resolve to.
 */
export function relationNames(schema: string | undefined, relname: string, searchPath: SearchPath): string[] {
  if (schema !== undefined && schema !== '') return [`${quotePart(schema)}.${quotePart(relname)}`];
  if (searchPath === null) return [quotePart(relname)];
  const names: string[] = [];
  for (const s of searchPath) {
    // "$user" depends on who runs it: keep the bare name so rules on it still match.
    names.push(s === '$user' ? quotePart(relname) : `${quotePart(s)}.${quotePart(relname)}`);
  }
  return names.length > 0 ? names : [quotePart(relname)];
}

/** Name from a list of String nodes (DROP TABLE a.b, COMMENT ON TABLE a.b): the last two parts count. */
export function namesFromParts(parts: string[], searchPath: SearchPath): string[] {
  if (parts.length === 0) return [];
  const relname = parts[parts.length - 1]!;
  const schema = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  return relationNames(schema, relname, searchPath);
}

const NAMEDATALEN_BYTES = 63;

/** Truncates to 63 bytes without splitting a UTF-8 character, as the server does. */
export function truncateIdentifier(name: string): string {
  if (Buffer.byteLength(name) <= NAMEDATALEN_BYTES) return name;
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    const len = Buffer.byteLength(ch);
    if (bytes + len > NAMEDATALEN_BYTES) break;
    out += ch;
    bytes += len;
  }
  return out;
}

/**
 * Splits a textual identifier list as the server does for search_path and regclass strings
 * (SplitIdentifierString): unquoted parts fold to lower case, quoted parts keep case, '""' is a quote.
 * Returns undefined when the text is not a well-formed list.
 */
export function splitIdentifierList(text: string, separator: ',' | '.'): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  const n = text.length;
  const skipSpace = (): void => { while (i < n && /\s/.test(text[i]!)) i++; };
  skipSpace();
  if (i >= n) return [];
  for (;;) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] === '"') { part += '"'; i += 2; continue; }
          i++;
          break;
        }
        part += text[i++];
      }
    } else {
      const start = i;
      while (i < n && text[i] !== separator && !/\s/.test(text[i]!) && text[i] !== '"') i++;
      if (i === start) return undefined;
      part = text.slice(start, i).toLowerCase();
    }
    parts.push(truncateIdentifier(part));
    skipSpace();
    if (i >= n) return parts;
    if (text[i] !== separator) return undefined;
    i++;
    skipSpace();
  }
}
