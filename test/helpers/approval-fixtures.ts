// Builders for approval tests: requests, specs, people, and a UserDirectory checked against real tokens.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApprovalSpec } from '../../src/policy/types.js';
import type { NewRequest } from '../../src/approval/types.js';
import type { UserDirectory, UserRecord } from '../../src/identity/types.js';
import { bindingHash, newRequestId } from '../../src/approval/ids.js';

export function spec(overrides: Partial<ApprovalSpec> = {}): ApprovalSpec {
  return {
    approvers: ['dba'],
    min_approvals: 1,
    all_groups_must_approve: false,
    force_approvers: ['sre-oncall'],
    timeout_ms: 60_000,
    mode: 'per_command',
    hold: 'wait',
    ...overrides,
  };
}

export function newRequest(overrides: Partial<NewRequest> = {}): NewRequest {
  const now = Date.now();
  const sql = overrides.sql ?? 'DELETE FROM orders WHERE id = $1';
  const params = overrides.params ?? ['42'];
  return {
    id: newRequestId(),
    created_at: now,
    expires_at: now + 60_000,
    requester: { email: 'alice@corp.com', groups: ['dev'] },
    resource: 'orders-prod',
    protocol: 'postgres',
    rule: 'writes-need-dba',
    approval: spec(),
    sql,
    params,
    binding: bindingHash('orders-prod', 'alice@corp.com', sql, params),
    kinds: ['DELETE'],
    tables: ['orders'],
    session_id: 's-1',
    instance_id: 'replica-a',
    lease_until: now + 60_000,
    ...overrides,
  };
}

export function vote(by: string, groups: readonly string[], reason?: string): { by: string; groups: readonly string[]; at: number; via: 'api'; reason?: string } {
  return { by, groups, at: Date.now(), via: 'api', ...(reason ? { reason } : {}) };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A directory of people with tokens; verifyToken compares digests in constant time like the real one. */
export function userDirectory(people: ReadonlyArray<{ email: string; groups: string[]; token: string; disabled?: boolean; slack_id?: string }>): UserDirectory {
  const records = new Map<string, { user: UserRecord; digest: Buffer }>();
  for (const p of people) {
    const user: UserRecord = {
      email: p.email,
      groups: p.groups,
      ...(p.slack_id ? { slack_id: p.slack_id } : {}),
      ...(p.disabled ? { disabled: true } : {}),
      scram: { iterations: 4096, salt: '', stored_key: '', server_key: '' },
      mysql_native: '',
      caching_sha2: '',
      created_at: new Date(0).toISOString(),
    };
    records.set(p.email.toLowerCase(), { user, digest: digest(p.token) });
  }
  return {
    get: (email) => records.get(email.toLowerCase())?.user,
    bySlackId: (id) => [...records.values()].find((r) => r.user.slack_id === id)?.user,
    all: () => [...records.values()].map((r) => r.user),
    verifyToken(email, token) {
      const r = records.get(email.toLowerCase());
      const ok = timingSafeEqual(r?.digest ?? digest('\0unknown'), digest(token));
      return ok && r !== undefined && !r.user.disabled;
    },
  };
}

export const PEOPLE = [
  { email: 'alice@corp.com', groups: ['dev'], token: 'tok-alice' },
  { email: 'bob@corp.com', groups: ['dba'], token: 'tok-bob' },
  { email: 'carol@corp.com', groups: ['dba', 'admin'], token: 'tok-carol' },
  { email: 'dave@corp.com', groups: ['sre-oncall'], token: 'tok-dave' },
  { email: 'erin@corp.com', groups: ['dev', 'dba', 'admin'], token: 'tok-erin' },
  { email: 'frank@corp.com', groups: ['sre'], token: 'tok-frank' },
  { email: 'olga@corp.com', groups: ['dba'], token: 'tok-olga', disabled: true },
];
