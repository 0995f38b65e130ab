// ApprovalStore on Redis (ioredis): Lua transitions, pub/sub to wake the replica holding the connection, fail-fast when down.

import type { Logger } from 'pino';
import { AirlockError } from '../errors.js';
import type { ApprovalRequest, ApprovalStore, ApprovalVote, JitGrant, NewRequest, RequestState, TransitionOutcome } from './types.js';
import { APPROVAL_SCRIPTS, type ApprovalScriptName } from './redis-scripts.js';
import { connectRedis, failFastOptions, parseRedisUrl, subscriberOptions, type RedisClient } from './redis-connect.js';
import { runsInHoldingSession } from './threshold.js';

export interface RedisApprovalStoreOptions {
  /** redis://, redis+sentinel:// or redis+cluster:// (see redis-connect.ts). */
  readonly url: string;
  /** Key and channel prefix; tests use a unique one per file. Default `airlock:`. */
  readonly prefix?: string;
  /** How long finished requests stay listable after they expire (break-glass review). Default 7 days. */
  readonly retentionMs?: number;
  readonly log?: Logger;
  /** Told when the store goes down or comes back (metrics). */
  readonly onAvailabilityChange?: (available: boolean) => void;
}

type ScriptReply = [string, string[]?, string[]?];

const DAY_MS = 24 * 60 * 60 * 1000;

export class RedisApprovalStore implements ApprovalStore {
  private readonly client: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly retentionMs: number;
  private readonly log?: Logger;
  private readonly listeners = new Set<(req: ApprovalRequest) => void>();
  /** Requests created here that are not final yet: re-read after a reconnect so a missed message strands nobody. */
  private readonly watched = new Set<string>();
  private wasReady = false;
  private subscriberLost = false;
  private closed = false;

  constructor(private readonly options: RedisApprovalStoreOptions) {
    this.prefix = options.prefix ?? 'airlock:';
    this.channel = `${this.prefix}changes`;
    this.retentionMs = options.retentionMs ?? 7 * DAY_MS;
    this.log = options.log;
    const target = parseRedisUrl(options.url);
    this.client = connectRedis(target, failFastOptions());
    for (const [name, lua] of Object.entries(APPROVAL_SCRIPTS)) this.client.defineCommand(name, { numberOfKeys: 2, lua });
    this.client.on('ready', () => this.onReady());
    this.client.on('close', () => this.onLost());
    this.client.on('error', (err: Error) => {
      if (this.wasReady) this.log?.debug({ err: err.message }, 'approval store connection error');
    });

    this.subscriber = connectRedis(target, subscriberOptions());
    this.subscriber.on('error', () => {
      // Reported through the main connection's state; the subscriber reconnects on its own.
    });
    this.subscriber.on('close', () => {
      this.subscriberLost = true;
    });
    this.subscriber.on('ready', () => {
      if (this.subscriberLost) void this.recheckWatched();
      this.subscriberLost = false;
    });
    this.subscriber.on('message', (channel: string, id: string) => {
      if (channel === this.channel) void this.deliver(id);
    });
    this.subscriber.subscribe(this.channel).catch(() => {
      // autoResubscribe re-issues it once connected.
    });
  }

  get available(): boolean {
    return this.client.status === 'ready';
  }

