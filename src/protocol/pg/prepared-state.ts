// What the server holds under each prepared-statement and portal name, as far as its answers prove.
//
// A Parse, Bind or Close changes the server only once it answers ParseComplete, BindComplete or
// CloseComplete. A Parse of a name that exists fails (42P05) and leaves the old statement, and after
// any error the server skips every message up to Sync. Trusting what the client merely sent let a
// rejected or skipped Parse make a prepared DELETE look like SELECT 1 to the gate.
//
// Forwarded effects wait in order for their answers (the response tracker delivers them in the
// server's order). Messages not forwarded yet may rely on effects still waiting since the last Sync:
// if one of those fails, the server skips the later message too, so assuming success is safe. An
// effect waiting from before a Sync is different: the server runs what follows whatever happened,
// so a name it touches is uncertain until its answer arrives.

import type { Classification } from '../../classify/types.js';
import type { OutcomeListener } from './response-tracker.js';

export interface Portal {
  /** The statement text it runs, fixed at Bind: re-parsing the statement name does not change a portal. */
  readonly sql: string;
  readonly params: readonly (string | null)[];
  /** Set once a hold on this portal was approved: fetching more rows is the same run. */
  cleared?: boolean;
}

export type Effect =
  | { readonly kind: 'parse'; readonly name: string; readonly sql: string }
  | { readonly kind: 'close-statement'; readonly name: string }
  /** portal null: bound from a statement airlock does not know, so its text is unknown. */
  | { readonly kind: 'bind'; readonly name: string; readonly portal: Portal | null }
  | { readonly kind: 'close-portal'; readonly name: string };

export type Answer = 'ok' | 'error' | 'skipped';

/** A lookup that must wait for the server's answer to an earlier batch. */
export const UNCERTAIN: unique symbol = Symbol('uncertain');
/** null: the server has nothing usable under that name, as far as airlock knows. */
export type Lookup<T> = T | null | typeof UNCERTAIN;

interface Waiting {
  readonly effect: Effect;
  /** Syncs forwarded before it. */
  readonly segment: number;
  /** Overtaken by a SQL-level DEALLOCATE, DISCARD or CLOSE: its answer no longer tells anything. */
  void: boolean;
}

/** SQL after which a name may hold what airlock never saw: dropped here, then reused by PREPARE or DECLARE. */
const DROPS_STATEMENTS = new Set(['DEALLOCATE', 'DISCARD']);
const DROPS_PORTALS = new Set(['CLOSE', 'DISCARD', 'DECLARE']);

export class PreparedState {
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, Portal>();
  private waiting: Waiting[] = [];
  private segment = 0;
  private settledWaiters: (() => void)[] = [];

  /** The message carrying this effect is forwarded now; the listener takes the server's answer. */
  forwarded(effect: Effect | undefined): OutcomeListener | undefined {
    if (!effect) return undefined;
    const entry: Waiting = { effect, segment: this.segment, void: false };
    this.waiting.push(entry);
    return (outcome) => this.answered(entry, outcome.skipped ? 'skipped' : outcome.error ? 'error' : 'ok');
  }

  /** A Sync was forwarded: an error before it no longer makes the server skip what comes after. */
  syncForwarded(): void {
    this.segment++;
  }

  statement(name: string): Lookup<string> {
    return this.lookup('statement', name, this.statements);
  }

  portal(name: string): Lookup<Portal> {
    return this.lookup('portal', name, this.portals);
  }

  /** Resolves once no name depends on an answer to messages sent before the last forwarded Sync. */
  settled(): Promise<void> {
    if (!this.unsettled()) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /**
   * A forwarded SQL statement may drop prepared statements or portals (DEALLOCATE, DISCARD ALL,
   * CLOSE), after which SQL PREPARE or DECLARE can reuse the name: those names are no longer
   * trusted, including effects still waiting, which the server ran before it. Later effects apply
   * as usual. Unreadable SQL is left alone: a policy that lets it run already trusts it with more.
   */
  forwardedSql(classification: Classification): void {
    if (classification.unparseable) return;
    const kinds = classification.statements.flatMap((s) => [s.kind, ...(s.nested_kinds ?? [])]);
    const statements = kinds.some((k) => DROPS_STATEMENTS.has(k));
    const portals = kinds.some((k) => DROPS_PORTALS.has(k));
    if (!statements && !portals) return;
    for (const entry of this.waiting) {
      const isPortal = entry.effect.kind === 'bind' || entry.effect.kind === 'close-portal';
      if (isPortal ? portals : statements && entry.effect.name !== '') entry.void = true;
    }
    this.waiting = this.waiting.filter((e) => !e.void);
    if (statements) {
      // SQL cannot name the unnamed statement, and DISCARD ALL leaves it.
      for (const name of this.statements.keys()) if (name !== '') this.statements.delete(name);
    }
    if (portals) this.portals.clear();
    this.wakeIfSettled();
  }

  private lookup<T>(space: 'statement' | 'portal', name: string, confirmed: Map<string, T>): Lookup<T> {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const { effect, segment } = this.waiting[i]!;
      if (spaceOf(effect) !== space || effect.name !== name) continue;
      if (segment < this.segment) return UNCERTAIN;
      return assumed(effect) as T | null;
    }
    return confirmed.get(name) ?? null;
  }

  private answered(entry: Waiting, answer: Answer): void {
    const i = this.waiting.indexOf(entry);
    if (i >= 0) this.waiting.splice(i, 1);
    if (!entry.void) this.apply(entry.effect, answer);
    this.wakeIfSettled();
  }

  private apply(effect: Effect, answer: Answer): void {
    if (answer === 'skipped') return;
    const ok = answer === 'ok';
    switch (effect.kind) {
      case 'parse':
        if (ok) this.statements.set(effect.name, effect.sql);
        // The unnamed statement is dropped before the new text is parsed; a named one is kept on failure.
        else if (effect.name === '') this.statements.delete('');
        break;
      case 'close-statement':
        if (ok) this.statements.delete(effect.name);
        break;
      case 'bind':
        if (ok && effect.portal) this.portals.set(effect.name, effect.portal);
        // A failed Bind may already have replaced the unnamed portal.
        else if (ok || effect.name === '') this.portals.delete(effect.name);
        break;
      case 'close-portal':
        if (ok) this.portals.delete(effect.name);
        break;
    }
  }

  private unsettled(): boolean {
    return this.waiting.some((e) => e.segment < this.segment);
  }

  private wakeIfSettled(): void {
    if (this.settledWaiters.length === 0 || this.unsettled()) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const w of waiters) w();
  }
}

function spaceOf(effect: Effect): 'statement' | 'portal' {
  return effect.kind === 'parse' || effect.kind === 'close-statement' ? 'statement' : 'portal';
}

/** What a name holds if the effect succeeds (if it fails, the server skips what comes after it). */
function assumed(effect: Effect): string | Portal | null {
  switch (effect.kind) {
    case 'parse':
      return effect.sql;
    case 'bind':
      return effect.portal;
    default:
      return null;
  }
}
