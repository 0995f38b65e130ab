// The `state.redis` URL forms, parsed once when the config is loaded:
//   redis://[[user]:password@]host:port[/db]          rediss:// for TLS (ioredis parses these itself)
//   redis+sentinel://[[user]:password@]host:port[,host:port...]/<master-name>[/<db>]
//   redis+cluster://[[user]:password@]host:port[,host:port...]
// `rediss+sentinel://` and `rediss+cluster://` turn TLS on.

import { AirlockError } from '../errors.js';

export interface HostPortPair {
  readonly host: string;
  readonly port: number;
}

export type RedisTarget =
  | { readonly kind: 'standalone'; readonly url: string }
  | { readonly kind: 'sentinel'; readonly sentinels: readonly HostPortPair[]; readonly name: string; readonly db: number; readonly username?: string; readonly password?: string; readonly tls: boolean }
  | { readonly kind: 'cluster'; readonly nodes: readonly HostPortPair[]; readonly username?: string; readonly password?: string; readonly tls: boolean };

const MULTI_HOST = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)(?:\/(.*))?$/;

export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\//.test(url)) return { kind: 'standalone', url };
  const m = MULTI_HOST.exec(url);
  if (!m) throw new AirlockError('AIRLOCK_ERR_CONFIG', `unsupported URL form (expected redis://, redis+sentinel:// or redis+cluster://)`);
  const [, scheme, kind, user, pass, hostList, path] = m;
  const hosts = hostList!.split(',').map(parseHostPort);
  const auth = {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass ? { password: decodeURIComponent(pass) } : {}),
  };
  const tls = scheme === 'rediss';
  if (kind === 'cluster') return { kind: 'cluster', nodes: hosts, tls, ...auth };
  const [name, db] = (path ?? '').split('/');
  if (!name) throw new AirlockError('AIRLOCK_ERR_CONFIG', 'a Sentinel URL needs the master name as its path, e.g. redis+sentinel://s1:26379,s2:26379/mymaster/0');
  const dbNumber = db ? Number(db) : 0;
  if (!Number.isInteger(dbNumber) || dbNumber < 0) throw new AirlockError('AIRLOCK_ERR_CONFIG', `bad database number "${db}"`);
  return { kind: 'sentinel', sentinels: hosts, name: decodeURIComponent(name), db: dbNumber, tls, ...auth };
}

function parseHostPort(text: string): HostPortPair {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] ? Number(m[2]) : 6379;
  if (!m || port < 1 || port > 65535) throw new AirlockError('AIRLOCK_ERR_CONFIG', `bad host:port "${text}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
