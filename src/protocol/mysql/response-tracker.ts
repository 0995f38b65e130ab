// Follows the server's replies command by command, so the relay knows when a reply is complete, what it
// said (OK/ERR, rows), which statement id a prepare got, and whether a LOCAL INFILE request was asked for.

import { ServerStatus } from './codes.js';
import { decodePrepareOk, type PrepareOk } from './commands.js';
import { decodeErr, decodeOk, isEofOrOkTerminator, terminatorStatus, type ErrPacket } from './packets.js';

/** How a command's reply is shaped. */
export type ReplyShape =
  | 'resultset' // COM_QUERY, COM_STMT_EXECUTE: OK | ERR | result sets chained by MORE_RESULTS (| LOCAL INFILE for queries)
  | 'prepare' // COM_STMT_PREPARE: ERR | PREPARE_OK + parameter and column definitions
  | 'rows' // COM_STMT_FETCH, COM_FIELD_LIST: rows/definitions until EOF/OK or ERR
  | 'single'; // COM_PING, COM_INIT_DB, COM_STATISTICS, COM_STMT_RESET, ...: one packet

export interface ReplyOutcome {
  readonly error?: ErrPacket;
  readonly affectedRows: number;
  readonly rows: number;
  /** The status flags of the last OK/EOF (transaction state for replies airlock builds itself). */
  readonly status?: number;
}

export interface Expectation {
  readonly shape: ReplyShape;
  /** Sent by airlock itself: the reply goes nowhere. */
  readonly internal?: boolean;
  /** Whether a LOCAL INFILE request (0xFB) is legitimate for this command. */
  readonly localInfileAllowed?: boolean;
  onDone?(outcome: ReplyOutcome): void;
  onPrepared?(ok: PrepareOk | undefined): void;
}

type Phase = 'first' | 'columns' | 'columnsEof' | 'rows' | 'prepareDefs' | 'infile';

interface Pending {
  readonly e: Expectation;
  phase: Phase;
  remaining: number;
  affectedRows: number;
  rows: number;
  status?: number;
}

export type Observed =
  | { readonly owner: Expectation | undefined; readonly kind: 'packet' }
  | { readonly owner: Expectation; readonly kind: 'local-infile'; readonly allowed: boolean };

export class ResponseTracker {
  private readonly queue: Pending[] = [];
  private waiters: (() => void)[] = [];
  /** Server status from the last OK/EOF seen. */
  lastStatus: number = ServerStatus.Autocommit;

  constructor(private readonly deprecateEof: boolean) {}

  expect(e: Expectation): void {
    this.queue.push({ e, phase: e.shape === 'rows' ? 'rows' : 'first', remaining: 0, affectedRows: 0, rows: 0 });
  }

  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Resolves once every forwarded command has been answered. */
  quiescent(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Nothing more will come (connection gone): finish every pending reply as an error. */
  abandonAll(): void {
    const pending = this.queue.splice(0);
    for (const p of pending) p.e.onDone?.({ error: { errno: 2013, sqlstate: 'HY000', message: 'connection lost' }, affectedRows: p.affectedRows, rows: p.rows });
    this.wake();
  }

  /** Feeds one logical packet from the server; returns whose reply it was part of. */
  observe(payload: Buffer): Observed {
    const p = this.queue[0];
    if (!p) return { owner: undefined, kind: 'packet' };
    const first = payload[0];
    switch (p.phase) {
      case 'first':
      case 'infile':
        if (first === 0xff) return this.finish(p, { error: decodeErr(payload) });
        if (p.e.shape === 'single') return this.finish(p, this.statusOf(payload));
        if (p.e.shape === 'prepare') {
          if (first !== 0x00) return this.finish(p, {});
          const ok = decodePrepareOk(payload);
          p.e.onPrepared?.(ok);
          p.remaining = ok.params + ok.columns;
          if (!this.deprecateEof) p.remaining += (ok.params > 0 ? 1 : 0) + (ok.columns > 0 ? 1 : 0);
          p.phase = 'prepareDefs';
          if (p.remaining === 0) return this.finish(p, {});
          return { owner: p.e, kind: 'packet' };
        }
        if (first === 0x00 || (first === 0xfe && payload.length < 9)) {
          const ok = decodeOk(payload);
          p.affectedRows += ok.affectedRows;
          this.lastStatus = ok.status;
          p.status = ok.status;
          if (ok.status & ServerStatus.MoreResultsExist) {
            p.phase = 'first';
            return { owner: p.e, kind: 'packet' };
          }
          return this.finish(p, {});
        }
        if (first === 0xfb && p.phase === 'first') {
          p.phase = 'infile';
          return { owner: p.e, kind: 'local-infile', allowed: p.e.localInfileAllowed === true };
        }
        p.remaining = columnCount(payload);
        p.phase = 'columns';
        return { owner: p.e, kind: 'packet' };
      case 'columns':
        if (--p.remaining === 0) p.phase = this.deprecateEof ? 'rows' : 'columnsEof';
        return { owner: p.e, kind: 'packet' };
      case 'columnsEof': {
        const status = terminatorStatus(payload);
        // An execute that opened a cursor ends after its metadata; rows come with COM_STMT_FETCH.
        if (status & ServerStatus.CursorExists) return this.finish(p, { status });
        p.phase = 'rows';
        return { owner: p.e, kind: 'packet' };
      }
      case 'rows':
        if (first === 0xff) return this.finish(p, { error: decodeErr(payload) });
        if (isEofOrOkTerminator(payload)) {
          const status = terminatorStatus(payload);
          this.lastStatus = status;
          p.status = status;
          if (status & ServerStatus.MoreResultsExist && p.e.shape === 'resultset') {
            p.phase = 'first';
            return { owner: p.e, kind: 'packet' };
          }
          return this.finish(p, {});
        }
        p.rows++;
        return { owner: p.e, kind: 'packet' };
      case 'prepareDefs':
        if (--p.remaining === 0) return this.finish(p, {});
        return { owner: p.e, kind: 'packet' };
    }
  }

  private statusOf(payload: Buffer): { status?: number } {
    if (payload[0] === 0x00 && payload.length >= 7) {
      const ok = decodeOk(payload);
      this.lastStatus = ok.status;
      return { status: ok.status };
    }
    return {};
  }

  private finish(p: Pending, extra: { error?: ErrPacket; status?: number }): Observed {
    this.queue.shift();
    p.e.onDone?.({ error: extra.error, affectedRows: p.affectedRows, rows: p.rows, status: extra.status ?? p.status });
    if (p.e.shape === 'prepare' && extra.error) p.e.onPrepared?.(undefined);
    if (this.queue.length === 0) this.wake();
    return { owner: p.e, kind: 'packet' };
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

function columnCount(payload: Buffer): number {
  const first = payload[0]!;
  if (first < 0xfb) return first;
  if (first === 0xfc) return payload.readUInt16LE(1);
  if (first === 0xfd) return payload.readUIntLE(1, 3);
  return Number(payload.readBigUInt64LE(1));
}
