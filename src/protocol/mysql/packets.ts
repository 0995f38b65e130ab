// Connection-phase and generic reply packets: Handshake v10, HandshakeResponse41, SSLRequest, AuthSwitchRequest,
// AuthMoreData, OK, ERR, EOF. Pure encoders and decoders over payloads (no packet headers, no sockets).

import { AirlockError } from '../../errors.js';
import { Capability, sqlstateForErrno } from './codes.js';
import { PacketReader, lenencBytes, lenencInt, nulTerminated, u16, u32 } from './wire.js';

export interface HandshakeV10 {
  readonly serverVersion: string;
  readonly connectionId: number;
  /** 20 bytes of scramble (both parts, without the trailing NUL). */
  readonly scramble: Buffer;
  readonly capabilities: number;
  readonly collation: number;
  readonly status: number;
  readonly authPlugin: string;
}

export function encodeHandshakeV10(h: HandshakeV10): Buffer {
  const part1 = h.scramble.subarray(0, 8);
  const part2 = h.scramble.subarray(8);
  return Buffer.concat([
    Buffer.from([0x0a]),
    nulTerminated(h.serverVersion),
    u32(h.connectionId),
    part1,
    Buffer.alloc(1),
    u16(h.capabilities & 0xffff),
    Buffer.from([h.collation]),
    u16(h.status),
    u16((h.capabilities >>> 16) & 0xffff),
    Buffer.from([h.scramble.length + 1]),
    Buffer.alloc(10),
    nulTerminated(part2),
    nulTerminated(h.authPlugin),
  ]);
}

export function decodeHandshakeV10(payload: Buffer): HandshakeV10 {
  const r = new PacketReader(payload);
  const protocol = r.u8();
  if (protocol !== 0x0a) throw new AirlockError('AIRLOCK_ERR_PROTOCOL', `unsupported MySQL handshake protocol ${protocol}`);
  const serverVersion = r.nulString();
  const connectionId = r.u32();
  const part1 = r.bytes(8);
  r.u8();
  let capabilities = r.u16();
  const collation = r.remaining > 0 ? r.u8() : 0;
  const status = r.remaining > 0 ? r.u16() : 0;
  if (r.remaining > 0) capabilities = (capabilities | (r.u16() << 16)) >>> 0;
  const dataLen = r.remaining > 0 ? r.u8() : 0;
  if (r.remaining >= 10) r.bytes(10);
  let part2: Buffer = Buffer.alloc(0);
  if (capabilities & Capability.SecureConnection) {
    const n = Math.max(13, dataLen - 8);
    part2 = r.bytes(Math.min(n, r.remaining));
    if (part2.length > 0 && part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
  }
  const authPlugin = capabilities & Capability.PluginAuth && r.remaining > 0 ? r.nulString() : 'mysql_native_password';
  return { serverVersion, connectionId, scramble: Buffer.concat([part1, part2]), capabilities, collation, status, authPlugin };
}

export interface HandshakeResponse41 {
  readonly capabilities: number;
  readonly maxPacketSize: number;
  readonly collation: number;
  readonly user: string;
  readonly authResponse: Buffer;
  readonly database?: string;
  readonly authPlugin?: string;
  readonly attributes?: Readonly<Record<string, string>>;
}

export const SSL_REQUEST_LENGTH = 32;

/** An SSLRequest is exactly 32 bytes with CLIENT_SSL set; anything longer is a full HandshakeResponse. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === SSL_REQUEST_LENGTH && (payload.readUInt32LE(0) & Capability.Ssl) !== 0;
}

export function decodeHandshakeResponse41(payload: Buffer): HandshakeResponse41 {
  const r = new PacketReader(payload);
  const capabilities = r.u32();
  if (!(capabilities & Capability.Protocol41)) throw new AirlockError('AIRLOCK_ERR_PROTOCOL', 'client does not speak protocol 4.1');
  const maxPacketSize = r.u32();
  const collation = r.u8();
  r.bytes(23);
  const user = r.nulString();
  let authResponse: Buffer;
  if (capabilities & Capability.PluginAuthLenencClientData) authResponse = r.lenencBytes() ?? Buffer.alloc(0);
  else if (capabilities & Capability.SecureConnection) authResponse = r.bytes(r.u8());
  else authResponse = r.nulBytes();
  const database = capabilities & Capability.ConnectWithDb && r.remaining > 0 ? r.nulString() : undefined;
  const authPlugin = capabilities & Capability.PluginAuth && r.remaining > 0 ? r.nulString() : undefined;
  let attributes: Record<string, string> | undefined;
  if (capabilities & Capability.ConnectAttrs && r.remaining > 0) {
    const total = r.lenenc() ?? 0;
    const attrs = new PacketReader(r.bytes(Math.min(total, r.remaining)));
    attributes = {};
    while (attrs.remaining > 0) {
      const k = attrs.lenencBytes()?.toString('utf8') ?? '';
      const v = attrs.lenencBytes()?.toString('utf8') ?? '';
      attributes[k] = v;
    }
  }
  return { capabilities, maxPacketSize, collation, user, authResponse, database: database || undefined, authPlugin, attributes };
}

export function encodeHandshakeResponse41(h: HandshakeResponse41): Buffer {
  const caps = h.capabilities;
  const parts = [u32(caps), u32(h.maxPacketSize), Buffer.from([h.collation]), Buffer.alloc(23), nulTerminated(h.user)];
  if (caps & Capability.PluginAuthLenencClientData) parts.push(lenencBytes(h.authResponse));
  else parts.push(Buffer.from([h.authResponse.length]), h.authResponse);
  if (caps & Capability.ConnectWithDb) parts.push(nulTerminated(h.database ?? ''));
  if (caps & Capability.PluginAuth) parts.push(nulTerminated(h.authPlugin ?? ''));
  if (caps & Capability.ConnectAttrs) {
    const attrs = Buffer.concat(Object.entries(h.attributes ?? {}).flatMap(([k, v]) => [lenencBytes(Buffer.from(k)), lenencBytes(Buffer.from(v))]));
    parts.push(lenencBytes(attrs));
  }
  return Buffer.concat(parts);
}

export function encodeSslRequest(capabilities: number, maxPacketSize: number, collation: number): Buffer {
  return Buffer.concat([u32(capabilities | Capability.Ssl), u32(maxPacketSize), Buffer.from([collation]), Buffer.alloc(23)]);
}

export function encodeAuthSwitchRequest(plugin: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), nulTerminated(plugin), data]);
}

/**
 * `data` drops the NUL that ends the scramble of the SHA plugins; `raw` keeps every byte, for
 * plugins whose binary nonce may itself end in 0x00 (client_ed25519).
 */
export function decodeAuthSwitchRequest(payload: Buffer): { plugin: string; data: Buffer; raw: Buffer } {
  const r = new PacketReader(payload);
  r.u8();
  const plugin = r.nulString();
  const raw = r.rest();
  const data = raw.length > 0 && raw[raw.length - 1] === 0 ? raw.subarray(0, raw.length - 1) : raw;
  return { plugin, data, raw };
}

export function encodeAuthMoreData(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x01]), data]);
}

