// Socket plumbing for the startup phase of an upstream PostgreSQL connection: whole frames and one deadline.
//
// Bytes arrive in arbitrary chunks (research/bugcases.md §14), so frames are cut strictly by their Int32
// length; whatever was read past the last frame consumed is handed back by detach().

import type net from 'node:net';
import type tls from 'node:tls';
import { AirlockError } from '../errors.js';

// No startup-phase message is legitimately this large; a bigger length means a confused or hostile peer.
const MAX_STARTUP_FRAME = 1024 * 1024;

/** Collects socket data and hands out whole backend frames (Byte1 type + Int32 length + body). */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private ended = false;
  private readonly onData = (chunk: Buffer) => {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.notify();
  };
  private readonly onError = (err: Error) =>
    this.fail(new AirlockError('AIRLOCK_ERR_UPSTREAM_CONNECT', `upstream ${this.where}: ${err.message}`, { cause: err }));
  private readonly onClose = () => {
    this.ended = true;
    this.notify();
  };

  constructor(
    readonly socket: net.Socket | tls.TLSSocket,
    private readonly where: string,
  ) {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.socket.destroy();
    this.notify();
  }

  async connected(): Promise<void> {
    if (!this.socket.connecting) return;
    this.socket.once('connect', () => this.notify());
    await this.until(() => !this.socket.connecting);
  }

  async secured(): Promise<void> {
    let secure = false;
    (this.socket as tls.TLSSocket).once('secureConnect', () => {
      secure = true;
      this.notify();
    });
    await this.until(() => secure);
  }

  async byte(): Promise<number> {
    await this.until(() => this.buffered.length >= 1);
    const value = this.buffered[0]!;
    this.buffered = this.buffered.subarray(1);
    return value;
  }

  async message(): Promise<{ type: string; frame: Buffer; body: Buffer }> {
    let length = -1;
    await this.until(() => {
      if (this.buffered.length < 5) return false;
      length = this.buffered.readInt32BE(1);
      if (length < 4 || length > MAX_STARTUP_FRAME) {
        throw new AirlockError('AIRLOCK_ERR_PROTOCOL', `upstream ${this.where} sent a frame of invalid length ${length}`);
      }
      return this.buffered.length >= 1 + length;
    });
    const frame = Buffer.from(this.buffered.subarray(0, 1 + length));
    this.buffered = this.buffered.subarray(1 + length);
    return { type: String.fromCharCode(frame[0]!), frame, body: frame.subarray(5) };
  }

  async closed(): Promise<void> {
    await this.until(() => this.ended, true);
  }

  /** Stops reading and returns what was read but not consumed; the socket stays paused. */
  detach(): Buffer {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async until(ready: () => boolean, endIsReady = false): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (ready()) return;
      if (this.ended) {
        if (endIsReady) return;
        throw new AirlockError('AIRLOCK_ERR_UPSTREAM_CONNECT', `upstream ${this.where} closed the connection during startup`);
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/** One timer and one abort listener for a whole connection attempt. */
export class Deadline {
  private readonly timer: NodeJS.Timeout;
  private readonly callbacks: Array<(err: Error) => void> = [];
  private expired: Error | undefined;
  private readonly onAbort = () =>
    this.expire(new AirlockError('AIRLOCK_ERR_UPSTREAM_CONNECT', `aborted while ${this.what}`, { cause: this.signal?.reason }));

  constructor(
    ms: number,
    private readonly signal: AbortSignal | undefined,
    private readonly what: string,
  ) {
    this.timer = setTimeout(() => this.expire(new AirlockError('AIRLOCK_ERR_UPSTREAM_CONNECT', `timed out after ${ms} ms ${what}`)), ms);
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  onExpire(callback: (err: Error) => void): void {
    if (this.expired) callback(this.expired);
    else this.callbacks.push(callback);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  private expire(err: Error): void {
    this.expired ??= err;
    this.clear();
    for (const callback of this.callbacks) callback(err);
  }
}
