// Awaitable frames from a socket during a connection's handshake, before a relay takes the socket
// over; frames already split off are handed to the relay in order. Shared by both protocols.

import type { Socket } from 'node:net';
import { AirlockError } from '../errors.js';

export class SocketFrameQueue<F> {
  private readonly frames: F[] = [];
  private waiter: { resolve: (f: F) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new AirlockError('AIRLOCK_ERR_PROTOCOL', this.closedMessage));
  private readonly onError = (err: Error) => this.fail(err);

  /** split: the protocol's framer, calling emit for each whole frame in the chunk. */
  constructor(
    private socket: Socket,
    private readonly split: (chunk: Buffer, emit: (frame: F) => void) => void,
    private readonly closedMessage: string,
  ) {
    this.attach(socket);
  }

  /** After a TLS upgrade the frames come from the TLS socket. */
  rebind(socket: Socket): void {
    this.detach();
    this.socket = socket;
    this.attach(socket);
  }

  next(): Promise<F> {
    const frame = this.frames.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Stops reading; returns frames already split off, which the relay handles first. */
  detach(): F[] {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    return this.frames.splice(0);
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private push(chunk: Buffer): void {
    try {
      this.split(chunk, (frame) => {
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(frame);
        } else {
          this.frames.push(frame);
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
