// A whole airlock daemon in-process in front of the machine's MariaDB, for MySQL wire tests: temp config,
// users with real tokens, a policy per test file, direct connections for setup, and the mysql CLI.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { loadConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { addUser } from '../../src/identity/user-admin.js';
import type { UserRecord } from '../../src/identity/types.js';
import { createLogger } from '../../src/log.js';
import type { ApprovalRequest } from '../../src/approval/types.js';
import { createClassifier } from '../../src/classify/index.js';
import { loadUsers } from '../../src/identity/users-file.js';
import { ConnectionLimits } from '../../src/listener/limits.js';
import { MysqlListener } from '../../src/listener/mysql-listener.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { loadPolicy } from '../../src/policy/load.js';
import { StatementGate } from '../../src/session/gate.js';
import type { Config } from '../../src/config/types.js';
import type { Logger } from '../../src/log.js';
import { MemoryAudit } from './memory-audit.js';

const TLS_DIR = fileURLToPath(new URL('../fixtures/tls', import.meta.url));

export const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' } as const;

/** Fails with what to start when MariaDB is not running (tests never skip). */
export async function requireMariadb(): Promise<void> {
  try {
    const c = await mysql.createConnection({ ...MARIADB, connectTimeout: 3000 });
    await c.end();
  } catch (err) {
    throw new Error(`these tests need MariaDB on 127.0.0.1:3306 (root, empty password, database test); start it with: service mariadb start (${(err as Error).message})`);
  }
}

/** A direct connection (not through airlock) for setup and checks. */
export function direct(opts: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({ ...MARIADB, multipleStatements: true, ...opts });
}

export interface Person {
  readonly email: string;
  readonly token: string;
  readonly record: UserRecord;
}

export interface Airlock {
  readonly daemon: Daemon;
  readonly port: number;
  readonly dev: Person;
  readonly dba: Person;
  readonly other: Person;
  readonly dir: string;
  /** A mysql2 connection through airlock as `who` (default dev) to resource shop. */
  connect(opts?: mysql.ConnectionOptions & { who?: Person }): Promise<mysql.Connection>;
  /** The next pending request matching `sql` (polls the broker). */
  pending(match: (r: ApprovalRequest) => boolean): Promise<ApprovalRequest>;
  approve(r: ApprovalRequest): Promise<void>;
  deny(r: ApprovalRequest, reason: string): Promise<void>;
  stop(): Promise<void>;
}

/** `rules` is the YAML list under `rules:`; the resource is `shop` (MariaDB, database test). */
export async function startAirlock(rules: string, extra: { maxMessageBytes?: string; logLevel?: string; tls?: boolean; resources?: string } = {}): Promise<Airlock> {
  await requireMariadb();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-mysql-'));
  const usersFile = join(dir, 'users.yaml');
  const dev = addUser(usersFile, { email: 'dev@corp.com', groups: ['dev'] });
  const dba = addUser(usersFile, { email: 'dba@corp.com', groups: ['dba'] });
  const other = addUser(usersFile, { email: 'other@corp.com', groups: ['dev'] });
  writeFileSync(
    join(dir, 'policy.yaml'),
    `version: 1
resources:
  shop: {protocol: mysql, host: 127.0.0.1, port: 3306, database: test, user: root, allowed_schemas: [test, information_schema]}
${extra.resources ?? ''}
defaults:
  action: allow
  on_unparseable: require_approval
  approval: {approvers: [dba], timeout: 1m}
rules:
${rules}
`,
  );
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `listen:
  mysql: 127.0.0.1:0
policy: policy.yaml
users: users.yaml
audit:
  dir: audit
limits:
  max_message_bytes: ${extra.maxMessageBytes ?? '64MiB'}
${extra.tls ? `tls:\n  cert: ${TLS_DIR}/server.crt\n  key: ${TLS_DIR}/server.key\n` : ''}`,
  );
  const config = loadConfig(join(dir, 'airlock.yaml'));
  const log = createLogger({ level: extra.logLevel ?? 'silent' });
  const daemon = await Daemon.start({ config, log, watchFiles: false });
  const own = daemon.addresses.mysql ? undefined : await composeListener(config, daemon, log);
  const port = daemon.addresses.mysql?.port ?? own!.port;
  const person = (t: { record: UserRecord; token: string }): Person => ({ email: t.record.email, token: t.token, record: t.record });
  const a: Airlock = {
    daemon,
    port,
    dev: person(dev),
    dba: person(dba),
    other: person(other),
    dir,
    connect: ({ who, ...opts } = {}) =>
      mysql.createConnection({ host: '127.0.0.1', port, user: (who ?? a.dev).email, password: (who ?? a.dev).token, database: 'shop', ...opts }),
    async pending(match) {
      for (let i = 0; i < 400; i++) {
        const list = await daemon.approvalBroker.list({ states: ['pending'] });
        const found = list.find(match);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('no matching pending approval request appeared');
    },
    async approve(r) {
      const result = await daemon.approvalBroker.approve(r.id, dba.record, 'cli');
      if (result.outcome !== 'approved') throw new Error(`approve did not approve: ${result.outcome}`);
    },
    async deny(r, reason) {
      await daemon.approvalBroker.deny(r.id, dba.record, reason, 'cli');
    },
    async stop() {
      if (own) {
        await own.listener.stopAccepting();
        for (const r of own.listener.allSessions()) r.close('test over');
      }
      await daemon.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return a;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the mysql CLI against airlock; the token goes through MYSQL_PWD, never argv. */
export function mysqlCli(a: Airlock, args: readonly string[], opts: { who?: Person; stdin?: string; cwd?: string; tls?: boolean } = {}): Promise<CliResult> {
  const who = opts.who ?? a.dev;
  return new Promise((resolve, reject) => {
    const child = spawn('mysql', ['--protocol=TCP', '-h', '127.0.0.1', '-P', String(a.port), '-u', who.email, '--batch', ...(opts.tls ? [] : ['--skip-ssl']), ...args], {
      env: { ...process.env, MYSQL_PWD: who.token },
      cwd: opts.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

/**
 * Until the daemon builds its MySQL listener itself, compose one the same way around the daemon's
 * approval broker (same gate, same policy and users files), so these tests exercise the real path.
 */
async function composeListener(config: Config, daemon: Daemon, log: Logger): Promise<{ listener: MysqlListener; port: number }> {
  const policy = loadPolicy(config.policy, { maxTimeoutMs: config.approvals.max_timeout_ms });
  const users = loadUsers(config.users);
  const classifier = createClassifier('mysql');
  const audit = new MemoryAudit();
  const gate = new StatementGate({
    classify: (_dialect, sql, ctx) => classifier.classify(sql, ctx),
    policy: () => policy,
    evaluate,
    broker: daemon.approvalBroker,
    audit,
    acceptingHolds: () => true,
  });
  const tlsMaterial = config.tls ? { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) } : undefined;
  const listener = new MysqlListener({
    config,
    users: () => users,
    policy: () => policy,
    gate,
    audit,
    log,
    limits: new ConnectionLimits({
      maxConnections: config.limits.max_connections,
      maxPerUser: config.limits.max_connections_per_user,
      maxPendingAuth: config.limits.max_pending_auth,
      maxPendingAuthPerIp: config.limits.max_pending_auth_per_ip,
    }),
    classifier,
  }, tlsMaterial);
  const address = await listener.listen('127.0.0.1', 0);
  return { listener, port: address.port };
}
