// Exact packets through airlock: SEND_LONG_DATA bound into approvals, pipelined prepare + execute(0xFFFFFFFF),
// COM_PING / STATISTICS / FIELD_LIST (judged) / RESET_CONNECTION, unsupported commands, pipelined auth.

import t from 'tap';
import { Command } from '../../src/protocol/mysql/codes.js';
import { decodeErr, decodeOk } from '../../src/protocol/mysql/packets.js';
import { direct, startAirlock } from '../helpers/mysql-airlock.js';
import { cmd, rawClient, u32le } from '../helpers/mysql-raw.js';

const P = 'myx_';
const setup = await direct();
await setup.query(`DROP TABLE IF EXISTS ${P}hold, ${P}free, ${P}denied`);
await setup.query(`CREATE TABLE ${P}hold (id INT PRIMARY KEY, body TEXT)`);
await setup.query(`INSERT INTO ${P}hold VALUES (1, 'old')`);
await setup.query(`CREATE TABLE ${P}free (id INT, name VARCHAR(10))`);
await setup.query(`CREATE TABLE ${P}denied (id INT, secret TEXT)`);

const a = await startAirlock(`  - name: held-writes
    match: {tables: ["${P}hold"], writes: true}
    action: require_approval
    approval: {approvers: [dba]}
  - name: denied-table
    match: {tables: ["${P}denied"]}
    action: deny
`);
t.teardown(async () => {
  await a.stop();
  await setup.query(`DROP TABLE IF EXISTS ${P}hold, ${P}free, ${P}denied`);
  await setup.end();
});

/** COM_STMT_EXECUTE with one VAR_STRING parameter (or none sent when it came as long data). */
function execute(id: number, value: string | undefined): Buffer {
  const head = cmd(Command.StmtExecute, u32le(id), Buffer.from([0]), u32le(1), Buffer.from([0]), Buffer.from([1, 253, 0]));
  return value === undefined ? head : Buffer.concat([head, Buffer.from([value.length]), Buffer.from(value)]);
}

t.test('SEND_LONG_DATA is part of what the approver sees, and reaches the server only with the execute', async (t) => {
  const c = await rawClient(a);
  const prepared = await c.prepare(`UPDATE ${P}hold SET body = ? WHERE id = 1`);
  if (!('id' in prepared)) throw new Error('prepare failed');
  const id = prepared.id;
  c.send(cmd(Command.StmtSendLongData, u32le(id), Buffer.from([0, 0]), 'part one, '));
  c.send(cmd(Command.StmtSendLongData, u32le(id), Buffer.from([0, 0]), 'part two'));
  c.send(execute(id, undefined));
  const request = await a.pending((r) => r.sql.includes(`UPDATE ${P}hold SET body = ?`));
  t.same(request.params, ['part one, part two']);
  await a.approve(request);
  const reply = await c.next();
  t.equal(reply.payload[0], 0x00, 'OK');
  t.equal(decodeOk(reply.payload).affectedRows, 1);
  const [rows] = await setup.query(`SELECT body FROM ${P}hold WHERE id = 1`);
  t.same(rows, [{ body: 'part one, part two' }]);
  c.close();
});

t.test('a refused execute drops its long data; COM_STMT_RESET clears it too', async (t) => {
  const c = await rawClient(a);
  const prepared = await c.prepare(`UPDATE ${P}hold SET body = ? WHERE id = 1`);
  if (!('id' in prepared)) throw new Error('prepare failed');
  const id = prepared.id;
  c.send(cmd(Command.StmtSendLongData, u32le(id), Buffer.from([0, 0]), 'never'));
  c.send(cmd(Command.StmtReset, u32le(id)));
  t.equal((await c.next()).payload[0], 0x00, 'reset OK');
  c.send(execute(id, 'short'));
  const request = await a.pending((r) => r.sql.includes(`UPDATE ${P}hold SET body = ?`));
  t.same(request.params, ['short'], 'the reset long data is gone');
  await a.deny(request, 'no');
  const err = decodeErr((await c.next()).payload);
  t.equal(err.errno, 1142);
  const [rows] = await setup.query(`SELECT body FROM ${P}hold WHERE id = 1`);
  t.same(rows, [{ body: 'part one, part two' }]);
  c.close();
});

