// `airlock approvals list|show|approve|deny|force`: deciding held requests from a terminal, through the admin API.

import type { Command } from 'commander';
import type { ApprovalRequest } from '../../approval/types.js';
import type { DecisionResult } from '../../approval/broker-types.js';
import { apiClient, type ApiTargetOptions, type Env } from '../../approval/cli-target.js';
import { visible, visibleBlock } from '../../terminal-text.js';
import { addApiOptions, emit, json, oneLine, relative, runCommand, table, type CommandResult } from '../../approval/cli-output.js';

export type { CommandResult } from '../../approval/cli-output.js';

export interface ApprovalsOptions extends ApiTargetOptions {
  readonly json?: boolean;
}

export async function approvalsList(opts: ApprovalsOptions & { breakGlass?: boolean; state?: string; all?: boolean }, env: Env = process.env): Promise<CommandResult> {
  return runCommand(async () => {
    const api = await apiClient(opts, env);
    // Default: what needs a decision now. --break-glass lists every forced approval, for review.
    const states = opts.all || opts.breakGlass ? (opts.state ? opts.state.split(',') : undefined) : (opts.state ?? 'pending').split(',');
    const requests = await api.listRequests({ ...(states ? { states } : {}), ...(opts.breakGlass ? { breakGlass: true } : {}) });
    if (opts.json) return json(requests);
    if (requests.length === 0) return opts.breakGlass ? 'no break-glass approvals\n' : states ? `no ${states.join('/')} requests\n` : 'no requests\n';
    if (opts.breakGlass) {
      return table(
        ['ID', 'FORCED BY', 'WHEN', 'REQUESTER', 'RESOURCE', 'RULE', 'REASON'],
        requests.map((r) => [r.id, r.break_glass?.by ?? '', relative(r.break_glass?.at ?? r.created_at), r.requester.email, r.resource, r.rule, oneLine(r.break_glass?.reason ?? '', 60)]),
      );
    }
    return table(
      ['ID', 'STATE', 'REQUESTER', 'RESOURCE', 'RULE', 'APPROVALS', 'EXPIRES', 'SQL'],
      requests.map((r) => [r.id, r.state, r.requester.email, r.resource, r.rule, `${r.approvals.length}/${r.approval.min_approvals}`, r.state === 'pending' ? relative(r.expires_at) : '-', r.sql ? oneLine(r.sql, 60) : '(access request)']),
    );
  });
}

export async function approvalsShow(id: string, opts: ApprovalsOptions, env: Env = process.env): Promise<CommandResult> {
  return runCommand(async () => {
    const request = await (await apiClient(opts, env)).getRequest(id);
    return opts.json ? json(request) : describeRequest(request);
  });
}

export async function approvalsApprove(id: string, opts: ApprovalsOptions, env: Env = process.env): Promise<CommandResult> {
  return runCommand(async () => decided(await (await apiClient(opts, env)).approve(id), opts));
}

export async function approvalsDeny(id: string, opts: ApprovalsOptions & { reason: string }, env: Env = process.env): Promise<CommandResult> {
  return runCommand(async () => decided(await (await apiClient(opts, env)).deny(id, opts.reason), opts));
}

export async function approvalsForce(id: string, opts: ApprovalsOptions & { reason: string }, env: Env = process.env): Promise<CommandResult> {
  return runCommand(async () => decided(await (await apiClient(opts, env)).force(id, opts.reason), opts));
}

function decided(result: DecisionResult, opts: ApprovalsOptions): string {
  if (opts.json) return json(result);
  const r = result.request;
  switch (result.outcome) {
    case 'vote_recorded':
      // Enough people but not one from every group reads as "2 of 2 ... still pending": say what is missing.
      return `request ${r.id}: approval recorded (${r.approvals.length} of ${r.approval.min_approvals} people${r.approval.all_groups_must_approve ? `; it also needs one approver from each of ${r.approval.approvers.join(', ')}` : ''}); still pending\n`;
    case 'approved':
      if (!r.sql) return `request ${r.id}: approved; access granted\n`;
      if (r.approval?.mode === 'jit') return `request ${r.id}: approved; the requester's access window is open\n`;
      if (r.approval?.hold === 'retry') return `request ${r.id}: approved; it runs when the requester re-sends the statement\n`;
      return `request ${r.id}: approved; the statement runs now\n`;
    case 'denied':
      return `request ${r.id}: denied (${visible(r.final_reason ?? '')})\n`;
    case 'forced':
      return `request ${r.id}: force-approved (break-glass, flagged for review)\n`;
  }
}

