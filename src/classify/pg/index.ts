// PostgreSQL classifier entry points.

import { loadModule } from 'libpg-query';
import { PgClassifier } from './classifier.js';

export { normalisePg } from './normalise.js';

/** Loads the parser's WebAssembly module; must complete before the first classify(). */
export async function initPgClassifier(): Promise<void> {
  await loadModule();
}

export function createPgClassifier(): PgClassifier {
  return new PgClassifier();
}
