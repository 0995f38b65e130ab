// `audit tail`: one readable line per record, and follow mode that polls the live segment for more.

import { promises as fsp } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRecordLine, type AuditRecord } from './chain.js';
import { listChains, splitLines } from './segments.js';
import { visible } from '../terminal-text.js';

/** Long or integrity-only fields are left out of the one-line view (verify checks them). */
const HIDDEN = new Set(['v', 'chain_id', 'seq', 'ts', 'type', 'instance', 'prev_hash', 'hash', 'public_key', 'sig', 'head_hash']);

/**
 * Plain words stay bare; strings with spaces or quotes are JSON-quoted; other values are JSON.
 * Records hold client text (SQL, names): nothing in it may reach the terminal as a control sequence.
 */
function show(value: unknown): string {
  if (typeof value !== 'string') return visible(JSON.stringify(value));
  return /^[^\s"=\\]+$/.test(value) && visible(value) === value ? value : visible(JSON.stringify(value));
}

/** e.g. `2026-01-02T03:04:05.678Z #42 approval.granted request_id=q1 by=["bob@corp.com"] break_glass=false` */
export function formatRecord(record: AuditRecord): string {
  const fields = Object.keys(record).filter((k) => !HIDDEN.has(k)).sort()
    .map((k) => `${k}=${show(record[k])}`);
  return [record.ts, `#${record.seq}`, record.type, ...fields].join(' ');
}

export interface TailOptions {
  /** Keep printing new records until the signal aborts. */
  readonly follow?: boolean;
  /** How many of the existing records to print first (default 20). */
  readonly lines?: number;
  readonly write: (line: string) => void;
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
}

export async function tailAuditDir(dir: string, opts: TailOptions): Promise<void> {
  const consumed = new Map<string, number>();
  const first = await readNew(dir, consumed);
  for (const r of first.slice(-(opts.lines ?? 20))) opts.write(formatRecord(r));
  while (opts.follow && !opts.signal?.aborted) {
    try {
      await sleep(opts.pollMs ?? 500, undefined, { signal: opts.signal });
    } catch {
      return; // aborted
    }
    for (const r of await readNew(dir, consumed)) opts.write(formatRecord(r));
  }
}

/** Complete lines added to any segment since the last call; a partial last line waits for its newline. */
async function readNew(dir: string, consumed: Map<string, number>): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (const segments of listChains(dir).values()) {
    for (const seg of segments) {
      const from = consumed.get(seg.path) ?? 0;
      const fh = await fsp.open(seg.path, 'r');
      try {
        const { size } = await fh.stat();
        if (size <= from) continue;
        const buf = Buffer.alloc(size - from);
        const { bytesRead } = await fh.read(buf, 0, buf.length, from);
        let used = 0;
        for (const line of splitLines(buf.subarray(0, bytesRead))) {
          if (!line.complete) break;
          used = line.offset + line.length + 1;
          const r = parseRecordLine(line.text);
          if (r) out.push(r);
        }
        consumed.set(seg.path, from + used);
      } finally {
        await fh.close();
      }
    }
  }
  return out;
}
