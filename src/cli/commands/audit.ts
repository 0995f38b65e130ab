// `airlock audit verify | pubkey | report | tail`: the audit trail for operators and auditors.

import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { AirlockError } from '../../errors.js';
import { buildReport } from '../../audit/report.js';
import { renderReport, type ReportFormat } from '../../audit/report-render.js';
import { readPublicKeyPem } from '../../audit/signing.js';
import { tailAuditDir } from '../../audit/tail.js';
import { verifyAuditDir, verifyExitCode, type VerifyReport } from '../../audit/verify.js';

/** What a command produced; register() prints it, tests read it. */
export interface CommandOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** verify: intact; findings; could not read (also used for bad arguments). */
export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_UNREADABLE = 2;

interface DirOptions {
  /** Audit directory; default audit.dir of the config file. */
  readonly dir?: string;
  /** airlock.yaml; default ./airlock.yaml. */
  readonly config?: string;
}

function failure(err: unknown): CommandOutcome {
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EXIT_UNREADABLE, stdout: '', stderr: `${message}\n` };
}

function auditDir(opts: DirOptions): string {
  if (opts.dir) return opts.dir;
  const file = opts.config ?? './airlock.yaml';
  try {
    return loadConfig(file).audit.dir;
  } catch (err) {
    throw new AirlockError('AIRLOCK_ERR_CONFIG', `no audit directory given and ${file} could not be loaded: ${(err as Error).message}`, { cause: err });
  }
}

export function formatVerifyReport(report: VerifyReport): string {
  const lines = [`${report.records.valid}/${report.records.total} records valid, ${report.checkpoints.valid}/${report.checkpoints.total} checkpoints valid`];
  for (const f of report.findings) {
    const where = [f.seq !== undefined ? `seq ${f.seq}` : undefined, f.offset !== undefined ? `offset ${f.offset}` : undefined, f.segment].filter(Boolean).join(', ');
    lines.push(`${f.severity === 'info' ? 'info' : 'FINDING'} ${f.type} (${where}): ${f.message}`);
  }
  lines.push(report.intact ? 'audit trail intact' : 'audit trail has findings');
  return lines.join('\n') + '\n';
}

export async function auditVerify(opts: DirOptions & { pubkey?: string; json?: boolean }): Promise<CommandOutcome> {
  let report: VerifyReport;
  try {
    const pubkey = opts.pubkey ? await readPublicKeyPem(opts.pubkey) : undefined;
    report = verifyAuditDir(auditDir(opts), pubkey ? { pubkey } : {});
  } catch (err) {
    return failure(err);
  }
  const stdout = opts.json ? JSON.stringify(report, null, 2) + '\n' : formatVerifyReport(report);
  return { exitCode: verifyExitCode(report), stdout, stderr: '' };
}

export async function auditPubkey(opts: DirOptions & { key?: string }): Promise<CommandOutcome> {
  try {
    let keyFile = opts.key;
    if (!keyFile && opts.dir) keyFile = path.join(opts.dir, 'signing-key.pem');
    keyFile ??= loadConfig(opts.config ?? './airlock.yaml').audit.signing_key;
    return { exitCode: EXIT_OK, stdout: await readPublicKeyPem(keyFile), stderr: '' };
  } catch (err) {
    return failure(err);
  }
}

/** YYYY-MM-DD means that whole UTC day, so `--to 2026-03-31` includes the 31st; otherwise any ISO time. */
export function parseReportDate(text: string, end: boolean): Date {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const ms = Date.parse(dateOnly ? `${text}T00:00:00.000Z` : text);
  if (Number.isNaN(ms)) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', `not a date: "${text}" (use YYYY-MM-DD or an ISO 8601 time)`);
  return new Date(dateOnly && end ? ms + 86_400_000 : ms);
}

