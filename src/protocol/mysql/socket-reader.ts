// Awaitable MySQL packets from a socket during connection phases (handshake, auth), before a relay
// takes the socket over; packets already split off are handed to the relay in order.

import type { Socket } from 'node:net';
import { SocketFrameQueue } from '../../listener/socket-frames.js';
import { MysqlFramer, type MysqlPacket } from './framer.js';

export class PacketSocketReader extends SocketFrameQueue<MysqlPacket> {
  constructor(socket: Socket, readonly framer: MysqlFramer, peer = 'peer') {
    super(socket, (chunk, emit) => framer.push(chunk, emit), `${peer} closed the connection during the handshake`);
  }

  /** Packets already received but not consumed (e.g. bytes sent right behind an SSLRequest). */
  get queued(): number {
    return this.backlog + (this.framer.pendingBytes > 0 ? 1 : 0);
  }
}
