// The process logger: pino JSON lines (pretty on a terminal), secrets redacted, SQL only at debug.

import { pino } from 'pino';
import type { DestinationStream, LevelWithSilent, LogFn } from 'pino';
import pinoPretty from 'pino-pretty';
import { AirlockError } from './errors.js';

export type Logger = pino.Logger;

export interface LoggerOptions {
  /** trace | debug | info | warn | error | fatal | silent (from --log-level or config log.level). */
  readonly level: string;
  /** Human-readable lines; default: when stdout is a terminal. */
  readonly pretty?: boolean;
  /** Where lines go; default stdout. Tests pass an in-memory stream. */
  readonly destination?: DestinationStream;
  /** Fields on every line, e.g. { instance_id }. */
  readonly base?: Readonly<Record<string, unknown>>;
}

export const LOG_LEVELS: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Keys that may hold a credential, wherever they sit in the first three levels of a log object. */
const SECRET_KEYS = [
  'password', 'passwd', 'pwd', 'token', 'bot_token', 'app_token', 'access_token', 'refresh_token',
  'secret', 'signing_secret', 'client_secret', 'api_key', 'apikey', 'private_key', 'authorization', 'cookie',
];
const SECRET_HEADERS = ['authorization', 'cookie', 'x-slack-signature', 'proxy-authorization'];

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
];

/**
 * Keys carrying statement text or bound values. Operators may run at info in production with
 * logs shipped elsewhere; SQL can hold personal data, so it appears only when debug is on.
 */
const SQL_KEYS = ['sql', 'params', 'query'];
const DEBUG_LEVEL = 20;

export function createLogger(opts: LoggerOptions): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(opts.level)) {
    throw new AirlockError('AIRLOCK_ERR_CONFIG', `unknown log level "${opts.level}" (expected one of ${LOG_LEVELS.join(', ')})`);
  }
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  // A synchronous pretty stream rather than pino's worker transport: lines written just before
  // process.exit (fatal start-up errors) must not be lost in a worker's queue.
  const stream: DestinationStream | undefined = pretty
    ? pinoPretty({ sync: true, colorize: opts.destination === undefined, destination: opts.destination ?? 1, translateTime: 'SYS:standard' })
    : opts.destination;
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { pid: process.pid, ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
    hooks: { logMethod: dropSqlAboveDebug },
  };
  return stream ? pino(options, stream) : pino(options);
}

function dropSqlAboveDebug(this: Logger, args: Parameters<LogFn>, method: LogFn, level: number): void {
  const first: unknown = args[0];
  if (level > DEBUG_LEVEL && typeof first === 'object' && first !== null && !(first instanceof Error)) {
    const fields = first as Record<string, unknown>;
    if (SQL_KEYS.some((k) => k in fields)) {
      const kept = { ...fields };
      for (const k of SQL_KEYS) delete kept[k];
      args[0] = kept;
    }
  }
  (method as (...a: unknown[]) => void).apply(this, args);
}

/** Logger for one client connection: every line carries session_id (and protocol/resource once known). */
export function sessionLogger(log: Logger, sessionId: string, fields: { protocol?: string; resource?: string; user?: string } = {}): Logger {
  return log.child({ session_id: sessionId, ...fields });
}

/** Logger for one approval request: every line carries request_id. */
export function requestLogger(log: Logger, requestId: string): Logger {
  return log.child({ request_id: requestId });
}
