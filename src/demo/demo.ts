// `airlock demo`: the whole product on an embedded default — PGlite upstream, in-memory state,
// the example policy and three demo people — so a newcomer can try it with nothing but Node.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import YAML from 'yaml';
import { loadConfig } from '../config/load.js';
import { Daemon } from '../daemon.js';
import { generateToken, scramVerifier, mysqlNativeVerifier, cachingSha2Verifier } from '../identity/verifiers.js';
import type { Logger } from '../log.js';
import { servePglite, type PgliteBridge } from './pglite-bridge.js';
import { SAMPLE_SCHEMA } from './sample-schema.js';

export interface DemoPerson {
  readonly email: string;
  readonly groups: readonly string[];
  readonly role: string;
  readonly token: string;
}

export interface DemoOptions {
  readonly dir: string;
  readonly host: string;
  readonly pgPort: number;
  readonly adminPort: number;
  readonly log: Logger;
}

export interface RunningDemo {
  readonly daemon: Daemon;
  readonly people: readonly DemoPerson[];
  readonly bridge: PgliteBridge;
  stop(): Promise<void>;
}

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const PEOPLE: readonly Omit<DemoPerson, 'token'>[] = [
  { email: 'alice@example.com', groups: ['engineering'], role: 'developer' },
  { email: 'bob@example.com', groups: ['dba'], role: 'approver (dba)' },
  { email: 'carol@example.com', groups: ['sre'], role: 'break-glass (sre)' },
];

/** The example policy with its `orders` resource pointed at the embedded database; other resources dropped. */
function demoPolicy(bridgePort: number): string {
  const doc = YAML.parseDocument(fs.readFileSync(path.join(PACKAGE_ROOT, 'policy.example.yaml'), 'utf8'));
  const resources = doc.get('resources') as YAML.YAMLMap;
  for (const item of [...resources.items]) {
    const name = String((item.key as YAML.Scalar).value ?? item.key);
    if (name !== 'orders') resources.delete(item.key);
  }
  doc.setIn(['resources', 'orders'], doc.createNode({ protocol: 'postgres', host: '127.0.0.1', port: bridgePort, database: 'postgres', user: 'postgres' }));
  const rules = doc.get('rules') as YAML.YAMLSeq;
  rules.items = rules.items.filter((rule) => {
    const bound = (rule as YAML.YAMLMap).get('resources') as YAML.YAMLSeq | undefined;
    return !bound || bound.items.some((r) => String((r as YAML.Scalar).value ?? r) === 'orders');
  });
  return `# Written by \`airlock demo\` from policy.example.yaml: resource "orders" is the embedded demo database.\n${doc.toString()}`;
}

function usersFile(people: DemoPerson[]): string {
  const now = new Date().toISOString();
  return YAML.stringify({
    users: people.map((p) => ({
      email: p.email,
      groups: [...p.groups],
      scram: scramVerifier(p.token),
      mysql_native: mysqlNativeVerifier(p.token),
      caching_sha2: cachingSha2Verifier(p.token),
      created_at: now,
    })),
  });
}

export async function startDemo(opts: DemoOptions): Promise<RunningDemo> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const db = await PGlite.create();
  await db.exec(SAMPLE_SCHEMA);
  const bridge = await servePglite(db);
  const people = PEOPLE.map((p) => ({ ...p, token: generateToken() }));
  fs.writeFileSync(path.join(opts.dir, 'policy.yaml'), demoPolicy(bridge.port));
  fs.writeFileSync(path.join(opts.dir, 'users.yaml'), usersFile(people), { mode: 0o600 });
  fs.writeFileSync(
    path.join(opts.dir, 'airlock.yaml'),
    YAML.stringify({
      listen: { postgres: `${opts.host}:${opts.pgPort}`, admin: `${opts.host}:${opts.adminPort}` },
      policy: './policy.yaml',
      users: './users.yaml',
      state: {},
      audit: { dir: './audit', signing_key: './keys/audit-signing-key.pem' },
    }),
  );
  const config = loadConfig(path.join(opts.dir, 'airlock.yaml'));
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({ config, log: opts.log });
  } catch (err) {
    await bridge.close();
    await db.close();
    throw err;
  }
  return {
    daemon,
    people,
    bridge,
    stop: async () => {
      await daemon.shutdown();
      await bridge.close();
      await db.close();
    },
  };
}

export function demoInstructions(demo: RunningDemo): string {
  const pg = demo.daemon.addresses.postgres!;
  const admin = demo.daemon.addresses.admin!;
  const [alice, bob, carol] = demo.people as [DemoPerson, DemoPerson, DemoPerson];
  const url = (p: DemoPerson) => `postgresql://${encodeURIComponent(p.email)}:${p.token}@${pg.host}:${pg.port}/orders`;
  const as = (p: DemoPerson) => `AIRLOCK_ADMIN_URL=http://${admin.host}:${admin.port} AIRLOCK_USER=${p.email} AIRLOCK_TOKEN=${p.token}`;
  return [
    'airlock demo is running (embedded PGlite database, in-memory approvals, example policy).',
    '',
    `1. Connect as ${alice.email} (developer, group engineering):`,
    `     psql "${url(alice)}"`,
    '   then try:',
    '     SELECT * FROM orders;                      -- allowed',
    "     DELETE FROM orders WHERE status = 'cancelled';  -- held: psql shows a NOTICE with the request id and waits",
    '     DROP TABLE orders;                         -- denied by rule no-drop',
    '',
    `2. In another terminal, approve as ${bob.email} (group dba):`,
    `     ${as(bob)} npx airlock approvals list`,
    `     ${as(bob)} npx airlock approvals approve <request-id>`,
    `   Break-glass as ${carol.email} (group sre), alone, with a reason:`,
    `     ${as(carol)} npx airlock approvals force <request-id> --reason "incident 42"`,
    '',
    `3. Verify the audit log:  npx airlock audit verify ${path.relative(process.cwd(), demo.daemon.config.audit.dir) || '.'}`,
    `   Metrics: curl http://${admin.host}:${admin.port}/metrics     Health: curl http://${admin.host}:${admin.port}/readyz`,
    '',
    'The embedded database itself listens on a loopback port without a password (it is a demo): real',
    'upstreams hold credentials only airlock knows.',
    `Tokens are shown once; the demo writes its files to ${path.relative(process.cwd(), path.dirname(demo.daemon.config.policy)) || '.'}. Ctrl-C stops it.`,
  ].join('\n');
}
