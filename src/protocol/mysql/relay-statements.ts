// Prepared statements in the relay (COM_STMT_*): an execute is judged by the text it was prepared from.

import { ClientError } from '../../errors.js';
import { Errno, LAST_PREPARED_STATEMENT } from './codes.js';
import { commandText, decodeSendLongData, decodeStmtExecute, statementId } from './commands.js';
import type { MysqlPacket } from './framer.js';
import { PreparedStatements } from './prepared.js';
import type { RelayPort } from './relay-port.js';

export class RelayStatements {
  private readonly statements = new PreparedStatements();

  constructor(private readonly port: RelayPort) {}

  /** COM_RESET_CONNECTION, COM_CHANGE_USER: the server forgets every statement. */
  clear(): void {
    this.statements.clear();
  }

  prepare(p: MysqlPacket): void {
    const sql = commandText(p.payload);
    this.port.forward(p.raw);
    this.port.tracker.expect({
      shape: 'prepare',
      onPrepared: (ok) => (ok ? this.statements.add(ok.statementId, sql, ok.params) : this.statements.prepareFailed()),
    });
  }

  async execute(p: MysqlPacket): Promise<void> {
    const port = this.port;
    const id = statementId(p.payload);
    // A pipelined execute (or the "last prepared" id) may race its PREPARE_OK: wait for the server.
    if (id === LAST_PREPARED_STATEMENT || !this.statements.get(id)) await port.tracker.quiescent();
    const s = this.statements.get(id);
    if (!s) return port.send(p.raw, { shape: 'resultset' });
    let decoded;
    try {
      decoded = decodeStmtExecute(p.payload, s.params, s.types, s.longData);
    } catch (err) {
      this.statements.takeLongData(s);
      return port.refuse(new ClientError({ sqlstate: 'HY000', mysqlErrno: 1210, message: `airlock: unreadable COM_STMT_EXECUTE: ${(err as Error).message}` }));
    }
    s.types = decoded.types;
    const longData = this.statements.takeLongData(s);
    return port.gateThen(s.sql, decoded.params, (requestId) => {
      for (const raw of longData) port.forward(raw);
      s.cursorOpen = (decoded.flags & 0x0f) !== 0;
      return port.send(p.raw, { shape: 'resultset' }, requestId);
    });
  }

  /** Long data waits for its execute: it goes up only if that execute is allowed. */
  sendLongData(p: MysqlPacket): void {
    const d = decodeSendLongData(p.payload);
    // Unknown statement: the server ignores it too (and fails the execute).
    if (!this.statements.appendLongData(d.statementId, d.param, d.data, p.raw)) this.port.forward(p.raw);
  }

  close(p: MysqlPacket): void {
    const s = this.statements.get(statementId(p.payload));
    if (s) this.statements.takeLongData(s);
    this.statements.delete(statementId(p.payload));
    this.port.forward(p.raw);
  }

  reset(p: MysqlPacket): void {
    const s = this.statements.get(statementId(p.payload));
    if (s) {
      this.statements.takeLongData(s);
      s.cursorOpen = false;
    }
    return this.port.send(p.raw, { shape: 'single' });
  }

  fetch(p: MysqlPacket): Promise<void> | void {
    const s = this.statements.get(statementId(p.payload));
    if (s && !s.cursorOpen) return this.port.refuse(new ClientError({ sqlstate: 'HY000', mysqlErrno: Errno.UnknownStmtHandler, message: 'airlock: COM_STMT_FETCH without an open cursor' }));
    return this.port.send(p.raw, { shape: 'rows' });
  }
}