t.test('prepare and execute(0xFFFFFFFF) pipelined in one write (MariaDB direct execution)', async (t) => {
  const c = await rawClient(a);
  const prepare = cmd(Command.StmtPrepare, `INSERT INTO ${P}free VALUES (?, 'x')`);
  const exec = cmd(Command.StmtExecute, u32le(0xffffffff), Buffer.from([0]), u32le(1), Buffer.from([0]), Buffer.from([1, 3, 0]), u32le(77));
  c.send(prepare);
  c.send(exec);
  const ok = await c.next();
  t.equal(ok.payload[0], 0x00, 'PREPARE_OK');
  t.equal((await c.next()).payload[0], 0x03, 'the parameter definition (catalog "def")');
  const executed = await c.next();
  t.equal(executed.payload[0], 0x00, decodeErr(executed.payload).message);
  const [rows] = await setup.query(`SELECT id FROM ${P}free WHERE id = 77`);
  t.same(rows, [{ id: 77 }]);
  c.close();
});

t.test('PING, STATISTICS, FIELD_LIST and RESET_CONNECTION are relayed', async (t) => {
  for (const deprecateEof of [true, false]) {
    const c = await rawClient(a, undefined, deprecateEof);
    c.send(cmd(Command.Ping));
    t.equal((await c.next()).payload[0], 0x00, 'ping');
    c.send(cmd(Command.Statistics));
    t.match((await c.next()).payload.toString(), /Uptime/, 'statistics is one text packet');
    c.send(cmd(Command.FieldList, `${P}free\0`));
    const fields = await c.untilEnd();
    t.equal(fields.length, 3, 'two column definitions and the end');
    c.send(cmd(Command.ResetConnection));
    t.equal((await c.next()).payload[0], 0x00, 'reset connection');
    c.send(cmd(Command.Query, 'SELECT 1'));
    const rows = await c.untilEnd();
    if (!deprecateEof) rows.push(...(await c.untilEnd()));
    t.equal(rows.length, deprecateEof ? 4 : 5, 'in step afterwards');
    t.equal(rows[rows.length - 2]!.payload.toString('latin1', 1), '1', 'the row');
    c.close();
  }
});

// Regression (tester report): COM_FIELD_LIST went to the server unjudged, so the column definitions of a
// table under a deny rule were readable although DESC and SHOW COLUMNS of it were refused.
t.test('FIELD_LIST is judged as SHOW COLUMNS FROM the table', async (t) => {
  const c = await rawClient(a);
  c.send(cmd(Command.FieldList, `${P}denied\0`));
  const reply = await c.next();
  t.equal(reply.payload[0], 0xff, 'an ERR, not column definitions');
  t.match(decodeErr(reply.payload), { errno: 1142, message: /denied-table/ });
  t.equal(reply.seq, 1);
  c.send(cmd(Command.FieldList, `${P}denied\0id`));
  t.equal(decodeErr((await c.next()).payload).errno, 1142, 'with a wildcard too');
  c.send(cmd(Command.FieldList, `${P}free\0`));
  const fields = await c.untilEnd();
  t.same(fields.slice(0, -1).map((f) => f.payload.includes(Buffer.from(`${P}free`))), [true, true], 'an allowed table still lists its fields');
  t.equal(fields.at(-1)!.payload[0], 0xfe);
  c.close();
});

t.test('commands airlock does not relay are refused and the session goes on', async (t) => {
  const c = await rawClient(a);
  c.send(Buffer.from([0x12, 0, 0, 0, 0])); // COM_BINLOG_DUMP
  const err = decodeErr((await c.next()).payload);
  t.equal(err.errno, 1047);
  c.send(cmd(Command.Query, 'SELECT 1'));
  t.equal((await c.untilEnd()).at(-1)!.payload[0], 0xfe);
  c.close();
});

// Regression (fresh-user report): a refusal of a command sent as several 16 MiB packets came back with
// sequence id 1 instead of one past the command's last packet, and the client dropped the connection.
t.test('a refused 17 MiB query is answered with the sequence id after its last packet', async (t) => {
  const c = await rawClient(a);
  const sql = `DELETE FROM ${P}denied WHERE body = '${'x'.repeat(17 * 1024 * 1024)}'`;
  c.send(cmd(Command.Query, sql)); // framed as packets 0 (0xFFFFFF bytes) and 1
  const reply = await c.next();
  t.equal(reply.payload[0], 0xff, 'an ERR');
  t.equal(decodeErr(reply.payload).errno, 1142);
  t.equal(reply.seq, 2, 'sequence id follows the two packets of the command');
  c.send(cmd(Command.Query, 'SELECT 1'));
  t.equal((await c.untilEnd()).at(-1)!.payload[0], 0xfe, 'the session goes on');
  c.close();
});
