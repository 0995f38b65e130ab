// Loading policy.yaml: schema and semantic checks with file:line:col errors, compiled into a frozen Policy.
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type { ApprovalSpec, Policy, ResourceSpec, Rule, RuleAction, RuleMatch } from './types.js';
import { deepFreeze } from '../config/freeze.js';
import { formatDuration, parseDuration } from '../config/units.js';
import { Problems, compileSchema, positionOf, readYamlSource, reportSchemaErrors, type KeyPath, type YamlSource } from '../config/yaml-source.js';
import { COMMAND_GROUPS, isKnownCommand, normalizeCommand } from './commands.js';
import { policySchema } from './schema.js';

const validatePolicy = compileSchema(policySchema);

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_MAX_TIMEOUT_MS = 60 * 60_000;
const DEFAULT_JIT_MS = 30 * 60_000;
const RESOURCE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export interface LoadPolicyOptions {
  /** config approvals.max_timeout; a rule asking for longer is an error. Default 1h. */
  readonly maxTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

type Hold = 'wait' | 'retry';
interface RawApproval {
  approvers?: string[];
  min_approvals?: number;
  all_groups_must_approve?: boolean;
  force_approvers?: string[];
  timeout?: string;
  channel?: string;
  mode?: 'per_command' | 'jit';
  jit?: { duration: string };
  hold?: Hold;
}
interface RawResource {
  protocol: 'postgres' | 'mysql';
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  tls?: { mode: 'disable' | 'require' | 'verify-full'; ca?: string };
  allowed_schemas?: string[];
}
interface RawRule {
  name: string;
  resources?: string[];
  requesters?: string[];
  match: { commands?: string[]; tables?: string[]; writes?: boolean; regex?: string };
  action: RuleAction;
  approval?: RawApproval;
  hold?: Hold;
  audit?: { params: 'keep' | 'redact' };
}
interface RawPolicy {
  version: 1;
  resources: Record<string, RawResource>;
  defaults: { action: RuleAction; on_unparseable?: RuleAction; approval?: RawApproval };
  rules?: RawRule[] | null;
}

/** Reads, validates and freezes policy.yaml. Throws AirlockError('AIRLOCK_ERR_POLICY') listing every problem as file:line:col. */
export function loadPolicy(file: string, opts: LoadPolicyOptions = {}): Policy {
  const problems = new Problems(file);
  const source = readYamlSource(file, problems, opts.env);
  if (!source || !reportSchemaErrors(source, validatePolicy, problems)) problems.throwIfAny('AIRLOCK_ERR_POLICY');
  const policy = new PolicyCompiler(source!, problems, opts.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS).compile();
  problems.throwIfAny('AIRLOCK_ERR_POLICY');
  return deepFreeze(policy);
}

/** The semantic checks the schema cannot express; each problem is reported at the node it is about. */
class PolicyCompiler {
  readonly #raw: RawPolicy;
  constructor(
    readonly source: YamlSource,
    readonly problems: Problems,
    readonly maxTimeoutMs: number,
  ) {
    this.#raw = source.data as RawPolicy;
  }

  compile(): Policy {
    const resources = this.#resources();
    const rawRules = this.#raw.rules ?? [];
    const rules = rawRules.map((r, i) => this.#rule(r, i, resources));
    this.#checkUniqueNames(rawRules);
    const d = this.#raw.defaults;
    const onUnparseable = d.on_unparseable ?? 'require_approval';
    return {
      version: 1,
      file: this.source.absolutePath,
      sha256: createHash('sha256').update(this.source.bytes).digest('hex'),
      resources,
      defaults: { action: d.action, on_unparseable: onUnparseable, approval: this.#defaultApproval(rules, onUnparseable) },
      rules,
    };
  }

  #error(path: KeyPath, message: string, key?: string): void {
    this.problems.at(this.source, path, message, key);
  }

  #resources(): Map<string, ResourceSpec> {
    const out = new Map<string, ResourceSpec>();
    const base = dirname(this.source.absolutePath);
    for (const [name, r] of Object.entries(this.#raw.resources)) {
      if (!RESOURCE_NAME.test(name)) {
        this.#error(['resources'], 'resource names are database names: letters, digits, _ . - only', name);
      }
      if (r.allowed_schemas && r.protocol !== 'mysql') {
        this.#error(['resources', name], 'allowed_schemas applies to mysql resources only', 'allowed_schemas');
      }
      out.set(name, {
        name,
        protocol: r.protocol,
        host: r.host,
        port: r.port,
        database: r.database,
        user: r.user,
        ...(r.password !== undefined ? { password: r.password } : {}),
        ...(r.tls ? { tls: { mode: r.tls.mode, ...(r.tls.ca ? { ca: resolve(base, r.tls.ca) } : {}) } } : {}),
        ...(r.allowed_schemas ? { allowed_schemas: [...r.allowed_schemas] } : {}),
      });
    }
    return out;
  }

  #rule(r: RawRule, i: number, resources: ReadonlyMap<string, ResourceSpec>): Rule {
    const at: KeyPath = ['rules', i];
    r.resources?.forEach((name, j) => {
      if (!resources.has(name)) this.#error([...at, 'resources', j], `unknown resource "${name}"`);
    });
    let approval: ApprovalSpec | undefined;
    if (r.action === 'require_approval') {
      if (!r.approval) this.#error(at, 'action require_approval needs an approval block naming approver groups');
      else approval = this.#approval(r.approval, [...at, 'approval'], r.hold, at);
    } else {
      if (r.approval) this.#error(at, `approval applies only to action require_approval (this rule is ${r.action})`, 'approval');
      if (r.hold) this.#error(at, `hold applies only to action require_approval (this rule is ${r.action})`, 'hold');
    }
    return {
      name: r.name,
      ...(r.resources ? { resources: [...r.resources] } : {}),
      ...(r.requesters ? { requesters: [...r.requesters] } : {}),
      match: this.#match(r.match, [...at, 'match']),
      action: r.action,
      ...(approval ? { approval } : {}),
      ...(r.audit ? { audit: { params: r.audit.params } } : {}),
      line: positionOf(this.source, at).line,
    };
  }

  #match(m: RawRule['match'], at: KeyPath): RuleMatch {
    const commands = m.commands?.map((c, j) => {
      const normalized = normalizeCommand(c);
      if (!isKnownCommand(normalized)) {
        this.#error([...at, 'commands', j], `unknown command "${c}" (a statement kind such as SELECT or DELETE, or one of ${[...COMMAND_GROUPS].join(', ')})`);
      }
      return normalized;
    });
    if (m.regex !== undefined) {
      try {
        new RegExp(m.regex, 'i');
      } catch (err) {
        this.#error([...at, 'regex'], `regex does not compile: ${(err as Error).message}`);
      }
    }
    return {
      ...(commands ? { commands } : {}),
      ...(m.tables ? { tables: [...m.tables] } : {}),
      ...(m.writes !== undefined ? { writes: m.writes } : {}),
      ...(m.regex !== undefined ? { regex: m.regex } : {}),
    };
  }

  #approval(a: RawApproval, at: KeyPath, ruleHold: Hold | undefined, ruleAt: KeyPath): ApprovalSpec {
    const approvers = a.approvers ?? [];
    if (approvers.length === 0) this.#error(at, 'require_approval needs at least one approver group', a.approvers ? 'approvers' : undefined);
    const timeoutMs = a.timeout !== undefined ? parseDuration(a.timeout) : Math.min(DEFAULT_TIMEOUT_MS, this.maxTimeoutMs);
    if (timeoutMs <= 0) this.#error([...at, 'timeout'], 'must be greater than zero');
    if (timeoutMs > this.maxTimeoutMs) {
      this.#error([...at, 'timeout'], `${a.timeout} exceeds approvals.max_timeout (${formatDuration(this.maxTimeoutMs)})`);
    }
    const mode = a.mode ?? 'per_command';
    let jitMs: number | undefined;
    if (mode === 'jit') {
      jitMs = a.jit ? parseDuration(a.jit.duration) : DEFAULT_JIT_MS;
      if (jitMs <= 0) this.#error([...at, 'jit', 'duration'], 'must be greater than zero');
    } else if (a.jit) {
      this.#error(at, 'jit applies only with mode: jit', 'jit');
    }
    if (a.hold && ruleHold && a.hold !== ruleHold) this.#error(ruleAt, `conflicts with approval.hold (${a.hold})`, 'hold');
    return {
      approvers: [...approvers],
      min_approvals: a.min_approvals ?? 1,
      all_groups_must_approve: a.all_groups_must_approve ?? false,
      force_approvers: [...(a.force_approvers ?? [])],
      timeout_ms: timeoutMs,
      ...(a.channel !== undefined ? { channel: a.channel } : {}),
      mode,
      ...(jitMs !== undefined ? { jit_duration_ms: jitMs } : {}),
      hold: a.hold ?? ruleHold ?? 'wait',
    };
  }

  /**
   * defaults.approval, or when absent a fallback for held unparseable statements: the approver and
   * break-glass groups the rules already trust. A policy whose rules name no approvers must say
   * who approves, since a hold nobody can approve would only ever time out.
   */
  #defaultApproval(rules: readonly Rule[], onUnparseable: RuleAction): ApprovalSpec {
    const d = this.#raw.defaults;
    if (d.approval) return this.#approval(d.approval, ['defaults', 'approval'], undefined, ['defaults']);
    if (d.action === 'require_approval') {
      this.#error(['defaults'], 'defaults.action is require_approval, so defaults.approval must name the approver groups');
    }
    const approvers = unique(rules.flatMap((r) => r.approval?.approvers ?? []));
    const forceApprovers = unique(rules.flatMap((r) => r.approval?.force_approvers ?? []));
    if (onUnparseable === 'require_approval' && approvers.length === 0 && d.action !== 'require_approval') {
      this.#error(['defaults'], 'on_unparseable is require_approval but no rule names approvers: add defaults.approval');
    }
    return {
      approvers,
      min_approvals: 1,
      all_groups_must_approve: false,
      force_approvers: forceApprovers,
      timeout_ms: Math.min(DEFAULT_TIMEOUT_MS, this.maxTimeoutMs),
      mode: 'per_command',
      hold: 'wait',
    };
  }

  #checkUniqueNames(rules: readonly RawRule[]): void {
    const firstLine = new Map<string, number>();
    rules.forEach((r, i) => {
      const seen = firstLine.get(r.name);
      if (seen !== undefined) this.#error(['rules', i, 'name'], `duplicate rule name "${r.name}" (first defined on line ${seen})`);
      else firstLine.set(r.name, positionOf(this.source, ['rules', i]).line);
    });
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
