// The Slack Web API client airlock uses: bounded retries, a request timeout, logs into pino.

import { LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from 'pino';

export interface SlackClientConfig {
  readonly bot_token: string;
  /** Default https://slack.com/api/; tests point it at a local fake. */
  readonly api_url?: string;
  readonly request_timeout_ms: number;
}

/**
 * The library's default retries for about thirty minutes with no request timeout. A held statement
 * has its own deadline and must stay approvable from the CLI when Slack is down, so give up early.
 */
export const SLACK_RETRY = { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 2_000, maxRetryTime: 10_000 } as const;

export function createSlackClient(cfg: SlackClientConfig, log: Logger): WebClient {
  return new WebClient(cfg.bot_token, {
    ...(cfg.api_url ? { slackApiUrl: cfg.api_url } : {}),
    timeout: cfg.request_timeout_ms,
    retryConfig: { ...SLACK_RETRY },
    logger: slackLogger(log.child({ component: 'slack-web-api' })),
  });
}

/** Adapts pino to @slack/logger, so the library's own warnings land in the JSON log. */
export function slackLogger(log: Logger): SlackLogger {
  let level = LogLevel.WARN;
  const rank = { [LogLevel.DEBUG]: 0, [LogLevel.INFO]: 1, [LogLevel.WARN]: 2, [LogLevel.ERROR]: 3 };
  const emit = (at: LogLevel, msg: unknown[]) => {
    if (rank[at] < rank[level]) return;
    const text = msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
    log[at](text);
  };
  return {
    debug: (...msg) => emit(LogLevel.DEBUG, msg),
    info: (...msg) => emit(LogLevel.INFO, msg),
    warn: (...msg) => emit(LogLevel.WARN, msg),
    error: (...msg) => emit(LogLevel.ERROR, msg),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

/** The Slack error code of a failed call ("channel_not_found", "http_500", "timeout"), never the token. */
export function slackErrorCode(err: unknown): string {
  const e = err as { code?: string; data?: { error?: string }; statusCode?: number; original?: Error };
  if (e?.data?.error) return e.data.error;
  if (e?.statusCode) return `http_${e.statusCode}`;
  if (e?.original?.name === 'TimeoutError' || e?.original?.name === 'AbortError') return 'timeout';
  return e?.code ?? (err instanceof Error ? err.name : 'unknown');
}

/** What the Slack integration counts; the daemon maps it onto its Prometheus registry. */
export interface SlackMetrics {
  /** A Web API call that failed after its retries (label: the API method). */
  slackError(method: string): void;
  /** An incoming interaction and what became of it. */
  slackInteraction?(result: InteractionResult): void;
}

export type InteractionResult = 'accepted' | 'bad_signature' | 'stale' | 'duplicate' | 'unauthorized' | 'refused' | 'malformed';
