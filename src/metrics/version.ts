// The running airlock version, read once from package.json (shown by /healthz and airlock_build_info).

import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** Works from src/metrics (tsx, tests) and dist/metrics (built): package.json is two levels up in both. */
export function airlockVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    cached = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    // A missing package.json must not stop the daemon: the version is only informative.
    cached = 'unknown';
  }
  return cached;
}
