// Server-side prepared statements of one session as airlock must know them to judge an execute: the
// text, the parameter count, the last parameter types, and COM_STMT_SEND_LONG_DATA waiting for the execute.

import { LAST_PREPARED_STATEMENT } from './codes.js';

export interface PreparedStatement {
  readonly id: number;
  readonly sql: string;
  readonly params: number;
  /** Types from the last execute that sent them (new-params-bound = 1). */
  types: Buffer | null;
  /** Long data by parameter index, consumed by the next execute, cleared by reset. */
  readonly longData: Map<number, Buffer>;
  /** The raw SEND_LONG_DATA packets, forwarded only together with the execute they belong to. */
  longDataPackets: Buffer[];
  /** An approved execute opened a cursor: COM_STMT_FETCH reads more of the same run. */
  cursorOpen: boolean;
}

export class PreparedStatements {
  private readonly byId = new Map<number, PreparedStatement>();
  /** The statement 0xFFFFFFFF refers to; undefined when the latest prepare failed. */
  private last: number | undefined;

  add(id: number, sql: string, params: number): void {
    this.byId.set(id, { id, sql, params, types: null, longData: new Map(), longDataPackets: [], cursorOpen: false });
    this.last = id;
  }

  prepareFailed(): void {
    this.last = undefined;
  }

  get(id: number): PreparedStatement | undefined {
    return this.byId.get(id === LAST_PREPARED_STATEMENT && this.last !== undefined ? this.last : id);
  }

  appendLongData(id: number, param: number, data: Buffer, raw: Buffer): boolean {
    const s = this.get(id);
    if (!s) return false;
    const prev = s.longData.get(param);
    s.longData.set(param, prev ? Buffer.concat([prev, data]) : Buffer.from(data));
    s.longDataPackets.push(raw);
    return true;
  }

  /** After an execute (run or refused) or COM_STMT_RESET: long data is gone. Returns the packets that were waiting. */
  takeLongData(s: PreparedStatement): Buffer[] {
    const packets = s.longDataPackets;
    s.longData.clear();
    s.longDataPackets = [];
    return packets;
  }

  delete(id: number): void {
    this.byId.delete(id);
    if (this.last === id) this.last = undefined;
  }

  clear(): void {
    this.byId.clear();
    this.last = undefined;
  }
}
