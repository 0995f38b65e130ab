// Posts each held request to Slack, keeps the message in step with its state, and DMs the requester.

import type { KnownBlock, WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { AuditSink } from '../../audit/types.js';
import type { UserDirectory } from '../../identity/types.js';
import type { ApprovalNotifier } from '../broker.js';
import type { ApprovalRequest, ApprovalStore, RequestState } from '../types.js';
import { slackErrorCode, type SlackMetrics } from './client.js';
import { approvalMessage, outcomeText, type MessageContext } from './message.js';

export interface SlackNotifierOptions {
  readonly web: WebClient;
  /** Default channel; a rule's approval.channel overrides it. */
  readonly channel: string;
  /** This replica: only the one holding the connection posts, so several replicas never double-post. */
  readonly instanceId: string;
  /** setSlack records the message; subscribe brings decisions made on other replicas to the owner. */
  readonly store: Pick<ApprovalStore, 'setSlack' | 'subscribe'>;
  readonly users: () => UserDirectory;
  readonly log: Logger;
  readonly metrics?: SlackMetrics;
  /** The upstream database name of a resource, shown beside it. */
  readonly databaseOf?: (resource: string) => string | undefined;
  /** Where approval.requested is recorded once the approvers' message is posted. */
  readonly audit?: Pick<AuditSink, 'append'>;
}

interface Tracked {
  latest: ApprovalRequest;
  /** The version last shown in Slack, to skip updates that would change nothing. */
  shown?: string;
  where?: { channel: string; ts: string };
  dmSent: boolean;
  work: Promise<void>;
}

const FINAL_FOR_MESSAGE: ReadonlySet<RequestState> = new Set(['denied', 'expired', 'cancelled', 'abandoned', 'executed']);
const FINISHED_MEMORY_MS = 60 * 60_000;
const FINISHED_MAX = 10_000;
const TRACKED_MAX = 10_000;
// cancelled can follow approved, and even executed (a claim its session handed back unused): it ranks last.
const STATE_RANK: Readonly<Record<RequestState, number>> = {
  pending: 0, approved: 1, denied: 1, expired: 1, abandoned: 1, executed: 2, cancelled: 3,
};

/** message.ts builds plain JSON; Slack validates the shape, the library's types only name it. */
function slackBlocks(blocks: readonly Record<string, unknown>[]): KnownBlock[] {
  return blocks as unknown as KnownBlock[];
}

/** Later states win; among pending snapshots, the one with more votes is newer. */
function version(req: ApprovalRequest): number {
  return STATE_RANK[req.state] * 1_000_000 + req.approvals.length;
}

export class SlackNotifier implements ApprovalNotifier {
  private readonly tracked = new Map<string, Tracked>();
  /** Requests whose message is final: a late duplicate event (broker and store both report) must not DM twice. */
  private readonly finished = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: SlackNotifierOptions) {
    // The broker reports only the transitions it makes itself; a click or CLI call taken by another
    // replica reaches the replica that posted the message through the store.
    this.unsubscribe = opts.store.subscribe((req) => this.changed(req));
  }

  close(): void {
    this.unsubscribe();
  }

  opened(req: ApprovalRequest): void {
    if (req.instance_id !== this.opts.instanceId) return;
    this.enqueue(req);
  }

  changed(req: ApprovalRequest): void {
    // The owner of an abandoned request is gone; any replica may then close its message (chat.update is idempotent).
    if (req.instance_id !== this.opts.instanceId && req.state !== 'abandoned') return;
    this.enqueue(req);
  }

  /** Resolves when every queued post, update and DM has been tried (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.tracked.values()].map((t) => t.work);
      await Promise.all(pending);
      const again = [...this.tracked.values()].map((t) => t.work);
      if (again.length === pending.length && again.every((w, i) => w === pending[i])) return;
    }
  }

  private enqueue(req: ApprovalRequest): void {
    if (this.finished.has(req.id)) return;
    let t = this.tracked.get(req.id);
    if (!t) {
      this.forgetOldest();
      t = { latest: req, dmSent: false, work: Promise.resolve() };
      this.tracked.set(req.id, t);
    } else if (version(req) >= version(t.latest)) {
      t.latest = req;
    }
    const entry = t;
    // One chain per request keeps post → update → update in order; each step renders the newest snapshot.
    entry.work = entry.work.then(() => this.sync(entry)).catch((err: unknown) => {
      this.opts.log.error({ err, request_id: req.id }, 'slack notifier step failed');
    });
  }

  private async sync(t: Tracked): Promise<void> {
    const req = t.latest;
    const key = `${req.state}:${req.approvals.length}`;
    if (t.shown !== key) {
      const where = t.where ?? req.slack;
      const message = approvalMessage(req, this.context(req));
      if (!where) {
        // A request first seen already decided (its post failed earlier) gets no late message, only the DM.
        if (req.state === 'pending') await this.post(t, req, message);
      } else {
        const ok = await this.call('chat.update', () =>
          this.opts.web.chat.update({ channel: where.channel, ts: where.ts, text: message.text, blocks: slackBlocks(message.blocks) }),
        );
        t.where = where;
        if (ok) t.shown = key;
      }
    }
    if (!t.dmSent && req.instance_id === this.opts.instanceId) await this.dm(t, req);
    if (FINAL_FOR_MESSAGE.has(req.state) && t.latest === req) {
      this.tracked.delete(req.id);
      this.remember(req.id);
    }
  }

  /** An approved request whose statement never runs (client gone, retry never sent) would stay tracked forever. */
  private forgetOldest(): void {
    if (this.tracked.size < TRACKED_MAX) return;
    for (const [id, t] of this.tracked) {
      if (t.latest.state === 'pending') continue;
      this.tracked.delete(id);
      if (this.tracked.size < TRACKED_MAX) return;
    }
  }

  private remember(id: string): void {
    const now = Date.now();
    this.finished.set(id, now + FINISHED_MEMORY_MS);
    // Insertion order is expiry order: drop from the front.
    for (const [key, until] of this.finished) {
      if (until > now && this.finished.size <= FINISHED_MAX) break;
      this.finished.delete(key);
    }
  }

  private async post(t: Tracked, req: ApprovalRequest, message: ReturnType<typeof approvalMessage>): Promise<void> {
    const channel = req.approval.channel ?? this.opts.channel;
    const res = await this.call('chat.postMessage', () =>
      this.opts.web.chat.postMessage({ channel, text: message.text, blocks: slackBlocks(message.blocks), unfurl_links: false }),
    );
    if (!res?.ts || !res.channel) return;
    t.where = { channel: res.channel, ts: res.ts };
    t.shown = `${req.state}:${req.approvals.length}`;
    // Evidence that approvers were asked, and where; a failed write must not stop the approval itself.
    await this.opts.audit?.append('approval.requested', { request_id: req.id, channel: res.channel, message_ts: res.ts })
      .catch((err: unknown) => this.opts.log.warn({ err, request_id: req.id }, 'could not record approval.requested'));
    try {
      // Any replica may later take the click or the reaper's abandon: they find the message through the store.
      await this.opts.store.setSlack(req.id, t.where);
    } catch (err) {
      this.opts.log.warn({ err, request_id: req.id }, 'could not record the Slack message in the approval store');
    }
  }

  private async dm(t: Tracked, req: ApprovalRequest): Promise<void> {
    const text = outcomeText(req);
    if (!text) return;
    t.dmSent = true;
    const slackId = this.opts.users().get(req.requester.email)?.slack_id;
    if (!slackId) return;
    const im = await this.call('conversations.open', () => this.opts.web.conversations.open({ users: slackId }));
    const channel = im?.channel?.id;
    if (!channel) return;
    await this.call('chat.postMessage', () => this.opts.web.chat.postMessage({ channel, text }));
  }

  private context(req: ApprovalRequest): MessageContext {
    const name = this.opts.users().get(req.requester.email)?.name;
    const database = this.opts.databaseOf?.(req.resource);
    return { ...(name ? { requesterName: name } : {}), ...(database ? { database } : {}) };
  }

  /** Slack trouble is logged and counted, never thrown: the request goes on without Slack. */
  private async call<T>(method: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.opts.metrics?.slackError(method);
      this.opts.log.warn({ method, error: slackErrorCode(err) }, 'Slack API call failed; the request stays approvable from the CLI and API');
      return undefined;
    }
  }
}
