// Redis for approval tests: the machine's real server, a unique key prefix per test file, cleanup by prefix.

import { Redis } from 'ioredis';

export const REDIS_URL = 'redis://127.0.0.1:6379/0';

export function uniquePrefix(file: string): string {
  return `test:${file}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
}

/** Fails the test with what to start when Redis is not running (tests never skip). */
export async function requireRedis(): Promise<void> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new Error(`these tests need Redis on 127.0.0.1:6379 (start it with: redis-server --port 6379): ${(err as Error).message}`);
  } finally {
    probe.disconnect();
  }
}

export async function deleteByPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
