// `airlock config check`: validate airlock.yaml and the policy and users files it names, before a start or reload.
import type { Command } from 'commander';
import type { Config } from '../../config/types.js';
import { loadConfig } from '../../config/load.js';
import { AirlockError } from '../../errors.js';
import { loadPolicy } from '../../policy/load.js';
import { loadUsers } from '../../identity/users-file.js';
import type { Policy } from '../../policy/types.js';
import type { UserRecord } from '../../identity/types.js';

/** What a CLI command produced; register() prints it, tests read it. */
export interface CommandOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Prints an outcome through the command's output settings (so tests can capture it) and sets the exit code. */
export function emit(command: Command, outcome: CommandOutcome): void {
  const out = command.configureOutput();
  if (outcome.stdout) (out.writeOut ?? ((s: string) => process.stdout.write(s)))(outcome.stdout);
  if (outcome.stderr) (out.writeErr ?? ((s: string) => process.stderr.write(s)))(outcome.stderr);
  process.exitCode = outcome.exitCode;
}

/** Error text for the operator: AirlockErrors already carry file:line:col lines; anything else gets the file name. */
export function describeError(file: string, err: unknown): string {
  if (err instanceof AirlockError) return err.message;
  return `${file}: ${(err as Error)?.message ?? String(err)}`;
}

/** Checks the config and, when it loads, the policy (against its max_timeout) and users files it points at. */
export async function configCheck(file = './airlock.yaml', env: NodeJS.ProcessEnv = process.env): Promise<CommandOutcome> {
  let config: Config;
  try {
    config = loadConfig(file, env);
  } catch (err) {
    return { exitCode: 1, stdout: '', stderr: `${describeError(file, err)}\n` };
  }
  const out: string[] = [`OK: ${file} (${summarizeConfig(config)})`];
  const errors: string[] = [];
  let policy: Policy | undefined;
  let users: readonly UserRecord[] | undefined;
  try {
    policy = loadPolicy(config.policy, { maxTimeoutMs: config.approvals.max_timeout_ms, env });
    out.push(`OK: ${config.policy} (${policy.resources.size} resources, ${policy.rules.length} rules)`);
  } catch (err) {
    errors.push(describeError(config.policy, err));
  }
  try {
    const all = loadUsers(config.users).all();
    users = all;
    out.push(`OK: ${config.users} (${all.length} users)`);
  } catch (err) {
    errors.push(describeError(config.users, err));
  }
  const warnings = policy && users ? emptyGroupWarnings(policy, users) : [];
  return {
    exitCode: errors.length ? 1 : 0,
    stdout: `${out.join('\n')}\n`,
    stderr: [...warnings, ...errors].map((l) => `${l}\n`).join(''),
  };
}

/**
 * Groups the policy names that nobody in users.yaml is in: a typo in `requesters` silently switches a
 * rule off, and approver groups without members make requests impossible to approve. Warnings, not
 * errors: people may be added after the policy.
 */
export function emptyGroupWarnings(policy: Policy, users: readonly UserRecord[]): string[] {
  const members = new Set(users.filter((u) => !u.disabled).flatMap((u) => u.groups));
  const usesByGroup = new Map<string, string[]>();
  const note = (use: string, groups: readonly string[] | undefined) => {
    for (const g of groups ?? []) if (!members.has(g)) usesByGroup.set(g, [...(usesByGroup.get(g) ?? []), use]);
  };
  for (const rule of policy.rules) {
    const where = `"${rule.name}"${rule.line !== undefined ? ` (line ${rule.line})` : ''}`;
    note(`requesters of ${where}`, rule.requesters);
    note(`approvers of ${where}`, rule.approval?.approvers);
    note(`force_approvers of ${where}`, rule.approval?.force_approvers);
  }
  if (policy.defaults.action === 'require_approval' || policy.defaults.on_unparseable === 'require_approval') {
    note('defaults.approval', policy.defaults.approval.approvers);
  }
  return [...usesByGroup].map(([g, uses]) => `warning: ${policy.file}: group "${g}" has no members in users.yaml (${[...new Set(uses)].join('; ')})`);
}

function summarizeConfig(c: Config): string {
  const listeners = (['postgres', 'mysql', 'admin'] as const)
    .filter((k) => c.listen[k])
    .map((k) => `${k} ${c.listen[k]!.host.includes(':') ? `[${c.listen[k]!.host}]` : c.listen[k]!.host}:${c.listen[k]!.port}`);
  const state = c.state.redis ? 'redis' : 'in memory';
  return `instance ${c.instance_id}; listening: ${listeners.join(', ')}; state ${state}; audit ${c.audit.dir}${c.slack ? `; slack ${c.slack.channel}` : ''}`;
}

export function register(program: Command): void {
  const config = program.command('config').description('work with airlock.yaml');
  config
    .command('check [file]')
    .description('validate airlock.yaml and the policy and users files it names (default ./airlock.yaml)')
    .action(async (file: string | undefined, _opts: unknown, command: Command) => {
      emit(command, await configCheck(file));
    });
}
