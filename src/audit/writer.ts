// The audit writer: one hash chain per instance in append-only JSONL segments, fsynced and signed.

/*
 * Every record is written to its segment with write(2) inside append(), in seq order, before append
 * returns. A record that has reached the page cache survives the death of the process (SIGKILL, a
 * crash), so a caller that appends and then forwards a statement never runs a statement whose
 * record a killed airlock lost. Only fdatasync is grouped and asynchronous: append's promise
 * resolves once the record is durable against power loss too (sync: true asks for that at once,
 * otherwise it waits up to groupCommitMs for company).
 */

import fs, { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AirlockError } from '../errors.js';
import { GroupCommit, closeQuietly, type WrittenRecord } from './group-commit.js';
import { formatTimestamp, sealRecordLine, type AuditRecord, type ChainHead, EMPTY_HEAD } from './chain.js';
import { HOUSEKEEPING_TYPES } from './records.js';
import { scanChainTail, type TailState } from './recovery.js';
import { sanitizeFields, sha256Hex, type SqlMode } from './redact.js';
import {
  CHECKPOINT_LOG, claimInstanceLock, findInstanceChain, releaseInstanceLock, isValidInstanceId, liveMarkerPath, newChainId, segmentName,
} from './segments.js';
import { loadOrCreateSigningKey, signCheckpoint, type SigningKey } from './signing.js';
import type { AuditFields, AuditSink, AuditType } from './types.js';

export interface AuditWriterMetrics {
  recordsWritten?: (type: AuditType) => void;
  fsyncSeconds?: (seconds: number) => void;
  writeFailures?: () => void;
  chainBreaks?: () => void;
}

/** The subset of a pino logger the writer uses. */
export interface AuditLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AuditWriterOptions {
  readonly dir: string;
  readonly instanceId: string;
  readonly signingKeyFile: string;
  readonly checkpointIntervalMs?: number;
  readonly checkpointRecords?: number;
  readonly rotateBytes: number;
  readonly rotateAgeMs: number;
  readonly sqlMode?: SqlMode;
  /** In text mode, SQL longer than this is cut, with the full text's SHA-256 and length kept. */
  readonly sqlMaxBytes?: number;
  /** How long a non-sync record may wait for company before its batch is fsynced (it is written at once). */
  readonly groupCommitMs?: number;
  readonly onError?: (err: AirlockError) => void;
  readonly metrics?: AuditWriterMetrics;
  readonly logger?: AuditLogger;
  /** Source of record timestamps (tests pin it). */
  readonly clock?: () => Date;
}

export class AuditWriter implements AuditSink {
  readonly chainId: string;
  readonly #opts: AuditWriterOptions;
  readonly #key: SigningKey;
  readonly #clock: () => Date;
  #head: ChainHead;
  #segment: { name: string; index: number; bytes: number; openedAt: number; records: number };
  #fd: number | undefined;
  #fdName: string | undefined;
  readonly #commit: GroupCommit;
  #checkpointLog: FileHandle | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #sinceCheckpoint = 0;
  #healthy = true;
  #closed = false;
  #failure: AirlockError | undefined;
  /** Lines of lazy records, sealed in order but not yet written: they go out with the next write. */
  #lazyLines: string[] = [];
  #lazyFlush: NodeJS.Immediate | undefined;

