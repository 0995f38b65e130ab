// The audit directory layout: segment file names, chains found in a directory, lines with byte offsets.

import fs from 'node:fs';
import path from 'node:path';
import { AirlockError } from '../errors.js';

/** Signed checkpoint lines of every chain in the directory, one JSON record per line. */
export const CHECKPOINT_LOG = 'checkpoints.log';

const SEGMENT_FILE = /^(.+)\.(\d{6,})\.jsonl$/;
const INSTANCE_ID = /^[A-Za-z0-9_.-]{1,100}$/;

export interface SegmentFile {
  readonly chainId: string;
  readonly index: number;
  readonly name: string;
  readonly path: string;
}

/** One line of a segment; offset and length are in bytes, length without the newline. */
export interface SegmentLine {
  readonly offset: number;
  readonly length: number;
  readonly text: string;
  /** false for trailing bytes not ended by "\n" (a torn write, or a write in progress). */
  readonly complete: boolean;
}

export function isValidInstanceId(id: string): boolean {
  return INSTANCE_ID.test(id);
}

/** chain_id = instance id + genesis time, so a reset instance never reuses a chain id. */
export function newChainId(instanceId: string, now: Date): string {
  return `${instanceId}-${now.toISOString().replace(/[-:.]/g, '')}`;
}

export function segmentName(chainId: string, index: number): string {
  return `${chainId}.${String(index).padStart(6, '0')}.jsonl`;
}

export function parseSegmentName(name: string): { chainId: string; index: number } | undefined {
  const m = SEGMENT_FILE.exec(name);
  return m ? { chainId: m[1]!, index: Number(m[2]) } : undefined;
}

/** While a writer has the chain open this file names its pid, so verify can tell live from crashed. */
export function liveMarkerPath(dir: string, chainId: string): string {
  return path.join(dir, `${chainId}.live`);
}

/** Every chain in the directory with its segments in index order. Throws when dir is unreadable. */
export function listChains(dir: string): Map<string, SegmentFile[]> {
  const chains = new Map<string, SegmentFile[]>();
  for (const name of fs.readdirSync(dir)) {
    const parsed = parseSegmentName(name);
    if (!parsed) continue;
    const list = chains.get(parsed.chainId) ?? [];
    list.push({ ...parsed, name, path: path.join(dir, name) });
    chains.set(parsed.chainId, list);
  }
  for (const list of chains.values()) list.sort((a, b) => a.index - b.index);
  return new Map([...chains.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The newest chain of an instance (chain ids sort by genesis time), if any. */
export function findInstanceChain(dir: string, instanceId: string): SegmentFile[] | undefined {
  const prefix = `${instanceId}-`;
  let found: SegmentFile[] | undefined;
  for (const [chainId, segments] of listChains(dir)) {
    if (chainId.startsWith(prefix) && /^\d{8}T\d{9}Z$/.test(chainId.slice(prefix.length))) found = segments;
  }
  return found;
}

/** Splits segment bytes into lines, keeping byte offsets (findings cite them). */
export function splitLines(bytes: Buffer): SegmentLine[] {
  const lines: SegmentLine[] = [];
  let start = 0;
  while (start < bytes.length) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl === -1 ? bytes.length : nl;
    lines.push({ offset: start, length: end - start, text: bytes.subarray(start, end).toString('utf8'), complete: nl !== -1 });
    start = end + 1;
  }
  return lines;
}

/** True when a process with this pid exists (EPERM: exists but is not ours). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One writer per instance chain: two processes appending to the same chain would interleave seqs.
 * The lock file names the writer's pid; a lock left by a dead process is taken over.
 */
export function claimInstanceLock(dir: string, instanceId: string): void {
  const file = path.join(dir, `${instanceId}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (holder !== process.pid && processAlive(holder)) {
      throw new AirlockError(
        'AIRLOCK_ERR_AUDIT_WRITE',
        `the audit chain of instance "${instanceId}" in ${dir} is being written by process ${holder}. Fix: stop that airlock, or give this one its own instance_id or audit.dir`,
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new AirlockError('AIRLOCK_ERR_AUDIT_WRITE', `could not take the audit lock ${file}`);
}

export function releaseInstanceLock(dir: string, instanceId: string): void {
  const file = path.join(dir, `${instanceId}.lock`);
  try {
    if (Number.parseInt(fs.readFileSync(file, 'utf8'), 10) === process.pid) fs.rmSync(file, { force: true });
  } catch {
    // Already gone.
  }
}
