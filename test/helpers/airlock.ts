// Starts a whole airlock daemon in-process on port 0 for integration tests, with real users and policy files.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { cachingSha2Verifier, generateToken, mysqlNativeVerifier, scramVerifier } from '../../src/identity/verifiers.js';
import { createLogger } from '../../src/log.js';

export interface TestPerson {
  readonly email: string;
  readonly groups: readonly string[];
  readonly slack_id?: string;
}

export interface TestAirlock {
  readonly daemon: Daemon;
  readonly dir: string;
  readonly tokens: Record<string, string>;
  readonly pgPort: number;
  readonly adminUrl: string;
  /** A libpq connection string for this person and resource. */
  pgUrl(email: string, resource?: string): string;
  /** pg driver config. */
  pgConfig(email: string, resource?: string): { host: string; port: number; user: string; password: string; database: string };
  stop(): Promise<void>;
}

export const DEFAULT_PEOPLE: readonly TestPerson[] = [
  { email: 'alice@corp.com', groups: ['engineering'] },
  { email: 'bob@corp.com', groups: ['dba'] },
  { email: 'dave@corp.com', groups: ['dba'] },
  { email: 'carol@corp.com', groups: ['sre', 'engineering'] },
];

/** The example policy, on the machine's PostgreSQL. */
export function examplePolicy(extraRules = ''): string {
  return `version: 1
resources:
  orders:
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    user: postgres
defaults:
  action: allow
  on_unparseable: require_approval
  approval: { approvers: [dba], min_approvals: 1, timeout: 10m }
rules:${extraRules}
  - name: writes-need-dba
    resources: [orders]
    requesters: [engineering]
    match: { commands: [INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, force_approvers: [sre], timeout: 10m }
  - name: no-drop
    resources: [orders]
    match: { commands: [DROP] }
    action: deny
`;
}

export function writeUsers(file: string, people: readonly TestPerson[]): Record<string, string> {
  const tokens: Record<string, string> = {};
  const now = new Date().toISOString();
  const users = people.map((p) => {
    const token = generateToken();
    tokens[p.email] = token;
    return {
      email: p.email,
      groups: [...p.groups],
      ...(p.slack_id ? { slack_id: p.slack_id } : {}),
      // Fewer iterations than production keeps the suite fast; the verifier format is the same.
      scram: scramVerifier(token, undefined, 4096),
      mysql_native: mysqlNativeVerifier(token),
      caching_sha2: cachingSha2Verifier(token),
      created_at: now,
    };
  });
  fs.writeFileSync(file, YAML.stringify({ users }), { mode: 0o600 });
  return tokens;
}

export async function startAirlock(opts: { policy?: string; people?: readonly TestPerson[]; config?: Record<string, unknown>; dir?: string } = {}): Promise<TestAirlock> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-test-'));
  fs.writeFileSync(path.join(dir, 'policy.yaml'), opts.policy ?? examplePolicy());
  const tokens = writeUsers(path.join(dir, 'users.yaml'), opts.people ?? DEFAULT_PEOPLE);
  const config = {
    listen: { postgres: '127.0.0.1:0', admin: '127.0.0.1:0' },
    policy: './policy.yaml',
    users: './users.yaml',
    state: {},
    audit: { dir: './audit' },
    ...opts.config,
  };
  fs.writeFileSync(path.join(dir, 'airlock.yaml'), YAML.stringify(config));
  const log = createLogger({ level: process.env.AIRLOCK_TEST_LOG ?? 'silent', pretty: false });
  const daemon = await Daemon.start({ config: loadConfig(path.join(dir, 'airlock.yaml')), log, watchFiles: true });
  const pgPort = daemon.addresses.postgres?.port ?? 0;
  const admin = daemon.addresses.admin;
  return {
    daemon,
    dir,
    tokens,
    pgPort,
    adminUrl: admin ? `http://127.0.0.1:${admin.port}` : '',
    pgUrl: (email, resource = 'orders') => `postgresql://${encodeURIComponent(email)}:${encodeURIComponent(tokens[email]!)}@127.0.0.1:${pgPort}/${resource}?sslmode=disable`,
    pgConfig: (email, resource = 'orders') => ({ host: '127.0.0.1', port: pgPort, user: email, password: tokens[email]!, database: resource }),
    stop: () => daemon.shutdown(),
  };
}
