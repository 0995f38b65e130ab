// Verifying an audit directory: every link, every checkpoint signature, and what checkpoints.log vouches for.

/*
 * Rules (what an auditor can rely on):
 * - Each record's hash must match its content, its prev_hash the stored hash of the record before
 *   it, and its seq be one more. Segments of a chain are numbered 000000, 000001, ...: a gap is a
 *   missing segment.
 * - A checkpoint signs the record just before it (head_seq = own seq - 1, head_hash = own prev_hash)
 *   with the instance's Ed25519 key. Without --pubkey the keys named by the chain's own
 *   chain.genesis / segment.open records are used (detects edits, not a full rewrite by someone
 *   holding a fresh key); with --pubkey only that key is trusted.
 * - The writer ends every segment it closes, and the chain at shutdown, with segment.close and a
 *   checkpoint. So a chain that is not live must end with a valid checkpoint: records after it are an
 *   `unsigned_tail` (a forged record appended with a correct hash is caught here). While the writer
 *   is live (its <chain_id>.live file names a running pid) the tail is reported as info only; a
 *   record forged then breaks the link of the writer's next record.
 * - A chain that is not live must also end the way shutdown ends it (verify-end.ts): its last
 *   segment's segment.close naming no next segment, then the checkpoint. Anything else is
 *   `chain_not_closed`: a writer never restarted after a crash, or a cut right after a checkpoint.
 * - checkpoints.log holds a copy of every checkpoint. One naming a seq past the end of the chain is
 *   `truncated_after_checkpoint`; one naming a record that differs from the chain's is
 *   `checkpoint_head_mismatch`; one whose segment file is gone is `missing_segment`.
 * - chain.recovered records become `torn_tail_recovered` (info: a crash, repaired by design);
 *   a segment.close marked recovered (a crash left the segment open; the restarted writer closed
 *   and signed it) becomes `unclosed_segment_recovered` (info);
 *   chain.break records become `chain_break` (error: damage was found and kept).
 */

import fs from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { AirlockError } from '../errors.js';
import { canonicalJson } from './canonical.js';
import { GENESIS_PREV_HASH, hasValidHash, parseRecordLine, type AuditRecord } from './chain.js';
import { CHECKPOINT_LOG, listChains, liveMarkerPath, processAlive, segmentName, splitLines, type SegmentFile } from './segments.js';
import { keyIdOf, publicKeyFromPem, verifyCheckpoint } from './signing.js';
import { chainEndProblem, chainNotClosedMessage, type EndingRecord } from './verify-end.js';

export type FindingType =
  | 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap' | 'seq_duplicate' | 'malformed_record'
  | 'bad_signature' | 'checkpoint_head_mismatch' | 'missing_segment' | 'truncated_after_checkpoint'
  | 'unsigned_tail' | 'chain_not_closed' | 'missing_checkpoint_log' | 'torn_tail_recovered' | 'unclosed_segment_recovered' | 'chain_break';

export interface Finding {
  readonly type: FindingType;
  /** info findings do not fail verification. */
  readonly severity: 'error' | 'info';
  readonly chain_id?: string;
  readonly segment: string;
  readonly seq?: number;
  readonly offset?: number;
  readonly message: string;
}

export interface ChainSummary {
  readonly chain_id: string;
  readonly segments: number;
  readonly first_seq?: number;
  readonly last_seq?: number;
  readonly live: boolean;
}

export interface VerifyReport {
  readonly dir: string;
  readonly records: { valid: number; total: number };
  readonly checkpoints: { valid: number; total: number };
  readonly findings: Finding[];
  readonly chains: ChainSummary[];
  /** No error finding. */
  readonly intact: boolean;
}

export interface VerifyOptions {
  /** PEM of the only public key to trust for checkpoint signatures. */
  readonly pubkey?: string;
}

interface ChainIndex {
  readonly bySeq: Map<number, { hash: string; segment: string }>;
  lastSeq: number;
  readonly segmentNames: Set<string>;
  /** Keys the chain introduced (genesis / segment.open), or only the trusted one. */
  readonly keyring: Map<string, KeyObject>;
}

/** Exit status for `audit verify`: 0 intact (info findings allowed), 1 findings. 2 is for unreadable. */
export function verifyExitCode(report: VerifyReport): 0 | 1 {
  return report.intact ? 0 : 1;
}

