// The extended-query messages collected until the Sync or Flush that ends a batch: the statement each
// Execute will run with its bound values, and what each message changes on the server if it succeeds.
// Names resolve against the batch's own earlier messages first (the server applies them first, and
// skips the rest of the batch if one fails), then against what the server confirmed (PreparedState).

import type { PgFrame } from './framer.js';
import { FrontendCode, decodeBind, decodeExecute, decodeParse, decodeTarget } from './frontend.js';
import { UNCERTAIN, type Effect, type Lookup, type Portal, type PreparedState } from './prepared-state.js';

/** One statement a batch will execute (an Execute, or a simple Query). */
export interface PendingStatement {
  readonly sql: string;
  readonly params: readonly (string | null)[];
  /** The portal an Execute runs. */
  readonly portal?: Portal;
}

/** An Execute of a portal or statement airlock never saw bound: answered with an error, never held or run. */
export const UNKNOWN_PORTAL = '\u0000unknown portal';

export interface TakenBatch {
  readonly frames: PgFrame[];
  /** One per Execute, in order. */
  readonly statements: PendingStatement[];
  /** What each frame changes on the server once it answers success; index-aligned with frames. */
  readonly effects: (Effect | undefined)[];
}

type Step =
  | { readonly op: 'parse'; readonly name: string; readonly sql: string }
  | { readonly op: 'bind'; readonly portal: string; readonly statement: string; readonly params: (string | null)[] }
  | { readonly op: 'close'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly op: 'execute'; readonly portal: string }
  | undefined;

export class ExtendedBatch {
  private frames: PgFrame[] = [];
  private steps: Step[] = [];

  get empty(): boolean {
    return this.frames.length === 0;
  }

  /** Parse, Bind, Describe, Execute, Close, Sync or Flush: decoded now (a malformed one fails here) and kept. */
  add(frame: PgFrame): void {
    this.steps.push(decodeStep(frame));
    this.frames.push(frame);
  }

  /**
   * The collected messages and the statements they execute; the batch starts empty again.
   * undefined: a name it uses waits on the server's answer to an earlier batch (PreparedState.settled).
   */
  take(server: PreparedState): TakenBatch | undefined {
    const statements = new Map<string, string | null>();
    const portals = new Map<string, Portal | null>();
    const statementSql = (name: string): Lookup<string> => (statements.has(name) ? (statements.get(name) ?? null) : server.statement(name));
    const portalOf = (name: string): Lookup<Portal> => (portals.has(name) ? (portals.get(name) ?? null) : server.portal(name));
    const executes: PendingStatement[] = [];
    const effects: (Effect | undefined)[] = [];
    for (const step of this.steps) {
      let effect: Effect | undefined;
      switch (step?.op) {
        case 'parse':
          statements.set(step.name, step.sql);
          effect = { kind: 'parse', name: step.name, sql: step.sql };
          break;
        case 'bind': {
          const sql = statementSql(step.statement);
          if (sql === UNCERTAIN) return undefined;
          const portal = sql === null ? null : { sql, params: step.params };
          portals.set(step.portal, portal);
          effect = { kind: 'bind', name: step.portal, portal };
          break;
        }
        case 'close':
          if (step.target === 'S') statements.set(step.name, null);
          else portals.set(step.name, null);
          effect = { kind: step.target === 'S' ? 'close-statement' : 'close-portal', name: step.name };
          break;
        case 'execute': {
          const portal = portalOf(step.portal);
          if (portal === UNCERTAIN) return undefined;
          executes.push(portal ? { sql: portal.sql, params: portal.params, portal } : { sql: UNKNOWN_PORTAL, params: [] });
          break;
        }
        default:
          break;
      }
      effects.push(effect);
    }
    const taken = { frames: this.frames, statements: executes, effects };
    this.frames = [];
    this.steps = [];
    return taken;
  }
}

function decodeStep(frame: PgFrame): Step {
  switch (frame.type) {
    case FrontendCode.Parse: {
      const { name, sql } = decodeParse(frame.body);
      return { op: 'parse', name, sql };
    }
    case FrontendCode.Bind: {
      const { portal, statement, params } = decodeBind(frame.body);
      return { op: 'bind', portal, statement, params };
    }
    case FrontendCode.Close:
      return { op: 'close', ...decodeTarget(frame.body) };
    case FrontendCode.Execute:
      return { op: 'execute', portal: decodeExecute(frame.body).portal };
    default:
      return undefined;
  }
}
