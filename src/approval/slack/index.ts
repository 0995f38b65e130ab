// Slack as the daemon starts it: client, notifier, interactions over HTTP and/or Socket Mode.

import type { Logger } from 'pino';
import type { AdminServer } from '../../admin/server.js';
import type { AuditSink } from '../../audit/types.js';
import type { Config } from '../../config/types.js';
import { AirlockError } from '../../errors.js';
import type { UserDirectory } from '../../identity/types.js';
import type { ApprovalStore } from '../types.js';
import { createSlackClient, type SlackMetrics } from './client.js';
import { registerSlackInteractions, registerSlackInteractionsUnavailable } from './http.js';
import { SlackInteractions, type SlackDecider } from './interactions.js';
import { SlackNotifier } from './notifier.js';
import { startSlackSocket, type SlackSocket } from './socket.js';

export { SlackNotifier } from './notifier.js';
export { SlackInteractions, type SlackDecider } from './interactions.js';
export { registerSlackInteractions, registerSlackInteractionsUnavailable } from './http.js';
export { startSlackSocket } from './socket.js';
export type { SlackMetrics } from './client.js';

export interface StartSlackOptions {
  readonly config: Pick<Config, 'slack' | 'instance_id'>;
  readonly log: Logger;
  /** The daemon's registry (its slackErrors counter), or anything implementing SlackMetrics. */
  readonly metrics?: SlackMetrics | { readonly slackErrors: { inc(labels: { method: string }): void } };
  readonly store: ApprovalStore;
  readonly users: () => UserDirectory;
  readonly admin: AdminServer;
  /** The broker is built after the notifier (it takes it as a notifier): looked up when a click arrives. */
  readonly broker?: () => SlackDecider | undefined;
  readonly databaseOf?: (resource: string) => string | undefined;
  /** Records approval.requested for every message posted to approvers. */
  readonly audit?: Pick<AuditSink, 'append'>;
}

export interface SlackHandle {
  readonly notifier: SlackNotifier;
  readonly interactions: SlackInteractions;
  readonly socket?: SlackSocket;
  /** Hands over the broker once it exists. */
  attach(broker: SlackDecider): void;
  stop(): Promise<void>;
}

export async function startSlack(o: StartSlackOptions): Promise<SlackHandle> {
  const cfg = o.config.slack;
  if (!cfg) throw new AirlockError('AIRLOCK_ERR_CONFIG', 'startSlack called without a slack section in the config');
  const metrics = toSlackMetrics(o.metrics);
  const web = createSlackClient(cfg, o.log);
  const notifier = new SlackNotifier({
    web,
    channel: cfg.channel,
    instanceId: o.config.instance_id,
    store: o.store,
    users: o.users,
    log: o.log,
    ...(metrics ? { metrics } : {}),
    ...(o.databaseOf ? { databaseOf: o.databaseOf } : {}),
    ...(o.audit ? { audit: o.audit } : {}),
  });
  let attached: SlackDecider | undefined;
  const broker = (): SlackDecider => {
    const b = attached ?? o.broker?.();
    if (!b) throw new AirlockError('AIRLOCK_ERR_STORE_UNAVAILABLE', 'approvals are not ready yet');
    return b;
  };
  const interactions = new SlackInteractions({
    decider: {
      approve: (id, actor, via) => broker().approve(id, actor, via),
      deny: (id, actor, reason, via) => broker().deny(id, actor, reason, via),
      force: (id, actor, reason, via) => broker().force(id, actor, reason, via),
    },
    requests: o.store,
    users: o.users,
    web,
    trustEmails: cfg.trust_emails,
    log: o.log,
    ...(metrics ? { metrics } : {}),
    responseTimeoutMs: cfg.request_timeout_ms,
  });
  if (!cfg.signing_secret) registerSlackInteractionsUnavailable(o.admin, 'Slack HTTP interactivity is off: set slack.signing_secret in airlock.yaml (Socket Mode needs no public URL)');
  if (cfg.signing_secret) {
    registerSlackInteractions(o.admin, { signingSecret: cfg.signing_secret, interactions, log: o.log, ...(metrics ? { metrics } : {}) });
  }
  const socket = cfg.app_token
    ? startSlackSocket({
        appToken: cfg.app_token,
        ...(cfg.api_url ? { apiUrl: cfg.api_url } : {}),
        requestTimeoutMs: cfg.request_timeout_ms,
        interactions,
        log: o.log,
      })
    : undefined;
  if (!cfg.signing_secret && !cfg.app_token) {
    o.log.warn('slack has neither signing_secret nor app_token: messages are posted but their buttons cannot reach airlock');
  }
  return {
    notifier,
    interactions,
    ...(socket ? { socket } : {}),
    attach(b) {
      attached = b;
    },
    async stop() {
      notifier.close();
      await socket?.stop();
    },
  };
}

function toSlackMetrics(m: StartSlackOptions['metrics']): SlackMetrics | undefined {
  if (!m) return undefined;
  if ('slackError' in m) return m;
  return { slackError: (method) => m.slackErrors.inc({ method }) };
}
