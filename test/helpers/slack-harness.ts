// Wires the Slack integration to a real broker, memory store and admin listener against the fake Slack (tests only).

import type { Test } from 'tap';
import { pino } from 'pino';
import { AdminServer } from '../../src/admin/server.js';
import { MemoryApprovalStore } from '../../src/approval/memory-store.js';
import { ApprovalBroker } from '../../src/approval/broker.js';
import type { ApprovalRequest } from '../../src/approval/types.js';
import type { ApprovalSpec } from '../../src/policy/types.js';
import type { UserDirectory } from '../../src/identity/types.js';
import { createSlackClient, type InteractionResult } from '../../src/approval/slack/client.js';
import { SlackNotifier } from '../../src/approval/slack/notifier.js';
import { SlackInteractions } from '../../src/approval/slack/interactions.js';
import { registerSlackInteractions } from '../../src/approval/slack/http.js';
import { computeSignature } from '../../src/approval/slack/signature.js';
import { ACTION, REASON_ACTION, REASON_BLOCK, VIEW } from '../../src/approval/slack/message.js';
import { FakeSlack } from './fake-slack.js';
import { MemoryAudit } from './memory-audit.js';
import { PEOPLE, spec, userDirectory } from './approval-fixtures.js';

export const SIGNING_SECRET = 'test-signing-secret';
export const CHANNEL = 'C0APPROVALS';
export const INSTANCE = 'replica-a';

/** Slack ids for the fixture people; frank has none (email matching), zed is nobody. */
export const SLACK_IDS: Readonly<Record<string, string>> = {
  'alice@corp.com': 'UALICE',
  'bob@corp.com': 'UBOB',
  'carol@corp.com': 'UCAROL',
  'dave@corp.com': 'UDAVE',
  'erin@corp.com': 'UERIN',
  'olga@corp.com': 'UOLGA',
};

export class CountingMetrics {
  readonly errors: string[] = [];
  readonly interactions: InteractionResult[] = [];
  slackError(method: string): void {
    this.errors.push(method);
  }
  slackInteraction(result: InteractionResult): void {
    this.interactions.push(result);
  }
  count(result: InteractionResult): number {
    return this.interactions.filter((r) => r === result).length;
  }
}

export interface HarnessOptions {
  readonly trustEmails?: boolean;
  readonly requestTimeoutMs?: number;
  /** Start the admin listener with the HTTP interactions route (default true). */
  readonly http?: boolean;
  /** People whose users.yaml entry has no slack_id (matched by email, if at all). */
  readonly withoutSlackId?: readonly string[];
  /** This replica's id (default replica-a). */
  readonly instanceId?: string;
}

export type Harness = Awaited<ReturnType<typeof slackHarness>>;

export async function slackHarness(t: Test, opts: HarnessOptions = {}) {
  const fake = await FakeSlack.start();
  const log = pino({ level: 'silent' });
  const instanceId = opts.instanceId ?? INSTANCE;
  const people = PEOPLE.map((p) => ({
    ...p,
    ...(SLACK_IDS[p.email] && !opts.withoutSlackId?.includes(p.email) ? { slack_id: SLACK_IDS[p.email] } : {}),
  }));
  const directory: UserDirectory = userDirectory(people);
  const users = () => directory;
  const store = new MemoryApprovalStore();
  const audit = new MemoryAudit();
  const metrics = new CountingMetrics();
  const web = createSlackClient({ bot_token: 'xoxb-test', api_url: fake.apiUrl, request_timeout_ms: opts.requestTimeoutMs ?? 2_000 }, log);
  const notifier = new SlackNotifier({ web, channel: CHANNEL, instanceId, store, users, log, metrics, databaseOf: () => 'orders' });
  const broker = new ApprovalBroker({ store, users, audit, instanceId, leaseMs: 30_000, log, notifiers: [notifier] });
  const interactions = new SlackInteractions({ decider: broker, requests: store, users, web, trustEmails: opts.trustEmails ?? false, log, metrics });
  const admin = new AdminServer();
  let interactionsUrl = '';
  if (opts.http !== false) {
    registerSlackInteractions(admin, { signingSecret: SIGNING_SECRET, interactions, log, metrics });
    const addr = await admin.listen('127.0.0.1', 0);
    interactionsUrl = `http://127.0.0.1:${addr.port}/slack/interactions`;
  }
  t.teardown(async () => {
    await interactions.idle();
    await notifier.idle();
    notifier.close();
    await broker.close();
    await admin.close();
    await fake.close();
    await store.close();
  });

  /** Opens a held request as a session would, and waits until Slack has the message. */
  async function hold(approval: Partial<ApprovalSpec> = {}, extra: { sql?: string; params?: (string | null)[] } = {}): Promise<ApprovalRequest> {
    const sql = extra.sql ?? 'DELETE FROM orders WHERE id = $1';
    const req = await broker.open({
      requester: { email: 'alice@corp.com', groups: ['dev'] },
      resource: 'orders-prod',
      protocol: 'postgres',
      rule: 'writes-need-dba',
      approval: spec(approval),
      sql,
      params: extra.params ?? ['42'],
      kinds: ['DELETE'],
      tables: ['orders'],
      session_id: 's-1',
    });
    await notifier.idle();
    return req;
  }

  /** A signed POST of a payload, as Slack sends it; returns the HTTP status. */
  async function deliver(payload: unknown, o: { secret?: string; timestamp?: number; body?: string } = {}): Promise<number> {
    const body = o.body ?? new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const ts = String(o.timestamp ?? Math.floor(Date.now() / 1000));
    const res = await fetch(interactionsUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': computeSignature(o.secret ?? SIGNING_SECRET, ts, body),
      },
      body,
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** Waits until every consequence of the deliveries so far has reached the fake Slack. */
  async function settle(): Promise<void> {
    await interactions.idle();
    await notifier.idle();
  }

  return { fake, store, broker, notifier, interactions, admin, metrics, audit, users, log, web, hold, deliver, settle };
}

let actionSeq = 0;

/** A block_actions payload for a button on the posted message. */
export function click(fake: FakeSlack, req: ApprovalRequest, user: string, action: keyof typeof ACTION, o: { messageTs?: string } = {}) {
  const messageTs = o.messageTs ?? req.slack?.ts ?? '0';
  return {
    type: 'block_actions',
    team: { id: 'TFAKE' },
    api_app_id: 'AFAKE',
    user: { id: user, username: user.toLowerCase(), team_id: 'TFAKE' },
    trigger_id: `trigger-${++actionSeq}`,
    response_url: fake.responseUrl(),
    container: { type: 'message', message_ts: messageTs, channel_id: CHANNEL },
    channel: { id: CHANNEL },
    actions: [{ type: 'button', action_id: ACTION[action], block_id: `airlock:${req.id}:0`, value: req.id, action_ts: `${Date.now() / 1000}${++actionSeq}` }],
  };
}

/** A view_submission payload for the reason modal that views.open received. */
export function submit(view: Record<string, any>, user: string, reason: string) {
  return {
    type: 'view_submission',
    team: { id: 'TFAKE' },
    user: { id: user, team_id: 'TFAKE' },
    trigger_id: `trigger-${++actionSeq}`,
    view: {
      id: `V${++actionSeq}`,
      hash: `h${actionSeq}`,
      callback_id: view.callback_id,
      private_metadata: view.private_metadata,
      state: { values: { [REASON_BLOCK]: { [REASON_ACTION]: { type: 'plain_text_input', value: reason } } } },
    },
  };
}

export { VIEW };
