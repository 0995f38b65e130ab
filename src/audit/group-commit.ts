// Group commit: records already written to a segment wait here for the one fdatasync that makes a
// whole batch of them durable, and segment descriptors left behind are closed once that is done.

import fs from 'node:fs';
import { promisify } from 'node:util';
import type { AuditRecord } from './chain.js';

const fdatasync = promisify(fs.fdatasync);

/** A record already written to `fd`, waiting for the fdatasync that makes it durable. */
export interface WrittenRecord {
  readonly record: AuditRecord;
  readonly line: string;
  readonly fd: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export interface GroupCommitHooks {
  /** How long a non-sync record may wait for company before its batch is fsynced. */
  readonly groupCommitMs: number;
  readonly healthy: () => boolean;
  /** Runs before each fdatasync: bytes still buffered by the writer must reach the file first. */
  readonly beforeSync: () => void;
  /** Runs once a batch is durable, before its promises resolve. */
  readonly afterSync: (batch: readonly WrittenRecord[], seconds: number) => Promise<void>;
  readonly onFailure: (err: unknown, batch: readonly WrittenRecord[]) => void;
}

export class GroupCommit {
  readonly #hooks: GroupCommitHooks;
  #unsynced: WrittenRecord[] = [];
  /** Descriptors of segments left behind, closed once what was written to them is durable. */
  #retired: number[] = [];
  #syncing = false;
  /** A record waiting now asked to be durable at once (or someone is draining). */
  #urgent = false;
  #syncTimer: NodeJS.Timeout | undefined;
  #syncImmediate: NodeJS.Immediate | undefined;
  #drainWaiters: Array<() => void> = [];

  constructor(hooks: GroupCommitHooks) {
    this.#hooks = hooks;
  }

  /** The record is in `fd`; the promise resolves once it is durable. `sync` asks for that at once. */
  track(record: AuditRecord, line: string, fd: number, sync: boolean): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.#unsynced.push({ record, line, fd, resolve, reject }));
    this.#schedule(sync);
    return done;
  }

  /** `fd` no longer receives records; it is closed once its records are durable. */
  retire(fd: number): void {
    this.#retired.push(fd);
  }

  /** Waits until everything written so far is durable (or has failed). */
  drain(): Promise<void> {
    if (this.#unsynced.length === 0 && !this.#syncing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
      this.#schedule(true);
    });
  }

  /** Takes every record still waiting, for the writer to reject after a failure. */
  takePending(): WrittenRecord[] {
    return this.#unsynced.splice(0);
  }

  /** Stops the timers and closes the descriptors left behind. */
  stop(): void {
    clearTimeout(this.#syncTimer);
    if (this.#syncImmediate) clearImmediate(this.#syncImmediate);
    for (const fd of this.#retired.splice(0)) closeQuietly(fd);
  }

  #schedule(sync: boolean): void {
    if (sync) this.#urgent = true;
    if (this.#syncing) return; // the running loop picks new records up before it stops
    if (sync) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
      this.#syncImmediate ??= setImmediate(() => { this.#syncImmediate = undefined; void this.#syncLoop(); });
    } else if (!this.#syncTimer && !this.#syncImmediate) {
      this.#syncTimer = setTimeout(() => { this.#syncTimer = undefined; void this.#syncLoop(); }, this.#hooks.groupCommitMs);
    }
  }

  /**
   * One fdatasync covers every record written before it to that file. Records that arrived during a
   * sync go out in the next one at once only if one of them is urgent; otherwise they wait up to
   * groupCommitMs for company, so steady traffic of lazy records costs one fdatasync per interval,
   * not one per disk round trip.
   */
  async #syncLoop(): Promise<void> {
    if (this.#syncing) return;
    this.#syncing = true;
    let batch: WrittenRecord[] = [];
    let first = true;
    try {
      while (this.#unsynced.length > 0 && this.#hooks.healthy() && (first || this.#urgent)) {
        first = false;
        this.#urgent = false;
        this.#hooks.beforeSync();
        batch = this.#unsynced.splice(0);
        const started = process.hrtime.bigint();
        for (const fd of new Set(batch.map((i) => i.fd))) await fdatasync(fd);
        await this.#hooks.afterSync(batch, Number(process.hrtime.bigint() - started) / 1e9);
        for (const item of batch) item.resolve();
        batch = [];
        this.#closeRetired();
      }
    } catch (err) {
      this.#hooks.onFailure(err, batch);
    } finally {
      this.#syncing = false;
      if (this.#unsynced.length === 0) for (const resolve of this.#drainWaiters.splice(0)) resolve();
      else if (this.#hooks.healthy()) this.#schedule(this.#urgent);
    }
  }

  #closeRetired(): void {
    this.#retired = this.#retired.filter((fd) => {
      if (this.#unsynced.some((i) => i.fd === fd)) return true;
      closeQuietly(fd);
      return false;
    });
  }
}

export function closeQuietly(fd: number): void {
  try { fs.closeSync(fd); } catch { /* already closed or never usable: nothing left to flush */ }
}
