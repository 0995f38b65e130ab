// `airlock access list|revoke|request`: just-in-time access windows, through the admin API.

import type { Command } from 'commander';
import { apiClient, type ApiTargetOptions, type Env } from '../../approval/cli-target.js';
import { addApiOptions, emit, json, relative, runCommand, table, type CommandResult } from '../../approval/cli-output.js';

export interface AccessOptions extends ApiTargetOptions {
  readonly json?: boolean;
}

export async function accessList(opts: AccessOptions, env: Env = process.env): Promise<CommandResult> {
  return runCommand(async () => {
    const grants = await (await apiClient(opts, env)).listAccess();
    if (opts.json) return json(grants);
    if (grants.length === 0) return 'no active access windows\n';
    return table(
      ['ID', 'REQUESTER', 'RESOURCE', 'RULE', 'GRANTED', 'EXPIRES', 'REQUEST'],
      grants.map((g) => [g.id, g.requester, g.resource, g.rule, relative(g.granted_at), relative(g.expires_at), g.request_id ?? '']),
    );
  });
}

export async function accessRevoke(id: string, opts: AccessOptions, env: Env = process.env): Promise<CommandResult> {
  return runCommand(async () => {
    await (await apiClient(opts, env)).revokeAccess(id);
    return opts.json ? json({ revoked: id }) : `access window ${id} revoked\n`;
  });
}

export async function accessRequest(resource: string, opts: AccessOptions & { rule: string; duration?: string; reason: string }, env: Env = process.env): Promise<CommandResult> {
  return runCommand(async () => {
    const request = await (await apiClient(opts, env)).requestAccess({
      resource,
      rule: opts.rule,
      reason: opts.reason,
      ...(opts.duration ? { duration: opts.duration } : {}),
    });
    if (opts.json) return json(request);
    return `access request ${request.id} is pending: ${request.approval.min_approvals} approval(s) from ${request.approval.approvers.join(', ')} needed, expires ${relative(request.expires_at)}\n`;
  });
}


export function register(program: Command): void {
  const access = program.command('access').description('just-in-time access windows (uses the admin API)');
  addApiOptions(access.command('list').description('active access windows')).action(async (opts) => emit(await accessList(opts)));
  addApiOptions(access.command('revoke').argument('<id>').description('end an access window now')).action(async (id: string, opts) => emit(await accessRevoke(id, opts)));
  addApiOptions(access.command('request').argument('<resource>').description('ask ahead of time for a window on RESOURCE under a jit rule'))
    .requiredOption('--rule <name>', 'the jit rule to use')
    .option('--duration <d>', "window length, e.g. 30m (default and maximum: the rule's duration)")
    .requiredOption('--reason <text>', 'why (shown to approvers)')
    .action(async (resource: string, opts) => emit(await accessRequest(resource, opts)));
}