/** Throws AirlockError when the directory or a segment cannot be read, or holds no audit segments. */
export function verifyAuditDir(dir: string, opts: VerifyOptions = {}): VerifyReport {
  let chains: Map<string, SegmentFile[]>;
  try {
    chains = listChains(dir);
  } catch (err) {
    throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `cannot read audit directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (chains.size === 0) throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no audit segments (*.NNNNNN.jsonl) in ${dir}`);
  const trusted = opts.pubkey ? publicKeyFromPem(opts.pubkey) : undefined;
  const state = { records: { valid: 0, total: 0 }, checkpoints: { valid: 0, total: 0 }, findings: [] as Finding[] };
  const summaries: ChainSummary[] = [];
  const indexes = new Map<string, ChainIndex>();
  for (const [chainId, segments] of chains) {
    const marker = readLiveMarker(dir, chainId);
    const live = marker !== undefined && processAlive(Number(marker.pid));
    const index = verifyChain(chainId, segments, live, trusted, state);
    // Deleting the segment being written leaves the closed ones intact: only the marker still names it.
    if (typeof marker?.segment === 'string' && !segments.some((s) => s.name === marker.segment)) {
      state.findings.push({ chain_id: chainId, type: 'missing_segment', severity: 'error', segment: marker.segment,
        message: `the segment the writer ${live ? 'is writing' : 'last wrote'} (named by ${chainId}.live) is missing` });
    }
    indexes.set(chainId, index);
    const seqs = [...index.bySeq.keys()];
    summaries.push({
      chain_id: chainId, segments: segments.length, live,
      ...(seqs.length ? { first_seq: Math.min(...seqs), last_seq: index.lastSeq } : {}),
    });
  }
  verifyCheckpointLog(dir, indexes, summaries, state);
  const intact = !state.findings.some((f) => f.severity === 'error');
  return { dir, ...state, chains: summaries, intact };
}

function readLiveMarker(dir: string, chainId: string): { pid?: unknown; segment?: unknown } | undefined {
  try {
    return JSON.parse(fs.readFileSync(liveMarkerPath(dir, chainId), 'utf8')) as { pid?: unknown; segment?: unknown };
  } catch {
    return undefined;
  }
}

function readSegment(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `cannot read audit segment ${file}: ${(err as Error).message}`, { cause: err });
  }
}

type State = { records: { valid: number; total: number }; checkpoints: { valid: number; total: number }; findings: Finding[] };

