// An AuditSink that keeps records in memory, for tests; can be told to fail like a full disk.

import type { AuditFields, AuditSink, AuditType } from '../../src/audit/types.js';

export interface MemoryAuditRecord {
  readonly type: AuditType;
  readonly fields: AuditFields;
  readonly sync: boolean;
}

export class MemoryAudit implements AuditSink {
  readonly records: MemoryAuditRecord[] = [];
  /** Set to make every append reject, as a failed write would. */
  failing = false;

  get healthy(): boolean {
    return !this.failing;
  }

  async append(type: AuditType, fields: AuditFields, opts?: { sync?: boolean }): Promise<void> {
    if (this.failing) throw new Error('audit write failed (test)');
    this.records.push({ type, fields, sync: opts?.sync ?? false });
  }

  ofType(type: AuditType): MemoryAuditRecord[] {
    return this.records.filter((r) => r.type === type);
  }

  async close(): Promise<void> {}
}
