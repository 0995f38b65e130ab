// Runs `node bin/airlock start --config FILE` as a child process, for tests that signal or kill it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { DEFAULT_PEOPLE, examplePolicy, writeUsers, type TestPerson } from './airlock.js';
import { run, start, type Finished, type Running } from './processes.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = path.join(REPO, 'bin', 'airlock');
/**
 * tap wraps child_process.spawn and puts its loaders into every child's NODE_OPTIONS; the daemon
 * must run as an operator runs it, so env(1) drops them and then execs node (same pid, so signals reach it).
 */
function nodeCli(args: readonly string[]): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args]];
}

/** The child runs the compiled CLI: fail with what to do rather than with a confusing spawn error. */
export function requireBuild(): void {
  if (!fs.existsSync(path.join(REPO, 'dist', 'main.js'))) {
    throw new Error('dist/main.js is missing: run `npm run build` (npm test builds before tap runs)');
  }
}

export interface ConfigFiles {
  readonly dir: string;
  readonly configFile: string;
  readonly tokens: Record<string, string>;
}

/** Writes airlock.yaml, policy.yaml and users.yaml into a fresh temp dir. */
export function writeConfig(opts: { policy?: string; people?: readonly TestPerson[]; config?: Record<string, unknown>; dir?: string } = {}): ConfigFiles {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-proc-'));
  fs.writeFileSync(path.join(dir, 'policy.yaml'), opts.policy ?? examplePolicy());
  const tokens = writeUsers(path.join(dir, 'users.yaml'), opts.people ?? DEFAULT_PEOPLE);
  const config = {
    listen: { postgres: '127.0.0.1:0', admin: '127.0.0.1:0' },
    policy: './policy.yaml',
    users: './users.yaml',
    state: {},
    audit: { dir: './audit' },
    ...opts.config,
  };
  const configFile = path.join(dir, 'airlock.yaml');
  fs.writeFileSync(configFile, YAML.stringify(config));
  return { dir, configFile, tokens };
}

export interface AirlockProcess extends ConfigFiles {
  readonly proc: Running;
  readonly pgPort: number;
  readonly adminUrl: string;
  pgUrl(email: string, resource?: string): string;
  pgConfig(email: string, resource?: string): { host: string; port: number; user: string; password: string; database: string };
  /** JSON log lines printed so far (stdout is not a terminal, so pino writes JSON). */
  logLines(): Record<string, unknown>[];
  /** SIGTERM (if still running) and wait for the exit. */
  stop(): Promise<Finished>;
}

/** Starts the daemon and waits for its listener lines. */
export async function spawnAirlock(files: ConfigFiles, extraArgs: readonly string[] = [], opts: { fileSizeLimitKiB?: number } = {}): Promise<AirlockProcess> {
  requireBuild();
  let [cmd, args] = nodeCli(['start', '--config', files.configFile, ...extraArgs]);
  if (opts.fileSizeLimitKiB !== undefined) {
    // RLIMIT_FSIZE: writes past the limit fail with EFBIG (Node ignores SIGXFSZ), as on a full disk.
    [cmd, args] = ['/bin/sh', ['-c', `ulimit -f ${opts.fileSizeLimitKiB} && exec "$@"`, 'sh', cmd, ...args]];
  }
  const proc = start(cmd, args, { cwd: files.dir });
  const pgPort = Number((await proc.waitFor(/PostgreSQL listener on [\d.]+:(\d+)/))[1]);
  const adminPort = Number((await proc.waitFor(/on http:\/\/[\d.]+:(\d+)/))[1]);
  // The last start-up line: once it is out, the daemon has finished starting (tests read all of them).
  await proc.waitFor(/^airlock: instance \S+, audit log in /m);
  const { tokens } = files;
  let exited: Finished | undefined;
  void proc.done.then((f) => (exited = f));
  return {
    ...files,
    proc,
    pgPort,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    pgUrl: (email, resource = 'orders') => `postgresql://${encodeURIComponent(email)}:${encodeURIComponent(tokens[email]!)}@127.0.0.1:${pgPort}/${resource}?sslmode=disable`,
    pgConfig: (email, resource = 'orders') => ({ host: '127.0.0.1', port: pgPort, user: email, password: tokens[email]!, database: resource }),
    logLines: () =>
      proc
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: async () => {
      if (!exited) proc.child.kill('SIGTERM');
      return proc.done;
    },
  };
}

/** `airlock audit verify --config FILE` as the operator would run it. */
export function auditVerify(configFile: string): Promise<Finished> {
  requireBuild();
  return run(...nodeCli(['audit', 'verify', '--config', configFile]));
}

/** `airlock start` expected to fail: its exit and what it printed. */
export function startExpectingFailure(configFile: string, extraArgs: readonly string[] = []): Promise<Finished> {
  requireBuild();
  return run(...nodeCli(['start', '--config', configFile, ...extraArgs]));
}
