// Primitive MySQL field encodings: fixed and length-encoded integers, NUL-terminated and length-encoded strings.

import { AirlockError } from '../../errors.js';

export class PacketReader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new AirlockError('AIRLOCK_ERR_PROTOCOL', `truncated MySQL packet (wanted ${n} more bytes at ${this.offset} of ${this.buf.length})`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = this.buf.readUIntLE(this.offset, 3);
    this.offset += 3;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.offset);
    this.offset += 8;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return v;
  }

  /** Length-encoded integer; null for 0xFB (NULL in text rows). Values above 2^53 are refused. */
  lenenc(): number | null {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      const v = this.u64();
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new AirlockError('AIRLOCK_ERR_PROTOCOL', 'length-encoded integer too large');
      return Number(v);
    }
    throw new AirlockError('AIRLOCK_ERR_PROTOCOL', 'invalid length-encoded integer prefix 0xff');
  }

  lenencBytes(): Buffer | null {
    const n = this.lenenc();
    return n === null ? null : this.bytes(n);
  }

  /** Bytes up to a NUL (consumed, not returned); the rest of the packet when there is no NUL. */
  nulBytes(): Buffer {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) return this.rest();
    const v = this.buf.subarray(this.offset, end);
    this.offset = end + 1;
    return v;
  }

  nulString(): string {
    return this.nulBytes().toString('utf8');
  }
}

export function lenencInt(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n <= 0xffff) {
    const b = Buffer.alloc(3);
    b[0] = 0xfc;
    b.writeUInt16LE(n, 1);
    return b;
  }
  if (n <= 0xffffff) {
    const b = Buffer.alloc(4);
    b[0] = 0xfd;
    b.writeUIntLE(n, 1, 3);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

export function lenencBytes(data: Buffer): Buffer {
  return Buffer.concat([lenencInt(data.length), data]);
}

export function nulTerminated(text: string | Buffer): Buffer {
  return Buffer.concat([typeof text === 'string' ? Buffer.from(text, 'utf8') : text, Buffer.alloc(1)]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
