// POST /slack/interactions on the admin listener: verify Slack's signature, answer at once, work after.

import type { Logger } from 'pino';
import { sendError, type AdminServer } from '../../admin/server.js';
import type { SlackMetrics } from './client.js';
import type { SlackInteractions } from './interactions.js';
import { verifySignature } from './signature.js';

export const SLACK_INTERACTIONS_PATH = '/slack/interactions';

export interface SlackHttpOptions {
  readonly signingSecret: string;
  readonly interactions: Pick<SlackInteractions, 'accept'>;
  readonly log: Logger;
  readonly metrics?: SlackMetrics;
  /** Epoch milliseconds; tests move the clock to check staleness. */
  readonly now?: () => number;
}

/**
 * Without HTTP interactivity (no slack section, or Socket Mode without a signing secret) the path still
 * answers, saying why, so whoever points a Slack app here is not left with a bare "no route".
 */
export function registerSlackInteractionsUnavailable(admin: AdminServer, why: string): void {
  admin.route('POST', SLACK_INTERACTIONS_PATH, ({ res }) => sendError(res, 404, 'not_configured', why));
}

export function registerSlackInteractions(admin: AdminServer, opts: SlackHttpOptions): void {
  const now = opts.now ?? Date.now;
  admin.route('POST', SLACK_INTERACTIONS_PATH, ({ req, res, rawBody }) => {
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const verdict = verifySignature({
      signingSecret: opts.signingSecret,
      timestamp: header('x-slack-request-timestamp'),
      signature: header('x-slack-signature'),
      rawBody,
      nowSeconds: Math.floor(now() / 1000),
    });
    if (!verdict.ok) {
      const result = verdict.reason === 'stale' ? 'stale' : 'bad_signature';
      opts.metrics?.slackInteraction?.(result);
      opts.log.warn({ reason: verdict.reason, remote: req.socket.remoteAddress }, 'refused a Slack interaction that failed verification');
      sendError(res, 401, result, 'Slack request verification failed');
      return;
    }
    const form = new URLSearchParams(rawBody.toString('utf8'));
    // Slack's periodic certificate check: signed, carries no payload, wants a 200.
    if (form.get('ssl_check') === '1') {
      res.writeHead(200).end();
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(form.get('payload') ?? '');
    } catch {
      opts.metrics?.slackInteraction?.('malformed');
      sendError(res, 400, 'bad_request', 'expected a form field "payload" holding JSON');
      return;
    }
    const taken = opts.interactions.accept(payload as Record<string, unknown>);
    if (taken === 'malformed') {
      sendError(res, 400, 'bad_request', 'not a Slack interaction payload');
      return;
    }
    // A duplicate is acknowledged too, or Slack keeps retrying it. An empty 200 also closes a submitted modal.
    res.writeHead(200, { 'content-length': '0' }).end();
  });
}
