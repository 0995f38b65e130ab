// MySQL/MariaDB protocol numbers: command bytes, capability and status flags, the error numbers airlock sends.

export const Command = {
  Quit: 0x01,
  InitDb: 0x02,
  Query: 0x03,
  FieldList: 0x04,
  Statistics: 0x09,
  ProcessKill: 0x0c,
  Ping: 0x0e,
  ChangeUser: 0x11,
  StmtPrepare: 0x16,
  StmtExecute: 0x17,
  StmtSendLongData: 0x18,
  StmtClose: 0x19,
  StmtReset: 0x1a,
  SetOption: 0x1b,
  StmtFetch: 0x1c,
  ResetConnection: 0x1f,
} as const;

export const Capability = {
  LongPassword: 0x1,
  FoundRows: 0x2,
  LongFlag: 0x4,
  ConnectWithDb: 0x8,
  NoSchema: 0x10,
  Compress: 0x20,
  Odbc: 0x40,
  LocalFiles: 0x80,
  IgnoreSpace: 0x100,
  Protocol41: 0x200,
  Interactive: 0x400,
  Ssl: 0x800,
  IgnoreSigpipe: 0x1000,
  Transactions: 0x2000,
  Reserved: 0x4000,
  SecureConnection: 0x8000,
  MultiStatements: 0x10000,
  MultiResults: 0x20000,
  PsMultiResults: 0x40000,
  PluginAuth: 0x80000,
  ConnectAttrs: 0x100000,
  PluginAuthLenencClientData: 0x200000,
  SessionTrack: 0x800000,
  DeprecateEof: 0x1000000,
  OptionalResultsetMetadata: 0x2000000,
  ZstdCompression: 0x4000000,
  QueryAttributes: 0x8000000,
} as const;

/**
 * What airlock offers a client. Everything here is relayed unchanged when the upstream agreed to it too.
 * Never: compression (we must read the bytes), optional metadata and query attributes (they change
 * packet layouts we decode), and MariaDB extended flags (LongPassword = "I am MySQL" keeps them off).
 */
export const OFFERED_CAPABILITIES =
  Capability.LongPassword |
  Capability.FoundRows |
  Capability.LongFlag |
  Capability.ConnectWithDb |
  Capability.Odbc |
  Capability.LocalFiles |
  Capability.IgnoreSpace |
  Capability.Protocol41 |
  Capability.Interactive |
  Capability.IgnoreSigpipe |
  Capability.Transactions |
  Capability.Reserved |
  Capability.SecureConnection |
  Capability.MultiStatements |
  Capability.MultiResults |
  Capability.PsMultiResults |
  Capability.PluginAuth |
  Capability.ConnectAttrs |
  Capability.PluginAuthLenencClientData |
  Capability.SessionTrack |
  Capability.DeprecateEof;

/** Flags that change what the server does or how its replies look: the upstream leg must match the client's. */
export const RELAYED_CAPABILITIES =
  Capability.FoundRows |
  Capability.LongFlag |
  Capability.Odbc |
  Capability.LocalFiles |
  Capability.IgnoreSpace |
  Capability.Interactive |
  Capability.Transactions |
  Capability.MultiStatements |
  Capability.MultiResults |
  Capability.PsMultiResults |
  Capability.SessionTrack |
  Capability.DeprecateEof;

export const ServerStatus = {
  InTrans: 0x0001,
  Autocommit: 0x0002,
  MoreResultsExist: 0x0008,
  CursorExists: 0x0040,
  LastRowSent: 0x0080,
  PsOutParams: 0x1000,
} as const;

/** Error numbers airlock sends itself (server errors are relayed as they are). */
export const Errno = {
  AccessDenied: 1045,
  DbAccessDenied: 1044,
  BadDb: 1049,
  NoDb: 1046,
  UnknownCom: 1047,
  HandshakeError: 1043,
  NetPacketTooLarge: 1153,
  UnknownThread: 1094,
  NotOwnerOfThread: 1095,
  QueryInterrupted: 1317,
  TableAccessDenied: 1142,
  UnknownStmtHandler: 1243,
  NotSupported: 1235,
  ConnectionKilled: 1927,
  // Client libraries read an ERR with a client-range errno (2000-2999) during login as a malformed
  // packet, so what airlock itself reports uses server numbers only.
  /** ER_UNKNOWN_ERROR: airlock's own failures. */
  Internal: 1105,
  /** ER_CONNECT_TO_FOREIGN_DATA_SOURCE: the server behind airlock could not be reached or refused airlock. */
  UpstreamUnavailable: 1429,
} as const;

/** SQLSTATE that MySQL itself pairs with an error number (ClientError carries PostgreSQL's). */
const SQLSTATE_BY_ERRNO: Record<number, string> = {
  1040: '08004',
  1043: '08S01',
  1044: '42000',
  1045: '28000',
  1046: '3D000',
  1047: '08S01',
  1049: '42000',
  1053: '08S01',
  1094: 'HY000',
  1095: 'HY000',
  1105: 'HY000',
  1142: '42000',
  1153: '08S01',
  1235: '42000',
  1243: 'HY000',
  1290: 'HY000',
  1429: 'HY000',
  1317: '70100',
  1927: '70100',
  2013: 'HY000',
  4031: 'HY000',
};

export function sqlstateForErrno(errno: number): string {
  return SQLSTATE_BY_ERRNO[errno] ?? 'HY000';
}

/** utf8mb4_general_ci: the greeting's default collation; the client's own choice is what the upstream gets. */
export const DEFAULT_COLLATION = 45;
export const MAX_PACKET_CHUNK = 0xffffff;
/** The statement id COM_STMT_EXECUTE may use for "the one just prepared" (MariaDB direct execution). */
export const LAST_PREPARED_STATEMENT = 0xffffffff;
