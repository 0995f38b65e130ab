// `airlock classify`: show how airlock classifies SQL, one string or a JSON-lines stream in the corpus shape.

import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { toCorpusShape } from '../../classify/format.js';
import { createClassifier, initClassifiers } from '../../classify/index.js';
import type { Classification, ClassifyContext, Dialect } from '../../classify/types.js';

export interface ClassifyOptions {
  dialect?: string;
  json?: boolean;
  jsonl?: boolean;
  setting?: string[];
  server?: string;
}

export interface ClassifyIo {
  input: Readable;
  output: Writable;
  errors: Writable;
}

/** Exit codes: 0 classified, 1 unparseable (single-SQL mode) or a bad input line (jsonl), 2 usage error. */
export async function runClassify(sql: string | undefined, options: ClassifyOptions, io: ClassifyIo): Promise<number> {
  const dialect = parseDialect(options.dialect ?? 'postgres');
  if (!dialect) {
    io.errors.write(`airlock classify: unknown dialect "${options.dialect}". Fix: use postgres or mysql\n`);
    return 2;
  }
  const settings = parseSettings(options.setting ?? []);
  if (!settings) {
    io.errors.write('airlock classify: --setting takes name=value, e.g. standard_conforming_strings=off\n');
    return 2;
  }
  await initClassifiers();
  if (options.jsonl) return runJsonLines(dialect, io);
  const text = sql ?? (await readAll(io.input));
  const ctx: ClassifyContext = {};
  if (Object.keys(settings).length > 0) ctx.settings = settings;
  if (options.server === 'mysql' || options.server === 'mariadb') ctx.server = options.server;
  const result = createClassifier(dialect).classify(text, ctx);
  io.output.write(options.json ? `${JSON.stringify(result)}\n` : describe(result));
  return result.unparseable ? 1 : 0;
}

function parseDialect(value: unknown): Dialect | undefined {
  return value === 'postgres' || value === 'mysql' ? value : undefined;
}

function parseSettings(pairs: string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

async function readAll(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** One `{"dialect", "sql", "settings"?, "server"?}` per line in; one corpus-shaped result per line out. */
async function runJsonLines(defaultDialect: Dialect, io: ClassifyIo): Promise<number> {
  let exitCode = 0;
  let lineNo = 0;
  const lines = createInterface({ input: io.input, crlfDelay: Infinity });
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    const request: { dialect?: unknown; sql?: unknown; settings?: unknown; server?: unknown } =
      typeof parsed === 'object' && parsed !== null ? parsed : {};
    const dialect = request.dialect === undefined ? defaultDialect : parseDialect(request.dialect);
    if (typeof request.sql !== 'string' || !dialect) {
      // Keep one output line per input line so results stay aligned with requests.
      io.output.write(`${JSON.stringify({ error: `line ${lineNo}: expected {"dialect": "postgres"|"mysql", "sql": "..."}` })}\n`);
      exitCode = 1;
      continue;
    }
    const ctx: ClassifyContext = {};
    if (isStringRecord(request.settings)) ctx.settings = request.settings;
    if (request.server === 'mysql' || request.server === 'mariadb') ctx.server = request.server;
    io.output.write(`${JSON.stringify(toCorpusShape(createClassifier(dialect).classify(request.sql, ctx)))}\n`);
  }
  return exitCode;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** Human-readable form: one block per statement. */
export function describe(result: Classification): string {
  if (result.unparseable) return `unparseable: ${result.reason}\n(airlock applies the policy's on_unparseable action)\n`;
  if (result.statements.length === 0) return 'no statements (nothing runs)\n';
  return result.statements.map((s, i) => {
    const lines = [`${i + 1}. ${s.kind}${s.subkind ? ` (${s.subkind})` : ''}`, `   writes: ${s.writes ? 'yes' : 'no'}`,
      `   tables: ${s.tables.length > 0 ? s.tables.join(', ') : '(none)'}`];
    if (s.nested_kinds?.length) lines.push(`   nested: ${s.nested_kinds.join(', ')}`);
    if (s.functions?.length) lines.push(`   functions: ${s.functions.join(', ')}`);
    if (s.tags?.length) lines.push(`   tags: ${s.tags.join(', ')}`);
    return `${lines.join('\n')}\n`;
  }).join('');
}

export function register(program: Command): void {
  program
    .command('classify')
    .description('show how airlock classifies SQL (kind, writes, tables, nested kinds); reads stdin when no SQL is given')
    .argument('[sql]', 'the SQL text')
    .option('-d, --dialect <dialect>', 'postgres or mysql', 'postgres')
    .option('--json', 'print the full classification as JSON')
    .option('--jsonl', 'read {"dialect","sql","settings"?,"server"?} lines on stdin, print one corpus-shaped result per line')
    .option('-s, --setting <name=value>', 'server setting, e.g. standard_conforming_strings=off (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--server <flavour>', 'mysql or mariadb')
    .action(async (sql: string | undefined, opts: ClassifyOptions) => {
      process.exitCode = await runClassify(sql, opts, { input: process.stdin, output: process.stdout, errors: process.stderr });
    });
}
