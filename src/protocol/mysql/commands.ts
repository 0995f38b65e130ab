// Command-phase client packets airlock reads: COM_QUERY text, COM_INIT_DB, COM_CHANGE_USER, the COM_STMT_*
// family (with COM_STMT_EXECUTE's bound values decoded by type) and the server's COM_STMT_PREPARE OK.

import { AirlockError } from '../../errors.js';
import { Capability } from './codes.js';
import { PacketReader } from './wire.js';

/** The command's text argument (COM_QUERY, COM_INIT_DB, COM_STMT_PREPARE, COM_FIELD_LIST). */
export function commandText(payload: Buffer): string {
  return payload.toString('utf8', 1);
}

/**
 * COM_FIELD_LIST (table NUL [wildcard]) as the statement it equals, for the policy: it lists the
 * table's column definitions just as SHOW COLUMNS does. The wildcard only narrows the columns.
 */
export function fieldListStatement(payload: Buffer): string {
  const end = payload.indexOf(0, 1);
  const table = payload.toString('utf8', 1, end < 0 ? payload.length : end);
  return `SHOW COLUMNS FROM \`${table.replaceAll('`', '``')}\``;
}

export function statementId(payload: Buffer): number {
  if (payload.length < 5) throw new AirlockError('AIRLOCK_ERR_PROTOCOL', 'statement command without a statement id');
  return payload.readUInt32LE(1);
}

export function decodeSendLongData(payload: Buffer): { statementId: number; param: number; data: Buffer } {
  const r = new PacketReader(payload);
  r.u8();
  return { statementId: r.u32(), param: r.u16(), data: r.rest() };
}

export function decodeProcessKill(payload: Buffer): number {
  return new PacketReader(payload.subarray(1)).u32();
}

export interface ChangeUser {
  readonly user: string;
  readonly authResponse: Buffer;
  readonly database?: string;
  readonly collation?: number;
  readonly authPlugin?: string;
}

export function decodeChangeUser(payload: Buffer, capabilities: number): ChangeUser {
  const r = new PacketReader(payload);
  r.u8();
  const user = r.nulString();
  const authResponse = capabilities & Capability.SecureConnection ? r.bytes(r.u8()) : r.nulBytes();
  const database = r.remaining > 0 ? r.nulString() : undefined;
  const collation = r.remaining >= 2 ? r.u16() & 0xff : undefined;
  const authPlugin = capabilities & Capability.PluginAuth && r.remaining > 0 ? r.nulString() : undefined;
  return { user, authResponse, database: database || undefined, collation, authPlugin };
}

export interface PrepareOk {
  readonly statementId: number;
  readonly columns: number;
  readonly params: number;
}

export function decodePrepareOk(payload: Buffer): PrepareOk {
  const r = new PacketReader(payload);
  r.u8();
  const statementId = r.u32();
  const columns = r.u16();
  const params = r.u16();
  return { statementId, columns, params };
}

/** MySQL field types as they appear in COM_STMT_EXECUTE (low byte; 0x80 in the high byte = unsigned). */
const T = {
  Decimal: 0, Tiny: 1, Short: 2, Long: 3, Float: 4, Double: 5, Null: 6, Timestamp: 7, LongLong: 8, Int24: 9,
  Date: 10, Time: 11, DateTime: 12, Year: 13, NewDate: 14,
} as const;

export interface StmtExecute {
  readonly statementId: number;
  readonly flags: number;
  /** One rendering per parameter, null for SQL NULL; what approvals bind to and approvers see. */
  readonly params: (string | null)[];
  /** The 2-byte types of each parameter (sent now, or remembered from an earlier execute). */
  readonly types: Buffer | null;
}

/**
 * Decodes COM_STMT_EXECUTE. Without the new-params-bound flag the values use the types from the previous
 * execute of the statement (bugcase 31). Parameters sent by COM_STMT_SEND_LONG_DATA are absent from the
 * values and taken from longData.
 */
