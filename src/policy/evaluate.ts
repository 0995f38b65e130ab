// Pure policy evaluation: which rule decides a classified SQL string for a requester on a resource, and why.
import { KINDS_UNKNOWN, TABLES_UNKNOWN, type Classification, type StatementClass } from '../classify/types.js';
import type { ApprovalSpec, Decision, DecisionAction, Policy, Requester, Rule, RuleAction, RuleMatch } from './types.js';
import { commandMatches } from './commands.js';
import { compileGlob } from './glob.js';

export interface EvaluationInput {
  /** The resource (database name) the client connected to. */
  readonly resource: string;
  readonly requester: Requester;
  /** The SQL text as sent; only regex matchers read it. */
  readonly sql: string;
}

/** Why a rule did or did not take part in a statement's decision. */
export type RuleOutcome = 'matched' | 'not-bound' | 'not-requester' | 'no-match';

export interface RuleTrace {
  readonly rule: Rule;
  readonly outcome: RuleOutcome;
  /** One phrase, e.g. `commands [DROP] do not match DELETE`. */
  readonly detail: string;
}

export interface StatementTrace {
  readonly index: number;
  readonly statement: StatementClass;
  /** What this statement alone would get. */
  readonly decision: Decision;
  readonly rules: readonly RuleTrace[];
}

export interface Explanation {
  readonly decision: Decision;
  readonly statements: readonly StatementTrace[];
}

/**
 * Order, documented for operators:
 * 1. Unparseable SQL gets defaults.on_unparseable; an empty statement list is allowed.
 * 2. Per statement, a rule takes part if it is bound to the resource (or names none), the requester is
 *    in one of its requester groups (or it names none), and every matcher it gives matches.
 * 3. Among the rules that take part, deny beats require_approval beats allow; of two holds, the one
 *    asking more of approvers (more people, then one from every group) decides, so rule order cannot
 *    weaken an approval; among equally strict rules the first in the file decides. No rule taking
 *    part: defaults.action.
 * 4. Across statements the strictest statement decides (the same order); among equally strict, the first.
 * A `tables` matcher of a deny or require_approval rule also matches a statement whose tables cannot be
 * known (SQL text built at run time, a table name computed by an expression), and a `commands` matcher
 * one whose statement kinds cannot be known (EXECUTE of a statement prepared elsewhere): fail closed.
 */
export function evaluate(policy: Policy, input: EvaluationInput, classification: Classification): Decision {
  if (classification.unparseable) return unparseableDecision(policy, classification.reason);
  const statements = classification.statements;
  if (statements.length === 0) return { action: 'allow', source: 'default', reason: 'Nothing to run: the SQL holds no statements.' };
  // A string may hold thousands of statements: decide each with booleans only, test each regex
  // against the text once, and word the reason for the deciding statement alone.
  const regexResults = new Map<RuleMatch, boolean>();
  const caseInsensitive = policy.resources.get(input.resource)?.protocol === 'mysql';
  const applicable = policy.rules.filter((rule) => takesPart(rule, input));
  const defaultStrictness = strictnessOf(policy.defaults.action, policy.defaults.approval);
  let bestIndex = -1;
  let bestRule: Rule | undefined;
  let bestStrictness = -1;
  for (let index = 0; index < statements.length; index++) {
    const stmt = statements[index]!;
    let decider: Rule | undefined;
    for (const rule of applicable) {
      if (!matches(rule, stmt, input.sql, caseInsensitive, regexResults)) continue;
      if (!decider || ruleStrictness(rule) > ruleStrictness(decider)) decider = rule;
      if (decider.action === 'deny') break;
    }
    const strictness = decider ? ruleStrictness(decider) : defaultStrictness;
    if (strictness > bestStrictness) {
      bestStrictness = strictness;
      bestIndex = index;
      bestRule = decider;
      if (decider?.action === 'deny' || (!decider && policy.defaults.action === 'deny')) break;
    }
  }
  return statementDecision(policy, input, statements[bestIndex]!, bestIndex, statements.length > 1, bestRule);
}

function takesPart(rule: Rule, input: EvaluationInput): boolean {
  if (rule.resources && !rule.resources.includes(input.resource)) return false;
  return !rule.requesters || rule.requesters.some((g) => input.requester.groups.includes(g));
}

