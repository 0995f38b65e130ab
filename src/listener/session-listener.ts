// What both protocol listeners share: the TCP server, the live sessions by connection id, and the
// lifecycle the daemon drives (listen, stop accepting, find held and busy sessions at shutdown).

import net from 'node:net';
import type { AuditSink } from '../audit/types.js';
import type { Config } from '../config/types.js';
import type { UserDirectory } from '../identity/types.js';
import type { AuthFailureReason } from '../metrics/registry.js';
import type { Policy } from '../policy/types.js';
import type { StatementGate } from '../session/gate.js';
import type { ConnectionLimits } from './limits.js';

export interface ListenerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  child(bindings: object): ListenerLog;
}

export interface ListenerMetrics<P extends 'postgres' | 'mysql'> {
  connectionOpened(protocol: P, resource: string): void;
  connectionClosed(protocol: P, resource: string): void;
  /** reason is one of the metric's bounded label values (docs/metrics.md). */
  authFailed(protocol: P, reason: AuthFailureReason): void;
  upstreamConnectFailed(protocol: P, resource: string): void;
}

/** What the composition root hands a protocol listener. */
export interface ListenerDeps<P extends 'postgres' | 'mysql', Observer> {
  readonly config: Config;
  readonly users: () => UserDirectory;
  readonly policy: () => Policy;
  readonly gate: StatementGate;
  readonly audit: AuditSink;
  readonly log: ListenerLog;
  readonly limits: ConnectionLimits;
  readonly metrics?: ListenerMetrics<P>;
  readonly relayObserver?: Observer;
}

export abstract class SessionListener<Relay extends { readonly holding: boolean }, Live extends { readonly relay: Relay }> {
  protected readonly server: net.Server;
  /** Keyed by the id the client knows its session by (PostgreSQL backend pid, MySQL connection id). */
  protected readonly sessions = new Map<number, Live>();
  protected accepting = true;

  constructor() {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  protected abstract accept(socket: net.Socket): void;

  async listen(host: string, port: number): Promise<net.AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as net.AddressInfo;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Stop accepting; existing sessions go on. */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    // close() stops listening at once; its callback would wait for every session to end, which
    // shutdown brings about itself after the grace period, so waiting here would deadlock it.
    this.server.close();
  }

  /** Held statements: shutdown tells these clients airlock is going away. */
  sessionsHolding(): Relay[] {
    return [...this.sessions.values()].filter((s) => s.relay.holding).map((s) => s.relay);
  }

  allSessions(): Relay[] {
    return [...this.sessions.values()].map((s) => s.relay);
  }
}
