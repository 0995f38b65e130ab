// JSON schema of airlock.yaml: every key the daemon understands, nothing else.
import { BYTES_PATTERN, DURATION_PATTERN } from './units.js';

const duration = { type: 'string', pattern: DURATION_PATTERN, description: 'a duration like 500ms, 30s, 10m, 1h' } as const;
const durationOrZero = { type: ['string', 'integer'], pattern: DURATION_PATTERN, minimum: 0, maximum: 0, description: 'a duration like 30s, 10m, or 0 for none' } as const;
const bytes = { type: ['string', 'integer'], pattern: BYTES_PATTERN, minimum: 1, description: 'a size like 65536, 512KiB, 64MiB' } as const;
const hostPort = { type: 'string', pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$', description: 'host:port, e.g. 127.0.0.1:15432 or [::1]:15432' } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;
const positiveInt = { type: 'integer', minimum: 1 } as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['listen', 'policy', 'users', 'audit'],
  properties: {
    instance_id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'letters, digits, . _ : - (at most 128)' },
    listen: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: { postgres: hostPort, mysql: hostPort, admin: hostPort },
    },
    policy: nonEmpty,
    users: nonEmpty,
    state: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: { redis: { type: 'string', pattern: '^rediss?(\\+(sentinel|cluster))?://', description: 'a redis://, redis+sentinel:// or redis+cluster:// URL (rediss for TLS)' } },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['cert', 'key'],
      properties: { cert: nonEmpty, key: nonEmpty, require: { type: 'boolean' } },
    },
    approvals: {
      type: 'object',
      additionalProperties: false,
      properties: { max_timeout: duration, lease: duration },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_connections: positiveInt,
        max_connections_per_user: positiveInt,
        max_pending_auth: positiveInt,
        max_pending_auth_per_ip: positiveInt,
        auth_timeout: duration,
        idle_timeout: durationOrZero,
        max_message_bytes: bytes,
        shutdown_grace: durationOrZero,
      },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      required: ['dir'],
      properties: {
        dir: nonEmpty,
        sql: { enum: ['text', 'hash'] },
        sql_max_bytes: bytes,
        signing_key: nonEmpty,
        checkpoint_interval: duration,
        checkpoint_records: positiveInt,
        rotate_bytes: bytes,
        rotate_age: duration,
      },
    },
    slack: {
      type: 'object',
      additionalProperties: false,
      required: ['bot_token'],
      properties: {
        bot_token: nonEmpty,
        signing_secret: nonEmpty,
        app_token: nonEmpty,
        channel: nonEmpty,
        api_url: { type: 'string', pattern: '^https?://', description: 'an http(s):// URL' },
        trust_emails: { type: 'boolean' },
        request_timeout: duration,
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] } },
    },
  },
} as const;
