// Approval requests and the store that holds their state (memory or Redis).

import type { ApprovalSpec, Requester } from '../policy/types.js';

export type RequestState =
  | 'pending'
  | 'approved'
  | 'denied'
  | 'expired'
  | 'cancelled'
  | 'abandoned'
  | 'executed';

export interface ApprovalVote {
  readonly by: string;          // email
  readonly groups: readonly string[]; // the approver's groups that are among the rule's approver groups
  readonly at: number;          // epoch ms
  readonly reason?: string;
  readonly via: 'cli' | 'api' | 'slack';
}

export interface ApprovalRequest {
  readonly id: string;
  readonly state: RequestState;
  readonly created_at: number;
  readonly expires_at: number;
  readonly requester: Requester;
  readonly resource: string;
  readonly protocol: 'postgres' | 'mysql';
  readonly rule: string;
  /** Snapshot of the rule's approval spec when held: a reload does not change it. */
  readonly approval: ApprovalSpec;
  readonly sql: string;
  /** Bound parameter values as text (null for SQL NULL); empty for simple queries. */
  readonly params: readonly (string | null)[];
  /**
   * The rule says `audit: { params: redact }`: params hold the real values, for approvers to judge (API,
   * CLI, Slack), and every audit record written for the request carries '[redacted]' in their place.
   */
  readonly redact_params?: boolean;
  /** SHA-256 over (resource, requester, sql, params): what the approval binds to. */
  readonly binding: string;
  readonly kinds: readonly string[];
  readonly tables: readonly string[];
  readonly session_id: string;
  readonly client_addr?: string;
  /** The replica holding the connection, and until when its lease runs. */
  readonly instance_id: string;
  readonly lease_until: number;
  readonly approvals: readonly ApprovalVote[];
  readonly denial?: ApprovalVote;
  readonly break_glass?: ApprovalVote;
  readonly final_at?: number;
  readonly final_reason?: string;
  /** Slack message coordinates once posted. */
  readonly slack?: { readonly channel: string; readonly ts: string };
}

export interface NewRequest extends Omit<ApprovalRequest, 'state' | 'approvals' | 'denial' | 'break_glass' | 'final_at' | 'final_reason' | 'slack'> {}

export type TransitionOutcome =
  | { ok: true; request: ApprovalRequest; changed: boolean }
  | { ok: false; reason: 'not_found' | 'not_pending' | 'already_voted'; request?: ApprovalRequest };

export interface JitGrant {
  readonly id: string;
  readonly requester: string; // email
  readonly resource: string;
  readonly rule: string;
  readonly granted_at: number;
  readonly expires_at: number;
  readonly request_id?: string;
  readonly reason?: string;
}

/**
 * State transitions are atomic in the store: eligibility of a person is decided by the broker,
 * but "still pending", "not voted before", "threshold reached" and "one execution" are decided
 * inside one atomic step here.
 */
export interface ApprovalStore {
  create(req: NewRequest): Promise<ApprovalRequest>;
  get(id: string): Promise<ApprovalRequest | undefined>;
  list(filter?: { states?: readonly RequestState[]; breakGlass?: boolean }): Promise<ApprovalRequest[]>;
  /** Adds a vote; becomes approved when min_approvals distinct people (and all groups if required) voted. */
  approve(id: string, vote: ApprovalVote): Promise<TransitionOutcome>;
  /** Break-glass: approved at once, flagged. */
  force(id: string, vote: ApprovalVote): Promise<TransitionOutcome>;
  deny(id: string, vote: ApprovalVote): Promise<TransitionOutcome>;
  /**
   * pending → expired | cancelled | abandoned; also approved → cancelled: a client that cancels or goes
   * away after the approval, before its statement was claimed, must leave the request final, not approved.
   */
  finish(id: string, state: 'expired' | 'cancelled' | 'abandoned', reason: string): Promise<TransitionOutcome>;
  /** approved → executed, exactly once; ok:false if already executed or not approved. */
  markExecuted(id: string): Promise<TransitionOutcome>;
  /**
   * approved | executed → cancelled, for the session that holds the request when it will not forward the
   * statement after all (its client left while the claim or the intent record was in flight). Only that
   * session may call it: an executed request of anyone else did run.
   */
  withdraw(id: string, reason: string): Promise<TransitionOutcome>;
  setSlack(id: string, slack: { channel: string; ts: string }): Promise<void>;
  renewLeases(instanceId: string, ids: readonly string[], until: number): Promise<void>;
  /** Marks pending requests whose lease ran out as abandoned; returns them. */
  reapAbandoned(now: number): Promise<ApprovalRequest[]>;
  /** Called with the request after every state change, on every replica. */
  subscribe(listener: (req: ApprovalRequest) => void): () => void;
  grantJit(grant: JitGrant): Promise<void>;
  findJit(requester: string, resource: string, rule: string, now: number): Promise<JitGrant | undefined>;
  listJit(now: number): Promise<JitGrant[]>;
  revokeJit(id: string): Promise<boolean>;
  /** Store health, for /readyz and for failing holds fast. */
  readonly available: boolean;
  close(): Promise<void>;
}
