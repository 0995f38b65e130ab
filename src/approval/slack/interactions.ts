// What a Slack click or modal submission does, whichever way it arrived (HTTP or Socket Mode).

import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { AirlockError } from '../../errors.js';
import type { UserDirectory, UserRecord } from '../../identity/types.js';
import { denialGroups, forceGroups } from '../eligibility.js';
import type { ApprovalRequest } from '../types.js';
import { slackErrorCode, type InteractionResult, type SlackMetrics } from './client.js';
import { ACTION, REASON_ACTION, REASON_BLOCK, REASON_MAX_CHARS, VIEW, escapeMrkdwn, reasonModal, type ModalMetadata } from './message.js';

/** The broker's decider side, as Slack uses it; the broker enforces who may do what. */
export interface SlackDecider {
  approve(id: string, actor: UserRecord, via: 'slack'): Promise<unknown>;
  deny(id: string, actor: UserRecord, reason: string, via: 'slack'): Promise<unknown>;
  force(id: string, actor: UserRecord, reason: string, via: 'slack'): Promise<unknown>;
}

export interface SlackInteractionsOptions {
  readonly decider: SlackDecider;
  readonly requests: { get(id: string): Promise<ApprovalRequest | undefined> };
  readonly users: () => UserDirectory;
  readonly web: WebClient;
  /** config slack.trust_emails: match a clicker by their Slack profile email when no slack_id is set. */
  readonly trustEmails: boolean;
  readonly log: Logger;
  readonly metrics?: SlackMetrics;
  /** POSTs to response_url; global fetch by default. */
  readonly fetch?: typeof fetch;
  readonly responseTimeoutMs?: number;
}

type ModalView = Parameters<WebClient['views']['open']>[0]['view'];

/** Slack payloads are untyped JSON from outside: read them defensively. */
type Payload = Record<string, any>;

/** Deliveries are remembered longer than the 5-minute signature window, so a replay inside it is caught. */
const DEDUPE_TTL_MS = 10 * 60_000;
const DEDUPE_MAX = 10_000;

export class SlackInteractions {
  private readonly seen = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: SlackInteractionsOptions) {}

  /**
   * Takes a verified payload, returns at once (Slack wants an answer within 3 s) and does the work
   * in the background. 'duplicate' for a delivery seen before: it changes nothing.
   */
  accept(payload: Payload, deliveryId?: string): 'accepted' | 'duplicate' | 'malformed' {
    if (!payload || typeof payload !== 'object' || typeof payload.type !== 'string') {
      this.count('malformed');
      return 'malformed';
    }
    const keys = [deliveryKey(payload), deliveryId && `envelope:${deliveryId}`].filter((k): k is string => !!k);
    const now = Date.now();
    this.sweep(now);
    if (keys.some((k) => (this.seen.get(k) ?? 0) > now)) {
      this.count('duplicate');
      return 'duplicate';
    }
    for (const k of keys) this.seen.set(k, now + DEDUPE_TTL_MS);
    const work = this.handle(payload).catch((err: unknown) => {
      this.opts.log.error({ err }, 'Slack interaction failed');
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return 'accepted';
  }

  /** Resolves when every accepted interaction has been handled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  private async handle(p: Payload): Promise<void> {
    if (p.type === 'block_actions') return this.onAction(p);
    if (p.type === 'view_submission') return this.onSubmission(p);
    // view_closed, shortcuts, message actions: nothing of ours.
  }

  private async onAction(p: Payload): Promise<void> {
    const action = Array.isArray(p.actions) ? (p.actions[0] as Payload | undefined) : undefined;
    const id = typeof action?.value === 'string' ? action.value : undefined;
    const kind = action?.action_id;
    if (!id || (kind !== ACTION.approve && kind !== ACTION.deny && kind !== ACTION.force)) return;
    const actor = await this.actorOf(p);
    if (!actor) return;
    if (kind === ACTION.approve) {
      await this.decide(p, id, () => this.opts.decider.approve(id, actor, 'slack'));
      return;
    }
    // Deny and Break glass need a reason: ask for it in a modal, but refuse at once what cannot work.
    const req = await this.opts.requests.get(id);
    const refusal = modalRefusal(kind === ACTION.deny ? 'deny' : 'force', req, actor);
    if (refusal) {
      this.count('refused');
      await this.tell(p, refusal);
      return;
    }
    const channel = p.container?.channel_id ?? p.channel?.id;
    const opened = await this.call('views.open', () =>
      this.opts.web.views.open({
        trigger_id: String(p.trigger_id),
        view: reasonModal({ kind: kind === ACTION.deny ? 'deny' : 'force', request: req!, channel }) as unknown as ModalView,
      }),
    );
    if (!opened) await this.tell(p, `Could not open the reason dialog. Use \`airlock approvals ${kind === ACTION.deny ? 'deny' : 'force'} ${id} --reason …\` instead.`);
  }

  private async onSubmission(p: Payload): Promise<void> {
    const view = p.view as Payload | undefined;
    const kind = view?.callback_id === VIEW.deny ? 'deny' : view?.callback_id === VIEW.force ? 'force' : undefined;
    if (!view || !kind) return;
    let meta: ModalMetadata;
    try {
      meta = JSON.parse(String(view.private_metadata)) as ModalMetadata;
    } catch {
      this.count('malformed');
      return;
    }
    const reason = String(view.state?.values?.[REASON_BLOCK]?.[REASON_ACTION]?.value ?? '').trim().slice(0, REASON_MAX_CHARS);
    const target = { ...p, container: { channel_id: meta.channel } };
    if (typeof meta.id !== 'string') return;
    const actor = await this.actorOf(target);
    if (!actor) return;
    if (!reason) {
      this.count('refused');
      await this.tell(target, 'A reason is required; nothing was changed.');
      return;
    }
    await this.decide(target, meta.id, () =>
      kind === 'deny' ? this.opts.decider.deny(meta.id, actor, reason, 'slack') : this.opts.decider.force(meta.id, actor, reason, 'slack'),
    );
  }

  private async decide(p: Payload, id: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
      this.count('accepted');
    } catch (err) {
      this.count(err instanceof AirlockError && err.code === 'AIRLOCK_ERR_FORBIDDEN' ? 'unauthorized' : 'refused');
      if (!(err instanceof AirlockError)) this.opts.log.error({ err, request_id: id }, 'Slack decision failed');
      await this.tell(p, explain(err, id));
    }
  }

  /**
   * The clicker as an airlock user. The Slack user id is trustworthy only because the payload was
   * verified; an email from a Slack profile may be user-editable, so it counts only when configured.
   */
  private async actorOf(p: Payload): Promise<UserRecord | undefined> {
    const slackId = typeof p.user?.id === 'string' ? p.user.id : undefined;
    const dir = this.opts.users();
    let user = slackId ? dir.bySlackId(slackId) : undefined;
    if (!user && slackId && this.opts.trustEmails) {
      const info = await this.call('users.info', () => this.opts.web.users.info({ user: slackId }));
      const email = info?.user?.profile?.email;
      const byEmail = email ? dir.get(email) : undefined;
      // users.yaml pinning another Slack account for that email wins over the profile.
      if (byEmail && (!byEmail.slack_id || byEmail.slack_id === slackId)) user = byEmail;
    }
    if (user && !user.disabled) return user;
    this.count('unauthorized');
    this.opts.log.info({ slack_user: slackId }, 'Slack click from a user airlock does not know');
    await this.tell(
      p,
      'Your Slack account is not linked to an airlock user, so nothing was changed. Ask an airlock admin to set your `slack_id` in users.yaml.',
    );
    return undefined;
  }

  /** An ephemeral note to the clicker only: through response_url when there is one, else chat.postEphemeral. */
  private async tell(p: Payload, text: string): Promise<void> {
    const url = typeof p.response_url === 'string' ? p.response_url : undefined;
    if (url) {
      try {
        const res = await (this.opts.fetch ?? fetch)(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
          signal: AbortSignal.timeout(this.opts.responseTimeoutMs ?? 10_000),
        });
        if (res.ok) return;
        this.opts.log.warn({ status: res.status }, 'Slack response_url refused the reply');
      } catch (err) {
        this.opts.log.warn({ error: slackErrorCode(err) }, 'Slack response_url unreachable');
      }
      this.opts.metrics?.slackError('response_url');
      return;
    }
    const channel = p.container?.channel_id;
    const user = p.user?.id;
    if (typeof channel !== 'string' || typeof user !== 'string') return;
    await this.call('chat.postEphemeral', () => this.opts.web.chat.postEphemeral({ channel, user, text }));
  }

  private async call<T>(method: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.opts.metrics?.slackError(method);
      this.opts.log.warn({ method, error: slackErrorCode(err) }, 'Slack API call failed');
      return undefined;
    }
  }

  private count(result: InteractionResult): void {
    this.opts.metrics?.slackInteraction?.(result);
  }

  private sweep(now: number): void {
    for (const [k, until] of this.seen) {
      if (until > now && this.seen.size <= DEDUPE_MAX) break;
      this.seen.delete(k);
    }
  }
}

