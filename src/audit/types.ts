// The audit trail as the rest of airlock sees it: append typed records.

export type AuditType =
  | 'chain.genesis' | 'chain.recovered' | 'chain.break' | 'segment.open' | 'segment.close' | 'checkpoint'
  | 'policy.loaded' | 'policy.rejected'
  | 'session.start' | 'session.end'
  | 'statement.decided'
  | 'request.held' | 'approval.requested' | 'approval.vote' | 'approval.granted' | 'approval.denied'
  | 'approval.expired' | 'approval.cancelled' | 'approval.abandoned' | 'approval.rejected' | 'breakglass.used'
  | 'execution.intent' | 'execution.result';

export interface AuditFields {
  readonly request_id?: string;
  readonly session_id?: string;
  readonly requester?: string;
  readonly resource?: string;
  readonly [key: string]: unknown;
}

export interface AuditSink {
  /**
   * Appends one record. The record is written to the file (it survives the process being killed)
   * before append returns, so a caller may forward the statement right away without awaiting.
   * sync: true means the promise resolves only after fsync (records that gate a statement);
   * otherwise it is group-committed. Rejects when the write fails: callers on held or denied paths
   * must then refuse the statement.
   * lazy: true (records written after the fact, like execution results) lets the record wait, already
   * sealed in order, for the next write or the end of the tick, so a busy session pays one write
   * system call per statement instead of two. Never for a record that must precede an action.
   */
  append(type: AuditType, fields: AuditFields, opts?: { sync?: boolean; lazy?: boolean }): Promise<void>;
  /** Writes a final checkpoint, flushes, fsyncs and closes. */
  close(): Promise<void>;
  readonly healthy: boolean;
}
