// Turns a `state.redis` URL into the right ioredis client: standalone, Sentinel or Cluster.
//
// Accepted forms:
//   redis://[[user]:password@]host:port[/db]          rediss:// for TLS (ioredis parses these itself)
//   redis+sentinel://[[user]:password@]host:port[,host:port...]/<master-name>[/<db>]
//   redis+cluster://[[user]:password@]host:port[,host:port...]
// `rediss+sentinel://` and `rediss+cluster://` turn TLS on. For Sentinel the password is used both for
// the sentinels and for the master, the common deployment.

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { AirlockError } from '../errors.js';

export interface HostPortPair {
  readonly host: string;
  readonly port: number;
}

export type RedisTarget =
  | { readonly kind: 'standalone'; readonly url: string }
  | { readonly kind: 'sentinel'; readonly sentinels: readonly HostPortPair[]; readonly name: string; readonly db: number; readonly username?: string; readonly password?: string; readonly tls: boolean }
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPortPair[]; readonly username?: string; readonly password?: string; readonly tls: boolean };

export type RedisClient = Redis | Cluster;

const MULTI_HOST = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)(?:\/(.*))?$/;

export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\//.test(url)) return { kind: 'standalone', url };
  const m = MULTI_HOST.exec(url);
  if (!m) throw new AirlockError('AIRLOCK_ERR_CONFIG', `state.redis: unsupported URL form (expected redis://, redis+sentinel:// or redis+cluster://)`);
  const [, scheme, kind, user, pass, hostList, path] = m;
  const hosts = hostList!.split(',').map(parseHostPort);
  const auth = {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass ? { password: decodeURIComponent(pass) } : {}),
  };
  const tls = scheme === 'rediss';
  if (kind === 'cluster') return { kind: 'cluster', nodes: hosts, tls, ...auth };
  const [name, db] = (path ?? '').split('/');
  if (!name) throw new AirlockError('AIRLOCK_ERR_CONFIG', 'state.redis: a Sentinel URL needs the master name as its path, e.g. redis+sentinel://s1:26379,s2:26379/mymaster/0');
  const dbNumber = db ? Number(db) : 0;
  if (!Number.isInteger(dbNumber) || dbNumber < 0) throw new AirlockError('AIRLOCK_ERR_CONFIG', `state.redis: bad database number "${db}"`);
  return { kind: 'sentinel', sentinels: hosts, name: decodeURIComponent(name), db: dbNumber, tls, ...auth };
}

function parseHostPort(text: string): HostPortPair {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new AirlockError('AIRLOCK_ERR_CONFIG', `state.redis: bad host "${text}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 6379 };
}

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
