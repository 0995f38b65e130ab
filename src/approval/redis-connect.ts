// Turns a parsed `state.redis` URL (config/redis-url.ts) into the right ioredis client: standalone,
// Sentinel or Cluster. For Sentinel the password is used both for the sentinels and for the master,
// the common deployment.

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/redis-url.js';

export { parseRedisUrl, type RedisTarget } from '../config/redis-url.js';

export type RedisClient = Redis | Cluster;

/**
 * Options for clients that must fail fast: no offline queue (a command while disconnected errors at once
 * instead of hanging a held statement), no per-request retries, a short connect timeout, and a capped
 * backoff so the client keeps reconnecting by itself.
 */
export function failFastOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
}

/** Options for the pub/sub connection: it only (re)subscribes, so queueing the SUBSCRIBE until ready is right. */
export function subscriberOptions(): RedisOptions {
  return { ...failFastOptions(), enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true };
}

export function connectRedis(target: RedisTarget, options: RedisOptions): RedisClient {
  switch (target.kind) {
    case 'standalone':
      return new Redis(target.url, options);
    case 'sentinel':
      return new Redis({
        ...options,
        sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: target.name,
        db: target.db,
        username: target.username,
        password: target.password,
        sentinelPassword: target.password,
        ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      });
    case 'cluster':
      return new Cluster(target.nodes.map((n) => ({ host: n.host, port: n.port })), {
        enableOfflineQueue: options.enableOfflineQueue,
        maxRedirections: 16,
        clusterRetryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
        redisOptions: {
          ...options,
          username: target.username,
          password: target.password,
          ...(target.tls ? { tls: {} } : {}),
        },
      });
  }
}
