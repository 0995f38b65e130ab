// PostgreSQL wire messages airlock builds itself (auth, rejections, upstream startup): bytes out, no sockets.
//
// Layouts follow PostgreSQL docs §55.7 "Message Formats". Every regular message is
// Byte1 type + Int32 length (counting itself, not the type byte) + body; the startup-phase
// packets (StartupMessage, SSLRequest, CancelRequest) have no type byte.

import { AirlockError } from '../../errors.js';

/** Protocol 3.0 as sent in StartupMessage (major 3 << 16 | minor 0). */
export const PROTOCOL_VERSION_3_0 = 196608;
/** Magic "protocol versions" that mark the untyped special startup packets. */
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** AuthenticationRequest subtypes (Int32 after the 'R' header). */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/**
 * Growable writer for one message at a time; the length field is reserved up front and
 * back-patched by finish(), so builders never count bytes by hand.
 */
export class MessageWriter {
  private buf: Buffer;
  private pos = 0;
  private lengthAt = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.alloc(initialSize);
  }

  /** Starts a typed message (type byte + length placeholder), or an untyped startup packet when type is omitted. */
  begin(type?: string): this {
    this.pos = 0;
    if (type !== undefined) this.byte(type.charCodeAt(0));
    this.lengthAt = this.pos;
    return this.int32(0);
  }

  byte(value: number): this {
    this.ensure(1);
    this.buf.writeUInt8(value & 0xff, this.pos);
    this.pos += 1;
    return this;
  }

  int16(value: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(value, this.pos);
    this.pos += 2;
    return this;
  }

  int32(value: number): this {
    this.ensure(4);
    // Keys and pids are unsigned on some servers; accept both signed and unsigned 32-bit values.
    if (value > 0x7fffffff) this.buf.writeUInt32BE(value, this.pos);
    else this.buf.writeInt32BE(value, this.pos);
    this.pos += 4;
    return this;
  }

  /** A NUL-terminated UTF-8 string; an embedded NUL would silently split the field, so it is refused. */
  cstring(value: string): this {
    if (value.includes('\0')) throw new AirlockError('AIRLOCK_ERR_PROTOCOL', 'string field contains a NUL byte');
    const len = Buffer.byteLength(value, 'utf8');
    this.ensure(len + 1);
    this.buf.write(value, this.pos, 'utf8');
    this.pos += len;
    this.buf[this.pos++] = 0;
    return this;
  }

  bytes(value: Buffer | string): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.ensure(data.length);
    data.copy(this.buf, this.pos);
    this.pos += data.length;
    return this;
  }

  /** Back-patches the length and returns a copy, so the writer can be reused for the next message. */
  finish(): Buffer {
    this.buf.writeInt32BE(this.pos - this.lengthAt, this.lengthAt);
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

// One writer per module: builders are synchronous, so it can never be shared mid-message.
const w = new MessageWriter();

// ---------------------------------------------------------------- backend (airlock → client)

export function authenticationOk(): Buffer {
  return w.begin('R').int32(AuthCode.Ok).finish();
}

/** AuthenticationSASL: the mechanism names, each NUL-terminated, then an empty name ending the list. */
export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  w.begin('R').int32(AuthCode.SASL);
  for (const mechanism of mechanisms) w.cstring(mechanism);
  return w.byte(0).finish();
}

export function authenticationSaslContinue(data: Buffer | string): Buffer {
  return w.begin('R').int32(AuthCode.SASLContinue).bytes(data).finish();
}

export function authenticationSaslFinal(data: Buffer | string): Buffer {
  return w.begin('R').int32(AuthCode.SASLFinal).bytes(data).finish();
}

export function parameterStatus(name: string, value: string): Buffer {
  return w.begin('S').cstring(name).cstring(value).finish();
}

export function backendKeyData(pid: number, secret: number): Buffer {
  return w.begin('K').int32(pid).int32(secret).finish();
}

/** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
export type TransactionStatus = 'I' | 'T' | 'E';

export function readyForQuery(status: TransactionStatus): Buffer {
  return w.begin('Z').byte(status.charCodeAt(0)).finish();
}

export interface ErrorFields {
  readonly severity: 'ERROR' | 'FATAL';
  readonly sqlstate: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

export interface NoticeFields {
  readonly severity: 'NOTICE' | 'WARNING' | 'INFO';
  readonly sqlstate: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

export function errorResponse(fields: ErrorFields): Buffer {
  return fieldMessage('E', fields);
}

export function noticeResponse(fields: NoticeFields): Buffer {
  return fieldMessage('N', fields);
}

/**
 * ErrorResponse / NoticeResponse body: (Byte1 code, String value)* then a zero byte.
 * S is the localized severity and V the fixed one (since 9.6); we send both, unlocalized.
 */
function fieldMessage(type: 'E' | 'N', fields: ErrorFields | NoticeFields): Buffer {
  w.begin(type);
  w.byte(0x53).cstring(fields.severity); // S
  w.byte(0x56).cstring(fields.severity); // V
  w.byte(0x43).cstring(fields.sqlstate); // C
  w.byte(0x4d).cstring(withoutNul(fields.message)); // M
  if (fields.detail !== undefined) w.byte(0x44).cstring(withoutNul(fields.detail)); // D
  if (fields.hint !== undefined) w.byte(0x48).cstring(withoutNul(fields.hint)); // H
  return w.byte(0).finish();
}

// Error text may quote client input; building an error must never itself fail.
function withoutNul(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text;
}

export function emptyQueryResponse(): Buffer {
  return w.begin('I').finish();
}

export function commandComplete(tag: string): Buffer {
  return w.begin('C').cstring(tag).finish();
}

export function parseComplete(): Buffer {
  return w.begin('1').finish();
}

export function bindComplete(): Buffer {
  return w.begin('2').finish();
}

export function closeComplete(): Buffer {
  return w.begin('3').finish();
}

export function noData(): Buffer {
  return w.begin('n').finish();
}

// ---------------------------------------------------------------- frontend (airlock → upstream)

/** StartupMessage: Int32 length, Int32 protocol 3.0, name/value cstring pairs, terminating zero byte. */
export function startupMessage(params: Readonly<Record<string, string>>): Buffer {
  w.begin().int32(PROTOCOL_VERSION_3_0);
  for (const [name, value] of Object.entries(params)) w.cstring(name).cstring(value);
  return w.byte(0).finish();
}

export function passwordMessage(password: string): Buffer {
  return w.begin('p').cstring(password).finish();
}

/** SASLInitialResponse: mechanism name, then Int32 length of the client-first-message (-1 if none) and its bytes. */
export function saslInitialResponse(mechanism: string, data: Buffer | string | null): Buffer {
  w.begin('p').cstring(mechanism);
  if (data === null) return w.int32(-1).finish();
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return w.int32(bytes.length).bytes(bytes).finish();
}

export function saslResponse(data: Buffer | string): Buffer {
  return w.begin('p').bytes(data).finish();
}

export function sslRequest(): Buffer {
  return w.begin().int32(SSL_REQUEST_CODE).finish();
}

export function cancelRequest(pid: number, secret: number): Buffer {
  return w.begin().int32(CANCEL_REQUEST_CODE).int32(pid).int32(secret).finish();
}

export function terminate(): Buffer {
  return w.begin('X').finish();
}