function matches(rule: Rule, stmt: StatementClass, sql: string, caseInsensitive: boolean, regexResults: Map<RuleMatch, boolean>): boolean {
  const m = rule.match;
  if (m.commands && !commandsMatch(rule, stmt)) return false;
  if (m.tables && !tablesMatch(rule, stmt, caseInsensitive)) return false;
  if (m.writes !== undefined && stmt.writes !== m.writes) return false;
  if (m.regex !== undefined) {
    let hit = regexResults.get(m);
    if (hit === undefined) regexResults.set(m, (hit = compiledRegex(m).test(sql)));
    if (!hit) return false;
  }
  return true;
}

/** The same decision as evaluate(), with every rule's outcome for every statement, for `airlock policy explain`. */
export function explain(policy: Policy, input: EvaluationInput, classification: Classification): Explanation {
  const decision = evaluate(policy, input, classification);
  if (classification.unparseable) return { decision, statements: [] };
  const many = classification.statements.length > 1;
  const statements = classification.statements.map((stmt, index) => {
    const rules = policy.rules.map((rule) => ruleTrace(policy, rule, input, stmt));
    let decider: Rule | undefined;
    for (const t of rules) {
      if (t.outcome === 'matched' && (!decider || ruleStrictness(t.rule) > ruleStrictness(decider))) decider = t.rule;
    }
    return { index, statement: stmt, decision: statementDecision(policy, input, stmt, index, many, decider), rules };
  });
  return { decision, statements };
}

const STRICTNESS: Readonly<Record<RuleAction, number>> = { allow: 0, require_approval: 1, deny: 2 };

/** Action first; between two holds, more distinct approvers, then one-from-every-group, ask more. */
function strictnessOf(action: RuleAction, approval: ApprovalSpec | undefined): number {
  const demand = action === 'require_approval' && approval ? Math.min(approval.min_approvals, 10_000) * 2 + (approval.all_groups_must_approve ? 1 : 0) : 0;
  return STRICTNESS[action] * 100_000 + demand;
}

function ruleStrictness(rule: Rule): number {
  return strictnessOf(rule.action, rule.approval);
}

/** A statement whose kinds cannot be known might be any: it matches every command list of a rule that restricts. */
function commandsMatch(rule: Rule, stmt: StatementClass): boolean {
  if (rule.action !== 'allow' && stmt.tags?.includes(KINDS_UNKNOWN)) return true;
  return rule.match.commands!.some((c) => commandMatches(c, stmt));
}

/** A statement whose tables cannot be known might touch any: it matches every table glob of a rule that restricts. */
function tablesMatch(rule: Rule, stmt: StatementClass, caseInsensitive: boolean): boolean {
  if (rule.action !== 'allow' && stmt.tags?.includes(TABLES_UNKNOWN)) return true;
  const globs = compiledGlobs(rule.match, caseInsensitive);
  return stmt.tables.some((table) => globs.some((g) => g.test(table)));
}
const STRICTNESS_OF_DECISION: Readonly<Record<DecisionAction, number>> = { allow: 0, hold: 1, deny: 2 };
const TO_DECISION: Readonly<Record<RuleAction, DecisionAction>> = { allow: 'allow', require_approval: 'hold', deny: 'deny' };

function unparseableDecision(policy: Policy, why: string): Decision {
  const action = TO_DECISION[policy.defaults.on_unparseable];
  return {
    action,
    source: 'unparseable',
    reason: `The SQL could not be classified (${why}), so defaults.on_unparseable applies: ${policy.defaults.on_unparseable}.`,
    ...(action === 'hold' ? { approval: policy.defaults.approval } : {}),
  };
}

function statementDecision(
  policy: Policy,
  input: EvaluationInput,
  stmt: StatementClass,
  index: number,
  many: boolean,
  rule: Rule | undefined,
): Decision {
  const prefix = many ? `Statement ${index + 1}: ` : '';
  const what = describeStatement(stmt, input.resource);
  if (!rule) {
    const action = TO_DECISION[policy.defaults.action];
    return {
      action,
      source: 'default',
      reason: `${prefix}No rule matches ${what}, so defaults.action applies: ${policy.defaults.action}.`,
      ...(action === 'hold' ? { approval: policy.defaults.approval } : {}),
      statementIndex: index,
    };
  }
  const action = TO_DECISION[rule.action];
  const where = rule.line !== undefined ? ` (line ${rule.line})` : '';
  const verb =
    rule.action === 'deny'
      ? 'denies'
      : rule.action === 'allow'
        ? 'allows'
        : `requires approval from ${rule.approval!.approvers.join(' or ')} for`;
  return {
    action,
    rule,
    source: 'rule',
    reason: `${prefix}Rule "${rule.name}"${where} ${verb} ${what}.`,
    ...(action === 'hold' ? { approval: rule.approval! } : {}),
    statementIndex: index,
  };
}