function verifyChain(chainId: string, segments: readonly SegmentFile[], live: boolean, trusted: KeyObject | undefined, state: State): ChainIndex {
  const keyring = new Map<string, KeyObject>();
  const index: ChainIndex = { bySeq: new Map(), lastSeq: 0, segmentNames: new Set(segments.map((s) => s.name)), keyring };
  if (trusted) keyring.set(keyIdOf(trusted), trusted);
  const add = (f: Omit<Finding, 'chain_id'>): void => { state.findings.push({ chain_id: chainId, ...f }); };
  let expected: { seq: number; hash: string } | undefined;
  let lastSigned = 0;
  let tailStart: { seq: number; offset: number; segment: string } | undefined;
  let nextIndex = 0;
  let ending: EndingRecord[] = [];
  for (const [i, seg] of segments.entries()) {
    ending = [];
    for (; nextIndex < seg.index; nextIndex++) {
      add({ type: 'missing_segment', severity: 'error', segment: segmentName(chainId, nextIndex), message: 'segment file is missing' });
      expected = undefined;
    }
    nextIndex = seg.index + 1;
    const lines = splitLines(readSegment(seg.path));
    for (const [j, line] of lines.entries()) {
      const at = { segment: seg.name, offset: line.offset };
      // A live writer may be between write() calls; its last partial line is not a record yet.
      if (live && !line.complete && i === segments.length - 1 && j === lines.length - 1) continue;
      state.records.total++;
      const r = parseRecordLine(line.text);
      ending = [...ending.slice(-1), { ...(r ? { record: r, seq: r.seq } : {}), offset: line.offset }];
      if (!r) {
        add({ type: 'malformed_record', severity: 'error', ...at, message: line.complete ? 'line is not an audit record' : 'last line is cut short (no newline)' });
        expected = undefined;
        continue;
      }
      let ok = true;
      const seqAt = { ...at, seq: r.seq };
      // JSON.parse forgives whitespace and escapes; the writer never writes them, so neither may the file.
      if (!line.complete || canonicalOrUndefined(r) !== line.text) {
        ok = false;
        add({ type: 'malformed_record', severity: 'error', ...seqAt, message: line.complete ? 'record is not in canonical JSON form' : 'last line has no newline' });
      }
      if (!hasValidHash(r) || r.chain_id !== chainId) {
        ok = false;
        add({ type: 'hash_mismatch', severity: 'error', ...seqAt, message: r.chain_id !== chainId ? `record names chain ${r.chain_id}` : 'hash does not match the record content' });
      }
      const want = expected ?? (seg.index === 0 && j === 0 ? { seq: 0, hash: GENESIS_PREV_HASH } : undefined);
      if (want) {
        if (r.seq !== want.seq + 1) {
          ok = false;
          add(r.seq > want.seq + 1
            ? { type: 'seq_gap', severity: 'error', ...seqAt, message: `expected seq ${want.seq + 1}, found ${r.seq}` }
            : { type: 'seq_duplicate', severity: 'error', ...seqAt, message: `seq ${r.seq} follows seq ${want.seq}` });
        }
        if (r.prev_hash !== want.hash) {
          ok = false;
          add({ type: 'prev_hash_mismatch', severity: 'error', ...seqAt, message: `prev_hash does not match the hash of seq ${want.seq}` });
        }
      }
      expected = { seq: r.seq, hash: r.hash };
      if (!index.bySeq.has(r.seq)) index.bySeq.set(r.seq, { hash: r.hash, segment: seg.name });
      index.lastSeq = r.seq;
      if (ok && !trusted && (r.type === 'chain.genesis' || r.type === 'segment.open')) learnKey(keyring, r);
      if (r.type === 'checkpoint') {
        state.checkpoints.total++;
        const problem = checkpointProblem(r, chainId, keyring);
        if (problem) add({ ...problem, severity: 'error', ...seqAt });
        else if (ok) {
          state.checkpoints.valid++;
          lastSigned = r.seq;
          tailStart = undefined;
        }
      } else if (r.type === 'chain.recovered') {
        add({ type: 'torn_tail_recovered', severity: 'info', segment: String(r.segment ?? seg.name), seq: r.seq, offset: Number(r.offset),
          message: `a torn last line of ${String(r.length)} bytes was cut off after a crash (recorded at seq ${r.seq}, kept in ${String(r.quarantine)})` });
      } else if (r.type === 'segment.close' && r.recovered === true) {
        add({ type: 'unclosed_segment_recovered', severity: 'info', segment: String(r.segment ?? seg.name), seq: r.seq,
          message: `the writer stopped without closing ${String(r.segment ?? seg.name)} (a crash); it was closed and signed at restart (recorded at seq ${r.seq})` });
      } else if (r.type === 'chain.break') {
        add({ type: 'chain_break', severity: 'error', segment: String(r.segment ?? seg.name), seq: r.seq, offset: Number(r.offset),
          message: `the writer found damage at open and started a new segment: ${String(r.reason)}` });
      }
      if (r.seq > lastSigned && !tailStart) tailStart = seqAt;
      if (ok) state.records.valid++;
    }
  }
  if (tailStart && index.lastSeq > lastSigned) {
    add({ type: 'unsigned_tail', severity: live ? 'info' : 'error', ...tailStart,
      message: live ? `records after seq ${lastSigned} await the live writer's next checkpoint`
        : `records ${tailStart.seq}..${index.lastSeq} follow the last valid checkpoint (seq ${lastSigned}); a cleanly closed chain ends with a checkpoint` });
  }
  const lastSegment = segments.at(-1);
  const endProblem = lastSegment && !live ? chainEndProblem(lastSegment.name, ending) : undefined;
  if (lastSegment && endProblem) {
    const at = ending.at(-1);
    add({ type: 'chain_not_closed', severity: 'error', segment: lastSegment.name, ...(at?.seq !== undefined ? { seq: at.seq } : {}),
      ...(at ? { offset: at.offset } : {}), message: chainNotClosedMessage(endProblem) });
  }
  return index;
}

function canonicalOrUndefined(r: AuditRecord): string | undefined {
  try {
    return canonicalJson(r);
  } catch {
    return undefined;
  }
}