export interface OkPacket {
  readonly affectedRows: number;
  readonly lastInsertId: number;
  readonly status: number;
  readonly warnings: number;
}

export function encodeOk(ok: Partial<OkPacket> & { sessionTrack?: boolean; info?: string } = {}): Buffer {
  const parts = [Buffer.from([0x00]), lenencInt(ok.affectedRows ?? 0), lenencInt(ok.lastInsertId ?? 0), u16(ok.status ?? 0), u16(ok.warnings ?? 0)];
  // With CLIENT_SESSION_TRACK the info string is length-encoded and clients read its length byte.
  if (ok.sessionTrack) parts.push(lenencBytes(Buffer.from(ok.info ?? '', 'utf8')));
  else if (ok.info) parts.push(Buffer.from(ok.info, 'utf8'));
  return Buffer.concat(parts);
}

/** OK (0x00) or the 0xFE OK that ends a result set under CLIENT_DEPRECATE_EOF. */
export function decodeOk(payload: Buffer): OkPacket {
  const r = new PacketReader(payload);
  r.u8();
  const affectedRows = r.lenenc() ?? 0;
  const lastInsertId = r.lenenc() ?? 0;
  const status = r.remaining >= 2 ? r.u16() : 0;
  const warnings = r.remaining >= 2 ? r.u16() : 0;
  return { affectedRows, lastInsertId, status, warnings };
}

export interface ErrPacket {
  readonly errno: number;
  readonly sqlstate: string;
  readonly message: string;
}

export function encodeErr(errno: number, message: string, sqlstate: string = sqlstateForErrno(errno)): Buffer {
  return Buffer.concat([Buffer.from([0xff]), u16(errno), Buffer.from(`#${sqlstate.padEnd(5, '0').slice(0, 5)}`, 'latin1'), Buffer.from(message, 'utf8')]);
}

export function decodeErr(payload: Buffer): ErrPacket {
  const r = new PacketReader(payload);
  r.u8();
  const errno = r.u16();
  let sqlstate = 'HY000';
  if (r.remaining >= 6 && payload[r.offset] === 0x23) {
    r.u8();
    sqlstate = r.bytes(5).toString('latin1');
  }
  return { errno, sqlstate, message: r.rest().toString('utf8') };
}

/** EOF (0xFE, shorter than 9 bytes): warnings then status. */
export function decodeEof(payload: Buffer): { warnings: number; status: number } {
  if (payload.length < 5) return { warnings: 0, status: 0 };
  return { warnings: payload.readUInt16LE(1), status: payload.readUInt16LE(3) };
}

/** A 0xFE packet that is an EOF or the OK ending a result set, not a row starting with a 0xFE length. */
export function isEofOrOkTerminator(payload: Buffer): boolean {
  return payload.length > 0 && payload[0] === 0xfe && payload.length < 0xffffff;
}

/** Status flags of an EOF (5 bytes) or of a terminating OK (7 bytes or more). */
export function terminatorStatus(payload: Buffer): number {
  if (payload.length >= 7) return decodeOk(payload).status;
  return decodeEof(payload).status;
}
