// The composition root: builds every component from the frozen config, starts them in order, and
// owns the process-level lifecycle (reload on SIGHUP or file change, graceful shutdown on SIGTERM).

import fs from 'node:fs';
import { AdminServer } from './admin/server.js';
import { ApprovalBroker } from './approval/broker.js';
import { registerApprovalApi } from './approval/api.js';
import { MemoryApprovalStore } from './approval/memory-store.js';
import { RedisApprovalStore, redactUrl } from './approval/redis-store.js';
import type { ApprovalStore } from './approval/types.js';
import { keyFileInsideDir } from './audit/signing.js';
import { AuditWriter } from './audit/writer.js';
import { createClassifier, initClassifiers, classifierCacheStats } from './classify/index.js';
import type { Classifier, Dialect } from './classify/types.js';
import { ConfigFileWatcher, filesDigest } from './config/file-watch.js';
import type { Config } from './config/types.js';
import { AirlockError, type ClientError } from './errors.js';
import { loadUsers } from './identity/users-file.js';
import type { UserDirectory } from './identity/types.js';
import { ConnectionLimits } from './listener/limits.js';
import { PgListener } from './listener/pg-listener.js';
import type { Logger } from './log.js';
import { registerHealthRoutes } from './metrics/health.js';
import { Metrics, type AuthFailureReason } from './metrics/registry.js';
import { evaluate } from './policy/evaluate.js';
import { loadPolicy } from './policy/load.js';
import type { Policy } from './policy/types.js';
import { StatementGate } from './session/gate.js';
import { clientErrors } from './session/client-errors.js';
import { registerSlackInteractionsUnavailable, startSlack, type SlackHandle } from './approval/slack/index.js';
import { MysqlListener } from './listener/mysql-listener.js';
import { credentialStamp } from './identity/verifiers.js';

export interface DaemonAddresses {
  postgres?: { host: string; port: number };
  mysql?: { host: string; port: number };
  admin?: { host: string; port: number };
}

export interface DaemonOptions {
  readonly config: Config;
  readonly log: Logger;
  /** Watch the policy and users files for changes (default true). */
  readonly watchFiles?: boolean;
  /** Install SIGHUP/SIGTERM/SIGINT handlers (default false: the CLI's start command does). */
  readonly handleSignals?: boolean;
}

export class Daemon {
  readonly addresses: DaemonAddresses = {};
  readonly metrics = new Metrics();
  private policy!: Policy;
  private users!: UserDirectory;
  private audit!: AuditWriter;
  private store!: ApprovalStore;
  private broker!: ApprovalBroker;
  private readonly admin = new AdminServer();
  private pg?: PgListener;
  private mysql?: MysqlListener;
  private slack?: SlackHandle;
  private watcher: ConfigFileWatcher | null = null;
  /** Digest of the policy and users files as last loaded: the file watcher skips reloads that change nothing. */
  private loadedFiles = '';
  private cacheSync: NodeJS.Timeout | null = null;
  private shuttingDown = false;
  private stopped: Promise<void> | null = null;

