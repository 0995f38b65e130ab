// Awaitable MySQL packets from a socket during connection phases (handshake, auth), before a relay
// takes the socket over; packets already split off are handed to the relay in order.

import type { Socket } from 'node:net';
import { AirlockError } from '../../errors.js';
import { MysqlFramer, type MysqlPacket } from './framer.js';

export class PacketSocketReader {
  private readonly packets: MysqlPacket[] = [];
  private waiter: { resolve: (p: MysqlPacket) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new AirlockError('AIRLOCK_ERR_PROTOCOL', `${this.peer} closed the connection during the handshake`));
  private readonly onError = (err: Error) => this.fail(err);

  constructor(
    private socket: Socket,
    readonly framer: MysqlFramer,
    private readonly peer: string = 'peer',
  ) {
    this.attach(socket);
  }

  /** After a TLS upgrade packets come from the TLS socket. */
  rebind(socket: Socket): void {
    this.detach();
    this.socket = socket;
    this.attach(socket);
  }

  /** Packets already received but not consumed (e.g. bytes sent right behind an SSLRequest). */
  get queued(): number {
    return this.packets.length + (this.framer.pendingBytes > 0 ? 1 : 0);
  }

  next(): Promise<MysqlPacket> {
    const p = this.packets.shift();
    if (p) return Promise.resolve(p);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Stops reading; returns packets already split off. */
  detach(): MysqlPacket[] {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    return this.packets.splice(0);
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private push(chunk: Buffer): void {
    try {
      this.framer.push(chunk, (p) => {
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(p);
        } else {
          this.packets.push(p);
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
