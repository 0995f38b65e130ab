// Decodes the client (frontend) messages airlock must read: views over frame bodies, no sockets.
// Layouts: PostgreSQL docs, "Message Formats".

import { ClientError } from '../../errors.js';

export const enum FrontendCode {
  Query = 0x51, // 'Q'
  Parse = 0x50, // 'P'
  Bind = 0x42, // 'B'
  Describe = 0x44, // 'D'
  Execute = 0x45, // 'E'
  Close = 0x43, // 'C'
  Sync = 0x53, // 'S'
  Flush = 0x48, // 'H'
  Terminate = 0x58, // 'X'
  CopyData = 0x64, // 'd'
  CopyDone = 0x63, // 'c'
  CopyFail = 0x66, // 'f'
  FunctionCall = 0x46, // 'F'
  Password = 0x70, // 'p' (also SASLInitialResponse / SASLResponse)
}

/** Request codes carried in the startup-phase length+code frames. */
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
export const PROTOCOL_3_0 = 196608;

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: number }
  | { kind: 'startup'; params: Record<string, string> };

function protocolViolation(message: string): ClientError {
  return new ClientError({ sqlstate: '08P01', mysqlErrno: 1047, message, fatal: true });
}

/** A cursor over one message body. */
class BodyReader {
  offset = 0;
  constructor(private readonly body: Buffer) {}

  cstring(): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) throw protocolViolation('unterminated string in message');
    const s = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }

  int16(): number {
    if (this.offset + 2 > this.body.length) throw protocolViolation('message too short');
    const v = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    if (this.offset + 4 > this.body.length) throw protocolViolation('message too short');
    const v = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.offset + n > this.body.length) throw protocolViolation('message too short');
    const v = this.body.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
}

export function decodeStartup(body: Buffer): StartupPacket {
  const r = new BodyReader(body);
  const code = r.int32();
  if (code === SSL_REQUEST_CODE) return { kind: 'ssl' };
  if (code === GSSENC_REQUEST_CODE) return { kind: 'gssenc' };
  if (code === CANCEL_REQUEST_CODE) return { kind: 'cancel', pid: r.int32(), secret: r.int32() };
  if (code >> 16 !== 3) {
    throw new ClientError({
      sqlstate: '0A000',
      mysqlErrno: 1047,
      message: `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: airlock speaks protocol 3.0`,
      fatal: true,
    });
  }
  const params: Record<string, string> = {};
  while (r.offset < body.length) {
    const name = r.cstring();
    if (name === '') break;
    params[name] = r.cstring();
  }
  return { kind: 'startup', params };
}

export function decodeQuery(body: Buffer): string {
  return new BodyReader(body).cstring();
}

export interface ParseMessage {
  readonly name: string;
  readonly sql: string;
  readonly paramTypes: number[];
}

export function decodeParse(body: Buffer): ParseMessage {
  const r = new BodyReader(body);
  const name = r.cstring();
  const sql = r.cstring();
  const n = r.int16();
  const paramTypes: number[] = [];
  for (let i = 0; i < n; i++) paramTypes.push(r.int32());
  return { name, sql, paramTypes };
}

export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  /** Parameter values as text: text-format values decoded, binary ones as \x hex; null for NULL. */
  readonly params: (string | null)[];
}

export function decodeBind(body: Buffer): BindMessage {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  const nFormats = r.int16();
  const formats: number[] = [];
  for (let i = 0; i < nFormats; i++) formats.push(r.int16());
  const nParams = r.int16();
  const params: (string | null)[] = [];
  for (let i = 0; i < nParams; i++) {
    const len = r.int32();
    if (len === -1) {
      params.push(null);
      continue;
    }
    const value = r.bytes(len);
    // One format code applies to all parameters; none means all text (protocol-message-formats, Bind).
    const format = nFormats === 0 ? 0 : nFormats === 1 ? formats[0] : formats[i];
    params.push(format === 1 ? `\\x${value.toString('hex')}` : value.toString('utf8'));
  }
  return { portal, statement, params };
}

export function decodeExecute(body: Buffer): { portal: string; maxRows: number } {
  const r = new BodyReader(body);
  return { portal: r.cstring(), maxRows: r.int32() };
}

/** Close and Describe share a layout: 'S' (statement) or 'P' (portal), then a name. */
export function decodeTarget(body: Buffer): { target: 'S' | 'P'; name: string } {
  const r = new BodyReader(body);
  const t = r.bytes(1)[0];
  if (t !== 0x53 && t !== 0x50) throw protocolViolation('invalid Close/Describe target');
  return { target: t === 0x53 ? 'S' : 'P', name: r.cstring() };
}
