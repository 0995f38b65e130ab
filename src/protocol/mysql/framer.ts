// Splits a MySQL byte stream into logical packets: 3-byte length + sequence id, with 0xFFFFFF-long
// packets joined to the ones after them, keeping the raw bytes so a relay can forward them unchanged.

import { MAX_PACKET_CHUNK } from './codes.js';

export interface MysqlPacket {
  /** Sequence id of the first physical packet. */
  readonly seq: number;
  /** Sequence id of the last physical packet (differs from seq for payloads of 16 MiB and more). */
  readonly lastSeq: number;
  /** The joined payload. */
  readonly payload: Buffer;
  /** Every physical packet, headers included, back to back. */
  readonly raw: Buffer;
  /** Physical packets it was made of. */
  readonly parts: number;
}

export class PacketTooLargeError extends Error {
  constructor(readonly size: number, readonly limit: number) {
    super(`packet of ${size} bytes is larger than the limit of ${limit} bytes`);
    this.name = 'PacketTooLargeError';
  }
}

export class MysqlFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Physical packets of a logical packet still waiting for its last (shorter) part. */
  private partial: Buffer[] = [];
  private partialPayload = 0;
  private maxPayloadBytes: number;
  private stopped = false;

  constructor(opts: { maxPayloadBytes?: number } = {}) {
    this.maxPayloadBytes = opts.maxPayloadBytes ?? Number.MAX_SAFE_INTEGER;
  }

  /** Small until the client has authenticated, the configured limit after (see the listener). */
  setMaxPayloadBytes(bytes: number): void {
    this.maxPayloadBytes = bytes;
  }

  /**
   * From onPacket: the bytes behind this packet are not MySQL packets (a TLS ClientHello right behind
   * an SSLRequest); they are kept as they came, unframed, until resume().
   */
  stop(): void {
    this.stopped = true;
  }

  /** Frames again from a clean start; returns the bytes received since stop(). */
  resume(): Buffer {
    const rest = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.stopped = false;
    return rest;
  }

  /** Bytes received but not yet part of a complete logical packet. */
  get pendingBytes(): number {
    return this.buffered + this.partial.reduce((n, b) => n + b.length, 0);
  }

  /**
   * Feeds bytes; calls onPacket for each complete logical packet, in order.
   * Returns true when the chunk held whole packets only, starting and ending on a packet boundary.
   */
  push(chunk: Buffer, onPacket: (p: MysqlPacket) => void): boolean {
    const aligned = this.buffered === 0 && this.partial.length === 0;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    while (!this.stopped && this.buffered >= 4) {
      const header = this.peek(4);
      const len = header.readUIntLE(0, 3);
      if (this.buffered < 4 + len) {
        this.checkSize(this.partialPayload + len);
        break;
      }
      const physical = this.take(4 + len);
      this.partial.push(physical);
      this.partialPayload += len;
      this.checkSize(this.partialPayload);
      if (len === MAX_PACKET_CHUNK) continue;
      const parts = this.partial;
      this.partial = [];
      this.partialPayload = 0;
      onPacket(joinParts(parts));
    }
    return aligned && this.buffered === 0 && this.partial.length === 0;
  }

  private checkSize(size: number): void {
    if (size > this.maxPayloadBytes) throw new PacketTooLargeError(size, this.maxPayloadBytes);
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const parts: Buffer[] = [];
      let need = n;
      while (need > 0) {
        const c = this.chunks[0]!;
        if (c.length <= need) {
          parts.push(c);
          this.chunks.shift();
          need -= c.length;
        } else {
          parts.push(c.subarray(0, need));
          this.chunks[0] = c.subarray(need);
          need = 0;
        }
      }
      out = Buffer.concat(parts, n);
    }
    this.buffered -= n;
    return out;
  }
}

function joinParts(parts: Buffer[]): MysqlPacket {
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (parts.length === 1) return { seq: first[3]!, lastSeq: first[3]!, payload: first.subarray(4), raw: first, parts: 1 };
  return {
    seq: first[3]!,
    lastSeq: last[3]!,
    payload: Buffer.concat(parts.map((p) => p.subarray(4))),
    raw: Buffer.concat(parts),
    parts: parts.length,
  };
}

/** Frames a payload as packets starting at `seq`: chunks of 0xFFFFFF, then a shorter (possibly empty) last one. */
export function framePayload(payload: Buffer, seq: number): Buffer {
  if (payload.length < MAX_PACKET_CHUNK) {
    const header = Buffer.alloc(4);
    header.writeUIntLE(payload.length, 0, 3);
    header[3] = seq & 0xff;
    return Buffer.concat([header, payload]);
  }
  const out: Buffer[] = [];
  let offset = 0;
  let s = seq;
  for (;;) {
    const len = Math.min(MAX_PACKET_CHUNK, payload.length - offset);
    const header = Buffer.alloc(4);
    header.writeUIntLE(len, 0, 3);
    header[3] = s & 0xff;
    out.push(header, payload.subarray(offset, offset + len));
    offset += len;
    s++;
    if (len < MAX_PACKET_CHUNK) break;
  }
  return Buffer.concat(out);
}

/** How many physical packets framePayload makes for a payload of this length. */
export function packetCount(payloadLength: number): number {
  return Math.floor(payloadLength / MAX_PACKET_CHUNK) + 1;
}
