// How the broker reaches the store, audit log, metrics and notifiers, and which errors each failure becomes.

import type { Logger } from '../log.js';
import { AirlockError } from '../errors.js';
import type { AuditFields, AuditSink, AuditType } from '../audit/types.js';
import type { ApprovalRequest, ApprovalStore } from './types.js';
import { messageOf, storeUnavailable, type ApprovalMetrics, type ApprovalNotifier, type RequestOutcome } from './broker-types.js';

export interface BrokerEffectsDeps {
  readonly store: ApprovalStore;
  readonly audit: AuditSink;
  readonly log: Logger;
  readonly metrics?: ApprovalMetrics;
  readonly notifiers?: readonly ApprovalNotifier[];
}

export class BrokerEffects {
  constructor(private readonly deps: BrokerEffectsDeps) {}

  /** Decision records are fsynced; a failed write is reported to the decider, who may retry. */
  async record(type: AuditType, fields: AuditFields, strict = true): Promise<void> {
    try {
      await this.deps.audit.append(type, fields, { sync: true });
    } catch (err) {
      this.deps.log.error({ err, type, request_id: fields.request_id }, 'audit write failed');
      if (strict) throw new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', `the decision was stored but its audit record failed: ${messageOf(err)}`, { cause: err });
    }
  }

  afterTransition(request: ApprovalRequest): void {
    this.deps.metrics?.requestOutcome(request.state as RequestOutcome, request.break_glass !== undefined);
    this.notify('changed', request);
  }

  notify(kind: 'opened' | 'changed', request: ApprovalRequest): void {
    for (const notifier of this.deps.notifiers ?? []) {
      try {
        void Promise.resolve(notifier[kind](request)).catch((err: unknown) => this.deps.log.warn({ err, request_id: request.id }, `notifier ${kind} failed`));
      } catch (err) {
        this.deps.log.warn({ err, request_id: request.id }, `notifier ${kind} failed`);
      }
    }
  }

  requireStore(): void {
    if (!this.deps.store.available) {
      this.deps.metrics?.requestOutcome('unavailable', false);
      throw storeUnavailable('not connected');
    }
  }

  /** Session path: store failures become the 57P03 client error the database client sees. */
  async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AirlockError && err.code !== 'AIRLOCK_ERR_STORE_UNAVAILABLE') throw err;
      this.deps.metrics?.storeError();
      throw storeUnavailable(messageOf(err));
    }
  }

  /** Decider path: store failures stay AirlockError(AIRLOCK_ERR_STORE_UNAVAILABLE), which the API maps to 503. */
  async deciderCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AirlockError) {
        if (err.code === 'AIRLOCK_ERR_STORE_UNAVAILABLE') this.deps.metrics?.storeError();
        throw err;
      }
      this.deps.metrics?.storeError();
      throw new AirlockError('AIRLOCK_ERR_STORE_UNAVAILABLE', `approval store unavailable: ${messageOf(err)}`, { cause: err });
    }
  }
}
