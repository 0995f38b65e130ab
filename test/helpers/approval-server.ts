// A real admin HTTP server on port 0 with the approvals API, a memory store and a small policy, for API and CLI tests.

import { pino } from 'pino';
import { AdminServer } from '../../src/admin/server.js';
import { registerApprovalApi } from '../../src/approval/api.js';
import { ApprovalBroker } from '../../src/approval/broker.js';
import { MemoryApprovalStore } from '../../src/approval/memory-store.js';
import type { Policy, ResourceSpec, Rule } from '../../src/policy/types.js';
import { MemoryAudit } from './memory-audit.js';
import { PEOPLE, spec, userDirectory } from './approval-fixtures.js';

export const users = userDirectory(PEOPLE);

const resource: ResourceSpec = { name: 'orders-prod', protocol: 'postgres', host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' };
const jitRule: Rule = {
  name: 'prod-jit',
  resources: ['orders-prod'],
  match: { writes: true },
  action: 'require_approval',
  approval: spec({ mode: 'jit', jit_duration_ms: 60 * 60_000 }),
};
const perCommand: Rule = { name: 'writes-need-dba', match: { writes: true }, action: 'require_approval', approval: spec() };

export const policy: Policy = {
  version: 1,
  file: '<test>',
  sha256: '0'.repeat(64),
  resources: new Map([[resource.name, resource]]),
  defaults: { action: 'allow', on_unparseable: 'require_approval', approval: spec() },
  rules: [jitRule, perCommand],
};

export async function startApprovalServer() {
  const store = new MemoryApprovalStore();
  const audit = new MemoryAudit();
  const broker = new ApprovalBroker({ store, users: () => users, audit, instanceId: 'api-test', leaseMs: 60_000, log: pino({ level: 'silent' }) });
  const admin = new AdminServer();
  registerApprovalApi(admin, broker, () => users, { policy: () => policy });
  const at = await admin.listen('127.0.0.1', 0);
  return {
    url: `http://127.0.0.1:${at.port}`,
    store,
    audit,
    broker,
    async close() {
      await admin.close();
      await broker.close();
    },
  };
}

export function basic(email: string, token: string): string {
  return `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`;
}
