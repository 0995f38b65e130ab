// `airlock demo`: run airlock on its embedded default and print how to try it.

import path from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../../log.js';
import { demoInstructions, startDemo } from '../../demo/demo.js';
import { describeStartError } from './start.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run airlock in front of an embedded PGlite database with the example policy and demo users')
    .option('--dir <dir>', 'where the demo writes its config, users, policy and audit log', './airlock-demo')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'PostgreSQL listener port', '15432')
    .option('--admin-port <port>', 'admin API port', '9480')
    .option('--log-level <level>', 'log level', 'warn')
    .action(async (opts: { dir: string; host: string; port: string; adminPort: string; logLevel: string }) => {
      const log = createLogger({ level: opts.logLevel });
      let demo;
      try {
        demo = await startDemo({ dir: path.resolve(opts.dir), host: opts.host, pgPort: Number(opts.port), adminPort: Number(opts.adminPort), log });
      } catch (err) {
        process.stderr.write(`airlock demo: cannot start: ${describeStartError(err)}\n`);
        process.exit(1);
      }
      process.stdout.write(`${demoInstructions(demo)}\n`);
      const stop = () => {
        void demo.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
