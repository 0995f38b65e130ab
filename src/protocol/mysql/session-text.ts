// What a MySQL session's text means beyond classification: the sql_mode and default database that change
// how later statements lex and resolve, USE / COM_INIT_DB checked against the resource, and KILL targets.

import type { ClassifyContext } from '../../classify/types.js';
import { SQL_MODE_DEFAULT, SQL_MODE_UNKNOWN, splitStatements, sqlModeOfTokens, type LexOptions, type Token } from '../../classify/mysql/lexer.js';
import { CHARSET_DEFAULT, CHARSET_UNKNOWN, characterSetOfTokens, isAsciiUnsafeCharset } from '../../classify/mysql/charset.js';
import type { ResourceSpec } from '../../policy/types.js';

export interface KillTarget {
  /** The connection id the client saw: airlock's. */
  readonly id: number;
  readonly what: 'QUERY' | 'CONNECTION';
}

export interface SchemaSwitch {
  readonly name: string;
  readonly allowed: boolean;
  /** Set when the statement named the resource and must name its database instead. */
  readonly rewritten?: string;
}

export class SessionText {
  private sqlMode: string | undefined;
  private charset: string | undefined;
  private database: string | undefined;

  constructor(
    private readonly initial: {
      sqlMode?: string; globalSqlMode?: string; charset?: string; globalCharset?: string;
      database?: string; server: 'mysql' | 'mariadb'; version?: string;
    },
  ) {
    this.sqlMode = initial.sqlMode;
    this.charset = initial.charset;
    this.database = initial.database;
  }

  /**
   * The default database is deliberately not passed: qualified names would stop matching policy globs
   * written unqualified (`users`), while unqualified names still match `*.users` rules (fail closed).
   */
  classifyContext(): ClassifyContext {
    const settings: Record<string, string> = {};
    if (this.sqlMode !== undefined) settings.sql_mode = this.sqlMode;
    // Only an unsafe character set goes in: every variation is a separate classifier cache entry.
    if (isAsciiUnsafeCharset(this.charset)) settings.character_set_client = this.charset!;
    return { server: this.initial.server, ...(Object.keys(settings).length > 0 ? { settings } : {}) };
  }

  /** The schema the session is in (after USE / COM_INIT_DB), for logs. */
  get currentDatabase(): string | undefined {
    return this.database;
  }

  private lexOptions(): LexOptions {
    return { sqlMode: this.sqlMode, server: this.initial.server, version: this.initial.version };
  }

  private split(sql: string): Token[][] | undefined {
    const r = splitStatements(sql, this.lexOptions());
    return r.ok ? r.statements.map((s) => s.tokens.filter((t) => !(t.type === 'op' && t.value === ';'))).filter((t) => t.length > 0) : undefined;
  }

  /** After a COM_RESET_CONNECTION or COM_CHANGE_USER the server forgets session settings. */
  reset(): void {
    this.sqlMode = this.initial.sqlMode;
    this.charset = this.initial.charset;
  }

  setDatabase(name: string): void {
    this.database = name;
  }

  /** Tracks SET sql_mode and USE in a statement string that was forwarded. */
  afterForward(sql: string): void {
    if (!/sql_mode|\buse\b|names|char/i.test(sql)) return;
    for (const tokens of this.split(sql) ?? []) {
      const charset = characterSetOfTokens(tokens);
      if (charset === CHARSET_DEFAULT) this.charset = this.initial.globalCharset ?? CHARSET_UNKNOWN;
      else if (charset !== undefined) this.charset = charset;
      const mode = sqlModeOfTokens(tokens);
      // DEFAULT is the global mode read at login (regression: every later statement was held as unparseable).
      if (mode === SQL_MODE_DEFAULT) this.sqlMode = this.initial.globalSqlMode ?? SQL_MODE_UNKNOWN;
      else if (mode !== undefined) this.sqlMode = mode;
      if (tokens.length === 2 && tokens[0]!.up === 'USE') this.database = tokens[1]!.value;
    }
  }

  /**
   * The schema the server should switch to when the client asks for `name`: the resource's database when
   * it names the resource itself, `name` when the resource allows it, else undefined.
   */
  resolveSchema(name: string, resource: ResourceSpec): string | undefined {
    if (name === resource.name) return resource.database;
    const allowed = resource.allowed_schemas ?? [resource.database];
    return allowed.includes(name) ? name : undefined;
  }

  /** A USE inside a COM_QUERY, checked like COM_INIT_DB; undefined when there is none. */
  schemaSwitch(sql: string, resource: ResourceSpec): SchemaSwitch | undefined {
    if (!/\buse\b/i.test(sql)) return undefined;
    const statements = this.split(sql);
    if (!statements) return undefined;
    const uses = statements.filter((t) => t[0]?.up === 'USE');
    if (uses.length === 0) return undefined;
    for (const t of uses) {
      const name = t.length === 2 && (t[1]!.type === 'word' || t[1]!.type === 'qident') ? t[1]!.value : undefined;
      if (name === undefined || !this.resolveSchema(name, resource)) return { name: name ?? '?', allowed: false };
    }
    if (statements.length === 1) {
      const name = uses[0]![1]!.value;
      const target = this.resolveSchema(name, resource)!;
      return { name, allowed: true, ...(target !== name ? { rewritten: `USE \`${target.replaceAll('`', '``')}\`` } : {}) };
    }
    // Several statements: a USE of the resource name cannot be rewritten in place without re-encoding.
    const named = uses.find((t) => t[1]!.value === resource.name && resource.name !== resource.database);
    return named ? { name: resource.name, allowed: false } : { name: uses[0]![1]!.value, allowed: true };
  }

  /** A KILL statement's target; 'invalid' for KILL forms airlock cannot translate; undefined when no KILL. */
  killTarget(sql: string): KillTarget | 'invalid' | undefined {
    if (!/\bkill\b/i.test(sql)) return undefined;
    const statements = this.split(sql);
    if (!statements) return undefined;
    const kills = statements.filter((t) => t[0]?.up === 'KILL');
    if (kills.length === 0) return undefined;
    if (statements.length > 1) return 'invalid';
    const t = kills[0]!;
    let i = 1;
    if (t[i]?.up === 'HARD' || t[i]?.up === 'SOFT') i++;
    let what: 'QUERY' | 'CONNECTION' = 'CONNECTION';
    if (t[i]?.up === 'QUERY' || t[i]?.up === 'CONNECTION') what = t[i++]!.up as 'QUERY' | 'CONNECTION';
    const n = t[i];
    if (!n || n.type !== 'number' || !/^\d+$/.test(n.value) || i + 1 !== t.length) return 'invalid';
    return { id: Number(n.value), what };
  }
}
