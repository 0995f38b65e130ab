// Where the CLI finds the admin API and whose credentials it sends: flags, then environment, then airlock.yaml.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { AirlockError } from '../errors.js';
import { ApprovalApiClient } from './api-client.js';

export interface ApiTargetOptions {
  /** --admin URL */
  readonly admin?: string;
  /** --config FILE (default ./airlock.yaml) */
  readonly config?: string;
  /** --user EMAIL */
  readonly user?: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** --admin, else AIRLOCK_ADMIN_URL, else listen.admin of the config file. */
export async function resolveAdminUrl(opts: ApiTargetOptions, env: Env): Promise<string> {
  if (opts.admin) return opts.admin;
  if (env.AIRLOCK_ADMIN_URL) return env.AIRLOCK_ADMIN_URL;
  const file = opts.config ?? './airlock.yaml';
  const at = await adminFromConfig(file);
  if (!at) throw new AirlockError('AIRLOCK_ERR_CONFIG', `no admin API address: pass --admin URL, set AIRLOCK_ADMIN_URL, or set listen.admin in ${file}`);
  // A wildcard listen address is reachable on loopback from this machine.
  const host = at.host === '0.0.0.0' || at.host === '::' ? '127.0.0.1' : at.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${at.port}`;
}

async function adminFromConfig(file: string): Promise<{ host: string; port: number } | undefined> {
  try {
    const { loadConfig } = await import('../config/load.js');
    return loadConfig(file).listen.admin;
  } catch {
    // The full loader also checks secrets and paths this command does not need; read just listen.admin.
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const admin = (parse(text) as { listen?: { admin?: unknown } } | null)?.listen?.admin;
  if (typeof admin === 'string') {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(admin);
    return m ? { host: m[1] ?? m[2]!, port: Number(m[3]) } : undefined;
  }
  if (admin && typeof admin === 'object' && 'port' in admin) {
    const a = admin as { host?: string; port: number };
    return { host: a.host ?? '127.0.0.1', port: Number(a.port) };
  }
  return undefined;
}

/** The approver's own identity: --user or AIRLOCK_USER, and AIRLOCK_TOKEN (never a flag: argv is visible to others). */
export function resolveCredentials(opts: ApiTargetOptions, env: Env): { email: string; token: string } {
  const email = opts.user ?? env.AIRLOCK_USER;
  const token = env.AIRLOCK_TOKEN;
  if (!email || !token) throw new AirlockError('AIRLOCK_ERR_UNAUTHENTICATED', 'set AIRLOCK_USER (or --user) to your email and AIRLOCK_TOKEN to your personal token');
  return { email, token };
}

export async function apiClient(opts: ApiTargetOptions, env: Env): Promise<ApprovalApiClient> {
  const credentials = resolveCredentials(opts, env);
  return new ApprovalApiClient({ baseUrl: await resolveAdminUrl(opts, env), ...credentials });
}
