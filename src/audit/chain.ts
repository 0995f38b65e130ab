// Pure hash chaining: the record envelope, SHA-256 over its canonical form, and the genesis link.

import { hash as digest } from 'node:crypto';
import { canonicalJson, canonicalMembers } from './canonical.js';
import type { AuditType } from './types.js';

export const RECORD_VERSION = 1;
/** prev_hash of the very first record of a chain. */
export const GENESIS_PREV_HASH = '0'.repeat(64);

/** The last record written: the next record gets seq + 1 and prev_hash = hash. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/** Before the genesis record: seqs start at 1. */
export const EMPTY_HEAD: ChainHead = { seq: 0, hash: GENESIS_PREV_HASH };

/** Fields the chain owns; a payload can never overwrite them. */
export const ENVELOPE_KEYS: ReadonlySet<string> = new Set(['v', 'chain_id', 'seq', 'ts', 'type', 'instance', 'prev_hash', 'hash']);

export interface AuditRecord {
  readonly v: number;
  readonly chain_id: string;
  readonly seq: number;
  readonly ts: string;
  readonly type: AuditType;
  readonly instance: string;
  readonly request_id?: string;
  readonly session_id?: string;
  readonly requester?: string;
  readonly resource?: string;
  readonly prev_hash: string;
  readonly hash: string;
  readonly [key: string]: unknown;
}

export interface Envelope {
  readonly chain_id: string;
  readonly instance: string;
  readonly type: AuditType;
  /** UTC RFC 3339 with milliseconds; see formatTimestamp. */
  readonly ts: string;
}

/** UTC RFC 3339 with milliseconds, e.g. 2026-01-02T03:04:05.678Z. */
export function formatTimestamp(date: Date = new Date()): string {
  return date.toISOString();
}

/** SHA-256 hex over the canonical JSON of the record without its `hash` field. */
export function computeRecordHash(record: Readonly<Record<string, unknown>>): string {
  const { hash: _ignored, ...body } = record;
  return digest('sha256', canonicalJson(body), 'hex');
}

/** Links a payload after `head` and seals it with its hash. */
export function sealRecord(head: ChainHead, envelope: Envelope, payload: Readonly<Record<string, unknown>>): AuditRecord {
  return sealRecordLine(head, envelope, payload).record;
}

/**
 * sealRecord and serializeRecord in one pass: each member is encoded once, hashed without `hash`,
 * then the line is the same members with `hash` put in its sorted place. Every allowed statement
 * writes records, so this halves the encoding on the hot path.
 */
export function sealRecordLine(head: ChainHead, envelope: Envelope, payload: Readonly<Record<string, unknown>>): { record: AuditRecord; line: string } {
  const body = linkedBody(head, envelope, payload);
  const members = canonicalMembers(body);
  let at = members.findIndex(([key]) => key > 'hash');
  if (at < 0) at = members.length;
  const before = members.slice(0, at).map((m) => m[1]).join(',');
  const after = members.slice(at).map((m) => m[1]).join(',');
  const sep = before && after ? ',' : '';
  // One-shot hashing: half the cost of createHash for a record-sized input.
  const hash = digest('sha256', `{${before}${sep}${after}}`, 'hex');
  body.hash = hash;
  const line = `{${before}${before ? ',' : ''}"hash":"${hash}"${after ? ',' : ''}${after}}\n`;
  return { record: body as unknown as AuditRecord, line };
}

function linkedBody(head: ChainHead, envelope: Envelope, payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) {
    if (!ENVELOPE_KEYS.has(key) && value !== undefined) body[key] = value;
  }
  Object.assign(body, {
    v: RECORD_VERSION,
    chain_id: envelope.chain_id,
    seq: head.seq + 1,
    ts: envelope.ts,
    type: envelope.type,
    instance: envelope.instance,
    prev_hash: head.hash,
  });
  return body;
}

export function hasValidHash(record: Readonly<Record<string, unknown>>): boolean {
  return typeof record.hash === 'string' && computeRecordHash(record) === record.hash;
}

/** One JSONL line: the canonical form of the whole record plus "\n". */
export function serializeRecord(record: AuditRecord): string {
  return canonicalJson(record) + '\n';
}

/**
 * Parses one line into a record, or undefined when it is not JSON or lacks the envelope fields
 * (the hash is checked separately so the caller can tell "unreadable" from "altered").
 */
export function parseRecordLine(text: string): AuditRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq) || typeof r.hash !== 'string' || typeof r.prev_hash !== 'string'
    || typeof r.type !== 'string' || typeof r.chain_id !== 'string' || typeof r.ts !== 'string') return undefined;
  return r as unknown as AuditRecord;
}
