// Runs real client programs (psql, pgbench, the airlock CLI) and collects what they print.

import { spawn, type ChildProcess } from 'node:child_process';

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the child's combined output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  done: Promise<Finished>;
}

export function start(cmd: string, args: readonly string[], opts: { env?: Record<string, string>; input?: string | Buffer; cwd?: string } = {}): Running {
  // tap's TypeScript loader hooks travel in NODE_OPTIONS; a child runs as a user would, without them.
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (key.startsWith('TAP')) delete env[key];
  const child = spawn(cmd, args, { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const watchers: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const w of [...watchers]) {
      const m = (out + err).match(w.pattern);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    check();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    check();
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const done = new Promise<Finished>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor: (pattern, timeoutMs = 20000) =>
      new Promise((resolve, reject) => {
        const m = (out + err).match(pattern);
        if (m) return resolve(m);
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}\n${err}`)), timeoutMs);
        watchers.push({
          pattern,
          resolve: (x) => {
            clearTimeout(timer);
            resolve(x);
          },
        });
        void done.then(() => {
          clearTimeout(timer);
          const again = (out + err).match(pattern);
          if (again) resolve(again);
          else reject(new Error(`process ended without printing ${pattern}:\n${out}\n${err}`));
        });
      }),
  };
}

export function run(cmd: string, args: readonly string[], opts: { env?: Record<string, string>; input?: string | Buffer; cwd?: string } = {}): Promise<Finished> {
  return start(cmd, args, opts).done;
}

/**
 * The built CLI entry. Tests run dist/main.js rather than bin/airlock: tap's process tracking
 * re-injects a CommonJS require hook into children, which cannot load the extensionless ESM bin.
 */
export const AIRLOCK_CLI = new URL('../../dist/main.js', import.meta.url).pathname;

export function airlockCli(args: readonly string[], opts: { env?: Record<string, string>; input?: string | Buffer; cwd?: string } = {}): Running {
  return start(process.execPath, [AIRLOCK_CLI, ...args], opts);
}
