// Packet encoders and decoders: handshake round trips, length-encoded boundaries, OK/ERR/EOF, COM_STMT_EXECUTE values.

import t from 'tap';
import { Capability } from '../../../../src/protocol/mysql/codes.js';
import { decodeChangeUser, decodePrepareOk, decodeSendLongData, decodeStmtExecute, fieldListStatement } from '../../../../src/protocol/mysql/commands.js';
import {
  decodeErr, decodeHandshakeResponse41, decodeHandshakeV10, decodeOk, encodeErr, encodeHandshakeResponse41, encodeHandshakeV10, encodeOk, encodeSslRequest,
  isEofOrOkTerminator, isSslRequest, terminatorStatus,
} from '../../../../src/protocol/mysql/packets.js';
import { PacketReader, lenencInt } from '../../../../src/protocol/mysql/wire.js';

t.test('length-encoded integers at every boundary', async (t) => {
  for (const n of [0, 250, 251, 252, 255, 256, 65535, 65536, 0xffffff - 1, 0xffffff, 0x1000000, 2 ** 40]) {
    const enc = lenencInt(n);
    t.equal(new PacketReader(enc).lenenc(), n, `${n}`);
    t.equal(enc.length, n < 251 ? 1 : n <= 0xffff ? 3 : n <= 0xffffff ? 4 : 9);
  }
  t.equal(new PacketReader(Buffer.from([0xfb])).lenenc(), null, '0xFB is NULL');
  t.throws(() => new PacketReader(Buffer.from([0xff])).lenenc());
  t.throws(() => new PacketReader(Buffer.from([0xfc, 1])).lenenc(), 'truncated');
});

t.test('Handshake v10 round trip', async (t) => {
  const h = { serverVersion: '5.5.5-10.11.19-MariaDB-airlock', connectionId: 77, scramble: Buffer.from('abcdefghijklmnopqrst'), capabilities: 0x81ffff | Capability.DeprecateEof, collation: 45, status: 2, authPlugin: 'mysql_native_password' };
  t.same(decodeHandshakeV10(encodeHandshakeV10(h)), h);
});

t.test('HandshakeResponse41 round trip, with and without lenenc auth data and attributes', async (t) => {
  for (const extra of [Capability.PluginAuthLenencClientData | Capability.ConnectAttrs, 0]) {
    const caps = Capability.Protocol41 | Capability.SecureConnection | Capability.PluginAuth | Capability.ConnectWithDb | extra;
    const r = { capabilities: caps, maxPacketSize: 1 << 24, collation: 33, user: 'dev@corp.com', authResponse: Buffer.alloc(20, 7), database: 'shop', authPlugin: 'mysql_native_password', attributes: extra ? { _client_name: 'x', program_name: 'mysql' } : undefined };
    t.same(decodeHandshakeResponse41(encodeHandshakeResponse41(r)), r);
  }
});

t.test('an SSLRequest is 32 bytes with CLIENT_SSL; a full response with CLIENT_SSL is not one', async (t) => {
  const ssl = encodeSslRequest(Capability.Protocol41, 1 << 24, 45);
  t.equal(ssl.length, 32);
  t.ok(isSslRequest(ssl));
  const full = encodeHandshakeResponse41({ capabilities: Capability.Protocol41 | Capability.Ssl | Capability.SecureConnection, maxPacketSize: 1, collation: 45, user: 'u', authResponse: Buffer.alloc(0) });
  t.notOk(isSslRequest(full));
});

t.test('OK, ERR and terminators', async (t) => {
  const ok = encodeOk({ affectedRows: 300, lastInsertId: 70000, status: 0x22, warnings: 1, sessionTrack: true });
  t.same(decodeOk(ok), { affectedRows: 300, lastInsertId: 70000, status: 0x22, warnings: 1 });
  t.same(decodeErr(encodeErr(1142, 'nope')), { errno: 1142, sqlstate: '42000', message: 'nope' });
  t.same(decodeErr(encodeErr(1317, 'x')).sqlstate, '70100');
  const eof = Buffer.from([0xfe, 0, 0, 0x08, 0]);
  t.ok(isEofOrOkTerminator(eof));
  t.equal(terminatorStatus(eof), 0x08);
  const okTerm = Buffer.from([0xfe, 0, 0, 0x0a, 0, 0, 0]);
  t.equal(terminatorStatus(okTerm), 0x0a);
  const bigRow = Buffer.alloc(0xffffff, 0);
  bigRow[0] = 0xfe;
  t.notOk(isEofOrOkTerminator(bigRow), 'a row starting with an 8-byte length is not a terminator');
});

