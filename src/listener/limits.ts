// Connection limits shared by both protocol listeners.
//
// A connection is pending from accept until it authenticates, and only pending connections count
// toward max_pending_auth (in total and per client address). Only authenticated sessions count
// toward max_connections and max_connections_per_user: sockets that never log in must not be able
// to lock people out of the sessions they are entitled to.

import { isIPv6 } from 'node:net';
import type { ClientError } from '../errors.js';
import type { LimitName } from '../metrics/registry.js';
import { clientErrors } from '../session/client-errors.js';

export type { LimitName };

export type Admission = { ok: true; release: () => void } | { ok: false; error: ClientError };

export interface LimitOptions {
  readonly maxConnections: number;
  readonly maxPerUser: number;
  readonly maxPendingAuth: number;
  readonly maxPendingAuthPerIp: number;
  readonly onLimit?: (limit: LimitName) => void;
}

export class ConnectionLimits {
  private sessions = 0;
  private readonly perUser = new Counts();
  private pending = 0;
  private readonly pendingPerAddress = new Counts();
  private refusing = 0;

  constructor(private readonly opts: LimitOptions) {}

  /** At accept, before the client has said anything. remoteAddress: socket.remoteAddress. */
  admitPending(remoteAddress: string | undefined): Admission {
    const key = addressKey(remoteAddress);
    if (this.pending >= this.opts.maxPendingAuth) {
      this.opts.onLimit?.('max_pending_auth');
      return { ok: false, error: clientErrors.tooManyPendingAuth(this.opts.maxPendingAuth) };
    }
    if (this.pendingPerAddress.get(key) >= this.opts.maxPendingAuthPerIp) {
      this.opts.onLimit?.('max_pending_auth_per_ip');
      return { ok: false, error: clientErrors.tooManyPendingAuthFrom(key, this.opts.maxPendingAuthPerIp) };
    }
    this.pending++;
    this.pendingPerAddress.add(key);
    return {
      ok: true,
      release: once(() => {
        this.pending--;
        this.pendingPerAddress.remove(key);
      }),
    };
  }

  /** Once the client has authenticated as `email` (its pending slot released by the caller). */
  admitSession(email: string): Admission {
    if (this.sessions >= this.opts.maxConnections) {
      this.opts.onLimit?.('max_connections');
      return { ok: false, error: clientErrors.tooManyClients(this.opts.maxConnections) };
    }
    const key = email.toLowerCase();
    if (this.perUser.get(key) >= this.opts.maxPerUser) {
      this.opts.onLimit?.('max_connections_per_user');
      return { ok: false, error: clientErrors.tooManyForUser(email, this.opts.maxPerUser) };
    }
    this.sessions++;
    this.perUser.add(key);
    return {
      ok: true,
      release: once(() => {
        this.sessions--;
        this.perUser.remove(key);
      }),
    };
  }

  /**
   * A refused PostgreSQL client is answered only after its SSLRequest and StartupMessage, so a
   * refused socket stays open briefly too. Those are capped at max_pending_auth as well, or a flood
   * beyond the limit would hold sockets without bound; undefined means refuse without waiting.
   */
  beginRefusal(): (() => void) | undefined {
    if (this.refusing >= this.opts.maxPendingAuth) return undefined;
    this.refusing++;
    return once(() => this.refusing--);
  }

  /** A limit enforced elsewhere (timeouts, message size) was hit: counted with the others. */
  noteLimit(limit: LimitName): void {
    this.opts.onLimit?.(limit);
  }

  /** Authenticated sessions. */
  get open(): number {
    return this.sessions;
  }

  get pendingAuth(): number {
    return this.pending;
  }
}

/**
 * The per-address bucket: IPv4-mapped IPv6 as plain IPv4, and IPv6 by its /64, because one host
 * is normally given a whole /64 and could otherwise open each socket from a new address.
 */
export function addressKey(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown';
  const address = remoteAddress.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  // A dotted IPv4 tail is two groups; counting it as one would misplace the groups after '::'.
  const hex = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const [head = '', tail] = hex.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

class Counts {
  private readonly map = new Map<string, number>();

  get(key: string): number {
    return this.map.get(key) ?? 0;
  }

  add(key: string): void {
    this.map.set(key, this.get(key) + 1);
  }

  remove(key: string): void {
    const left = this.get(key) - 1;
    if (left <= 0) this.map.delete(key);
    else this.map.set(key, left);
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}