export async function auditReport(opts: DirOptions & { from: string; to: string; format?: string; out?: string }): Promise<CommandOutcome> {
  try {
    const format = (opts.format ?? 'md') as ReportFormat;
    if (!['md', 'csv', 'json'].includes(format)) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', `unknown format "${format}" (md, csv or json)`);
    const from = parseReportDate(opts.from, false);
    const to = parseReportDate(opts.to, true);
    if (to <= from) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', '--to must be after --from');
    const report = buildReport(auditDir(opts), { from, to });
    const text = renderReport(report, format);
    const warning = report.verification.intact ? '' : 'warning: the audit trail has verification findings; they are listed in the report\n';
    if (opts.out) {
      fs.writeFileSync(opts.out, text);
      return { exitCode: EXIT_OK, stdout: `wrote ${opts.out} (${report.requests.length} held requests)\n`, stderr: warning };
    }
    return { exitCode: EXIT_OK, stdout: text, stderr: warning };
  } catch (err) {
    return failure(err);
  }
}

export async function auditTail(opts: DirOptions & { follow?: boolean; lines?: number; write: (line: string) => void; signal?: AbortSignal; pollMs?: number }): Promise<CommandOutcome> {
  try {
    await tailAuditDir(auditDir(opts), opts);
    return { exitCode: EXIT_OK, stdout: '', stderr: '' };
  } catch (err) {
    return failure(err);
  }
}

function emit(command: Command, outcome: CommandOutcome): void {
  const out = command.configureOutput();
  if (outcome.stdout) (out.writeOut ?? ((s: string) => process.stdout.write(s)))(outcome.stdout);
  if (outcome.stderr) (out.writeErr ?? ((s: string) => process.stderr.write(s)))(outcome.stderr);
  process.exitCode = outcome.exitCode;
}

export function register(program: Command): void {
  const audit = program.command('audit').description('verify, report on and follow the hash-chained audit trail');
  const configOption = (): Option => new Option('-c, --config <file>', 'airlock.yaml that names audit.dir').default('./airlock.yaml');
  audit.command('verify [dir]')
    .description('check every record and checkpoint; exit 0 intact, 1 findings, 2 could not read')
    .addOption(configOption())
    .option('--pubkey <file>', 'trust only this Ed25519 public (or private) key for checkpoints')
    .option('--json', 'print the full report as JSON')
    .action(async (dir: string | undefined, o: { config: string; pubkey?: string; json?: boolean }, command: Command) => {
      emit(command, await auditVerify({ ...(dir ? { dir } : {}), ...o }));
    });
  audit.command('pubkey [dir]')
    .description('print the checkpoint public key (PEM) for verifiers')
    .addOption(configOption())
    .option('--key <file>', 'signing key file (default audit.signing_key)')
    .action(async (dir: string | undefined, o: { config: string; key?: string }, command: Command) => {
      emit(command, await auditPubkey({ ...(dir ? { dir } : {}), ...o }));
    });
  audit.command('report [dir]')
    .description('evidence for a period: held requests, approvals, break-glass, counts, verification, control mapping')
    .requiredOption('--from <date>', 'start, YYYY-MM-DD (UTC) or ISO 8601 time')
    .requiredOption('--to <date>', 'end; a YYYY-MM-DD includes that whole day')
    .addOption(new Option('--format <format>', 'output format').choices(['md', 'csv', 'json']).default('md'))
    .option('--out <file>', 'write to a file instead of stdout')
    .addOption(configOption())
    .action(async (dir: string | undefined, o: { config: string; from: string; to: string; format: string; out?: string }, command: Command) => {
      emit(command, await auditReport({ ...(dir ? { dir } : {}), ...o }));
    });
  audit.command('tail [dir]')
    .description('print recent records one per line; -f keeps following the live segment')
    .option('-f, --follow', 'keep printing new records (Ctrl-C to stop)')
    .option('-n, --lines <n>', 'existing records to print first', (v) => Number.parseInt(v, 10), 20)
    .addOption(configOption())
    .action(async (dir: string | undefined, o: { config: string; follow?: boolean; lines: number }, command: Command) => {
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      const outcome = await auditTail({
        ...(dir ? { dir } : {}), ...o, signal: controller.signal, write: (line) => process.stdout.write(line + '\n'),
      });
      process.off('SIGINT', stop);
      emit(command, outcome);
    });
}
