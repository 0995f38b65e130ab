// Awaitable MySQL packets from a socket during connection phases (handshake, auth), before a relay
// takes the socket over; packets already split off are handed to the relay in order.

import type { Socket } from 'node:net';
import { SocketFrameQueue } from '../../listener/socket-frames.js';
import { MysqlFramer, type MysqlPacket } from './framer.js';

export interface PacketSocketReaderOptions {
  /**
   * True when the bytes behind the first packet are not MySQL packets: a client sends its TLS
   * ClientHello right behind the SSLRequest without waiting, often in the same TCP segment.
   */
  readonly rawAfterFirst?: (first: MysqlPacket) => boolean;
}

export class PacketSocketReader extends SocketFrameQueue<MysqlPacket> {
  constructor(socket: Socket, readonly framer: MysqlFramer, peer = 'peer', opts: PacketSocketReaderOptions = {}) {
    super(socket, splitter(framer, opts.rawAfterFirst), `${peer} closed the connection during the handshake`);
  }

  /** Stops reading; the bytes received behind a packet rawAfterFirst accepted, as they came. */
  detachRaw(): Buffer {
    this.detach();
    return this.framer.resume();
  }
}

function splitter(framer: MysqlFramer, rawAfterFirst: PacketSocketReaderOptions['rawAfterFirst']): (chunk: Buffer, emit: (p: MysqlPacket) => void) => void {
  let first = rawAfterFirst !== undefined;
  return (chunk, emit) =>
    framer.push(chunk, (p) => {
      if (first && rawAfterFirst!(p)) framer.stop();
      first = false;
      emit(p);
    });
}
