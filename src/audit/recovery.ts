// What a writer finds at open: the chain head, a torn last line to cut off, or damage to report.

import fs from 'node:fs';
import { EMPTY_HEAD, hasValidHash, parseRecordLine, type AuditRecord, type ChainHead } from './chain.js';
import { splitLines, type SegmentFile } from './segments.js';

export interface TornTail {
  /** Byte offset where the torn bytes start; the segment is cut back to it. */
  readonly offset: number;
  readonly bytes: Buffer;
}

export interface Damage {
  readonly offset: number;
  readonly seq?: number;
  readonly reason: string;
}

export interface TailState {
  /** Last record whose own hash holds: the chain continues after it. */
  readonly head: ChainHead;
  readonly newest: SegmentFile;
  /** Valid records left in the newest segment once a torn tail is cut. */
  readonly records: number;
  /** The newest segment already ends with segment.close (and its checkpoint). */
  readonly closed: boolean;
  readonly torn?: TornTail;
  /** A bad record before the tail: tampering or media damage, reported and never repaired. */
  readonly damage?: Damage;
}

interface ParsedLine {
  readonly offset: number;
  readonly record?: AuditRecord;
  readonly hashOk: boolean;
}

/**
 * Scans the newest segment of a chain. Only the last line can be torn by a crash, because each
 * batch is one append followed by fsync; bytes after the last "\n", or a last line that is not a
 * record at all, are that torn write. Anything wrong before it was not done by a crash.
 */
export function scanChainTail(segments: readonly SegmentFile[]): TailState {
  const newest = segments[segments.length - 1]!;
  const bytes = fs.readFileSync(newest.path);
  const lines = splitLines(bytes);
  let torn: TornTail | undefined;
  const last = lines[lines.length - 1];
  if (last && (!last.complete || parseRecordLine(last.text) === undefined)) {
    torn = { offset: last.offset, bytes: bytes.subarray(last.offset) };
    lines.pop();
  }
  const parsed: ParsedLine[] = lines.map((line) => {
    const record = parseRecordLine(line.text);
    return { offset: line.offset, record, hashOk: record !== undefined && hasValidHash(record) };
  });

  const previousHead = segments.length > 1 ? lastValidRecord(segments[segments.length - 2]!) : undefined;
  let damage: Damage | undefined;
  let expected: ChainHead | undefined = previousHead ? { seq: previousHead.seq, hash: previousHead.hash } : undefined;
  for (const line of parsed) {
    const r = line.record;
    if (!r) { damage ??= { offset: line.offset, reason: 'line is not an audit record' }; expected = undefined; continue; }
    if (!line.hashOk) damage ??= { offset: line.offset, seq: r.seq, reason: 'record hash does not match its content' };
    else if (expected && (r.seq !== expected.seq + 1 || r.prev_hash !== expected.hash)) {
      damage ??= { offset: line.offset, seq: r.seq, reason: `record does not link to seq ${expected.seq}` };
    }
    expected = { seq: r.seq, hash: r.hash };
  }

  const valid = parsed.filter((p) => p.hashOk).map((p) => p.record!);
  const lastValid = valid[valid.length - 1];
  const head: ChainHead = lastValid ? { seq: lastValid.seq, hash: lastValid.hash }
    : previousHead ? { seq: previousHead.seq, hash: previousHead.hash } : EMPTY_HEAD;
  const types = valid.map((r) => r.type);
  const closed = types[types.length - 1] === 'segment.close'
    || (types[types.length - 1] === 'checkpoint' && types[types.length - 2] === 'segment.close');
  return { head, newest, records: valid.length, closed, ...(torn ? { torn } : {}), ...(damage ? { damage } : {}) };
}

function lastValidRecord(segment: SegmentFile): AuditRecord | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(segment.path);
  } catch {
    return undefined;
  }
  const lines = splitLines(bytes);
  for (let i = lines.length - 1; i >= 0; i--) {
    const record = parseRecordLine(lines[i]!.text);
    if (record && hasValidHash(record)) return record;
  }
  return undefined;
}
