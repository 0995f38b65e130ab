// Every Prometheus metric airlock exports, on a registry of its own (docs/metrics.md lists them all).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { airlockVersion } from './version.js';

/*
 * Label values must come from bounded sets, or a scrape grows without end and a
 * requester's email or SQL leaks into the monitoring system. The sets are listed here
 * so callers and docs/metrics.md agree on them. Resource names are bounded by the
 * policy: use Metrics.resourceLabel() so a name a client invents becomes 'unknown'.
 */
export const PROTOCOLS = ['postgres', 'mysql'] as const;
export const DECISIONS = ['allow', 'deny', 'hold'] as const;
/** rejected: the store said approved, the votes did not; the holder refused to run it (broker.claimExecution). */
export const APPROVAL_OUTCOMES = ['approved', 'denied', 'expired', 'cancelled', 'abandoned', 'break_glass', 'rejected'] as const;
export const AUTH_FAILURE_REASONS = [
  'unknown_user', 'bad_credentials', 'disabled_user', 'unknown_resource', 'unsupported_method', 'tls_required', 'timeout', 'protocol_error',
] as const;
export const LIMITS = [
  'max_connections', 'max_connections_per_user', 'max_pending_auth', 'max_pending_auth_per_ip', 'auth_timeout', 'idle_timeout', 'max_message_bytes',
] as const;
export const POLICY_RELOAD_RESULTS = ['success', 'failure'] as const;
export const CACHE_RESULTS = ['hit', 'miss'] as const;
/** The label value for a resource the policy does not name. */
export const UNKNOWN_RESOURCE = 'unknown';

export type Protocol = (typeof PROTOCOLS)[number];
export type DecisionLabel = (typeof DECISIONS)[number];
export type ApprovalOutcome = (typeof APPROVAL_OUTCOMES)[number];
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];
export type LimitName = (typeof LIMITS)[number];

/** Sub-millisecond to minutes: a forwarded statement may be a long report query. */
const STATEMENT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Classification is in-process parsing: tens of microseconds normally, milliseconds for huge scripts. */
const CLASSIFY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
/** People answer in seconds to an hour (the longest approval timeout one would configure). */
const APPROVAL_WAIT_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
/** fsync on a healthy disk is sub-millisecond to tens of ms; a second means trouble. */
const FSYNC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface MetricsOptions {
  /** Node process metrics (airlock_process_*, airlock_nodejs_*); default true. */
  readonly defaultMetrics?: boolean;
  /** Shown in airlock_build_info; default the package.json version. */
  readonly version?: string;
}

export class Metrics {
  /** Not prom-client's global registry, so tests and embedded uses can hold several. */
  readonly registry = new Registry();

  readonly connectionsOpen: Gauge<'protocol' | 'resource'>;
  readonly connectionsTotal: Counter<'protocol' | 'resource'>;
  readonly authFailures: Counter<'protocol' | 'reason'>;
  readonly limitsHit: Counter<'limit'>;
  readonly statements: Counter<'protocol' | 'resource' | 'decision'>;
  readonly statementSeconds: Histogram<'protocol'>;
  readonly upstreamSeconds: Histogram<'protocol'>;
  readonly upstreamConnectErrors: Counter<'protocol' | 'resource'>;
  readonly classifySeconds: Histogram<'dialect'>;
  readonly classifyCache: Counter<'result'>;
  readonly approvalRequests: Counter<'outcome'>;
  readonly approvalWaitSeconds: Histogram;
  readonly requestsPending: Gauge;
  readonly redisErrors: Counter;
  readonly redisConnected: Gauge;
  readonly slackErrors: Counter<'method'>;
  readonly auditRecords: Counter<'type'>;
  readonly auditFsyncSeconds: Histogram;
  readonly auditWriteFailures: Counter;
  readonly auditChainBreaks: Counter;
  readonly policyReloads: Counter<'result'>;
  readonly policyInfo: Gauge<'sha256'>;
  readonly shutdownInProgress: Gauge;
  readonly buildInfo: Gauge<'version' | 'node_version'>;

