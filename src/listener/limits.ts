// Connection limits, global and per user, shared by both protocol listeners.

export type Admission = { ok: true; release: () => void } | { ok: false; message: string };

/** Every configured limit a connection can run into (the metric's `limit` label values). */
export type LimitName = 'max_connections' | 'max_connections_per_user' | 'auth_timeout' | 'idle_timeout' | 'max_message_bytes';

export class ConnectionLimits {
  private total = 0;
  private readonly perUser = new Map<string, number>();

  constructor(private readonly opts: { maxConnections: number; maxPerUser: number; onLimit?: (limit: LimitName) => void }) {}

  admit(): Admission {
    if (this.total >= this.opts.maxConnections) {
      this.opts.onLimit?.('max_connections');
      return { ok: false, message: `sorry, too many clients already (airlock limits.max_connections = ${this.opts.maxConnections})` };
    }
    this.total++;
    return { ok: true, release: once(() => this.total--) };
  }

  admitUser(email: string): Admission {
    const key = email.toLowerCase();
    const n = this.perUser.get(key) ?? 0;
    if (n >= this.opts.maxPerUser) {
      this.opts.onLimit?.('max_connections_per_user');
      return { ok: false, message: `too many connections for ${email} (airlock limits.max_connections_per_user = ${this.opts.maxPerUser})` };
    }
    this.perUser.set(key, n + 1);
    return {
      ok: true,
      release: once(() => {
        const left = (this.perUser.get(key) ?? 1) - 1;
        if (left <= 0) this.perUser.delete(key);
        else this.perUser.set(key, left);
      }),
    };
  }

  /** A limit enforced elsewhere (timeouts, message size) was hit: counted with the others. */
  noteLimit(limit: LimitName): void {
    this.opts.onLimit?.(limit);
  }

  get open(): number {
    return this.total;
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
