// The auditor's evidence for a period: held requests end to end, break-glass uses, counts, verification.

import fs from 'node:fs';
import { parseRecordLine, type AuditRecord } from './chain.js';
import { CONTROL_MAPPINGS, type ControlMapping } from './controls.js';
import { listChains, splitLines } from './segments.js';
import { verifyAuditDir, type Finding } from './verify.js';

export type RequestDecision = 'approved' | 'denied' | 'expired' | 'cancelled' | 'abandoned' | 'pending';

export interface RequestEntry {
  readonly request_id: string;
  requester?: string;
  client_addr?: string;
  application_name?: string;
  session_id?: string;
  resource?: string;
  rule?: string;
  sql?: string;
  sql_sha256?: string;
  params?: unknown;
  held_at?: string;
  expires_at?: string;
  approvers?: string[];
  min_approvals?: number;
  notified_at?: string;
  votes: Array<{ by: string; via?: string; at: string }>;
  decision: RequestDecision;
  decided_at?: string;
  decided_by: string[];
  reason?: string;
  break_glass?: BreakGlassUse;
  ran_at?: string;
  finished_at?: string;
  outcome?: string;
  command_tag?: string;
  sqlstate?: string;
  errno?: number;
  rows?: number;
  duration_ms?: number;
}

export interface BreakGlassUse {
  readonly request_id: string;
  readonly by: string;
  readonly reason: string;
  readonly review_due?: string;
  readonly at: string;
  readonly requester?: string;
  readonly resource?: string;
}

export interface Report {
  readonly dir: string;
  readonly period: { readonly from: string; readonly to: string };
  readonly generated_at: string;
  readonly requests: RequestEntry[];
  /** Every break-glass use in the period: all await post-incident review. */
  readonly break_glass: BreakGlassUse[];
  readonly counts: {
    readonly by_rule: Record<string, Record<string, number>>;
    readonly by_resource: Record<string, Record<string, number>>;
    readonly by_outcome: Record<string, number>;
  };
  readonly verification: {
    readonly intact: boolean;
    readonly records: { valid: number; total: number };
    readonly checkpoints: { valid: number; total: number };
    readonly findings: Finding[];
  };
  readonly controls: readonly ControlMapping[];
}

export interface ReportPeriod {
  readonly from: Date;
  readonly to: Date;
}

/** Every readable record of every chain in dir, in chain order (damaged lines are verify's business). */
export function readAuditRecords(dir: string): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (const segments of listChains(dir).values()) {
    for (const seg of segments) {
      for (const line of splitLines(fs.readFileSync(seg.path))) {
        const record = line.complete ? parseRecordLine(line.text) : undefined;
        if (record) out.push(record);
      }
    }
  }
  return out;
}

const END_STATES: Partial<Record<string, RequestDecision>> = {
  'approval.granted': 'approved', 'approval.denied': 'denied', 'approval.expired': 'expired',
  'approval.cancelled': 'cancelled', 'approval.abandoned': 'abandoned',
  // The store said approved without the votes for it; the holder cancelled it unrun.
  'approval.rejected': 'cancelled',
};

