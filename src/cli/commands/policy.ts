// `airlock policy check` and `airlock policy explain`: validate a policy, and show which rule decides a statement and why.
import type { Command } from 'commander';
import type { ApprovalSpec, Decision, Policy, Requester } from '../../policy/types.js';
import { loadConfig } from '../../config/load.js';
import { formatDuration } from '../../config/units.js';
import { loadUsers } from '../../identity/users-file.js';
import { createClassifier, initClassifiers } from '../../classify/index.js';
import { explain, type Explanation } from '../../policy/evaluate.js';
import { loadPolicy } from '../../policy/load.js';
import { describeError, emit, type CommandOutcome } from './config.js';

export interface PolicyFileOptions {
  /** airlock.yaml whose policy, users and approvals.max_timeout apply. */
  readonly config?: string;
  readonly env?: NodeJS.ProcessEnv;
}

interface Resolved {
  readonly policyFile: string;
  readonly usersFile: string;
  readonly maxTimeoutMs?: number;
}

function resolveFiles(opts: PolicyFileOptions & { policy?: string; users?: string }): Resolved {
  if (!opts.config) return { policyFile: opts.policy ?? './policy.yaml', usersFile: opts.users ?? './users.yaml' };
  const c = loadConfig(opts.config, opts.env);
  return { policyFile: opts.policy ?? c.policy, usersFile: opts.users ?? c.users, maxTimeoutMs: c.approvals.max_timeout_ms };
}

/** Validates a policy file; `file` wins over the policy named by --config. */
export async function policyCheck(file: string | undefined, opts: PolicyFileOptions = {}): Promise<CommandOutcome> {
  let resolved: Resolved;
  try {
    resolved = resolveFiles({ ...opts, policy: file });
  } catch (err) {
    return { exitCode: 1, stdout: '', stderr: `${describeError(opts.config!, err)}\n` };
  }
  try {
    const p = loadPolicy(resolved.policyFile, { maxTimeoutMs: resolved.maxTimeoutMs, env: opts.env });
    const summary = `${p.resources.size} resources (${[...p.resources.keys()].join(', ')}), ${p.rules.length} rules; defaults: ${p.defaults.action}, unparseable: ${p.defaults.on_unparseable}`;
    return { exitCode: 0, stdout: `OK: ${resolved.policyFile} (${summary})\n`, stderr: '' };
  } catch (err) {
    return { exitCode: 1, stdout: '', stderr: `${describeError(resolved.policyFile, err)}\n` };
  }
}

export interface ExplainOptions extends PolicyFileOptions {
  readonly resource: string;
  readonly user: string;
  readonly policy?: string;
  readonly users?: string;
  /** Groups to evaluate with instead of looking the user up in the users file. */
  readonly groups?: readonly string[];
}

/** Classifies `sql` with the resource's dialect and prints the decision, the deciding rule, and every rule's outcome. */
export async function policyExplain(sql: string, opts: ExplainOptions): Promise<CommandOutcome> {
  const fail = (text: string): CommandOutcome => ({ exitCode: 1, stdout: '', stderr: `${text}\n` });
  let resolved: Resolved;
  let policy: Policy;
  try {
    resolved = resolveFiles(opts);
  } catch (err) {
    return fail(describeError(opts.config!, err));
  }
  try {
    policy = loadPolicy(resolved.policyFile, { maxTimeoutMs: resolved.maxTimeoutMs, env: opts.env });
  } catch (err) {
    return fail(describeError(resolved.policyFile, err));
  }
  const resource = policy.resources.get(opts.resource);
  if (!resource) return fail(`unknown resource "${opts.resource}"; ${resolved.policyFile} defines: ${[...policy.resources.keys()].join(', ')}`);

  let requester: Requester;
  if (opts.groups) {
    requester = { email: opts.user, groups: [...opts.groups] };
  } else {
    try {
      const user = loadUsers(resolved.usersFile).get(opts.user);
      if (!user) return fail(`no user ${opts.user} in ${resolved.usersFile} (or pass --groups)`);
      requester = { email: user.email, groups: user.groups };
    } catch (err) {
      return fail(describeError(resolved.usersFile, err));
    }
  }

  await initClassifiers();
  const classification = createClassifier(resource.protocol).classify(sql);
  const x = explain(policy, { resource: resource.name, requester, sql }, classification);
  return { exitCode: 0, stdout: formatExplanation(x, requester, resource.name, resource.protocol), stderr: '' };
}