/**
 * What identifies one delivery across Slack's retries: a click is (user, action_ts, message), a modal
 * submission its view and trigger. Entries go in time order, so the oldest are swept first.
 */
export function deliveryKey(p: Payload): string | undefined {
  if (p.type === 'block_actions') {
    const a = Array.isArray(p.actions) ? p.actions[0] : undefined;
    if (!a?.action_ts) return undefined;
    return `click:${p.user?.id}:${a.action_ts}:${p.container?.message_ts ?? ''}`;
  }
  if (p.type === 'view_submission' && p.view?.id) return `submit:${p.view.id}:${p.trigger_id ?? p.view.hash ?? ''}`;
  return typeof p.trigger_id === 'string' ? `trigger:${p.trigger_id}` : undefined;
}

/** Early refusals for Deny / Break glass, so nobody types a reason for nothing. The broker decides again on submit. */
function modalRefusal(kind: 'deny' | 'force', req: ApprovalRequest | undefined, actor: UserRecord): string | undefined {
  if (!req) return 'That request no longer exists; nothing was changed.';
  if (req.state !== 'pending') return `Request \`${req.id}\` is already ${req.state}; nothing was changed.`;
  try {
    // The reason is not typed yet: a placeholder lets the membership checks run on their own.
    if (kind === 'deny') denialGroups(actor, req);
    else forceGroups(actor, req, 'reason follows');
  } catch (err) {
    return explain(err, req.id);
  }
  return undefined;
}

function explain(err: unknown, id: string): string {
  if (err instanceof AirlockError) {
    switch (err.code) {
      case 'AIRLOCK_ERR_FORBIDDEN':
        return `Not allowed: ${escapeMrkdwn(err.message)}. Nothing was changed.`;
      case 'AIRLOCK_ERR_NOT_FOUND':
        return `Request \`${id}\` was not found; nothing was changed.`;
      case 'AIRLOCK_ERR_CONFLICT':
        return `Request \`${id}\` could not take that: ${escapeMrkdwn(err.message)}. Nothing was changed.`;
      case 'AIRLOCK_ERR_STORE_UNAVAILABLE':
        return 'The approval store is unavailable right now; nothing was changed. Try again, or use the airlock CLI.';
      default:
        break;
    }
  }
  return 'Something went wrong and nothing was changed; the error is in the airlock log.';
}
