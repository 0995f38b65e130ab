// Metric names, types and labels follow Prometheus conventions, stay bounded, and are all documented.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { Metrics, UNKNOWN_RESOURCE } from '../../../src/metrics/registry.js';

const FORBIDDEN_LABELS = ['user', 'email', 'requester', 'sql', 'query', 'params', 'request_id', 'session_id', 'client_addr', 'token'];
const DEFAULT_PREFIXES = ['airlock_process_', 'airlock_nodejs_'];

interface Described {
  name: string;
  type: string;
  labelNames: readonly string[];
}

async function describe(m: Metrics): Promise<Described[]> {
  const json = await m.registry.getMetricsAsJSON();
  return json.map((x) => ({
    name: x.name,
    type: String(x.type),
    // prom-client keeps label names on the metric object without typing them.
    labelNames: (m.registry.getSingleMetric(x.name) as unknown as { labelNames: string[] }).labelNames,
  }));
}

const isDefault = (name: string) => DEFAULT_PREFIXES.some((p) => name.startsWith(p));

t.test('every metric the issue asks for is registered', async (t) => {
  const names = new Set((await describe(new Metrics())).map((d) => d.name));
  for (const name of [
    'airlock_client_connections', 'airlock_client_connections_total', 'airlock_auth_failures_total', 'airlock_statements_total',
    'airlock_approval_requests_total', 'airlock_approval_wait_seconds', 'airlock_approval_requests_pending',
    'airlock_statement_duration_seconds', 'airlock_upstream_duration_seconds', 'airlock_classify_duration_seconds',
    'airlock_classify_cache_lookups_total', 'airlock_upstream_connect_errors_total', 'airlock_redis_errors_total',
    'airlock_redis_connected', 'airlock_slack_errors_total', 'airlock_audit_records_total', 'airlock_audit_fsync_duration_seconds',
    'airlock_audit_write_failures_total', 'airlock_audit_chain_breaks_total', 'airlock_policy_reloads_total', 'airlock_policy_info',
    'airlock_limits_hit_total', 'airlock_shutdown_in_progress', 'airlock_build_info', 'airlock_process_cpu_seconds_total',
    'airlock_nodejs_eventloop_lag_seconds',
  ]) {
    t.ok(names.has(name), name);
  }
});

t.test('names follow Prometheus conventions', async (t) => {
  const all = await describe(new Metrics());
  t.ok(all.length > 20, 'metrics were registered');
  for (const d of all) {
    t.match(d.name, /^airlock_[a-z0-9_]+$/, `${d.name} has the airlock_ prefix and snake case`);
    if (d.type === 'counter') t.match(d.name, /_total$/, `counter ${d.name} ends in _total`);
    if (d.type === 'histogram') t.match(d.name, /_seconds$/, `histogram ${d.name} is in seconds`);
    if (d.type === 'gauge' && !isDefault(d.name)) t.notMatch(d.name, /_total$/, `gauge ${d.name} does not pose as a counter`);
  }
});

t.test('no label can carry a person, SQL or an id', async (t) => {
  for (const d of await describe(new Metrics())) {
    for (const label of d.labelNames) {
      t.notOk(FORBIDDEN_LABELS.includes(label), `${d.name} label ${label} is bounded`);
    }
  }
});

t.test('resourceLabel maps names the policy lacks to unknown', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  t.equal(m.resourceLabel('orders-prod'), UNKNOWN_RESOURCE, 'nothing is known before a policy loads');
  m.setPolicy('a'.repeat(64), ['orders-prod', 'billing']);
  t.equal(m.resourceLabel('orders-prod'), 'orders-prod');
  t.equal(m.resourceLabel(undefined), UNKNOWN_RESOURCE);
  const invented = "x'; drop table users; --";
  m.connectionsTotal.inc({ protocol: 'postgres', resource: m.resourceLabel(invented) });
  const text = await m.text();
  t.notOk(text.includes('drop table'), 'a client-chosen database name never reaches the exposition');
  t.match(text, /airlock_client_connections_total\{protocol="postgres",resource="unknown"\} 1/);
});

t.test('policy_info exports only the hash in force', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  m.setPolicy('1'.repeat(64), ['a']);
  m.setPolicy('2'.repeat(64), ['a']);
  const text = await m.text();
  t.match(text, new RegExp(`airlock_policy_info\\{sha256="${'2'.repeat(64)}"\\} 1`));
  t.notOk(text.includes('1'.repeat(64)), 'the previous hash series is gone');
});

t.test('each Metrics owns its registry', async (t) => {
  const a = new Metrics({ defaultMetrics: false });
  const b = new Metrics({ defaultMetrics: false });
  a.redisErrors.inc(3);
  t.match(await a.text(), /^airlock_redis_errors_total 3$/m);
  t.match(await b.text(), /^airlock_redis_errors_total 0$/m);
});

t.test('build info and shutdown state', async (t) => {
  const m = new Metrics({ defaultMetrics: false, version: '9.8.7' });
  t.match(await m.text(), /airlock_build_info\{version="9\.8\.7",node_version="v\d+/);
  t.equal(m.shuttingDown, false);
  m.markShutdown();
  t.equal(m.shuttingDown, true);
  t.match(await m.text(), /^airlock_shutdown_in_progress 1$/m);
});

t.test('docs/metrics.md documents exactly the registered metrics', async (t) => {
  const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/`(airlock_[a-z0-9_]+)`/g)].map((m) => m[1]!));
  const registered = (await describe(new Metrics())).map((d) => d.name);
  for (const name of registered) t.ok(documented.has(name), `${name} is in docs/metrics.md`);
  const ours = new Set(registered);
  for (const name of documented) {
    // Default metrics differ a little by platform; our own documented names must all exist.
    if (!isDefault(name)) t.ok(ours.has(name), `${name} in docs/metrics.md is registered`);
  }
});
