// /healthz, /readyz and /metrics over real HTTP on an admin listener bound to port 0.

import t from 'tap';
import { AdminServer } from '../../../src/admin/server.js';
import { registerHealthRoutes } from '../../../src/metrics/health.js';
import type { ReadinessCheck, ReadinessChecks } from '../../../src/metrics/health.js';
import { Metrics } from '../../../src/metrics/registry.js';

async function start(t: { teardown(fn: () => unknown): void }, checks: ReadinessChecks, opts: { checkTimeoutMs?: number } = {}) {
  const admin = new AdminServer();
  const metrics = new Metrics({ version: '1.2.3' });
  registerHealthRoutes(admin, metrics, checks, { ...opts, version: '1.2.3' });
  const addr = await admin.listen('127.0.0.1', 0);
  t.teardown(() => admin.close());
  const base = `http://127.0.0.1:${addr.port}`;
  return { metrics, get: (path: string) => fetch(base + path) };
}

t.test('/healthz answers while the process lives', async (t) => {
  const { get } = await start(t, () => [{ name: 'policy', ok: false, detail: 'not loaded' }]);
  const res = await get('/healthz');
  t.equal(res.status, 200, 'liveness does not depend on readiness');
  const body = (await res.json()) as { status: string; uptime_s: number; version: string };
  t.equal(body.status, 'ok');
  t.equal(body.version, '1.2.3');
  t.type(body.uptime_s, 'number');
});

t.test('/readyz is 200 when every check passes', async (t) => {
  const checks: ReadinessCheck[] = [
    { name: 'listeners', ok: true },
    { name: 'policy', ok: true },
  ];
  const { get } = await start(t, () => checks);
  const res = await get('/readyz');
  t.equal(res.status, 200);
  t.same(await res.json(), { status: 'ready', checks });
});

t.test('/readyz is 503 naming the failed check', async (t) => {
  const { get } = await start(t, async () => [
    { name: 'policy', ok: true },
    { name: 'audit', ok: false, detail: 'audit directory is not writable' },
  ]);
  const res = await get('/readyz');
  t.equal(res.status, 503);
  const body = (await res.json()) as { status: string; checks: ReadinessCheck[] };
  t.equal(body.status, 'not_ready');
  const failed = body.checks.filter((c) => !c.ok);
  t.same(failed, [{ name: 'audit', ok: false, detail: 'audit directory is not writable' }]);
});

t.test('/readyz fails closed when checks throw, hang, or are missing', async (t) => {
  const thrown = await start(t, () => {
    throw new Error('redis client not built');
  });
  const r1 = await thrown.get('/readyz');
  t.equal(r1.status, 503);
  t.match(await r1.json(), { checks: [{ name: 'checks', ok: false, detail: /redis client not built/ }] });

  const hung = await start(t, () => new Promise<ReadinessCheck[]>(() => {}), { checkTimeoutMs: 50 });
  const r2 = await hung.get('/readyz');
  t.equal(r2.status, 503, 'a check that never answers is a failed check');
  t.match(await r2.json(), { checks: [{ name: 'checks', ok: false, detail: /did not answer/ }] });

  const none = await start(t, () => []);
  const r3 = await none.get('/readyz');
  t.equal(r3.status, 503, 'no checks wired is not readiness');
});

t.test('/readyz turns 503 once shutdown starts', async (t) => {
  const { get, metrics } = await start(t, () => [{ name: 'policy', ok: true }]);
  t.equal((await get('/readyz')).status, 200);
  metrics.markShutdown();
  const res = await get('/readyz');
  t.equal(res.status, 503);
  t.match(await res.json(), { checks: [{ name: 'policy', ok: true }, { name: 'shutdown', ok: false }] });
});

t.test('/metrics serves parseable Prometheus text with live values', async (t) => {
  const { get, metrics } = await start(t, () => [{ name: 'policy', ok: true }]);
  metrics.setPolicy('f'.repeat(64), ['orders-prod']);
  metrics.statements.inc({ protocol: 'postgres', resource: metrics.resourceLabel('orders-prod'), decision: 'deny' });
  metrics.statements.inc({ protocol: 'postgres', resource: metrics.resourceLabel('orders-prod'), decision: 'deny' });
  metrics.approvalWaitSeconds.observe(42);

  const res = await get('/metrics');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();

  // Values are parsed by Prometheus with Go's ParseFloat, which takes NaN/Inf in any case:
  // prom-client prints 'Nan' for event-loop stats that have no sample yet.
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|[+-][Ii]nf)$/;
  const bad = text.split('\n').filter((line) => line !== '' && !line.startsWith('# HELP ') && !line.startsWith('# TYPE ') && !sample.test(line));
  t.same(bad, [], 'every line is a HELP, TYPE or sample line');

  t.match(text, /^airlock_statements_total\{protocol="postgres",resource="orders-prod",decision="deny"\} 2$/m);
  t.match(text, /^airlock_approval_wait_seconds_count 1$/m);
  t.match(text, /^# TYPE airlock_process_cpu_seconds_total counter$/m, 'process metrics are included');
});

t.test('other methods and paths are refused', async (t) => {
  const { get } = await start(t, () => [{ name: 'policy', ok: true }]);
  t.equal((await get('/nope')).status, 404);
  const post = await fetch(new URL('/metrics', (await get('/healthz')).url), { method: 'POST' });
  t.equal(post.status, 405);
});
