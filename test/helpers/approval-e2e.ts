// What the approvals and Slack end-to-end tests share: held queries over pg, the airlock CLI as a child, the HTTP API, audit and metrics.

import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { BIN, requireBuild } from './airlock-process.js';
import { run, type Finished } from './processes.js';

/** A query that may be held: the request id arrives with the NOTICE, the result (or error) later. */
export interface Sent {
  /** 'ran' when the statement finished without a hold, else the request id from the NOTICE. */
  readonly first: Promise<'ran' | { held: string }>;
  readonly result: Promise<pg.QueryResult | (Error & { code?: string })>;
}

const noticeQueues = new WeakMap<pg.Client, ((id: string) => void)[]>();

/** Sends one statement; only one statement per client may be in flight (as on a real session). */
export function send(client: pg.Client, sql: string, params?: unknown[]): Sent {
  let queue = noticeQueues.get(client);
  if (!queue) {
    const q: ((id: string) => void)[] = [];
    queue = q;
    noticeQueues.set(client, q);
    client.on('notice', (n) => {
      const id = /request ([a-z0-9]+)/.exec(n.message ?? '')?.[1];
      if (id) q.shift()?.(id);
    });
  }
  const waiters = queue;
  let onHeld!: (id: string) => void;
  const held = new Promise<string>((resolve) => (onHeld = resolve));
  waiters.push(onHeld);
  const result = client.query(sql, params).catch((e: Error & { code?: string }) => e);
  const first = Promise.race([held.then((id) => ({ held: id })), result.then(() => 'ran' as const)]);
  void first.then(() => {
    const i = waiters.indexOf(onHeld);
    if (i >= 0) waiters.splice(i, 1);
  });
  return { first, result };
}

/** Sends and expects a hold; returns the request id and the eventual result. */
export async function sendHeld(client: pg.Client, sql: string, params?: unknown[]): Promise<{ id: string; result: Sent['result'] }> {
  const s = send(client, sql, params);
  const first = await s.first;
  if (first === 'ran') throw new Error(`expected "${sql}" to be held, but it ran: ${String(await s.result)}`);
  return { id: first.held, result: s.result };
}

/**
 * `node bin/airlock ARGS` as a person (AIRLOCK_USER/AIRLOCK_TOKEN). tap's spawn wrapper re-adds its loaders
 * to NODE_OPTIONS, which break the compiled CLI, so env(1) removes them in the child.
 */
export function cli(args: readonly string[], as: { email: string; token: string }): Promise<Finished> {
  requireBuild();
  return run('/usr/bin/env', ['-u', 'NODE_OPTIONS', `AIRLOCK_USER=${as.email}`, `AIRLOCK_TOKEN=${as.token}`, 'AIRLOCK_ADMIN_URL=', process.execPath, BIN, ...args]);
}

export interface ApiReply {
  readonly status: number;
  readonly body: any;
}

/** One call to the approvals API as a person. */
export async function api(adminUrl: string, method: string, route: string, as: { email: string; token: string }, body?: unknown): Promise<ApiReply> {
  const res = await fetch(`${adminUrl}${route}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${as.email}:${as.token}`).toString('base64')}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Every audit record in a daemon's audit directory, oldest first per chain. */
export function auditRecords(dir: string): Record<string, any>[] {
  const auditDir = path.join(dir, 'audit');
  return fs
    .readdirSync(auditDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => fs.readFileSync(path.join(auditDir, f), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as Record<string, any>);
}

/** One sample of a Prometheus metric from /metrics (0 when absent). */
export async function metric(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = /\{([^}]*)\}/.exec(line)?.[1] ?? '';
    if (want.every((w) => labelText.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Polls a condition without asserting on how long it took; throws with `what` if it never holds. */
export async function until(what: string, check: () => boolean | Promise<boolean>, tries = 600, everyMs = 50): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** The assertion message for "it ran": the error's text when it did not. */
export function ranMessage(res: unknown): string {
  return res instanceof Error ? `it failed: ${res.message}` : 'the statement ran';
}
