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
