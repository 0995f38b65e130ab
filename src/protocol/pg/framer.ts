// Splits a PostgreSQL byte stream into whole messages, whatever the TCP read boundaries.
//
// Message layout (protocol-message-formats.html): a type byte, then an Int32 length that counts
// itself and the body but not the type byte. The startup phase has no type byte: Int32 length
// (counting itself) then the body. Frames that fit in the chunk that carried them are handed out
// as views of that chunk (no copy); only a frame that straddles reads is assembled.

import { ClientError } from '../../errors.js';

export interface PgFrame {
  /** Message type byte; 0 for untyped startup-phase frames. */
  readonly type: number;
  /** The whole frame as received (type byte and length included): what is forwarded. */
  readonly raw: Buffer;
  /** The body after the length word. */
  readonly body: Buffer;
}

const EMPTY = Buffer.alloc(0);

export class PgFramer {
  private typed: boolean;
  private maxMessageBytes: number;
  private limitName = 'limits.max_message_bytes';
  /** Bytes of a frame header seen so far (at most 5). */
  private readonly header = Buffer.alloc(5);
  private headerFilled = 0;
  /** The frame being assembled across reads, sized from its header. */
  private partial: Buffer | null = null;
  private partialFilled = 0;
  /** Bytes still to pass of a frame whose body is not wanted (see skipBody). */
  private skipping = 0;
  private skippedType = 0;
  private readonly skipBody?: (type: number) => boolean;

  /**
   * skipBody: for an observer that only needs some bodies (the relay reading the server's replies),
   * frames of these types that straddle reads are not assembled; they are reported with an empty
   * body and raw once their last byte has passed. Saves copying large DataRows and CopyData.
   */
  constructor(opts: { typed: boolean; maxMessageBytes: number; skipBody?: (type: number) => boolean }) {
    this.typed = opts.typed;
    this.maxMessageBytes = opts.maxMessageBytes;
    this.skipBody = opts.skipBody;
  }

  /**
   * Before authentication only small messages are due (PostgreSQL itself caps the startup packet at
   * 10000 bytes), so a stranger cannot make airlock buffer megabytes; after it, the configured limit.
   */
  setMaxMessageBytes(bytes: number, limitName: string): void {
    this.maxMessageBytes = bytes;
    this.limitName = limitName;
  }

  /** After startup, every frame carries a type byte. */
  setTyped(typed: boolean): void {
    this.typed = typed;
  }

  get headerSize(): number {
    return this.typed ? 5 : 4;
  }

  /** True while a frame is partly received. */
  get midFrame(): boolean {
    return this.headerFilled > 0 || this.partial !== null || this.skipping > 0;
  }

  /**
   * Feeds bytes; calls onFrame for each whole frame, in order. onFrame may switch typed mode
   * (startup → typed) and later frames in the same chunk are read accordingly.
   * Throws ClientError (08P01 / 54000) for a length that cannot be right.
   */
  push(chunk: Buffer, onFrame: (frame: PgFrame) => void): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.skipping > 0) {
        const take = Math.min(this.skipping, chunk.length - offset);
        this.skipping -= take;
        offset += take;
        if (this.skipping === 0) onFrame({ type: this.skippedType, raw: EMPTY, body: EMPTY });
        continue;
      }
      if (this.partial) {
        const take = Math.min(this.partial.length - this.partialFilled, chunk.length - offset);
        chunk.copy(this.partial, this.partialFilled, offset, offset + take);
        this.partialFilled += take;
        offset += take;
        if (this.partialFilled === this.partial.length) {
          const raw = this.partial;
          this.partial = null;
          this.partialFilled = 0;
          onFrame(this.frameOf(raw));
        }
        continue;
      }
      const headerSize = this.headerSize;
      if (this.headerFilled === 0 && chunk.length - offset >= headerSize) {
        // Fast path: the header is in this chunk.
        const total = this.totalLength(chunk, offset);
        if (chunk.length - offset >= total) {
          const raw = chunk.subarray(offset, offset + total);
          offset += total;
          onFrame(this.frameOf(raw));
          continue;
        }
        if (this.typed && this.skipBody?.(chunk[offset]!)) {
          this.skippedType = chunk[offset]!;
          this.skipping = total - (chunk.length - offset);
          offset = chunk.length;
          continue;
        }
        this.partial = Buffer.allocUnsafe(total);
        const take = chunk.length - offset;
        chunk.copy(this.partial, 0, offset);
        this.partialFilled = take;
        offset += take;
        continue;
      }
      // Slow path: the header itself straddles reads.
      const take = Math.min(headerSize - this.headerFilled, chunk.length - offset);
      chunk.copy(this.header, this.headerFilled, offset, offset + take);
      this.headerFilled += take;
      offset += take;
      if (this.headerFilled < headerSize) continue;
      const total = this.totalLength(this.header, 0);
      this.headerFilled = 0;
      if (this.typed && total > headerSize && this.skipBody?.(this.header[0]!)) {
        this.skippedType = this.header[0]!;
        this.skipping = total - headerSize;
        continue;
      }
      this.partial = Buffer.allocUnsafe(total);
      this.header.copy(this.partial, 0, 0, headerSize);
      this.partialFilled = headerSize;
      if (total === headerSize) {
        const raw = this.partial;
        this.partial = null;
        this.partialFilled = 0;
        onFrame(this.frameOf(raw));
      }
    }
  }

  private totalLength(buf: Buffer, at: number): number {
    const lengthField = this.typed ? buf.readInt32BE(at + 1) : buf.readInt32BE(at);
    if (lengthField < 4) {
      throw new ClientError({ sqlstate: '08P01', mysqlErrno: 1047, message: `invalid message length ${lengthField}`, fatal: true });
    }
    const total = lengthField + (this.typed ? 1 : 0);
    if (total > this.maxMessageBytes) {
      throw new ClientError({
        sqlstate: '54000',
        mysqlErrno: 1153,
        message: `message of ${total} bytes exceeds the limit of ${this.maxMessageBytes} bytes (${this.limitName})`,
        fatal: true,
      });
    }
    return total;
  }

  private frameOf(raw: Buffer): PgFrame {
    return this.typed
      ? { type: raw[0]!, raw, body: raw.subarray(5) }
      : { type: 0, raw, body: raw.subarray(4) };
  }
}
