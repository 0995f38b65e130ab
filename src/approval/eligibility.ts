// Who may approve, deny or force a request: decided here, before the store's atomic step.

import { AirlockError } from '../errors.js';
import type { UserRecord } from '../identity/types.js';
import type { ApprovalRequest } from './types.js';

function sameEmail(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function intersect(groups: readonly string[], allowed: readonly string[]): string[] {
  return groups.filter((g) => allowed.includes(g));
}

function refuse(message: string): never {
  throw new AirlockError('AIRLOCK_ERR_FORBIDDEN', message);
}

function refuseDisabled(actor: UserRecord): void {
  if (actor.disabled) refuse(`${actor.email} is disabled`);
}

/**
 * Returns the actor's groups that count for this approval. The requester is refused whatever groups they
 * are in: admin or approver-group membership does not make self-approval acceptable (hoop exempted admins).
 */
export function approvalGroups(actor: UserRecord, req: ApprovalRequest): string[] {
  refuseDisabled(actor);
  if (sameEmail(actor.email, req.requester.email)) refuse('you cannot approve your own request (break-glass force is the only exception)');
  const groups = intersect(actor.groups, req.approval.approvers);
  if (groups.length === 0) refuse(`${actor.email} is not in an approver group of rule "${req.rule}" (${req.approval.approvers.join(', ') || 'none'})`);
  return groups;
}

/** Any eligible approver (approver or force-approver groups) may deny; never the requester. */
export function denialGroups(actor: UserRecord, req: ApprovalRequest): string[] {
  refuseDisabled(actor);
  if (sameEmail(actor.email, req.requester.email)) refuse('you cannot deny your own request');
  const groups = intersect(actor.groups, [...req.approval.approvers, ...req.approval.force_approvers]);
  if (groups.length === 0) refuse(`${actor.email} is not in an approver group of rule "${req.rule}"`);
  return groups;
}

/** Break-glass: force approvers only, a reason always, and their own request allowed. */
export function forceGroups(actor: UserRecord, req: ApprovalRequest, reason: string): string[] {
  refuseDisabled(actor);
  const groups = intersect(actor.groups, req.approval.force_approvers);
  if (groups.length === 0) refuse(`${actor.email} is not in a force-approver group of rule "${req.rule}" (${req.approval.force_approvers.join(', ') || 'none'})`);
  if (reason.trim() === '') throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', 'a break-glass force needs a reason');
  return groups;
}

/**
 * Who may read a request (its SQL and parameters can hold customer data): the requester and the people
 * who could decide it. Everyone else is told it does not exist.
 */
export function mayView(actor: UserRecord, req: ApprovalRequest): boolean {
  if (actor.disabled) return false;
  if (sameEmail(actor.email, req.requester.email)) return true;
  return intersect(actor.groups, [...req.approval.approvers, ...req.approval.force_approvers]).length > 0;
}
