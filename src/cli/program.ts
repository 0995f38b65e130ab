// The `airlock` command line: every command module registers itself here.

import { Command } from 'commander';
import { airlockVersion } from '../metrics/version.js';
import { register as registerStart } from './commands/start.js';
import { register as registerDemo } from './commands/demo.js';
import { register as registerConfig } from './commands/config.js';
import { register as registerPolicy } from './commands/policy.js';
import { register as registerUsers } from './commands/users.js';
import { register as registerClassify } from './commands/classify.js';
import { register as registerApprovals } from './commands/approvals.js';
import { register as registerAccess } from './commands/access.js';
import { register as registerAudit } from './commands/audit.js';

export function buildProgram(): Command {
  const program = new Command('airlock')
    .description('Database access gateway: PostgreSQL and MySQL proxy with per-statement policy, approvals and a tamper-evident audit log')
    .version(airlockVersion())
    .showHelpAfterError()
    .enablePositionalOptions();
  for (const register of [registerDemo, registerStart, registerConfig, registerPolicy, registerUsers, registerClassify, registerApprovals, registerAccess, registerAudit]) register(program);
  return program;
}
