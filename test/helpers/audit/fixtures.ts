// Shared by the audit tests: a writer in a fresh directory, segment reading and rewriting helpers.

import fs from 'node:fs';
import path from 'node:path';
import { AuditWriter, type AuditWriterOptions } from '../../../src/audit/writer.js';
import { computeRecordHash, type AuditRecord } from '../../../src/audit/chain.js';
import { canonicalJson } from '../../../src/audit/canonical.js';
import { listChains } from '../../../src/audit/segments.js';

export function writerOptions(dir: string, extra: Partial<AuditWriterOptions> = {}): AuditWriterOptions {
  return {
    dir,
    instanceId: 'test-1',
    signingKeyFile: path.join(dir, 'signing-key.pem'),
    checkpointIntervalMs: 3_600_000,
    checkpointRecords: 1000,
    rotateBytes: 10 * 1024 * 1024,
    rotateAgeMs: 24 * 3_600_000,
    ...extra,
  };
}

export async function openWriter(dir: string, extra: Partial<AuditWriterOptions> = {}): Promise<AuditWriter> {
  return AuditWriter.open(writerOptions(dir, extra));
}

/** Segment paths of the only chain in dir, in order. */
export function segmentPaths(dir: string): string[] {
  const chains = [...listChains(dir).values()];
  if (chains.length !== 1) throw new Error(`expected one chain in ${dir}, found ${chains.length}`);
  return chains[0]!.map((s) => s.path);
}

export function readRecords(file: string): AuditRecord[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord);
}

/** Rewrites a (possibly read-only) segment from records; `rehash` recomputes each changed record's hash. */
export function writeRecords(file: string, records: readonly Record<string, unknown>[]): void {
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, records.map((r) => canonicalJson(r) + '\n').join(''));
}

export function rehash(record: Record<string, unknown>): Record<string, unknown> {
  return { ...record, hash: computeRecordHash(record) };
}

export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}
