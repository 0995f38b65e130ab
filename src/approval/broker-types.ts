// What the broker exchanges with sessions, deciders, notifiers and metrics; and how a final request reads as an outcome.

import { ClientError } from '../errors.js';
import type { ApprovalSpec, Requester } from '../policy/types.js';
import type { ApprovalRequest, ApprovalVote } from './types.js';

/** Told about requests so people can act on them (Slack). Failures are logged and never affect a request. */
export interface ApprovalNotifier {
  opened(req: ApprovalRequest): void | Promise<void>;
  changed(req: ApprovalRequest): void | Promise<void>;
}

/** rejected: marked approved, but its votes do not justify it (see approvalFlaw); it ends cancelled, not run. */
export type RequestOutcome = 'approved' | 'denied' | 'expired' | 'cancelled' | 'abandoned' | 'executed' | 'unavailable' | 'rejected';

/** What the broker reports; src/metrics implements it. Each transition is counted once, by the replica that made it. */
export interface ApprovalMetrics {
  requestOpened?(rule: string): void;
  requestOutcome(outcome: RequestOutcome, breakGlass: boolean): void;
  /** Time a client waited on a held statement. */
  waitSeconds(seconds: number): void;
  /** Held statements waiting on this instance. */
  pending(delta: number): void;
  storeError(): void;
}

export type DecisionVia = ApprovalVote['via'];

export interface NewRequestInput {
  readonly requester: Requester;
  readonly resource: string;
  readonly protocol: 'postgres' | 'mysql';
  readonly rule: string;
  readonly approval: ApprovalSpec;
  readonly sql: string;
  readonly params: readonly (string | null)[];
  /** The rule's `audit: { params: redact }`: approvers see the values, audit records do not. */
  readonly redact_params?: boolean;
  /** Ignored: the broker computes the binding itself so nothing else can choose what an approval covers. */
  readonly binding?: string;
  readonly kinds: readonly string[];
  readonly tables: readonly string[];
  readonly session_id: string;
  readonly client_addr?: string;
}

export type HoldOutcome =
  | { verdict: 'approved'; request: ApprovalRequest; breakGlass: boolean }
  | { verdict: 'denied'; request: ApprovalRequest; by: string; reason: string }
  | { verdict: 'expired'; request: ApprovalRequest }
  | { verdict: 'cancelled'; request: ApprovalRequest }
  | { verdict: 'abandoned'; request: ApprovalRequest }
  | { verdict: 'unavailable'; message: string };

export interface DecisionResult {
  readonly request: ApprovalRequest;
  /** vote_recorded: counted, more approvals needed. */
  readonly outcome: 'vote_recorded' | 'approved' | 'denied' | 'forced';
}

export function storeUnavailable(detail: string): ClientError {
  return new ClientError({
    sqlstate: '57P03',
    mysqlErrno: 1053,
    message: `approval store unavailable: ${detail.replace(/^approval store unavailable: /, '')}`,
    hint: 'Statements that need no approval still work; held statements can run again once the store is back.',
  });
}

/** The holder refused to run a request whose approval record does not add up (approvalFlaw). */
export function approvalRejected(id: string, flaw: string): ClientError {
  return new ClientError({
    sqlstate: '42501',
    mysqlErrno: 1142,
    message: `airlock: approval request ${id} is marked approved, but its approval record is inconsistent (${flaw}); the statement was not run`,
    hint: 'The request is cancelled. Ask for approval again; airlock\'s operators should look at the approval store.',
  });
}

export function outcomeOf(req: ApprovalRequest): HoldOutcome {
  switch (req.state) {
    case 'approved':
    case 'executed':
      return { verdict: 'approved', request: req, breakGlass: req.break_glass !== undefined };
    case 'denied':
      return { verdict: 'denied', request: req, by: req.denial?.by ?? 'an approver', reason: req.final_reason ?? '' };
    case 'expired':
    case 'cancelled':
    case 'abandoned':
      return { verdict: req.state, request: req };
    case 'pending':
      return { verdict: 'unavailable', message: `request ${req.id} is still pending` };
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
