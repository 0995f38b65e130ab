// Extended-query bookkeeping: named statements and portals, and the messages collected until the
// Sync or Flush that ends a batch, with the statement each Execute will run and its bound values.

import type { PgFrame } from './framer.js';
import { FrontendCode, decodeBind, decodeExecute, decodeParse, decodeTarget } from './frontend.js';

export interface Portal {
  readonly statement: string;
  readonly params: readonly (string | null)[];
  /** Set once a hold on this portal was approved: fetching more rows is the same run. */
  cleared?: boolean;
}

/** One statement a batch will execute (an Execute, or a simple Query). */
export interface PendingStatement {
  readonly sql: string;
  readonly params: readonly (string | null)[];
  /** The portal an Execute runs. */
  readonly portal?: Portal;
}

/** An Execute of a portal or statement airlock never saw bound: answered with an error, never held or run. */
export const UNKNOWN_PORTAL = '\u0000unknown portal';

export class ExtendedBatch {
  private frames: PgFrame[] = [];
  private statements: PendingStatement[] = [];
  private readonly prepared = new Map<string, string>();
  private readonly portals = new Map<string, Portal>();

  get empty(): boolean {
    return this.frames.length === 0;
  }

  /** Parse, Bind, Describe, Execute, Close, Sync or Flush: recorded and kept for forwarding. */
  add(frame: PgFrame): void {
    switch (frame.type) {
      case FrontendCode.Parse: {
        const parse = decodeParse(frame.body);
        this.prepared.set(parse.name, parse.sql);
        break;
      }
      case FrontendCode.Bind: {
        const bind = decodeBind(frame.body);
        this.portals.set(bind.portal, { statement: bind.statement, params: bind.params });
        break;
      }
      case FrontendCode.Execute: {
        const bound = this.portals.get(decodeExecute(frame.body).portal);
        const sql = bound ? this.prepared.get(bound.statement) : undefined;
        this.statements.push({ sql: sql ?? UNKNOWN_PORTAL, params: bound?.params ?? [], portal: bound });
        break;
      }
      case FrontendCode.Close: {
        const { target, name } = decodeTarget(frame.body);
        if (target === 'S') this.prepared.delete(name);
        else this.portals.delete(name);
        break;
      }
      default:
        break;
    }
    this.frames.push(frame);
  }

  /** The collected messages and the statements they execute; the batch starts empty again. */
  take(): { frames: PgFrame[]; statements: PendingStatement[] } {
    const taken = { frames: this.frames, statements: this.statements };
    this.frames = [];
    this.statements = [];
    return taken;
  }
}
