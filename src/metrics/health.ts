// Liveness, readiness and the Prometheus scrape endpoint on the admin listener.

import type { AdminServer } from '../admin/server.js';
import { sendJson } from '../admin/server.js';
import type { Metrics } from './registry.js';
import { airlockVersion } from './version.js';

/** One thing readiness depends on: listeners up, policy loaded, audit writable, Redis reachable... */
export interface ReadinessCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What is wrong, for the operator reading the 503 body. Never a secret. */
  readonly detail?: string;
}

export type ReadinessChecks = () => readonly ReadinessCheck[] | Promise<readonly ReadinessCheck[]>;

export interface HealthOptions {
  /** A check that has not answered by then counts as failed; a hung Redis must not hang /readyz. Default 2000. */
  readonly checkTimeoutMs?: number;
  readonly version?: string;
}

/**
 * GET /healthz: 200 while the process can answer HTTP at all (restart it when this fails).
 * GET /readyz: 200 when every check passes, else 503 naming the failed ones (stop routing to it).
 * GET /metrics: Prometheus text.
 */
export function registerHealthRoutes(admin: AdminServer, metrics: Metrics, checks: ReadinessChecks, opts: HealthOptions = {}): void {
  const startedAt = process.hrtime.bigint();
  const version = opts.version ?? airlockVersion();
  const timeoutMs = opts.checkTimeoutMs ?? 2000;

  admin.route('GET', '/healthz', ({ res }) => {
    const uptime_s = Math.floor(Number(process.hrtime.bigint() - startedAt) / 1e9);
    sendJson(res, 200, { status: 'ok', uptime_s, version });
  });

  admin.route('GET', '/readyz', async ({ res }) => {
    const results = [...(await runChecks(checks, timeoutMs))];
    if (metrics.shuttingDown) results.push({ name: 'shutdown', ok: false, detail: 'draining connections before exit' });
    // No checks at all means the composition root wired nothing: fail closed rather than claim readiness.
    if (results.length === 0) results.push({ name: 'checks', ok: false, detail: 'no readiness checks registered' });
    const ready = results.every((c) => c.ok);
    sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks: results });
  });

  admin.route('GET', '/metrics', async ({ res }) => {
    const body = await metrics.text();
    res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

async function runChecks(checks: ReadinessChecks, timeoutMs: number): Promise<readonly ReadinessCheck[]> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<readonly ReadinessCheck[]>((resolve) => {
    timer = setTimeout(() => resolve([{ name: 'checks', ok: false, detail: `readiness checks did not answer within ${timeoutMs} ms` }]), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.resolve().then(checks), timedOut]);
  } catch (err) {
    return [{ name: 'checks', ok: false, detail: `readiness checks failed: ${err instanceof Error ? err.message : String(err)}` }];
  } finally {
    clearTimeout(timer);
  }
}
