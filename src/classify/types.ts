// The classification of a SQL string: the shape the corpus (test/fixtures/sql-corpus.jsonl) specifies.

export type Dialect = 'postgres' | 'mysql';

/** One statement the server would run. Field names are those of the corpus README. */
export interface StatementClass {
  /** Leading command words in upper case: SELECT, INSERT, CREATE, SET, ... (see corpus README "Kinds"). */
  kind: string;
  /** e.g. 'SET ROLE', 'SET GLOBAL', 'ALTER SYSTEM'. */
  subkind?: string;
  /** Running it can change state that outlives it (fail-closed cases included). */
  writes: boolean;
  /** Relations touched, named per the dialect's rules in the corpus README. */
  tables: string[];
  /** Kinds of statements that run or are defined inside this one (DML in a CTE, EXPLAIN ANALYZE target, DO body, ...). */
  nested_kinds?: string[];
  /** Functions called (lower case, schema-qualified when written so). */
  functions?: string[];
  /** Danger tags such as 'server-file-read', 'dos', 'lock', 'sensitive-read'. */
  tags?: string[];
}

/**
 * Tag of a statement whose tables cannot be known from its text (SQL built at run time, a table name
 * computed by an expression, a whole schema read): policy table matchers that restrict treat it as
 * touching every table.
 */
export const TABLES_UNKNOWN = 'tables-unknown';

/**
 * Tag of a statement whose statement kinds cannot be known from its text (EXECUTE of a statement
 * prepared in an earlier query or at protocol level, SQL built at run time): policy `commands`
 * matchers that restrict treat it as being every kind.
 */
export const KINDS_UNKNOWN = 'kinds-unknown';

export type Classification =
  | { unparseable?: undefined; statements: StatementClass[] }
  | { unparseable: true; reason: string };

export interface ClassifyContext {
  /** Server settings that change lexing: standard_conforming_strings (pg), sql_mode (mysql). */
  settings?: Readonly<Record<string, string>>;
  /** MySQL: the server flavour, since /*M! *\/ and 5-digit /*!NNNNN *\/ comments differ. */
  server?: 'mysql' | 'mariadb';
  /** MySQL: the current default database (USE), for qualifying names. Not applied to corpus expectations. */
  database?: string;
}

export interface Classifier {
  readonly dialect: Dialect;
  /** Never throws: anything it cannot be sure of is { unparseable: true }. */
  classify(sql: string, ctx?: ClassifyContext): Classification;
}
