// How a chain that no writer holds must end: the closing records the writer writes at shutdown.

/*
 * Every checkpoint is signed, so a chain cut right after any of them (an interval checkpoint, or the
 * close of a rotated segment with the segments after it deleted), with checkpoints.log cut to match,
 * passes every link and signature rule. What the cut cannot leave is the end a writer leaves:
 * - clean shutdown (AuditWriter.close): segment.close of the segment being written, naming no
 *   next_segment, then a checkpoint of that segment signing the close;
 * - rotation and crash recovery also write segment.close + checkpoint, but their close names the
 *   next_segment the chain goes on in, and that segment then starts with segment.open;
 * - a crash (SIGKILL, power loss, a failed writer) ends the segment anywhere; the restarted writer
 *   closes it (recovered) and goes on, so only a writer never restarted leaves such an end.
 * Chains written before next_segment existed show their rotation closes like shutdown closes: a
 * cut at a rotation boundary in them is not detectable, a cut at any other checkpoint is.
 */

import type { AuditRecord } from './chain.js';

/** The last records of a segment as verify saw them; record is undefined for an unreadable line. */
export interface EndingRecord {
  readonly record?: AuditRecord;
  readonly seq?: number;
  readonly offset: number;
}

/** Why the last segment does not end with the shutdown closing records, or undefined when it does. */
export function chainEndProblem(segment: string, ending: readonly EndingRecord[]): string | undefined {
  const last = ending.at(-1);
  const close = ending.at(-2)?.record;
  const cp = last?.record;
  if (!last) return `the last segment ${segment} is empty`;
  if (!cp) return `the last line of ${segment} is not a record`;
  if (cp.type !== 'checkpoint') return `the last record (seq ${cp.seq}) is ${cp.type}, not the checkpoint that ends a closed chain`;
  if (close?.type !== 'segment.close') return `the last checkpoint (seq ${cp.seq}) does not follow a segment.close`;
  if (close.segment !== segment || cp.segment !== segment) return `the closing records at seq ${close.seq} name segment ${String(close.segment)}, not ${segment}`;
  if (close.next_segment !== undefined) {
    return `segment.close at seq ${close.seq} says the chain goes on in ${String(close.next_segment)}, which is missing`;
  }
  return undefined;
}

export function chainNotClosedMessage(problem: string): string {
  return `the chain ends without its closing records (${problem}): either the writer crashed and was never restarted `
    + '(restart airlock to close it), or records after a checkpoint were removed';
}
