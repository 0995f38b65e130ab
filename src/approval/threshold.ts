// Rules both stores apply (the Redis Lua scripts mirror them): when enough distinct people have approved,
// and which approvals die with the replica holding their connection.

import type { ApprovalSpec } from '../policy/types.js';
import type { ApprovalRequest, ApprovalVote } from './types.js';

/**
 * Votes are already one per person (stores de-duplicate by email). min_approvals counts people.
 * all_groups_must_approve needs a *different* person for each approver group: one person who sits in
 * two groups cannot stand in for both, or a single click would satisfy a two-group rule (hoop's bug).
 */
export function thresholdReached(spec: Pick<ApprovalSpec, 'approvers' | 'min_approvals' | 'all_groups_must_approve'>, votes: readonly ApprovalVote[]): boolean {
  if (votes.length < Math.max(1, spec.min_approvals)) return false;
  if (!spec.all_groups_must_approve) return true;
  return groupsCoveredByDistinctPeople(spec.approvers, votes.map((v) => v.groups));
}

/** Bipartite matching (Kuhn's augmenting paths): groups and voters are few, so this stays tiny. */
export function groupsCoveredByDistinctPeople(groups: readonly string[], voterGroups: readonly (readonly string[])[]): boolean {
  const voterOfGroup = new Map<string, number>();
  const tryAssign = (group: string, seen: Set<number>): boolean => {
    for (let voter = 0; voter < voterGroups.length; voter++) {
      if (!voterGroups[voter]!.includes(group) || seen.has(voter)) continue;
      seen.add(voter);
      const heldBy = [...voterOfGroup.entries()].find(([, v]) => v === voter)?.[0];
      if (heldBy === undefined || tryAssign(heldBy, seen)) {
        voterOfGroup.set(group, voter);
        return true;
      }
    }
    return false;
  };
  return groups.every((g) => tryAssign(g, new Set()));
}

/**
 * The session holding the connection runs the statement once approved (hold: wait, per command): the
 * stores abandon such an approval if that session's replica dies before running it. Retry and JIT
 * approvals are used later by design.
 */
export function runsInHoldingSession(req: Pick<ApprovalRequest, 'approval' | 'sql'>): boolean {
  return req.sql !== '' && req.approval.hold === 'wait' && req.approval.mode === 'per_command';
}

/**
 * Why an approved request's own record does not justify running it, or undefined when it does. The holder
 * asks this before running: the state field alone is one write away for anyone who can write to the store,
 * so the votes behind it must add up to the rule the request was held under (re-checked here as the
 * stores decide it: distinct people, approver groups, never the requester; or one break-glass vote).
 */
export function approvalFlaw(req: Pick<ApprovalRequest, 'approval' | 'approvals' | 'break_glass' | 'requester'>): string | undefined {
  try {
    return flawIn(req);
  } catch {
    // Whoever wrote the record may have written anything: one that cannot even be read justifies nothing.
    return 'its approval record cannot be read';
  }
}

function flawIn(req: Pick<ApprovalRequest, 'approval' | 'approvals' | 'break_glass' | 'requester'>): string | undefined {
  const spec = req.approval;
  const bg = req.break_glass;
  const throughGroups = (v: ApprovalVote, allowed: readonly string[]) =>
    Array.isArray(v.groups) && v.groups.length > 0 && v.groups.every((g) => allowed.includes(g));
  if (bg) {
    if (typeof bg.by !== 'string' || bg.by === '') return 'its break-glass vote names nobody';
    if (!throughGroups(bg, spec.force_approvers)) return `${bg.by} is not recorded in a force-approver group of the rule`;
    if (typeof bg.reason !== 'string' || bg.reason.trim() === '') return `the break-glass vote of ${bg.by} has no reason`;
    return undefined;
  }
  if (!Array.isArray(req.approvals) || req.approvals.length === 0) return 'no approval votes are recorded';
  const requester = req.requester.email.toLowerCase();
  const seen = new Set<string>();
  for (const v of req.approvals) {
    if (typeof v?.by !== 'string' || v.by === '') return 'a vote names nobody';
    const who = v.by.toLowerCase();
    if (who === requester) return `the requester ${v.by} is among the approvers`;
    if (seen.has(who)) return `${v.by} is counted more than once`;
    seen.add(who);
    if (!throughGroups(v, spec.approvers)) return `${v.by} is not recorded in an approver group of the rule`;
  }
  if (!thresholdReached(spec, req.approvals)) {
    return `${seen.size} approval(s) do not meet the rule (${spec.min_approvals} needed${spec.all_groups_must_approve ? ', one per approver group' : ''})`;
  }
  return undefined;
}
