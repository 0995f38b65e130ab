// users.yaml: schema, validated loading into a UserDirectory, and the atomic write `airlock users` uses.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { UserDirectory, UserRecord } from './types.js';
import { deepFreeze } from '../config/freeze.js';
import { Problems, compileSchema, readYamlSource, reportSchemaErrors, type YamlSource } from '../config/yaml-source.js';
import { StaticUserDirectory } from './directory.js';

const base64 = (bytes: number) => ({ type: 'string', pattern: `^[A-Za-z0-9+/]{${Math.ceil(bytes / 3) * 4 - 2},}={0,2}$`, description: `base64 of ${bytes} bytes` }) as const;
const hex = (bytes: number) => ({ type: 'string', pattern: `^[0-9a-f]{${bytes * 2}}$`, description: `${bytes * 2} lower-case hex digits` }) as const;
const timestamp = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$', description: 'an ISO 8601 timestamp' } as const;

export const usersSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    users: {
      type: ['array', 'null'],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['email', 'groups', 'scram', 'mysql_native', 'caching_sha2', 'created_at'],
        properties: {
          email: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$', description: 'an email address' },
          groups: { type: 'array', items: { type: 'string', minLength: 1 } },
          slack_id: { type: 'string', pattern: '^[UW][A-Z0-9]+$', description: 'a Slack user id like U012AB3CD' },
          name: { type: 'string', minLength: 1 },
          disabled: { type: 'boolean' },
          scram: {
            type: 'object',
            additionalProperties: false,
            required: ['iterations', 'salt', 'stored_key', 'server_key'],
            properties: {
              iterations: { type: 'integer', minimum: 4096 },
              salt: base64(16),
              stored_key: base64(32),
              server_key: base64(32),
            },
          },
          mysql_native: hex(20),
          caching_sha2: hex(32),
          created_at: timestamp,
          rotated_at: timestamp,
        },
      },
    },
  },
} as const;

const validateUsers = compileSchema(usersSchema);

/** The parsed file kept as a YAML document, so edits keep comments and other users' entries as written. */
export interface UsersFile {
  readonly source: YamlSource;
  readonly records: readonly UserRecord[];
}

/** Reads and validates users.yaml. Throws AirlockError('AIRLOCK_ERR_USERS') with every problem as file:line:col. */
export function readUsersFile(file: string): UsersFile {
  const problems = new Problems(file);
  // Nothing in users.yaml comes from the environment, and edits must write back exactly what was read.
  const source = readYamlSource(file, problems, null);
  if (!source || !reportSchemaErrors(source, validateUsers, problems)) problems.throwIfAny('AIRLOCK_ERR_USERS');
  const records = ((source!.data as { users?: UserRecord[] | null } | null)?.users ?? []).map(normalizeRecord);
  const emails = new Map<string, number>();
  const slackIds = new Map<string, number>();
  records.forEach((r, i) => {
    const email = r.email.toLowerCase();
    if (emails.has(email)) problems.at(source!, ['users', i, 'email'], `duplicate user ${r.email} (emails compare without case)`);
    emails.set(email, i);
    if (r.slack_id) {
      if (slackIds.has(r.slack_id)) problems.at(source!, ['users', i, 'slack_id'], `slack_id ${r.slack_id} is already used by ${records[slackIds.get(r.slack_id)!]!.email}`);
      slackIds.set(r.slack_id, i);
    }
  });
  problems.throwIfAny('AIRLOCK_ERR_USERS');
  return { source: source!, records };
}

/** The directory the daemon authenticates against; frozen. */
export function loadUsers(file: string): UserDirectory {
  const { records } = readUsersFile(file);
  return new StaticUserDirectory(deepFreeze(records));
}

// YAML may leave an explicit `slack_id:` as null; drop absent optionals so records compare cleanly.
function normalizeRecord(r: UserRecord): UserRecord {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined && v !== null)) as unknown as UserRecord;
}

/**
 * Replaces `file` atomically with `text`, mode 0600: write a temp file beside it, fsync, rename.
 * A crash leaves either the old file or the new one, never half of one.
 */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  const dirFd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