export function describeRequest(r: ApprovalRequest): string {
  const lines = [
    `request    ${visible(r.id)}`,
    `state      ${r.state}${r.break_glass ? ' (break-glass)' : ''}`,
    `requester  ${visible(r.requester.email)} (${visible(r.requester.groups.join(', ')) || 'no groups'})`,
    `resource   ${visible(r.resource)} (${r.protocol})`,
    `rule       ${visible(r.rule)} — ${r.approval.mode}${r.approval.mode === 'jit' && r.approval.jit_duration_ms ? ` for ${Math.round(r.approval.jit_duration_ms / 60_000)}m` : ''}`,
    `needs      ${r.approval.min_approvals} of ${r.approval.approvers.join(', ')}${r.approval.all_groups_must_approve ? ' (one from each group)' : ''}; force: ${r.approval.force_approvers.join(', ') || 'nobody'}`,
    `created    ${new Date(r.created_at).toISOString()}`,
    `expires    ${new Date(r.expires_at).toISOString()} (${relative(r.expires_at)})`,
  ];
  if (r.kinds.length) lines.push(`kinds      ${visible(r.kinds.join(', '))}`);
  if (r.tables.length) lines.push(`tables     ${visible(r.tables.join(', '))}`);
  // The SQL as the server will receive it: control characters are shown, never interpreted.
  if (r.sql) lines.push(`sql        ${visibleBlock(r.sql, ' '.repeat(11))}`);
  if (r.params.length) lines.push(`params     ${visible(r.params.map((p) => (p === null ? 'NULL' : JSON.stringify(p))).join(', '))}`);
  for (const v of r.approvals) lines.push(`approved   ${visible(v.by)} via ${v.via} at ${new Date(v.at).toISOString()}`);
  if (r.denial) lines.push(`denied     ${visible(r.denial.by)}: ${visible(r.denial.reason ?? '')}`);
  if (r.break_glass) lines.push(`forced     ${visible(r.break_glass.by)}: ${visible(r.break_glass.reason ?? '')}`);
  return lines.join('\n') + '\n';
}


export function register(program: Command): void {
  const approvals = program.command('approvals').description('list and decide held requests (uses the admin API)');
  addApiOptions(approvals.command('list').description('pending requests (or --all, --state, --break-glass)'))
    .option('--state <states>', 'comma-separated states, e.g. pending,approved')
    .option('--all', 'requests in every state')
    .option('--break-glass', 'every break-glass (force) approval, for review')
    .action(async (opts) => emit(await approvalsList(opts)));
  addApiOptions(approvals.command('show').argument('<id>').description('one request in full: SQL, parameters, votes'))
    .action(async (id: string, opts) => emit(await approvalsShow(id, opts)));
  addApiOptions(approvals.command('approve').argument('<id>').description('approve as yourself (never your own request)'))
    .action(async (id: string, opts) => emit(await approvalsApprove(id, opts)));
  addApiOptions(approvals.command('deny').argument('<id>').description('deny; the reason is shown to the requester'))
    .requiredOption('--reason <text>', 'why (shown to the requester)')
    .action(async (id: string, opts) => emit(await approvalsDeny(id, opts)));
  addApiOptions(approvals.command('force').argument('<id>').description('break-glass: approve alone (force approvers only), flagged for review'))
    .requiredOption('--reason <text>', 'why this could not wait (kept in the audit log)')
    .action(async (id: string, opts) => emit(await approvalsForce(id, opts)));
}