function describeStatement(stmt: StatementClass, resource: string): string {
  const kind = stmt.subkind ?? stmt.kind;
  const nested = stmt.nested_kinds?.length ? ` (running ${stmt.nested_kinds.join(', ')})` : '';
  const tables = stmt.tables.length ? ` of ${stmt.tables.join(', ')}` : '';
  const unknown = stmt.tags?.includes(KINDS_UNKNOWN) ? ' (what it runs cannot be known in advance)'
    : stmt.tags?.includes(TABLES_UNKNOWN) ? ' (tables it reads cannot be known in advance)' : '';
  return `${kind}${nested}${tables}${unknown} on ${resource}`;
}

function ruleTrace(policy: Policy, rule: Rule, input: EvaluationInput, stmt: StatementClass): RuleTrace {
  if (rule.resources && !rule.resources.includes(input.resource)) {
    return { rule, outcome: 'not-bound', detail: `bound to ${rule.resources.join(', ')}, not ${input.resource}` };
  }
  if (rule.requesters && !rule.requesters.some((g) => input.requester.groups.includes(g))) {
    return { rule, outcome: 'not-requester', detail: `applies to groups ${rule.requesters.join(', ')}; ${input.requester.email} is in ${input.requester.groups.join(', ') || 'no group'}` };
  }
  const caseInsensitive = policy.resources.get(input.resource)?.protocol === 'mysql';
  const miss = firstMismatch(rule, stmt, input.sql, caseInsensitive);
  if (miss) return { rule, outcome: 'no-match', detail: miss };
  return { rule, outcome: 'matched', detail: `matches (${describeMatch(rule.match)})` };
}

/** undefined when every matcher the rule gives matches; otherwise why not. */
function firstMismatch(rule: Rule, stmt: StatementClass, sql: string, caseInsensitive: boolean): string | undefined {
  const m = rule.match;
  if (m.commands && !commandsMatch(rule, stmt)) {
    const kinds = [stmt.subkind ?? stmt.kind, ...(stmt.nested_kinds ?? [])].join(', ');
    return `commands [${m.commands.join(', ')}] do not match ${kinds}${stmt.writes ? ' (writes)' : ''}`;
  }
  if (m.tables) {
    if (!tablesMatch(rule, stmt, caseInsensitive)) {
      return `tables [${m.tables.join(', ')}] match none of ${stmt.tables.length ? stmt.tables.join(', ') : 'the (no) tables touched'}`;
    }
  }
  if (m.writes !== undefined && stmt.writes !== m.writes) return `writes: ${m.writes} but the statement has writes: ${stmt.writes}`;
  if (m.regex !== undefined && !compiledRegex(m).test(sql)) return `regex /${m.regex}/i does not match the SQL`;
  return undefined;
}

function describeMatch(m: RuleMatch): string {
  const parts: string[] = [];
  if (m.commands) parts.push(`commands ${m.commands.join(', ')}`);
  if (m.tables) parts.push(`tables ${m.tables.join(', ')}`);
  if (m.writes !== undefined) parts.push(`writes: ${m.writes}`);
  if (m.regex !== undefined) parts.push(`regex /${m.regex}/i`);
  return parts.length ? parts.join('; ') : 'no matchers: every statement';
}

// Compiled once per rule; policies are frozen, so keying on the match object is safe.
const regexCache = new WeakMap<RuleMatch, RegExp>();
const globCache = new WeakMap<RuleMatch, { sensitive?: RegExp[]; insensitive?: RegExp[] }>();

function compiledRegex(m: RuleMatch): RegExp {
  let re = regexCache.get(m);
  if (!re) regexCache.set(m, (re = new RegExp(m.regex!, 'i')));
  return re;
}

function compiledGlobs(m: RuleMatch, caseInsensitive: boolean): RegExp[] {
  let entry = globCache.get(m);
  if (!entry) globCache.set(m, (entry = {}));
  const key = caseInsensitive ? 'insensitive' : 'sensitive';
  return (entry[key] ??= m.tables!.map((g) => compileGlob(g, caseInsensitive)));
}
