// Awaitable PostgreSQL frames during the startup phase, before the relay takes the socket over.

import type { Socket } from 'node:net';
import type { PgFrame, PgFramer } from '../protocol/pg/framer.js';
import { SocketFrameQueue } from './socket-frames.js';

export class StartupFrameReader extends SocketFrameQueue<PgFrame> {
  constructor(socket: Socket, readonly framer: PgFramer) {
    super(
      socket,
      (chunk, emit) =>
        framer.push(chunk, (f) => {
          // A StartupMessage (protocol 3.x) ends the untyped phase; later frames in this chunk are typed.
          if (f.type === 0 && f.body.length >= 4 && f.body.readInt32BE(0) >> 16 === 3) framer.setTyped(true);
          emit(f);
        }),
      'client closed the connection during startup',
    );
  }
}
