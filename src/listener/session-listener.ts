// What both protocol listeners share: the TCP server, the live sessions by connection id, and the
// lifecycle the daemon drives (listen, stop accepting, find held and busy sessions at shutdown).

import net from 'node:net';

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
