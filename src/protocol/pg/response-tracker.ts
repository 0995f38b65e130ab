// Follows the server's answers to what was forwarded, so airlock knows when the backend is quiet,
// which transaction state it reports, and how each statement ended (for the audit record).
//
// Each forwarded message that the server answers is queued with the answer that completes it
// (protocol-flow.html, "Extended Query"): Parse→'1', Bind→'2', Describe→'T'|'n', Execute→'C'|'I'|'s',
// Close→'3', Sync and Query→'Z'. An ErrorResponse during extended-query processing makes the server
// skip everything up to the next Sync, so those entries are dropped.

export const enum BackendCode {
  ParseComplete = 0x31, // '1'
  BindComplete = 0x32, // '2'
  CloseComplete = 0x33, // '3'
  CommandComplete = 0x43, // 'C'
  ErrorResponse = 0x45, // 'E'
  EmptyQueryResponse = 0x49, // 'I'
  NoData = 0x6e, // 'n'
  PortalSuspended = 0x73, // 's'
  RowDescription = 0x54, // 'T'
  ReadyForQuery = 0x5a, // 'Z'
}

export interface StatementOutcome {
  readonly tag?: string;
  readonly rows?: number;
  readonly error?: { readonly sqlstate: string; readonly message: string };
  /** The server skipped it after an earlier error in the same pipeline. */
  readonly skipped?: boolean;
}

export type OutcomeListener = (outcome: StatementOutcome) => void;

interface Pending {
  /** The frontend message code it answers. */
  readonly code: number;
  readonly onDone?: OutcomeListener;
  tag?: string;
  error?: { sqlstate: string; message: string };
}

const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'

/** Reads SQLSTATE and message out of an ErrorResponse body. */
export function parseErrorFields(body: Buffer): { sqlstate: string; message: string } {
  let sqlstate = '';
  let message = '';
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const field = body[i]!;
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    if (field === 0x43) sqlstate = body.toString('utf8', i + 1, end);
    else if (field === 0x4d) message = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return { sqlstate, message };
}

function rowsOf(tag: string): number | undefined {
  const last = tag.slice(tag.lastIndexOf(' ') + 1);
  return /^\d+$/.test(last) ? Number(last) : undefined;
}

export class ResponseTracker {
  private queue: Pending[] = [];
  private head = 0;
  private waiters: (() => void)[] = [];
  /** Transaction status of the last ReadyForQuery: 'I' idle, 'T' in a block, 'E' failed block. */
  lastStatus: 'I' | 'T' | 'E' = 'I';
  /** Extended-protocol messages were forwarded since the last forwarded Sync. */
  unsynced = false;

  expect(code: number, onDone?: OutcomeListener): void {
    if (code === SYNC) this.unsynced = false;
    else if (code !== QUERY) this.unsynced = true;
    this.queue.push({ code, onDone });
  }

  get idle(): boolean {
    return this.head === this.queue.length;
  }

  /** Resolves once every forwarded message has its answer. */
  quiescent(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Feed every backend frame, in order, after it was relayed to the client. */
  observe(type: number, body: Buffer): void {
    if (this.idle) {
      if (type === BackendCode.ReadyForQuery) this.lastStatus = String.fromCharCode(body[0]!) as 'I' | 'T' | 'E';
      return;
    }
    const current = this.queue[this.head]!;
    switch (type) {
      case BackendCode.ReadyForQuery:
        this.lastStatus = String.fromCharCode(body[0]!) as 'I' | 'T' | 'E';
        // A Query or Sync is complete; anything before it that is still open was skipped.
        while (!this.idle) {
          const p = this.shift();
          if (p.code === SYNC || p.code === QUERY) {
            this.finish(p);
            break;
          }
          p.onDone?.({ skipped: true });
        }
        break;
      case BackendCode.ErrorResponse: {
        const error = parseErrorFields(body);
        if (current.code === QUERY || current.code === SYNC) {
          current.error ??= error;
          break;
        }
        this.shift();
        current.error = error;
        this.finish(current);
        while (!this.idle && this.queue[this.head]!.code !== SYNC && this.queue[this.head]!.code !== QUERY) {
          this.shift().onDone?.({ skipped: true });
        }
        break;
      }
      case BackendCode.CommandComplete:
        if (current.code === QUERY) {
          current.tag = body.toString('utf8', 0, Math.max(0, body.length - 1));
        } else if (current.code === 0x45) {
          current.tag = body.toString('utf8', 0, Math.max(0, body.length - 1));
          this.finish(this.shift());
        }
        break;
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended:
        if (current.code === 0x45) this.finish(this.shift());
        break;
      case BackendCode.ParseComplete:
        if (current.code === 0x50) this.finish(this.shift());
        break;
      case BackendCode.BindComplete:
        if (current.code === 0x42) this.finish(this.shift());
        break;
      case BackendCode.CloseComplete:
        if (current.code === 0x43) this.finish(this.shift());
        break;
      case BackendCode.RowDescription:
      case BackendCode.NoData:
        if (current.code === 0x44) this.finish(this.shift());
        break;
      default:
        break;
    }
    if (this.idle) {
      this.queue = [];
      this.head = 0;
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  /** The connection is gone: report what never got an answer. */
  abandonAll(): void {
    while (!this.idle) this.shift().onDone?.({ error: { sqlstate: '08006', message: 'connection closed before the server answered' } });
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private shift(): Pending {
    return this.queue[this.head++]!;
  }

  private finish(p: Pending): void {
    if (!p.onDone) return;
    p.onDone(p.error ? { error: p.error, tag: p.tag } : { tag: p.tag, rows: p.tag ? rowsOf(p.tag) : undefined });
  }
}