t.test('COM_STMT_EXECUTE: types sent, then remembered (new-params-bound = 0), NULLs and long data', async (t) => {
  const types = Buffer.from([8, 0, 253, 0, 3, 0x80, 6, 0, 12, 0]);
  const values = Buffer.concat([
    Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // -2 as LONGLONG
    Buffer.from([3, 0x61, 0x62, 0x63]),
    Buffer.from([0xff, 0xff, 0xff, 0xff]), // 4294967295 unsigned
    Buffer.from([7, 0xe8, 0x07, 12, 31, 23, 59, 58]),
  ]);
  const header = (bound: number, nullBitmap: number) => Buffer.from([0x17, 9, 0, 0, 0, 0, 1, 0, 0, 0, nullBitmap, bound]);
  const first = decodeStmtExecute(Buffer.concat([header(1, 0b01000), types, values]), 5, null);
  t.same(first.params, ['-2', 'abc', '4294967295', null, '2024-12-31 23:59:58']);
  t.equal(first.statementId, 9);
  const again = decodeStmtExecute(Buffer.concat([header(0, 0b01000), values]), 5, first.types);
  t.same(again.params, first.params, 'bugcase 31: decoded with the remembered types');
  t.throws(() => decodeStmtExecute(Buffer.concat([header(0, 0), values]), 5, null), /types/);
  const long = decodeStmtExecute(Buffer.concat([header(1, 0b01000), types, values.subarray(0, 8), values.subarray(12)]), 5, null, new Map([[1, Buffer.from('long data')]]));
  t.same(long.params, ['-2', 'long data', '4294967295', null, '2024-12-31 23:59:58'], 'a long-data parameter is absent from the values');
  const binary = decodeStmtExecute(Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 252, 0]), Buffer.from([2, 0xff, 0x00])]), 1, null);
  t.same(binary.params, ['\\xff00'], 'binary values are shown in hex');
});

t.test('other command decoders', async (t) => {
  t.same(decodeSendLongData(Buffer.from([0x18, 4, 0, 0, 0, 1, 0, 0x41])), { statementId: 4, param: 1, data: Buffer.from('A') });
  t.same(decodePrepareOk(Buffer.from([0, 3, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0])), { statementId: 3, columns: 2, params: 1 });
  const cu = Buffer.concat([Buffer.from([0x11]), Buffer.from('bob@corp.com\0'), Buffer.from([2, 9, 9]), Buffer.from('shop\0'), Buffer.from([45, 0]), Buffer.from('mysql_native_password\0')]);
  t.same(decodeChangeUser(cu, Capability.SecureConnection | Capability.PluginAuth), { user: 'bob@corp.com', authResponse: Buffer.from([9, 9]), database: 'shop', collation: 45, authPlugin: 'mysql_native_password' });
});

t.test('COM_FIELD_LIST reads as SHOW COLUMNS FROM the quoted table; the wildcard is not part of it', async (t) => {
  const fieldList = (rest: string) => fieldListStatement(Buffer.concat([Buffer.from([0x04]), Buffer.from(rest)]));
  t.equal(fieldList('orders\0'), 'SHOW COLUMNS FROM `orders`');
  t.equal(fieldList('orders\0id%'), 'SHOW COLUMNS FROM `orders`');
  t.equal(fieldList('orders'), 'SHOW COLUMNS FROM `orders`', 'no NUL: the whole rest is the name');
  t.equal(fieldList('x` FROM y; DROP TABLE z; --\0'), 'SHOW COLUMNS FROM `x`` FROM y; DROP TABLE z; --`', 'backticks doubled');
});
