// Awaitable frames from a socket during the startup phase, before the relay takes the socket over.

import type { Socket } from 'node:net';
import { AirlockError } from '../errors.js';
import type { PgFrame, PgFramer } from '../protocol/pg/framer.js';

export class StartupFrameReader {
  private readonly frames: PgFrame[] = [];
  private waiter: { resolve: (f: PgFrame) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new AirlockError('AIRLOCK_ERR_PROTOCOL', 'client closed the connection during startup'));

  constructor(private socket: Socket, readonly framer: PgFramer) {
    this.attach(socket);
  }

  /** After a TLS upgrade the frames come from the TLS socket. */
  rebind(socket: Socket): void {
    this.detach();
    this.socket = socket;
    this.attach(socket);
  }

  next(): Promise<PgFrame> {
    const frame = this.frames.shift();
    if (frame) return Promise.resolve(frame);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Stops reading; returns frames already split off, which the relay handles first. */
  detach(): PgFrame[] {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    return this.frames.splice(0);
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  private push(chunk: Buffer): void {
    try {
      this.framer.push(chunk, (f) => {
        // A StartupMessage (protocol 3.x) ends the untyped phase; later frames in this chunk are typed.
        if (f.type === 0 && f.body.length >= 4 && f.body.readInt32BE(0) >> 16 === 3) this.framer.setTyped(true);
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(f);
        } else {
          this.frames.push(f);
        }
      });
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(this.failure);
    }
  }
}