  /** Resolves once connected, or rejects after `timeoutMs` (startup and tests). */
  async ready(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.client.status !== 'ready' || this.subscriber.status !== 'ready') {
      if (Date.now() > deadline) throw new AirlockError('AIRLOCK_ERR_STORE_UNAVAILABLE', `approval store not reachable at ${redactUrl(this.options.url)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async create(req: NewRequest): Promise<ApprovalRequest> {
    const retainUntil = req.expires_at + this.retentionMs;
    await this.call(() => this.client.zadd(this.key('{index}:all'), req.created_at, req.id));
    await this.call(() => this.client.zadd(this.key('{index}:open'), req.expires_at, req.id));
    const fields: Record<string, string> = {
      doc: JSON.stringify(req),
      state: 'pending',
      instance_id: req.instance_id,
      lease_until: String(req.lease_until),
      min_approvals: String(req.approval.min_approvals),
      all_groups: req.approval.all_groups_must_approve ? '1' : '0',
      approver_groups: JSON.stringify(req.approval.approvers),
      // Approved, only the holding session may run it; retry and JIT approvals are used later by design.
      held_run: runsInHoldingSession(req) ? '1' : '0',
      retain_until: String(retainUntil),
    };
    const reply = await this.script('airlockCreate', req.id, String(retainUntil), ...Object.entries(fields).flat());
    if (reply[0] === 'exists') throw new AirlockError('AIRLOCK_ERR_CONFLICT', `request ${req.id} already exists`);
    this.watched.add(req.id);
    return decode(reply);
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    const reply = await this.script('airlockRead', id);
    return reply[0] === 'not_found' ? undefined : decode(reply);
  }

  async list(filter: { states?: readonly RequestState[]; breakGlass?: boolean } = {}): Promise<ApprovalRequest[]> {
    const onlyOpen = filter.states !== undefined && filter.states.length === 1 && filter.states[0] === 'pending';
    const index = this.key(onlyOpen ? '{index}:open' : '{index}:all');
    const ids = await this.call(() => this.client.zrange(index, 0, -1));
    const found = await Promise.all(ids.map(async (id) => [id, await this.get(id)] as const));
    const gone = found.filter(([, r]) => r === undefined).map(([id]) => id);
    if (gone.length > 0) await this.forget(gone);
    return found
      .map(([, r]) => r)
      .filter((r): r is ApprovalRequest => r !== undefined)
      .filter((r) => !filter.states || filter.states.includes(r.state))
      .filter((r) => filter.breakGlass === undefined || (r.break_glass !== undefined) === filter.breakGlass)
      .sort((a, b) => a.created_at - b.created_at);
  }

  async approve(id: string, vote: ApprovalVote): Promise<TransitionOutcome> {
    const reply = await this.script('airlockApprove', id, vote.by.toLowerCase(), JSON.stringify(vote), String(vote.at));
    return this.outcome(id, reply, reply[0] === 'approved');
  }

  async force(id: string, vote: ApprovalVote): Promise<TransitionOutcome> {
    const reply = await this.script('airlockDecide', id, 'approved', 'break_glass', JSON.stringify(vote), String(vote.at), vote.reason ?? '');
    return this.outcome(id, reply, true);
  }

  async deny(id: string, vote: ApprovalVote): Promise<TransitionOutcome> {
    const reply = await this.script('airlockDecide', id, 'denied', 'denial', JSON.stringify(vote), String(vote.at), vote.reason ?? '');
    return this.outcome(id, reply, true);
  }

  async finish(id: string, state: 'expired' | 'cancelled' | 'abandoned', reason: string): Promise<TransitionOutcome> {
    const from = state === 'cancelled' ? ['pending', 'approved'] : ['pending'];
    const reply = await this.script('airlockFinish', id, state, String(Date.now()), reason, ...from);
    return this.outcome(id, reply, true);
  }

  async withdraw(id: string, reason: string): Promise<TransitionOutcome> {
    const reply = await this.script('airlockFinish', id, 'cancelled', String(Date.now()), reason, 'approved', 'executed');
    return this.outcome(id, reply, true);
  }

  async markExecuted(id: string): Promise<TransitionOutcome> {
    const reply = await this.script('airlockExecute', id, String(Date.now()));
    return this.outcome(id, reply, true);
  }

  async setSlack(id: string, slack: { channel: string; ts: string }): Promise<void> {
    await this.script('airlockSetSlack', id, JSON.stringify(slack));
  }

  async renewLeases(instanceId: string, ids: readonly string[], until: number): Promise<void> {
    // One script per request: requests live in different Cluster slots, so no multi-key script can span them.
    await Promise.all(ids.map((id) => this.script('airlockRenew', id, instanceId, String(until))));
  }

  async reapAbandoned(now: number): Promise<ApprovalRequest[]> {
    const ids = await this.call(() => this.client.zrange(this.key('{index}:open'), 0, -1));
    const reaped: ApprovalRequest[] = [];
    const closed: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        const reply = await this.script('airlockReap', id, String(now));
        if (reply[0] === 'abandoned') reaped.push(decode(reply));
        if (reply[0] !== 'live') closed.push(id);
      }),
    );
    if (closed.length > 0) await this.call(() => this.client.zrem(this.key('{index}:open'), ...closed));
    return reaped;
  }

  subscribe(listener: (req: ApprovalRequest) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async grantJit(grant: JitGrant): Promise<void> {
    await this.call(() => this.client.hset(this.key('{jit}:grants'), grant.id, JSON.stringify(grant)));
  }

  async findJit(requester: string, resource: string, rule: string, now: number): Promise<JitGrant | undefined> {
    const email = requester.toLowerCase();
    return (await this.listJit(now)).find((g) => g.requester.toLowerCase() === email && g.resource === resource && g.rule === rule);
  }

  async listJit(now: number): Promise<JitGrant[]> {
    const all = await this.call(() => this.client.hgetall(this.key('{jit}:grants')));
    const grants = Object.values(all).map((text) => JSON.parse(text) as JitGrant);
    // Delete by the real clock only: a caller asking "as of later" must not destroy a live grant.
    const expired = grants.filter((g) => g.expires_at <= Date.now()).map((g) => g.id);
    if (expired.length > 0) await this.call(() => this.client.hdel(this.key('{jit}:grants'), ...expired));
    return grants.filter((g) => g.expires_at > now).sort((a, b) => a.granted_at - b.granted_at);
  }

  async revokeJit(id: string): Promise<boolean> {
    return (await this.call(() => this.client.hdel(this.key('{jit}:grants'), id))) === 1;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.subscriber.disconnect();
    this.client.disconnect();
  }

  private key(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  private requestKeys(id: string): [string, string] {
    const base = `${this.prefix}{req:${id}}`;
    return [base, `${base}:votes`];
  }

  private async script(name: ApprovalScriptName, id: string, ...args: string[]): Promise<ScriptReply> {
    const run = (this.client as unknown as Record<string, (...a: string[]) => Promise<ScriptReply>>)[name]!;
    return this.call(() => run.call(this.client, ...this.requestKeys(id), this.channel, id, ...args));
  }

  /** Every Redis failure leaves as one typed error, so callers can fail the held statement with 57P03. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AirlockError) throw err;
      throw new AirlockError('AIRLOCK_ERR_STORE_UNAVAILABLE', `approval store unavailable: ${(err as Error).message}`, { cause: err });
    }
  }

  private outcome(id: string, reply: ScriptReply, stateChanged: boolean): TransitionOutcome {
    const status = reply[0];
    if (status === 'not_found') return { ok: false, reason: 'not_found' };
    const request = decode(reply);
    if (status === 'not_pending' || status === 'already_voted') return { ok: false, reason: status, request };
    if (request.state !== 'pending' && request.state !== 'approved') this.watched.delete(id);
    return { ok: true, request, changed: stateChanged };
  }

  private async forget(ids: string[]): Promise<void> {
    await this.call(() => this.client.zrem(this.key('{index}:all'), ...ids));
    await this.call(() => this.client.zrem(this.key('{index}:open'), ...ids));
  }

  private async deliver(id: string): Promise<void> {
    let req: ApprovalRequest | undefined;
    try {
      req = await this.get(id);
    } catch {
      return; // Redis went away between the message and the read: the reconnect re-check covers it.
    }
    if (!req) return;
    if (req.state !== 'pending' && req.state !== 'approved') this.watched.delete(id);
    for (const listener of this.listeners) {
      try {
        listener(req);
      } catch (err) {
        this.log?.error({ err }, 'approval change listener failed');
      }
    }
  }

  private async recheckWatched(): Promise<void> {
    this.log?.info({ requests: this.watched.size }, 'approval store subscription restored; re-checking held requests');
    await Promise.all([...this.watched].map((id) => this.deliver(id)));
  }

  private onReady(): void {
    if (this.wasReady) return;
    this.wasReady = true;
    this.log?.info({ url: redactUrl(this.options.url) }, 'approval store connected');
    this.options.onAvailabilityChange?.(true);
  }

  private onLost(): void {
    if (!this.wasReady || this.closed) return;
    this.wasReady = false;
    this.log?.warn({ url: redactUrl(this.options.url) }, 'approval store connection lost; held statements are refused until it is back');
    this.options.onAvailabilityChange?.(false);
  }
}

function decode(reply: ScriptReply): ApprovalRequest {
  const flat = reply[1] ?? [];
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  const doc = JSON.parse(h.doc!) as NewRequest;
  const json = <T>(field: string): T | undefined => (h[field] ? (JSON.parse(h[field]!) as T) : undefined);
  const request: ApprovalRequest = {
    ...doc,
    state: h.state as RequestState,
    instance_id: h.instance_id!,
    lease_until: Number(h.lease_until),
    approvals: (reply[2] ?? []).map((v) => JSON.parse(v) as ApprovalVote),
    ...(h.denial ? { denial: json<ApprovalVote>('denial') } : {}),
    ...(h.break_glass ? { break_glass: json<ApprovalVote>('break_glass') } : {}),
    ...(h.final_at ? { final_at: Number(h.final_at) } : {}),
    ...(h.final_reason ? { final_reason: h.final_reason } : {}),
    ...(h.slack ? { slack: json<{ channel: string; ts: string }>('slack') } : {}),
  };
  return request;
}

/** Never log a Redis password: the whole userinfo goes (greedy, so a password with an unescaped @ goes too). */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/]*@/, '//***@').replace(/([?&](?:sentinel)?password=)[^&]*/gi, '$1***');
}