  private knownResources: ReadonlySet<string> = new Set();
  private draining = false;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'airlock_' });

    this.connectionsOpen = new Gauge({
      name: 'airlock_client_connections', help: 'Client connections open now.', labelNames: ['protocol', 'resource'], registers,
    });
    this.connectionsTotal = new Counter({
      name: 'airlock_client_connections_total', help: 'Client connections accepted since start.', labelNames: ['protocol', 'resource'], registers,
    });
    this.authFailures = new Counter({
      name: 'airlock_auth_failures_total', help: 'Client authentications that failed, by reason.', labelNames: ['protocol', 'reason'], registers,
    });
    this.limitsHit = new Counter({
      name: 'airlock_limits_hit_total', help: 'Connections or messages refused or closed because a configured limit was reached.', labelNames: ['limit'], registers,
    });
    this.statements = new Counter({
      name: 'airlock_statements_total', help: 'Statements decided by the policy.', labelNames: ['protocol', 'resource', 'decision'], registers,
    });
    this.statementSeconds = new Histogram({
      name: 'airlock_statement_duration_seconds', help: 'Time from a statement arriving to its last reply byte, approval wait excluded.',
      labelNames: ['protocol'], buckets: STATEMENT_BUCKETS, registers,
    });
    this.upstreamSeconds = new Histogram({
      name: 'airlock_upstream_duration_seconds', help: 'Time the upstream database took to answer a forwarded statement.',
      labelNames: ['protocol'], buckets: STATEMENT_BUCKETS, registers,
    });
    this.upstreamConnectErrors = new Counter({
      name: 'airlock_upstream_connect_errors_total', help: 'Failed connections or authentications to an upstream database.', labelNames: ['protocol', 'resource'], registers,
    });
    this.classifySeconds = new Histogram({
      name: 'airlock_classify_duration_seconds', help: 'Time spent classifying one SQL string.', labelNames: ['dialect'], buckets: CLASSIFY_BUCKETS, registers,
    });
    this.classifyCache = new Counter({
      name: 'airlock_classify_cache_lookups_total', help: 'Classification cache lookups, by hit or miss.', labelNames: ['result'], registers,
    });
    this.approvalRequests = new Counter({
      name: 'airlock_approval_requests_total', help: 'Approval requests that reached a final outcome.', labelNames: ['outcome'], registers,
    });
    this.approvalWaitSeconds = new Histogram({
      name: 'airlock_approval_wait_seconds', help: 'Time a held statement waited for its outcome.', buckets: APPROVAL_WAIT_BUCKETS, registers,
    });
    this.requestsPending = new Gauge({
      name: 'airlock_approval_requests_pending', help: 'Approval requests this instance is holding a connection for.', registers,
    });
    this.redisErrors = new Counter({ name: 'airlock_redis_errors_total', help: 'Redis commands or connections that failed.', registers });
    this.redisConnected = new Gauge({ name: 'airlock_redis_connected', help: '1 when the Redis state store is connected, else 0.', registers });
    this.slackErrors = new Counter({
      name: 'airlock_slack_errors_total', help: 'Slack API calls that failed, by API method.', labelNames: ['method'], registers,
    });
    this.auditRecords = new Counter({
      name: 'airlock_audit_records_total', help: 'Audit records written, by record type.', labelNames: ['type'], registers,
    });
    this.auditFsyncSeconds = new Histogram({
      name: 'airlock_audit_fsync_duration_seconds', help: 'Time one fsync of the audit log took.', buckets: FSYNC_BUCKETS, registers,
    });
    this.auditWriteFailures = new Counter({ name: 'airlock_audit_write_failures_total', help: 'Audit appends that failed.', registers });
    this.auditChainBreaks = new Counter({
      name: 'airlock_audit_chain_breaks_total', help: 'Damage found in the audit hash chain (torn tail recovered or a broken link).', registers,
    });
    this.policyReloads = new Counter({
      name: 'airlock_policy_reloads_total', help: 'Policy reload attempts, by result.', labelNames: ['result'], registers,
    });
    this.policyInfo = new Gauge({
      name: 'airlock_policy_info', help: 'Always 1, labelled with the SHA-256 of the policy file in force.', labelNames: ['sha256'], registers,
    });
    this.shutdownInProgress = new Gauge({ name: 'airlock_shutdown_in_progress', help: '1 while the daemon is draining connections to stop.', registers });
    this.buildInfo = new Gauge({
      name: 'airlock_build_info', help: 'Always 1, labelled with the airlock and Node.js versions.', labelNames: ['version', 'node_version'], registers,
    });

    this.buildInfo.set({ version: opts.version ?? airlockVersion(), node_version: process.version }, 1);
    this.redisConnected.set(0);
    this.requestsPending.set(0);
    this.shutdownInProgress.set(0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Records the policy now in force: its hash (the previous hash's series is removed, so only
   * one is ever exported) and the resource names that are valid label values from now on.
   */
  setPolicy(sha256: string, resourceNames: Iterable<string>): void {
    this.policyInfo.reset();
    this.policyInfo.set({ sha256 }, 1);
    this.knownResources = new Set(resourceNames);
  }

  /** The label value for a resource a client asked for: its name if the policy has it, else 'unknown'. */
  resourceLabel(requested: string | undefined): string {
    return requested !== undefined && this.knownResources.has(requested) ? requested : UNKNOWN_RESOURCE;
  }

  /** Called when the daemon starts draining: /readyz then answers 503 so load balancers stop sending. */
  markShutdown(): void {
    this.draining = true;
    this.shutdownInProgress.set(1);
  }

  get shuttingDown(): boolean {
    return this.draining;
  }
}
