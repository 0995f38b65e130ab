// Private Redis deployments for one test file: a master with a Sentinel, or a three-master Cluster,
// each a real redis-server process on loopback ports of its own, gone when the test ends.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

export interface Topology {
  /** The `state.redis` URL airlock is given. */
  readonly url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
}

async function ask(port: number, ...command: string[]): Promise<string> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return String(await redis.call(command[0]!, ...command.slice(1)));
  } finally {
    redis.disconnect();
  }
}

function startServer(args: readonly string[]): ChildProcess {
  const child = spawn('redis-server', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.on('error', (err) => {
    throw new Error(`cannot start redis-server (install the redis-server package): ${err.message}`);
  });
  return child;
}

async function stopAll(children: readonly ChildProcess[], dir: string): Promise<void> {
  await Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  })));
  rmSync(dir, { recursive: true, force: true });
}

const EPHEMERAL = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/** A master and one Sentinel watching it (quorum 1), both private to the caller. */
export async function startSentinelTopology(masterName = 'airlockmaster'): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-sentinel-'));
  const [masterPort, sentinelPort] = [await freePort(), await freePort()];
  const master = startServer(['--port', String(masterPort), '--dir', dir, ...EPHEMERAL]);
  const config = join(dir, 'sentinel.conf');
  writeFileSync(config, [
    `port ${sentinelPort}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
    `sentinel down-after-milliseconds ${masterName} 60000`,
    '',
  ].join('\n'));
  const sentinel = startServer([config, '--sentinel']);
  const children = [master, sentinel];
  try {
    await waitFor('the Sentinel', async () => (await ask(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', masterName)).includes(String(masterPort)));
  } catch (err) {
    await stopAll(children, dir);
    throw err;
  }
  return { url: `redis+sentinel://127.0.0.1:${sentinelPort}/${masterName}/0`, stop: () => stopAll(children, dir) };
}

/** Three masters sharing the 16384 slots, no replicas. */
export async function startClusterTopology(): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const children = ports.map((port) => startServer([
    '--port', String(port), '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, ...EPHEMERAL,
  ]));
  try {
    for (const port of ports) await waitFor(`redis-server on ${port}`, async () => (await ask(port, 'PING')) === 'PONG');
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports) {
      await waitFor(`cluster state on ${port}`, async () => (await ask(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'));
    }
  } catch (err) {
    await stopAll(children, dir);
    throw err;
  }
  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, stop: () => stopAll(children, dir) };
}