function learnKey(keyring: Map<string, KeyObject>, r: AuditRecord): void {
  try {
    const key = publicKeyFromPem(String(r.public_key));
    if (keyIdOf(key) === r.key_id) keyring.set(r.key_id, key);
  } catch {
    // A record naming an unusable key just leaves its checkpoints unverifiable (bad_signature).
  }
}

function checkpointProblem(r: AuditRecord, chainId: string, keyring: Map<string, KeyObject>): Pick<Finding, 'type' | 'message'> | undefined {
  const key = keyring.get(String(r.key_id));
  if (!key) return { type: 'bad_signature', message: `checkpoint signed with key ${String(r.key_id)}, which is not trusted` };
  const body = { chain_id: chainId, segment: String(r.segment), head_seq: Number(r.head_seq), head_hash: String(r.head_hash), ts: r.ts, key_id: String(r.key_id) };
  if (!verifyCheckpoint(key, body, String(r.sig))) return { type: 'bad_signature', message: 'checkpoint signature does not verify' };
  if (r.head_seq !== r.seq - 1 || r.head_hash !== r.prev_hash) {
    return { type: 'checkpoint_head_mismatch', message: `checkpoint signs seq ${String(r.head_seq)}, not the record before it` };
  }
  return undefined;
}

function verifyCheckpointLog(dir: string, indexes: Map<string, ChainIndex>, summaries: ChainSummary[], state: State): void {
  const file = path.join(dir, CHECKPOINT_LOG);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    if (state.checkpoints.total > 0) {
      state.findings.push({ type: 'missing_checkpoint_log', severity: summaries.every((s) => s.live) ? 'info' : 'error', segment: CHECKPOINT_LOG,
        message: 'the chain has checkpoints but checkpoints.log is missing, so tail truncation cannot be checked' });
    }
    return;
  }
  const lines = splitLines(bytes);
  const anyLive = summaries.some((s) => s.live);
  for (const [i, line] of lines.entries()) {
    // A live writer may be between write() calls; its last partial line is not a record yet.
    if (anyLive && !line.complete && i === lines.length - 1) continue;
    const at = { segment: CHECKPOINT_LOG, offset: line.offset };
    const r = parseRecordLine(line.text);
    if (!r || r.type !== 'checkpoint' || !hasValidHash(r)) {
      state.findings.push({ type: 'malformed_record', severity: 'error', ...at, message: 'line is not a sealed checkpoint record' });
      continue;
    }
    // As in segments: the writer writes canonical lines ending in a newline; JSON.parse forgives more.
    if (!line.complete || canonicalOrUndefined(r) !== line.text) {
      state.findings.push({ type: 'malformed_record', severity: 'error', ...at, seq: r.seq, message: line.complete ? 'checkpoint line is not in canonical JSON form' : 'last line has no newline' });
    }
    const add = (type: FindingType, message: string): void => { state.findings.push({ type, severity: 'error', chain_id: r.chain_id, ...at, seq: r.seq, message }); };
    const index = indexes.get(r.chain_id);
    if (!index) {
      state.checkpoints.total++;
      add('missing_segment', `checkpoints.log names chain ${r.chain_id}, of which no segment is left`);
      continue;
    }
    const inChain = index.bySeq.get(r.seq);
    if (inChain?.hash === r.hash) continue; // the same checkpoint, already counted and checked in the chain
    state.checkpoints.total++;
    const problem = checkpointProblem(r, r.chain_id, index.keyring);
    if (problem) { add(problem.type, `checkpoints.log: ${problem.message}`); continue; }
    // A checkpoint the log vouches for but the chain does not hold: the chain was cut or rewritten.
    if (!index.segmentNames.has(String(r.segment))) {
      add('missing_segment', `checkpoints.log names seq ${r.seq} in ${String(r.segment)}, which is missing`);
    } else if (inChain) {
      add('checkpoint_head_mismatch', `checkpoints.log has a different record at seq ${r.seq} than the chain`);
    } else if (r.seq > index.lastSeq) {
      add('truncated_after_checkpoint', `checkpoints.log names seq ${r.seq} but the chain ends at seq ${index.lastSeq}`);
    } else {
      add('checkpoint_head_mismatch', `checkpoints.log names seq ${r.seq}, which the chain does not hold`);
    }
  }
}
