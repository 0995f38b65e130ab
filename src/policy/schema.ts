// JSON schema of policy.yaml: resources, defaults and rules; unknown keys are errors.
import { DURATION_PATTERN } from '../config/units.js';

const duration = { type: 'string', pattern: DURATION_PATTERN, description: 'a duration like 30s, 10m, 1h' } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;
const names = { type: 'array', items: nonEmpty, minItems: 1 } as const;
const action = { enum: ['allow', 'deny', 'require_approval'] } as const;
const hold = { enum: ['wait', 'retry'] } as const;

const approval = {
  type: 'object',
  additionalProperties: false,
  properties: {
    approvers: { type: 'array', items: nonEmpty },
    min_approvals: { type: 'integer', minimum: 1 },
    all_groups_must_approve: { type: 'boolean' },
    force_approvers: { type: 'array', items: nonEmpty },
    timeout: duration,
    channel: nonEmpty,
    mode: { enum: ['per_command', 'jit'] },
    jit: {
      type: 'object',
      additionalProperties: false,
      required: ['duration'],
      properties: { duration },
    },
    hold,
  },
} as const;

const resource = {
  type: 'object',
  additionalProperties: false,
  required: ['protocol', 'host', 'port', 'database', 'user'],
  properties: {
    protocol: { enum: ['postgres', 'mysql'] },
    host: nonEmpty,
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    database: nonEmpty,
    user: nonEmpty,
    password: { type: 'string' },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: { mode: { enum: ['disable', 'require', 'verify-full'] }, ca: nonEmpty },
    },
    allowed_schemas: names,
  },
} as const;

const rule = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'match', 'action'],
  properties: {
    name: nonEmpty,
    resources: names,
    requesters: names,
    match: {
      type: 'object',
      additionalProperties: false,
      properties: {
        commands: names,
        tables: names,
        writes: { type: 'boolean' },
        regex: nonEmpty,
      },
    },
    action,
    approval,
    hold,
    audit: {
      type: 'object',
      additionalProperties: false,
      required: ['params'],
      properties: { params: { enum: ['keep', 'redact'] } },
    },
  },
} as const;

export const policySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'resources', 'defaults'],
  properties: {
    version: { const: 1 },
    resources: { type: 'object', minProperties: 1, additionalProperties: resource },
    defaults: {
      type: 'object',
      additionalProperties: false,
      required: ['action'],
      properties: { action, on_unparseable: action, approval },
    },
    rules: { type: ['array', 'null'], items: rule },
  },
} as const;
