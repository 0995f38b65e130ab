// The `airlock` command line: every command module registers itself here.

import { Command } from 'commander';
import { airlockVersion } from '../metrics/version.js';
import { register as registerStart } from './commands/start.js';
import { register as registerDemo } from './commands/demo.js';

export function buildProgram(): Command {
  const program = new Command('airlock')
    .description('Database access gateway: PostgreSQL and MySQL proxy with per-statement policy, approvals and a tamper-evident audit log')
    .version(airlockVersion())
    .showHelpAfterError()
    .enablePositionalOptions();
  for (const register of [registerStart, registerDemo]) register(program);
  return program;
}