function formatExplanation(x: Explanation, who: Requester, resource: string, dialect: string): string {
  const lines: string[] = [
    `Requester: ${who.email} (groups: ${who.groups.join(', ') || 'none'}) on ${resource} (${dialect})`,
    `Decision: ${x.decision.action.toUpperCase()}${decider(x.decision)}`,
    `Why: ${x.decision.reason}`,
  ];
  if (x.decision.approval) lines.push(`Approval: ${describeApproval(x.decision.approval)}`);
  for (const s of x.statements) {
    const st = s.statement;
    const facts = [
      `writes: ${st.writes}`,
      `tables: ${st.tables.join(', ') || '-'}`,
      ...(st.nested_kinds?.length ? [`runs: ${st.nested_kinds.join(', ')}`] : []),
      ...(st.tags?.length ? [`tags: ${st.tags.join(', ')}`] : []),
    ];
    lines.push('', `Statement ${s.index + 1}: ${st.subkind ?? st.kind} (${facts.join('; ')})`);
    lines.push(`  -> ${s.decision.action}${decider(s.decision)}`);
    for (const r of s.rules) {
      const where = r.rule.line !== undefined ? ` (line ${r.rule.line})` : '';
      lines.push(`  ${r.outcome === 'matched' ? '*' : ' '} ${r.rule.name}${where} [${r.rule.action}] ${r.outcome}: ${r.detail}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function decider(d: Decision): string {
  if (d.rule) return ` by rule "${d.rule.name}"${d.rule.line !== undefined ? ` (line ${d.rule.line})` : ''}`;
  return d.source === 'unparseable' ? ' by defaults.on_unparseable' : ' by defaults.action';
}

function describeApproval(a: ApprovalSpec): string {
  const parts = [
    `${a.min_approvals} distinct approver${a.min_approvals > 1 ? 's' : ''} from ${a.approvers.join(', ') || '(none)'}${a.all_groups_must_approve ? ' (every group must approve)' : ''}`,
    `break-glass: ${a.force_approvers.join(', ') || 'none'}`,
    `timeout ${formatDuration(a.timeout_ms)}`,
    a.mode === 'jit' ? `jit for ${formatDuration(a.jit_duration_ms ?? 0)}` : 'per command',
    `hold: ${a.hold}`,
    ...(a.channel ? [`channel ${a.channel}`] : []),
  ];
  return parts.join('; ');
}

export function register(program: Command): void {
  const policy = program.command('policy').description('check and explain the policy');
  policy
    .command('check [file]')
    .description('validate a policy file (default ./policy.yaml, or the policy of --config)')
    .option('-c, --config <file>', 'airlock.yaml whose policy and approvals.max_timeout apply')
    .action(async (file: string | undefined, opts: { config?: string }, command: Command) => {
      emit(command, await policyCheck(file, opts));
    });
  policy
    .command('explain <sql>')
    .description('show the decision, the deciding rule and why, per statement, for a user on a resource')
    .requiredOption('-r, --resource <name>', 'resource (database name) the client connects to')
    .requiredOption('-u, --user <email>', 'requester email')
    .option('-p, --policy <file>', 'policy file (default ./policy.yaml, or the policy of --config)')
    .option('--users <file>', 'users file (default ./users.yaml, or the users of --config)')
    .option('-g, --groups <list>', 'comma-separated groups to use instead of looking the user up', (v: string) => v.split(',').map((g) => g.trim()).filter(Boolean))
    .option('-c, --config <file>', 'airlock.yaml naming the policy and users files')
    .action(async (sql: string, opts: ExplainOptions, command: Command) => {
      emit(command, await policyExplain(sql, opts));
    });
}