  private constructor(private readonly opts: DaemonOptions) {}

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(opts);
    try {
      await d.boot();
    } catch (err) {
      await d.teardown().catch(() => {});
      throw err;
    }
    return d;
  }

  get config(): Config {
    return this.opts.config;
  }

  get approvalBroker(): ApprovalBroker {
    return this.broker;
  }

  private async boot(): Promise<void> {
    const { config, log } = this.opts;
    const metrics = this.metrics;
    this.policy = loadPolicy(config.policy, { maxTimeoutMs: config.approvals.max_timeout_ms });
    this.users = loadUsers(config.users);
    this.loadedFiles = configFilesDigest(config);
    metrics.setPolicy(this.policy.sha256, [...this.policy.resources.keys()]);

    try {
      this.audit = await AuditWriter.open({
        dir: config.audit.dir,
        instanceId: config.instance_id,
        signingKeyFile: config.audit.signing_key,
        checkpointIntervalMs: config.audit.checkpoint_interval_ms,
        checkpointRecords: config.audit.checkpoint_records,
        rotateBytes: config.audit.rotate_bytes,
        rotateAgeMs: config.audit.rotate_age_ms,
        sqlMode: config.audit.sql,
        sqlMaxBytes: config.audit.sql_max_bytes,
        logger: log,
        metrics: {
          recordsWritten: (type) => metrics.auditRecords.inc({ type }),
          fsyncSeconds: (s) => metrics.auditFsyncSeconds.observe(s),
          writeFailures: () => metrics.auditWriteFailures.inc(),
          chainBreaks: () => metrics.auditChainBreaks.inc(),
        },
      });
    } catch (err) {
      const message = (err as Error).message;
      // Errors that already say how to fix themselves (another process holds the chain) keep their own advice.
      const fix = /\bFix:/.test(message) ? '' : '. Fix: make the directory writable by the airlock user or set audit.dir';
      throw new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', `cannot open the audit log in ${config.audit.dir}: ${message}${fix}`, { cause: err });
    }
    if (keyFileInsideDir(config.audit.signing_key, config.audit.dir)) {
      log.warn({ signing_key: config.audit.signing_key, audit_dir: config.audit.dir },
        'audit signing key is inside audit.dir: anyone who can write that directory can re-sign a forged chain. Fix: move the key to a path only airlock can read and set audit.signing_key');
    }
    await this.audit.append('policy.loaded', { sha256: this.policy.sha256, file: this.policy.file }, { sync: true });

    if (config.state.redis) {
      const redis = new RedisApprovalStore({
        url: config.state.redis,
        log: log.child({ component: 'redis' }),
        onAvailabilityChange: (up) => {
          metrics.redisConnected.set(up ? 1 : 0);
          if (!up) metrics.redisErrors.inc();
          log[up ? 'info' : 'warn']({ component: 'redis' }, up ? 'approval store connected' : 'approval store unreachable; holds fail until it is back');
        },
      });
      this.store = redis;
      await waitForStore(redis, 5000).catch((err) => {
        throw new AirlockError('AIRLOCK_ERR_STORE_UNAVAILABLE', `Redis at ${redactUrl(config.state.redis ?? '')} is unreachable: ${(err as Error).message}. Fix: start Redis or correct state.redis`);
      });
    } else {
      this.store = new MemoryApprovalStore();
    }

    const notifiers = [];
    if (config.slack) {
      this.slack = await startSlack({ config, log: log.child({ component: 'slack' }), metrics, store: this.store, users: () => this.users, admin: this.admin, broker: () => this.broker, audit: this.audit });
      notifiers.push(this.slack.notifier);
    } else {
      registerSlackInteractionsUnavailable(this.admin, 'Slack is not configured: add a slack section to airlock.yaml');
    }
    this.broker = new ApprovalBroker({
      store: this.store,
      users: () => this.users,
      audit: this.audit,
      instanceId: config.instance_id,
      leaseMs: config.approvals.lease_ms,
      log: log.child({ component: 'approvals' }),
      notifiers,
      metrics: {
        requestOutcome: (outcome, breakGlass) => {
          if (outcome === 'executed' || outcome === 'unavailable') return;
          metrics.approvalRequests.inc({ outcome: breakGlass && outcome === 'approved' ? 'break_glass' : outcome });
        },
        waitSeconds: (s: number) => metrics.approvalWaitSeconds.observe(s),
        pending: (delta: number) => metrics.requestsPending.inc(delta),
        storeError: () => metrics.redisErrors.inc(),
      },
    });
    this.slack?.attach(this.broker);

    await initClassifiers();
    const classifiers = new Map<Dialect, Classifier>([
      ['postgres', createClassifier('postgres')],
      ['mysql', createClassifier('mysql')],
    ]);
    // The classifier counts cache hits itself (hot path); the counter follows it every few seconds.
    let counted = { hits: 0, misses: 0 };
    this.cacheSync = setInterval(() => {
      let hits = 0;
      let misses = 0;
      for (const s of Object.values(classifierCacheStats())) {
        hits += s?.hits ?? 0;
        misses += s?.misses ?? 0;
      }
      if (hits > counted.hits) metrics.classifyCache.inc({ result: 'hit' }, hits - counted.hits);
      if (misses > counted.misses) metrics.classifyCache.inc({ result: 'miss' }, misses - counted.misses);
      counted = { hits, misses };
    }, 2000).unref();
    const gate = new StatementGate({
      classify: (dialect, sql, ctx) => classifiers.get(dialect)!.classify(sql, ctx),
      policy: () => this.policy,
      evaluate,
      broker: this.broker,
      audit: this.audit,
      acceptingHolds: () => !this.shuttingDown,
      metrics: {
        statementDecided: (protocol, resource, decision) => metrics.statements.inc({ protocol, resource: metrics.resourceLabel(resource), decision }),
        classified: (dialect, seconds) => metrics.classifySeconds.observe({ dialect }, seconds),
      },
    });
    const limits = new ConnectionLimits({
      maxConnections: config.limits.max_connections,
      maxPerUser: config.limits.max_connections_per_user,
      maxPendingAuth: config.limits.max_pending_auth,
      maxPendingAuthPerIp: config.limits.max_pending_auth_per_ip,
      onLimit: (limit) => metrics.limitsHit.inc({ limit }),
    });
    const listenerMetrics = {
      connectionOpened: (protocol: 'postgres' | 'mysql', resource: string) => {
        metrics.connectionsOpen.inc({ protocol, resource: metrics.resourceLabel(resource) });
        metrics.connectionsTotal.inc({ protocol, resource: metrics.resourceLabel(resource) });
      },
      connectionClosed: (protocol: 'postgres' | 'mysql', resource: string) => metrics.connectionsOpen.dec({ protocol, resource: metrics.resourceLabel(resource) }),
      authFailed: (protocol: 'postgres' | 'mysql', reason: AuthFailureReason) => metrics.authFailures.inc({ protocol, reason }),
      upstreamConnectFailed: (protocol: 'postgres' | 'mysql', resource: string) => metrics.upstreamConnectErrors.inc({ protocol, resource: metrics.resourceLabel(resource) }),
    };
    const relayObserver = {
      statementFinished: (protocol: 'postgres' | 'mysql', seconds: number, upstreamSeconds: number) => {
        metrics.statementSeconds.observe({ protocol }, seconds);
        metrics.upstreamSeconds.observe({ protocol }, upstreamSeconds);
      },
    };
    const tlsMaterial = config.tls ? { cert: fs.readFileSync(config.tls.cert), key: fs.readFileSync(config.tls.key) } : undefined;
    const listenerDeps = {
      config,
      users: () => this.users,
      policy: () => this.policy,
      gate,
      audit: this.audit,
      log,
      limits,
      metrics: listenerMetrics,
      relayObserver,
    };

    registerHealthRoutes(this.admin, metrics, () => this.readiness());
    registerApprovalApi(this.admin, this.broker, () => this.users, { policy: () => this.policy });
    this.admin.setErrorHandler((err, ctx) => log.warn({ err: (err as Error).message, ...ctx }, 'admin request failed'));

    if (config.listen.admin) {
      this.addresses.admin = hostPort(await this.admin.listen(config.listen.admin.host, config.listen.admin.port).catch((err: unknown) => {
        throw listenError('admin', config.listen.admin!, err);
      }));
    }
    if (config.listen.postgres) {
      this.pg = new PgListener(listenerDeps, tlsMaterial);
      this.addresses.postgres = hostPort(await this.pg.listen(config.listen.postgres.host, config.listen.postgres.port).catch((err: unknown) => {
        throw listenError('postgres', config.listen.postgres!, err);
      }));
    }
    if (config.listen.mysql) {
      this.mysql = new MysqlListener({ ...listenerDeps, classifier: classifiers.get('mysql')! }, tlsMaterial);
      this.addresses.mysql = hostPort(await this.mysql.listen(config.listen.mysql.host, config.listen.mysql.port).catch((err: unknown) => {
        throw listenError('mysql', config.listen.mysql!, err);
      }));
    }
    if (this.opts.watchFiles ?? true) this.watchConfigFiles();
    if (this.opts.handleSignals) this.installSignalHandlers();
  }

  private readiness() {
    const checks = [
      { name: 'listeners', ok: Boolean(this.addresses.postgres || this.addresses.mysql), detail: this.addresses.postgres || this.addresses.mysql ? undefined : 'no database listener is up' },
      { name: 'policy', ok: Boolean(this.policy), detail: this.policy ? undefined : 'no policy loaded' },
      { name: 'audit', ok: this.audit?.healthy ?? false, detail: this.audit?.healthy ? undefined : 'the audit log cannot be written' },
      { name: 'shutdown', ok: !this.shuttingDown, detail: this.shuttingDown ? 'shutting down' : undefined },
    ];
    if (this.opts.config.state.redis) {
      checks.push({ name: 'redis', ok: this.store?.available ?? false, detail: this.store?.available ? undefined : 'Redis approval store unreachable' });
    }
    return checks;
  }

  /** Re-reads policy and users; a bad file is refused and the old one stays. */
  reload(): { ok: boolean; errors: string[] } {
    const { config, log } = this.opts;
    const errors: string[] = [];
    this.loadedFiles = configFilesDigest(config);
    try {
      const policy = loadPolicy(config.policy, { maxTimeoutMs: config.approvals.max_timeout_ms });
      if (policy.sha256 !== this.policy.sha256) {
        this.policy = policy;
        this.metrics.setPolicy(policy.sha256, [...policy.resources.keys()]);
        this.audit.append('policy.loaded', { sha256: policy.sha256, file: policy.file }).catch(() => {});
        log.info({ sha256: policy.sha256 }, 'policy reloaded');
      }
    } catch (err) {
      errors.push((err as Error).message);
    }
    try {
      this.users = loadUsers(config.users);
      this.endSessionsOfChangedUsers();
    } catch (err) {
      errors.push((err as Error).message);
    }
    const ok = errors.length === 0;
    this.metrics.policyReloads.inc({ result: ok ? 'success' : 'failure' });
    if (!ok) {
      log.error({ errors }, 'reload refused; the previous policy and users stay in force');
      // Auditors see attempted policy changes too, not only the ones that took effect.
      this.audit.append('policy.rejected', { files: [config.policy, config.users], errors }).catch(() => {});
    }
    return { ok, errors };
  }

  /**
   * A person removed, disabled or moved to other groups loses the sessions opened as they were:
   * policy decisions use the groups a session logged in with. A rotated token ends the sessions opened
   * with the old one, since rotation is what people do when a token has leaked.
   */
  private endSessionsOfChangedUsers(): void {
    const relays: { requester: { email: string; groups: readonly string[] }; credential: string | undefined; terminate(e: ClientError): void }[] = [
      ...(this.pg?.allSessions() ?? []),
      ...(this.mysql?.allSessions() ?? []).map((r) => ({ requester: r.requesterIdentity, credential: r.credential, terminate: (e: ClientError) => r.terminate(e) })),
    ];
    for (const relay of relays) {
      const now = this.users.get(relay.requester.email);
      const same = now && !now.disabled && now.groups.length === relay.requester.groups.length && now.groups.every((g) => relay.requester.groups.includes(g))
        && (relay.credential === undefined || relay.credential === credentialStamp(now));
      if (same) continue;
      this.opts.log.info({ requester: relay.requester.email }, 'ending a session: its user was removed, disabled, regrouped or given a new token');
      relay.terminate(clientErrors.accessChanged());
    }
  }

  private watchConfigFiles(): void {
    const { config } = this.opts;
    this.watcher = new ConfigFileWatcher([config.policy, config.users], () => this.loadedFiles, () => this.reload());
    for (const file of this.watcher.start()) this.opts.log.warn({ file }, 'cannot watch file for changes; reload with SIGHUP');
  }

  private installSignalHandlers(): void {
    process.on('SIGHUP', () => this.reload());
    const stop = (signal: string) => {
      this.opts.log.info({ signal }, 'shutting down');
      void this.shutdown().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  }

  /**
   * Stop accepting; refuse new holds and tell held clients; let running statements finish for the
   * grace period; close sessions; write the final audit checkpoint.
   */
  shutdown(): Promise<void> {
    this.stopped ??= this.runShutdown();
    return this.stopped;
  }

  private async runShutdown(): Promise<void> {
    this.shuttingDown = true;
    this.metrics.markShutdown();
    await Promise.all([this.pg?.stopAccepting(), this.mysql?.stopAccepting()]);
    for (const relay of [...(this.pg?.sessionsHolding() ?? []), ...(this.mysql?.sessionsHolding() ?? [])]) {
      relay.terminate(clientErrors.shuttingDown());
    }
    const deadline = Date.now() + this.opts.config.limits.shutdown_grace_ms;
    while (Date.now() < deadline && ((this.pg?.sessionCount ?? 0) > 0 || (this.mysql?.sessionCount ?? 0) > 0)) {
      const busy = [...(this.pg?.allSessions() ?? []), ...(this.mysql?.allSessions() ?? [])].filter((r) => r.busy);
      if (busy.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const relay of [...(this.pg?.allSessions() ?? []), ...(this.mysql?.allSessions() ?? [])]) {
      relay.terminate(relay.holding ? clientErrors.shuttingDown() : clientErrors.sessionShutDown());
    }
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    this.watcher?.stop();
    if (this.cacheSync) clearInterval(this.cacheSync);
    await this.slack?.stop().catch(() => {});
    await this.broker?.close?.().catch(() => {});
    await this.store?.close().catch(() => {});
    await this.admin.close().catch(() => {});
    await this.audit?.close().catch(() => {});
  }
}

function configFilesDigest(config: Config): string {
  return filesDigest([config.policy, config.users]);
}

function hostPort(a: { address: string; port: number }): { host: string; port: number } {
  return { host: a.address, port: a.port };
}

function listenError(what: string, at: { host: string; port: number }, err: unknown): AirlockError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'EADDRINUSE'
      ? `port ${at.port} is already in use. Fix: stop the other process or change listen.${what}`
      : code === 'EACCES'
        ? `permission denied. Fix: use a port above 1024 or grant the capability`
        : code === 'EADDRNOTAVAIL'
          ? `address ${at.host} is not on this machine. Fix: correct listen.${what}`
          : (err as Error).message;
  return new AirlockError('AIRLOCK_ERR_CONFIG', `cannot listen for ${what} on ${at.host}:${at.port}: ${why}`, { cause: err });
}

function waitForStore(store: ApprovalStore, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (store.available) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`no connection within ${timeoutMs} ms`));
      setTimeout(tick, 50);
    };
    tick();
  });
}