export function decodeStmtExecute(
  payload: Buffer,
  paramCount: number,
  previousTypes: Buffer | null,
  longData: ReadonlyMap<number, Buffer> = new Map(),
): StmtExecute {
  const r = new PacketReader(payload);
  r.u8();
  const statementId = r.u32();
  const flags = r.u8();
  r.u32();
  if (paramCount === 0) return { statementId, flags, params: [], types: previousTypes };
  const nullBitmap = r.bytes(Math.floor((paramCount + 7) / 8));
  const newBound = r.u8();
  let types = previousTypes;
  if (newBound === 1) types = Buffer.from(r.bytes(paramCount * 2));
  if (!types) throw new AirlockError('AIRLOCK_ERR_PROTOCOL', 'COM_STMT_EXECUTE without parameter types and none remembered');
  const params: (string | null)[] = [];
  for (let i = 0; i < paramCount; i++) {
    const long = longData.get(i);
    if (long !== undefined) {
      params.push(renderBytes(long));
      continue;
    }
    if (nullBitmap[i >> 3]! & (1 << (i & 7))) {
      params.push(null);
      continue;
    }
    params.push(readValue(r, types[i * 2]!, (types[i * 2 + 1]! & 0x80) !== 0));
  }
  return { statementId, flags, params, types };
}

function readValue(r: PacketReader, type: number, unsigned: boolean): string | null {
  switch (type) {
    case T.Null:
      return null;
    case T.Tiny: {
      const v = r.u8();
      return String(unsigned ? v : (v << 24) >> 24);
    }
    case T.Short:
    case T.Year: {
      const v = r.u16();
      return String(unsigned ? v : (v << 16) >> 16);
    }
    case T.Long:
    case T.Int24: {
      const v = r.u32();
      return String(unsigned ? v : v | 0);
    }
    case T.LongLong: {
      const v = r.u64();
      return String(unsigned ? v : BigInt.asIntN(64, v));
    }
    case T.Float:
      return String(r.bytes(4).readFloatLE(0));
    case T.Double:
      return String(r.bytes(8).readDoubleLE(0));
    case T.Date:
    case T.NewDate:
    case T.DateTime:
    case T.Timestamp:
      return renderDateTime(r.bytes(r.u8()));
    case T.Time:
      return renderTime(r.bytes(r.u8()));
    default:
      // DECIMAL, strings, blobs, JSON, ENUM, SET, BIT, GEOMETRY: all length-encoded bytes.
      return renderBytes(r.lenencBytes() ?? Buffer.alloc(0));
  }
}

/** Text when the bytes are UTF-8, else \x-prefixed hex, so binary values stay distinct and readable. */
function renderBytes(b: Buffer): string {
  const text = b.toString('utf8');
  return Buffer.from(text, 'utf8').equals(b) ? text : `\\x${b.toString('hex')}`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function renderDateTime(b: Buffer): string {
  if (b.length === 0) return '0000-00-00 00:00:00';
  const date = `${pad(b.readUInt16LE(0), 4)}-${pad(b[2]!)}-${pad(b[3]!)}`;
  if (b.length < 7) return date;
  const time = `${pad(b[4]!)}:${pad(b[5]!)}:${pad(b[6]!)}`;
  return b.length >= 11 ? `${date} ${time}.${pad(b.readUInt32LE(7), 6)}` : `${date} ${time}`;
}

function renderTime(b: Buffer): string {
  if (b.length === 0) return '00:00:00';
  const sign = b[0] ? '-' : '';
  const days = b.readUInt32LE(1);
  const time = `${pad(b[5]!)}:${pad(b[6]!)}:${pad(b[7]!)}`;
  const frac = b.length >= 12 ? `.${pad(b.readUInt32LE(8), 6)}` : '';
  return `${sign}${days ? `${days} ` : ''}${time}${frac}`;
}
