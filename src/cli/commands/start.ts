// `airlock start`: run the daemon from a config file, with a clear line per listener and a reason
// and fix for every start-up failure.

import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { Daemon } from '../../daemon.js';
import { AirlockError } from '../../errors.js';
import { createLogger } from '../../log.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('run the airlock daemon')
    .option('-c, --config <file>', 'runtime config file', './airlock.yaml')
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent (default: log.level of the config, else info)')
    .action(async (opts: { config: string; logLevel?: string }) => {
      let daemon: Daemon;
      try {
        const config = loadConfig(opts.config);
        const log = createLogger({ level: opts.logLevel ?? config.log.level });
        daemon = await Daemon.start({ config, log, handleSignals: true });
      } catch (err) {
        process.stderr.write(`airlock: cannot start: ${describeStartError(err)}\n`);
        process.exit(1);
      }
      const a = daemon.addresses;
      const out = process.stdout;
      if (a.postgres) out.write(`airlock: PostgreSQL listener on ${a.postgres.host}:${a.postgres.port}\n`);
      if (a.mysql) out.write(`airlock: MySQL listener on ${a.mysql.host}:${a.mysql.port}\n`);
      if (a.admin) out.write(`airlock: admin API, /healthz, /readyz and /metrics on http://${a.admin.host}:${a.admin.port}\n`);
      out.write(`airlock: instance ${daemon.config.instance_id}, audit log in ${daemon.config.audit.dir}, state ${daemon.config.state.redis ? 'redis' : 'in memory'}\n`);
    });
}

export function describeStartError(err: unknown): string {
  if (err instanceof AirlockError) return withFileFix(err.message);
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return `${e.message}. Fix: check the path in the config (or pass --config)`;
  if (e?.code === 'EACCES') return `${e.message}. Fix: give the airlock user access to that path`;
  return (err as Error)?.message ?? String(err);
}

/** File problems come as file:line: reason lines; a file that cannot be read at all also needs the fix. */
function withFileFix(message: string): string {
  if (/cannot read file: ENOENT/.test(message)) {
    return `${message}\nFix: create the file (users.yaml: airlock users add; policy: airlock policy check) or correct its path in the config`;
  }
  if (/cannot read file: EACCES/.test(message)) return `${message}\nFix: let the user airlock runs as read the file`;
  return message;
}