  private constructor(opts: AuditWriterOptions, key: SigningKey, chainId: string, head: ChainHead, segment: { name: string; index: number; bytes: number }) {
    this.#opts = opts;
    this.#key = key;
    this.#clock = opts.clock ?? (() => new Date());
    this.chainId = chainId;
    this.#head = head;
    this.#segment = { ...segment, openedAt: this.#clock().getTime(), records: 0 };
    this.#commit = new GroupCommit({
      groupCommitMs: opts.groupCommitMs ?? 5,
      healthy: () => this.#healthy,
      beforeSync: () => this.#flushLazy(),
      afterSync: (batch, seconds) => this.#afterSync(batch, seconds),
      onFailure: (err, batch) => this.#fail(err, batch),
    });
  }

  /** Opens (or creates) the instance's chain, recovering from a crash first. */
  static async open(opts: AuditWriterOptions): Promise<AuditWriter> {
    if (!isValidInstanceId(opts.instanceId)) {
      throw new AirlockError('AIRLOCK_ERR_CONFIG', `instance id "${opts.instanceId}" must be 1-100 of A-Z a-z 0-9 _ . -`);
    }
    const key = await loadOrCreateSigningKey(opts.signingKeyFile);
    await fsp.mkdir(opts.dir, { recursive: true });
    claimInstanceLock(opts.dir, opts.instanceId);
    try {
      return await AuditWriter.#openClaimed(opts, key);
    } catch (err) {
      releaseInstanceLock(opts.dir, opts.instanceId);
      throw err;
    }
  }

  static async #openClaimed(opts: AuditWriterOptions, key: SigningKey): Promise<AuditWriter> {
    const segments = findInstanceChain(opts.dir, opts.instanceId);
    const now = (opts.clock ?? (() => new Date()))();
    let writer: AuditWriter;
    if (!segments) {
      const chainId = newChainId(opts.instanceId, now);
      writer = new AuditWriter(opts, key, chainId, EMPTY_HEAD, { name: segmentName(chainId, 0), index: 0, bytes: 0 });
      writer.#switchTo(writer.#segment.name, 'wx', false);
      writer.#enqueueStart('chain.genesis', undefined);
    } else {
      writer = await AuditWriter.#resume(opts, key, scanChainTail(segments));
    }
    await writer.#commit.drain();
    if (!writer.#healthy) {
      writer.#closeDescriptors();
      throw writer.#failure!;
    }
    await writer.#markLive();
    writer.#startCheckpointTimer();
    return writer;
  }

  static async #resume(opts: AuditWriterOptions, key: SigningKey, tail: TailState): Promise<AuditWriter> {
    const { newest } = tail;
    let quarantine: string | undefined;
    if (tail.torn) {
      // Keep the torn bytes beside the segment (they may matter to an investigator), then cut them.
      quarantine = `${newest.name}.torn-${formatTimestamp((opts.clock ?? (() => new Date()))()).replace(/[-:.]/g, '')}`;
      await writeDurably(path.join(opts.dir, quarantine), tail.torn.bytes);
      await fsp.chmod(newest.path, 0o644);
      await fsp.truncate(newest.path, tail.torn.offset);
      const fh = await fsp.open(newest.path, 'r+');
      try { await fh.sync(); } finally { await fh.close(); }
    }
    // An empty newest segment (crash right after creating it) is reused; a damaged one is left as found.
    const reuse = tail.records === 0 && !tail.damage;
    const index = reuse ? newest.index : newest.index + 1;
    const writer = new AuditWriter(opts, key, newest.chainId, tail.head, { name: segmentName(newest.chainId, index), index, bytes: 0 });
    if (!reuse && !tail.damage && !tail.closed) {
      // A crash left the segment unclosed: close and sign it now that its records are known good,
      // saying so, since a clean shutdown would have closed it.
      writer.#switchTo(newest.name, 'a', false);
      writer.#enqueueSegmentEnd(newest.name, tail.records, true, writer.#segment.name);
      opts.logger?.warn({ segment: newest.name, records: tail.records }, 'audit: segment left open by a crash closed at restart');
    } else if (!reuse) {
      await fsp.chmod(newest.path, 0o444);
    }
    writer.#switchTo(writer.#segment.name, reuse ? 'a' : 'wx', true);
    const prevSegment = reuse ? (index > 0 ? segmentName(newest.chainId, index - 1) : undefined) : newest.name;
    writer.#enqueueStart(tail.head.seq === 0 ? 'chain.genesis' : 'segment.open', prevSegment);
    if (tail.torn) {
      void writer.#enqueue('chain.recovered', {
        segment: newest.name, offset: tail.torn.offset, length: tail.torn.bytes.length,
        discarded_sha256: sha256Hex(tail.torn.bytes), quarantine,
      }, true).catch(() => {});
      opts.logger?.warn({ segment: newest.name, offset: tail.torn.offset, length: tail.torn.bytes.length }, 'audit: torn last line cut off after a crash');
    }
    if (tail.damage) {
      void writer.#enqueue('chain.break', { segment: newest.name, ...tail.damage }, true).catch(() => {});
      opts.metrics?.chainBreaks?.();
      const err = new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', `audit chain damaged in ${newest.name} at byte ${tail.damage.offset}: ${tail.damage.reason}; a new segment was started, the damage is kept`);
      opts.logger?.error({ segment: newest.name, ...tail.damage }, 'audit: chain break');
      opts.onError?.(err);
    }
    return writer;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** Name of the segment records are written to now. */
  get segment(): string {
    return this.#segment.name;
  }

  /** The record is in the segment file when this returns; the promise resolves once it is fsynced. */
  append(type: AuditType, fields: AuditFields, opts?: { sync?: boolean; lazy?: boolean }): Promise<void> {
    if (HOUSEKEEPING_TYPES.has(type)) {
      return Promise.reject(new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', `record type ${type} is written by the audit writer only`));
    }
    if (this.#closed) return Promise.reject(new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', 'audit writer is closed'));
    if (!this.#healthy) return Promise.reject(this.#failure!);
    let payload: Record<string, unknown>;
    try {
      payload = sanitizeFields(fields, this.#opts.sqlMode ?? 'text', this.#opts.sqlMaxBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    const now = this.#clock().getTime();
    if (this.#segment.bytes >= this.#opts.rotateBytes || now - this.#segment.openedAt >= this.#opts.rotateAgeMs) this.#rotate();
    const written = this.#enqueue(type, payload, opts?.sync === true, undefined, opts?.lazy === true && opts.sync !== true);
    if (this.#sinceCheckpoint >= (this.#opts.checkpointRecords ?? 1000)) void this.checkpoint().catch(() => {});
    return written;
  }

  /** Signs the current head now (also runs on the interval, at rotation and at close). */
  checkpoint(): Promise<void> {
    if (this.#closed) return Promise.reject(new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', 'audit writer is closed'));
    if (!this.#healthy) return Promise.reject(this.#failure!);
    return this.#enqueueCheckpoint();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#checkpointTimer);
    if (this.#healthy) {
      // A stopped chain ends with this close and checkpoint; verify reports one that ends otherwise.
      this.#enqueueSegmentEnd(this.#segment.name, this.#segment.records, false);
      await this.#commit.drain();
    }
    this.#closeDescriptors();
    await this.#checkpointLog?.close().catch(() => {});
    this.#checkpointLog = undefined;
    if (this.#healthy) {
      await fsp.chmod(path.join(this.#opts.dir, this.#segment.name), 0o444);
      await fsp.rm(liveMarkerPath(this.#opts.dir, this.chainId), { force: true });
    }
    releaseInstanceLock(this.#opts.dir, this.#opts.instanceId);
    if (!this.#healthy) throw this.#failure!;
  }

  #enqueueStart(type: 'chain.genesis' | 'segment.open', prevSegment: string | undefined): void {
    void this.#enqueue(type, {
      segment: this.#segment.name, ...(type === 'segment.open' ? { prev_segment: prevSegment ?? null } : {}),
      key_id: this.#key.keyId, public_key: this.#key.publicKeyPem,
    }, true).catch(() => {});
  }

  /**
   * segment.close then a checkpoint; `recovered` marks a segment a crash left open, closed at restart.
   * Only the close at shutdown names no next segment: verify tells a stopped chain from a cut one by it.
   */
  #enqueueSegmentEnd(name: string, records: number, recovered: boolean, next?: string): void {
    const fields = { segment: name, records: records + 1, ...(recovered ? { recovered: true } : {}), ...(next ? { next_segment: next } : {}) };
    void this.#enqueue('segment.close', fields, true).catch(() => {});
    void this.#enqueueCheckpoint(name).catch(() => {});
  }

  #rotate(): void {
    const index = this.#segment.index + 1;
    const prev = this.#segment.name;
    this.#enqueueSegmentEnd(prev, this.#segment.records, false, segmentName(this.chainId, index));
    this.#segment = { name: segmentName(this.chainId, index), index, bytes: 0, openedAt: this.#clock().getTime(), records: 0 };
    this.#switchTo(this.#segment.name, 'wx', true);
    this.#enqueueStart('segment.open', prev);
    // verify reports the live segment missing by this name, so it must follow every rotation.
    this.#markLive().catch((err) => this.#opts.logger?.warn({ err: (err as Error).message }, 'could not update the audit live marker'));
  }

  /** Names this process and the segment it writes, so verify can tell live from crashed, and deleted from unwritten. */
  #markLive(): Promise<void> {
    return fsp.writeFile(liveMarkerPath(this.#opts.dir, this.chainId), JSON.stringify({ pid: process.pid, segment: this.#segment.name }) + '\n');
  }

  #enqueueCheckpoint(segment: string = this.#segment.name): Promise<void> {
    const ts = formatTimestamp(this.#clock());
    const body = {
      chain_id: this.chainId, segment, head_seq: this.#head.seq, head_hash: this.#head.hash, ts, key_id: this.#key.keyId,
    };
    const sig = signCheckpoint(this.#key, body);
    this.#sinceCheckpoint = 0;
    const { chain_id: _chain, ts: _ts, ...payload } = body;
    return this.#enqueue('checkpoint', { ...payload, sig }, true, ts);
  }

  /** Seals the record and writes it now, so seq, prev_hash and file order all follow call order. */
  #enqueue(type: AuditType, payload: Record<string, unknown>, sync: boolean, ts?: string, lazy = false): Promise<void> {
    if (!this.#healthy) return Promise.reject(this.#failure!);
    let record: AuditRecord;
    let line: string;
    try {
      ({ record, line } = sealRecordLine(this.#head, { chain_id: this.chainId, instance: this.#opts.instanceId, type, ts: ts ?? formatTimestamp(this.#clock()) }, payload));
    } catch (err) {
      return Promise.reject(err);
    }
    const fd = this.#fd;
    if (fd === undefined) {
      this.#fail(new Error('no segment open'));
      return Promise.reject(this.#failure!);
    }
    if (lazy) {
      this.#lazyLines.push(line);
      this.#lazyFlush ??= setImmediate(() => this.#flushLazy());
    } else {
      try {
        const pending = this.#lazyLines.length > 0 ? this.#lazyLines.splice(0).join('') : '';
        writeFully(fd, Buffer.from(pending + line, 'utf8'));
      } catch (err) {
        this.#fail(err);
        return Promise.reject(this.#failure!);
      }
    }
    this.#head = { seq: record.seq, hash: record.hash };
    this.#segment.bytes += Buffer.byteLength(line);
    this.#segment.records += 1;
    if (type !== 'checkpoint') this.#sinceCheckpoint += 1;
    return this.#commit.track(record, line, fd, sync);
  }

  /** Writes sealed lazy lines to the current segment (before any switch, fsync or close). */
  #flushLazy(): void {
    if (this.#lazyFlush) {
      clearImmediate(this.#lazyFlush);
      this.#lazyFlush = undefined;
    }
    if (this.#lazyLines.length === 0 || this.#fd === undefined || !this.#healthy) return;
    try {
      writeFully(this.#fd, Buffer.from(this.#lazyLines.splice(0).join(''), 'utf8'));
    } catch (err) {
      this.#fail(err);
    }
  }

  /** checkpoints.log only ever names checkpoints already durable in the chain. */
  async #afterSync(batch: readonly WrittenRecord[], fsyncSeconds: number): Promise<void> {
    this.#opts.metrics?.fsyncSeconds?.(fsyncSeconds);
    const checkpoints = batch.filter((i) => i.record.type === 'checkpoint');
    if (checkpoints.length > 0) {
      this.#checkpointLog ??= await fsp.open(path.join(this.#opts.dir, CHECKPOINT_LOG), 'a', 0o644);
      await this.#checkpointLog.appendFile(checkpoints.map((i) => i.line).join(''), 'utf8');
      await this.#checkpointLog.datasync();
    }
    for (const item of batch) this.#opts.metrics?.recordsWritten?.(item.record.type);
  }

  /** Writing moves to another segment file; `seal` makes the one being left read-only. */
  #switchTo(name: string, flag: 'a' | 'wx', seal: boolean): void {
    this.#flushLazy();
    try {
      const fd = fs.openSync(path.join(this.#opts.dir, name), flag, 0o644);
      syncDir(this.#opts.dir);
      const previous = this.#fdName;
      if (this.#fd !== undefined) this.#commit.retire(this.#fd);
      this.#fd = fd;
      this.#fdName = name;
      if (seal && previous && previous !== name) fs.chmodSync(path.join(this.#opts.dir, previous), 0o444);
    } catch (err) {
      this.#fail(err);
    }
  }

  #closeDescriptors(): void {
    this.#flushLazy();
    this.#commit.stop();
    if (this.#fd !== undefined) closeQuietly(this.#fd);
    this.#fd = undefined;
  }

  #fail(err: unknown, batch: readonly WrittenRecord[] = []): void {
    const failure = err instanceof AirlockError ? err
      : new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', `audit write failed: ${(err as Error).message}`, { cause: err });
    const first = this.#healthy;
    this.#healthy = false;
    this.#failure ??= failure;
    const pending = [...batch, ...this.#commit.takePending()];
    for (const item of pending) item.reject(this.#failure);
    this.#opts.metrics?.writeFailures?.();
    if (first) {
      // Fail closed: from now on every append rejects, so gated statements are refused until restart.
      this.#opts.logger?.error({ err: failure.message, segment: this.#segment.name }, 'audit: write failed; audit trail unhealthy');
      this.#opts.onError?.(failure);
    }
  }

  #startCheckpointTimer(): void {
    this.#checkpointTimer = setInterval(() => {
      if (this.#healthy && !this.#closed && this.#sinceCheckpoint > 0) void this.checkpoint().catch(() => {});
    }, this.#opts.checkpointIntervalMs ?? 60_000);
    this.#checkpointTimer.unref();
  }
}

function writeFully(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
}

async function writeDurably(file: string, bytes: Buffer): Promise<void> {
  const fh = await fsp.open(file, 'wx', 0o444);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync the directory so a newly created segment survives a power loss (rare: at open and rotation). */
function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}
