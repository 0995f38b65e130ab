// Socket Mode: interactions over an outbound WebSocket, so Slack needs no public URL to reach airlock.

import { SocketModeClient } from '@slack/socket-mode';
import type { Logger } from 'pino';
import { slackLogger } from './client.js';
import type { SlackInteractions } from './interactions.js';

export interface SlackSocketOptions {
  /** The app-level token (xapp-…, scope connections:write). */
  readonly appToken: string;
  /** Where apps.connections.open is called; default Slack's. */
  readonly apiUrl?: string;
  readonly requestTimeoutMs?: number;
  readonly interactions: Pick<SlackInteractions, 'accept'>;
  readonly log: Logger;
}

export interface SlackSocket {
  readonly client: SocketModeClient;
  /** Settles when the first connection is up (or failed for good); startup never waits on Slack. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/** Connects in the background and keeps reconnecting (the client's default); Slack down never blocks airlock. */
export function startSlackSocket(opts: SlackSocketOptions): SlackSocket {
  const log = opts.log.child({ component: 'slack-socket-mode' });
  const client = new SocketModeClient({
    appToken: opts.appToken,
    logger: slackLogger(log),
    clientOptions: {
      ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}),
      ...(opts.requestTimeoutMs ? { timeout: opts.requestTimeoutMs } : {}),
    },
  });
  client.on('interactive', async ({ ack, body, envelope_id }: { ack: () => Promise<void>; body: unknown; envelope_id: string }) => {
    // Ack first: Slack redelivers an envelope not acknowledged within 3 s; de-duplication covers the rest.
    try {
      await ack();
    } catch (err) {
      log.warn({ err, envelope_id }, 'could not acknowledge a Socket Mode envelope');
    }
    opts.interactions.accept(body as Record<string, unknown>, envelope_id);
  });
  client.on('connected', () => log.info('Slack Socket Mode connected'));
  client.on('reconnecting', () => log.warn('Slack Socket Mode reconnecting'));
  const ready = client.start().then(
    () => undefined,
    (err: unknown) => {
      log.error({ err }, 'Slack Socket Mode could not connect; approvals work from the CLI and API');
    },
  );
  return {
    client,
    ready,
    stop: async () => {
      await client.disconnect();
    },
  };
}