/** Builds the report for [from, to). Requests are in the period when they were held in it. */
export function buildReport(dir: string, period: ReportPeriod, now: Date = new Date()): Report {
  const all = readAuditRecords(dir);
  const verification = verifyAuditDir(dir);
  const from = period.from.getTime();
  const to = period.to.getTime();
  const inPeriod = (r: AuditRecord): boolean => { const ts = Date.parse(r.ts); return ts >= from && ts < to; };
  const sessions = new Map<string, AuditRecord>();
  for (const r of all) if (r.type === 'session.start' && r.session_id) sessions.set(r.session_id, r);

  const requests = new Map<string, RequestEntry>();
  const entry = (id: string): RequestEntry => {
    let e = requests.get(id);
    if (!e) { e = { request_id: id, votes: [], decision: 'pending', decided_by: [] }; requests.set(id, e); }
    return e;
  };
  const heldInPeriod = new Set(all.filter((r) => r.type === 'request.held' && r.request_id && inPeriod(r)).map((r) => r.request_id!));
  const breakGlass: BreakGlassUse[] = [];
  const counts = { by_rule: {} as Record<string, Record<string, number>>, by_resource: {} as Record<string, Record<string, number>>, by_outcome: {} as Record<string, number> };

  for (const r of all) {
    if (r.type === 'statement.decided' && inPeriod(r)) {
      const decision = String(r.decision ?? 'unknown');
      bump(counts.by_rule, String(r.rule ?? '(no rule)'), decision);
      bump(counts.by_resource, String(r.resource ?? '(unknown)'), decision);
    }
    if (r.type === 'execution.result' && inPeriod(r)) countOutcome(counts.by_outcome, `executed_${String(r.outcome ?? 'unknown')}`);
    const id = r.request_id;
    if (!id || !heldInPeriod.has(id)) continue;
    const e = entry(id);
    applyRecord(e, r, sessions);
    if (r.type === 'breakglass.used') {
      e.break_glass = { request_id: id, by: String(r.by), reason: String(r.reason ?? ''), at: r.ts,
        ...(r.review_due !== undefined ? { review_due: String(r.review_due) } : {}) };
    }
  }
  for (const e of requests.values()) {
    countOutcome(counts.by_outcome, e.decision);
    if (e.break_glass) breakGlass.push({ ...e.break_glass, ...(e.requester ? { requester: e.requester } : {}), ...(e.resource ? { resource: e.resource } : {}) });
  }
  return {
    dir,
    period: { from: period.from.toISOString(), to: period.to.toISOString() },
    generated_at: now.toISOString(),
    requests: [...requests.values()].sort((a, b) => (a.held_at ?? '').localeCompare(b.held_at ?? '')),
    break_glass: breakGlass,
    counts,
    verification: { intact: verification.intact, records: verification.records, checkpoints: verification.checkpoints, findings: verification.findings },
    controls: CONTROL_MAPPINGS,
  };
}

function applyRecord(e: RequestEntry, r: AuditRecord, sessions: Map<string, AuditRecord>): void {
  const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
  if (r.session_id && !e.session_id) {
    e.session_id = r.session_id;
    const s = sessions.get(r.session_id);
    if (s) {
      e.client_addr ??= str(s.client_addr);
      e.application_name ??= str(s.application_name);
      e.requester ??= str(s.requester);
      e.resource ??= str(s.resource);
    }
  }
  switch (r.type) {
    case 'request.held':
      e.held_at = r.ts;
      e.requester = str(r.requester) ?? e.requester;
      e.resource = str(r.resource) ?? e.resource;
      e.rule = str(r.rule);
      e.sql = str(r.sql);
      e.sql_sha256 = str(r.sql_sha256);
      if (r.params !== undefined) e.params = r.params;
      e.expires_at = str(r.expires_at);
      if (Array.isArray(r.approvers)) e.approvers = r.approvers.map(String);
      if (typeof r.min_approvals === 'number') e.min_approvals = r.min_approvals;
      break;
    case 'approval.requested':
      e.notified_at ??= r.ts;
      break;
    case 'approval.vote':
      e.votes.push({ by: String(r.by), at: r.ts, ...(r.via !== undefined ? { via: String(r.via) } : {}) });
      break;
    case 'execution.intent':
      e.ran_at = r.ts;
      break;
    case 'execution.result':
      e.finished_at = r.ts;
      e.outcome = str(r.outcome);
      e.command_tag = str(r.command_tag);
      e.sqlstate = str(r.sqlstate);
      if (typeof r.errno === 'number') e.errno = r.errno;
      if (typeof r.rows === 'number') e.rows = r.rows;
      if (typeof r.duration_ms === 'number') e.duration_ms = r.duration_ms;
      break;
    default: {
      const decision = END_STATES[r.type];
      if (!decision) break;
      e.decision = decision;
      e.decided_at = r.ts;
      e.decided_by = Array.isArray(r.by) ? r.by.map(String) : r.by !== undefined ? [String(r.by)] : [];
      e.reason = str(r.reason);
    }
  }
}

function bump(table: Record<string, Record<string, number>>, key: string, column: string): void {
  const row = (table[key] ??= {});
  row[column] = (row[column] ?? 0) + 1;
}

function countOutcome(table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1;
}
