// Loading airlock.yaml: schema check with positions, defaults, absolute paths, deep-frozen Config.
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Config, HostPort } from './types.js';
import { deepFreeze } from './freeze.js';
import { parseRedisUrl } from './redis-url.js';
import { configSchema } from './schema.js';
import { parseBytes, parseDuration } from './units.js';
import { Problems, compileSchema, readYamlSource, reportSchemaErrors, type KeyPath, type YamlSource } from './yaml-source.js';

export { parseDuration } from './units.js';

const validateConfig = compileSchema(configSchema);

/* The raw shape after schema validation; every optional key may be absent. */
interface RawConfig {
  instance_id?: string;
  listen: { postgres?: string; mysql?: string; admin?: string };
  policy: string;
  users: string;
  state?: { redis?: string } | null;
  tls?: { cert: string; key: string; require?: boolean };
  approvals?: { max_timeout?: string; lease?: string };
  limits?: {
    max_connections?: number;
    max_connections_per_user?: number;
    max_pending_auth?: number;
    max_pending_auth_per_ip?: number;
    auth_timeout?: string;
    idle_timeout?: string | number;
    max_message_bytes?: string | number;
    shutdown_grace?: string | number;
  };
  audit: {
    dir: string;
    sql?: 'text' | 'hash';
    sql_max_bytes?: string | number;
    signing_key?: string;
    checkpoint_interval?: string;
    checkpoint_records?: number;
    rotate_bytes?: string | number;
    rotate_age?: string;
  };
  slack?: {
    bot_token: string;
    signing_secret?: string;
    app_token?: string;
    channel?: string;
    api_url?: string;
    trust_emails?: boolean;
    request_timeout?: string;
  };
  log?: { level?: string };
}

/** Reads, validates and freezes airlock.yaml. Throws AirlockError('AIRLOCK_ERR_CONFIG') listing every problem as file:line:col. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const problems = new Problems(file);
  const source = readYamlSource(file, problems, env);
  if (!source || !reportSchemaErrors(source, validateConfig, problems)) problems.throwIfAny('AIRLOCK_ERR_CONFIG');
  const config = buildConfig(source!, problems);
  problems.throwIfAny('AIRLOCK_ERR_CONFIG');
  return deepFreeze(config);
}

function buildConfig(source: YamlSource, problems: Problems): Config {
  const raw = source.data as RawConfig;
  const base = dirname(source.absolutePath);
  const path = (p: string): string => resolve(base, p);
  const ms = (value: string | number | undefined, fallback: string, at: KeyPath): number => {
    if (value === undefined) return parseDuration(fallback);
    if (typeof value === 'number') return value;
    try {
      return parseDuration(value);
    } catch (err) {
      problems.at(source, at, (err as Error).message);
      return 0;
    }
  };
  const size = (value: string | number | undefined, fallback: string, at: KeyPath): number => {
    try {
      return parseBytes(value ?? fallback);
    } catch (err) {
      problems.at(source, at, (err as Error).message);
      return 0;
    }
  };
  const listen = (key: 'postgres' | 'mysql' | 'admin'): HostPort | undefined => {
    const text = raw.listen[key];
    if (text === undefined) return undefined;
    const hp = parseHostPort(text);
    if (!hp) problems.at(source, ['listen', key], 'port must be between 0 and 65535');
    return hp;
  };

  const auditDir = path(raw.audit.dir);
  const approvals = {
    max_timeout_ms: ms(raw.approvals?.max_timeout, '1h', ['approvals', 'max_timeout']),
    lease_ms: ms(raw.approvals?.lease, '15s', ['approvals', 'lease']),
  };
  if (approvals.max_timeout_ms <= 0) problems.at(source, ['approvals', 'max_timeout'], 'must be greater than zero');
  if (approvals.lease_ms <= 0) problems.at(source, ['approvals', 'lease'], 'must be greater than zero');
  const limits = raw.limits ?? {};
  const config: Config = {
    file: source.absolutePath,
    instance_id: raw.instance_id ?? hostname(),
    listen: withoutUndefined({ postgres: listen('postgres'), mysql: listen('mysql'), admin: listen('admin') }),
    policy: path(raw.policy),
    users: path(raw.users),
    state: raw.state?.redis !== undefined ? { redis: raw.state.redis } : {},
    audit: {
      dir: auditDir,
      sql: raw.audit.sql ?? 'text',
      sql_max_bytes: size(raw.audit.sql_max_bytes, '256KiB', ['audit', 'sql_max_bytes']),
      signing_key: raw.audit.signing_key !== undefined ? path(raw.audit.signing_key) : resolve(auditDir, 'signing-key.pem'),
      checkpoint_interval_ms: ms(raw.audit.checkpoint_interval, '60s', ['audit', 'checkpoint_interval']),
      checkpoint_records: raw.audit.checkpoint_records ?? 1000,
      rotate_bytes: size(raw.audit.rotate_bytes, '64MiB', ['audit', 'rotate_bytes']),
      rotate_age_ms: ms(raw.audit.rotate_age, '24h', ['audit', 'rotate_age']),
    },
    approvals,
    limits: {
      max_connections: limits.max_connections ?? 1000,
      max_connections_per_user: limits.max_connections_per_user ?? 50,
      max_pending_auth: limits.max_pending_auth ?? 256,
      // Unset, it follows a smaller max_pending_auth down rather than making that setting an error.
      max_pending_auth_per_ip: limits.max_pending_auth_per_ip ?? Math.min(32, limits.max_pending_auth ?? 256),
      auth_timeout_ms: ms(limits.auth_timeout, '10s', ['limits', 'auth_timeout']),
      idle_timeout_ms: ms(limits.idle_timeout, '0', ['limits', 'idle_timeout']),
      max_message_bytes: size(limits.max_message_bytes, '64MiB', ['limits', 'max_message_bytes']),
      shutdown_grace_ms: ms(limits.shutdown_grace, '30s', ['limits', 'shutdown_grace']),
    },
    log: { level: raw.log?.level ?? 'info' },
    ...(raw.tls ? { tls: { cert: path(raw.tls.cert), key: path(raw.tls.key), require: raw.tls.require ?? false } } : {}),
    ...(raw.slack
      ? {
          slack: withoutUndefined({
            bot_token: raw.slack.bot_token,
            signing_secret: raw.slack.signing_secret,
            app_token: raw.slack.app_token,
            channel: raw.slack.channel ?? '#db-approvals',
            api_url: raw.slack.api_url,
            trust_emails: raw.slack.trust_emails ?? false,
            request_timeout_ms: ms(raw.slack.request_timeout, '5s', ['slack', 'request_timeout']),
          }),
        }
      : {}),
  };
  if (raw.state?.redis !== undefined) {
    try {
      parseRedisUrl(raw.state.redis);
    } catch (err) {
      problems.at(source, ['state', 'redis'], (err as Error).message);
    }
  }
  if (config.limits.max_connections_per_user > config.limits.max_connections) {
    problems.at(source, ['limits', 'max_connections_per_user'], 'must not exceed limits.max_connections');
  }
  if (config.limits.max_pending_auth_per_ip > config.limits.max_pending_auth) {
    problems.at(source, ['limits', 'max_pending_auth_per_ip'], 'must not exceed limits.max_pending_auth');
  }
  return config;
}

/** "127.0.0.1:15432" or "[::1]:15432"; undefined when the port is out of range. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

function withoutUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
