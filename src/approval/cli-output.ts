// How the approvals and access commands print: plain tables for people, JSON for machines, one clear line per error.

import type { Command } from 'commander';
import { AirlockError } from '../errors.js';
import { ApiError } from './api-client.js';
import { visible } from '../terminal-text.js';

/** What a command produced; commands return it so tests can run them in-process. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Cells are client-supplied text (emails, rule names, SQL): hidden characters are shown escaped. */
export function table(headers: readonly string[], rawRows: readonly (readonly string[])[]): string {
  const rows = rawRows.map((r) => r.map(visible));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** "in 4m", "3h ago": what a person scanning a list wants, not an epoch. */
export function relative(at: number, now = Date.now()): string {
  const diff = at - now;
  const abs = Math.abs(diff);
  const text = abs < 60_000 ? `${Math.round(abs / 1000)}s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)}m` : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)}h` : `${Math.round(abs / 86_400_000)}d`;
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

export function oneLine(text: string, max: number): string {
  const flat = visible(text.replace(/\s+/g, ' ').trim());
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    switch (err.status) {
      case 0:
        return err.message;
      case 401:
        return `authentication failed: ${err.message} (check AIRLOCK_USER or --user, and AIRLOCK_TOKEN)`;
      case 403:
        return `not allowed: ${err.message}`;
      case 404:
        return `not found: ${err.message}`;
      case 409:
        return `conflict: ${err.message}`;
      case 503:
        return `airlock cannot do this right now: ${err.message}`;
      default:
        return `${err.code}: ${err.message}`;
    }
  }
  if (err instanceof AirlockError) return err.message;
  return (err as Error)?.message ?? String(err);
}

/** Runs a command body; any failure becomes exit code 1 and one line on stderr. */
export async function runCommand(body: () => Promise<string>): Promise<CommandResult> {
  try {
    return { exitCode: 0, stdout: await body(), stderr: '' };
  } catch (err) {
    return { exitCode: 1, stdout: '', stderr: `airlock: ${describeError(err)}\n` };
  }
}

export function emit(result: CommandResult): void {
  if (result.stdout) process.stdout.write(result.stdout);
  if (result.stderr) process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The options every API-backed command takes. */
export function addApiOptions(cmd: Command): Command {
  return cmd
    .option('--admin <url>', 'admin API URL (default: AIRLOCK_ADMIN_URL, else listen.admin of --config)')
    .option('-c, --config <file>', 'airlock config file, read for listen.admin', './airlock.yaml')
    .option('--user <email>', 'your email (default: AIRLOCK_USER); the token comes from AIRLOCK_TOKEN')
    .option('--json', 'machine-readable output');
}
