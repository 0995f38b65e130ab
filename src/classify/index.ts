// Classifier factory: one cached classifier per dialect, shared by every session.

import { CachedClassifier, type CacheStats } from './cache.js';
import { createMysqlClassifier } from './mysql/index.js';
import { normaliseMysql } from './normalise-mysql.js';
import { createPgClassifier, initPgClassifier, normalisePg } from './pg/index.js';
import type { Classifier, Dialect } from './types.js';

export type { CacheStats } from './cache.js';

const CACHE_ENTRIES = 10_000;
const classifiers = new Map<Dialect, CachedClassifier>();

/** Loads what the classifiers need (libpg-query's WebAssembly). Await once at start-up. */
export async function initClassifiers(): Promise<void> {
  await initPgClassifier();
}

/** The shared, cached classifier for a dialect. Results are frozen: do not mutate them. */
export function createClassifier(dialect: Dialect): Classifier {
  let c = classifiers.get(dialect);
  if (!c) {
    c = dialect === 'postgres'
      ? new CachedClassifier(createPgClassifier(), { max: CACHE_ENTRIES, normalise: normalisePg })
      : new CachedClassifier(createMysqlClassifier(), { max: CACHE_ENTRIES, normalise: normaliseMysql, trustNormaliser: true });
    classifiers.set(dialect, c);
  }
  return c;
}

/** Cache hit/miss counts per dialect, for metrics. Dialects not used yet are absent. */
export function classifierCacheStats(): Partial<Record<Dialect, CacheStats>> {
  const out: Partial<Record<Dialect, CacheStats>> = {};
  for (const [dialect, c] of classifiers) out[dialect] = c.stats();
  return out;
}
