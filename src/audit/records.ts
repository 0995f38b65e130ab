// The payload of every audit record type: field names the session writes and the report relies on.

/*
 * Every record carries the envelope { v: 1, chain_id, seq, ts, type, instance, prev_hash, hash }
 * (see chain.ts). The payload fields below sit beside it at the top level. Times are UTC RFC 3339
 * with milliseconds; durations are integer milliseconds.
 *
 * Chain housekeeping (written by the writer itself):
 *   chain.genesis      { segment, key_id, public_key }                  first record of a chain
 *   segment.open       { segment, prev_segment, key_id, public_key }    first record of every later segment
 *   segment.close      { segment, records, recovered?, next_segment? }  then a checkpoint ends the segment;
 *                      recovered: true when a crash left it open and the restarted writer closed it;
 *                      next_segment: the segment the chain goes on in (rotation, recovery), absent only
 *                      at shutdown, so the last segment of a stopped chain ends with a close without it
 *   checkpoint         { segment, head_seq, head_hash, key_id, sig }    Ed25519 (signing.ts) over the canonical
 *                      { chain_id, segment, head_seq, head_hash, ts, key_id }; head = the record just before
 *   chain.recovered    { segment, offset, length, discarded_sha256, quarantine }   torn tail cut at open
 *   chain.break        { segment, seq?, offset, reason }                damage found at open; never repaired
 *
 * Written by the rest of airlock:
 *   policy.loaded      { sha256, file }
 *   policy.rejected    { files, errors }    a reload refused; the previous policy and users stay in force
 *   session.start      { session_id, requester, resource, protocol: 'postgres'|'mysql', client_addr,
 *                        application_name, tls: boolean }
 *   session.end        { session_id, duration_ms, reason }
 *   statement.decided  { session_id, requester, resource, decision: 'allow'|'deny'|'hold', rule, source,
 *                        kinds: string[], tables: string[], writes: boolean, sql | sql_sha256, params? }
 *   request.held       { request_id, session_id, requester, resource, rule, approvers: string[],
 *                        min_approvals, expires_at, sql | sql_sha256, params }   params: one '[redacted]'
 *                        per value under audit: { params: redact } (the request itself keeps the values
 *                        for its approvers)
 *   approval.requested { request_id, channel, message_ts }
 *   approval.vote      { request_id, by, via: 'slack'|'cli'|'api' }
 *   approval.granted   { request_id, by: string[], break_glass: boolean }
 *   approval.denied    { request_id, by, reason }
 *   approval.expired   { request_id, reason }
 *   approval.cancelled { request_id, reason }
 *   approval.abandoned { request_id, reason }
 *   approval.rejected  { request_id, reason, votes: string[], break_glass: boolean }   the holder found the
 *                      request approved in the store, but its votes do not justify that (no votes, too few,
 *                      the requester's own, outside the rule's groups): the statement did not run and the
 *                      request ends cancelled. Someone wrote to the approval store around airlock.
 *   breakglass.used    { request_id, by, reason, review_due }
 *   execution.intent   { request_id?, session_id, sql_sha256 }
 *   execution.result   { request_id?, session_id, outcome: 'ok'|'error', command_tag?, sqlstate?, errno?,
 *                        rows?, duration_ms }
 *
 * Secrets never reach a record: the writer drops any field whose name contains password, passwd,
 * token or secret, at any depth. With audit.sql = hash the writer replaces `sql` by `sql_sha256`.
 * Redacting bound parameters is the caller's job (pass params: '[redacted]'): the gate does it for
 * statement.decided, the broker for request.held (ApprovalRequest.redact_params); no other record carries them.
 */

import type { AuditFields, AuditType } from './types.js';

export type Decision = 'allow' | 'deny' | 'hold';
export type ExecutionOutcome = 'ok' | 'error';

/** Payload shapes per type, for callers that want the compiler to check their field names. */
export interface AuditPayloads {
  'policy.loaded': { sha256: string; file: string };
  'policy.rejected': { files: string[]; errors: string[] };
  'session.start': {
    session_id: string; requester: string; resource: string; protocol: 'postgres' | 'mysql';
    client_addr: string; application_name?: string; tls: boolean;
  };
  'session.end': { session_id: string; duration_ms: number; reason: string };
  'statement.decided': {
    session_id: string; requester: string; resource: string; decision: Decision; rule: string | null;
    /** rule | default | unparseable | session-control, or jit when an open access window let a hold run. */
    source: string;
    /** With source jit: the access window (`airlock access list`) that let it run. */
    grant_id?: string;
    kinds: readonly string[]; tables: readonly string[]; writes: boolean; sql: string; params?: unknown;
  };
  'request.held': {
    request_id: string; session_id?: string; requester?: string; resource?: string; rule: string;
    approvers: readonly string[]; min_approvals: number; expires_at: string; sql: string; params?: unknown;
  };
  'approval.requested': { request_id: string; channel: string; message_ts: string };
  'approval.vote': { request_id: string; by: string; via: string };
  'approval.granted': { request_id: string; by: readonly string[]; break_glass: boolean };
  'approval.denied': { request_id: string; by: string; reason?: string };
  'approval.expired': { request_id: string; reason?: string };
  'approval.cancelled': { request_id: string; reason?: string };
  'approval.abandoned': { request_id: string; reason?: string };
  'approval.rejected': { request_id: string; reason: string; votes: readonly string[]; break_glass: boolean };
  'breakglass.used': { request_id: string; by: string; reason: string; review_due: string };
  'execution.intent': { request_id?: string; session_id: string; sql_sha256: string };
  'execution.result': {
    request_id?: string; session_id: string; outcome: ExecutionOutcome; command_tag?: string;
    sqlstate?: string; errno?: number; rows?: number; duration_ms: number;
  };
}

/** Types only the writer emits; callers may not append them. */
export const HOUSEKEEPING_TYPES: ReadonlySet<AuditType> = new Set<AuditType>([
  'chain.genesis', 'chain.recovered', 'chain.break', 'segment.open', 'segment.close', 'checkpoint',
]);

/** Identity helper that type-checks a payload against its record type. */
export function auditPayload<T extends keyof AuditPayloads>(_type: T, fields: AuditPayloads[T]): AuditFields {
  return fields as unknown as AuditFields;
}
