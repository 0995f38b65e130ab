// The audit report as Markdown (reads well as-is), CSV (one row per held request) or JSON.

import type { Report, RequestEntry } from './report.js';

export type ReportFormat = 'md' | 'csv' | 'json';

export function renderReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'md': return renderMarkdown(report);
    case 'csv': return renderCsv(report);
    case 'json': return JSON.stringify(report, null, 2) + '\n';
  }
}

function statement(e: RequestEntry): string {
  return e.sql ?? (e.sql_sha256 ? `sha256:${e.sql_sha256}` : '');
}

function approvedBy(e: RequestEntry): string {
  return e.decided_by.join(', ');
}

function result(e: RequestEntry): string {
  if (!e.outcome) return e.decision === 'approved' ? 'not run' : '';
  const detail = [e.command_tag, e.sqlstate && `SQLSTATE ${e.sqlstate}`, e.errno !== undefined && `errno ${e.errno}`,
    e.rows !== undefined && `${e.rows} rows`, e.duration_ms !== undefined && `${e.duration_ms} ms`].filter(Boolean).join(', ');
  return detail ? `${e.outcome} (${detail})` : e.outcome;
}

/** Table cells: no pipes or newlines may break the row. */
function cell(text: string | number | undefined): string {
  return String(text ?? '').replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Line breaks change what SQL means (a -- comment ends at one): shown as ⏎ in a table cell. */
function code(text: string): string {
  const oneLine = text.replace(/\r?\n/g, ' ⏎ ');
  return oneLine === '' ? '' : oneLine.includes('`') ? cell(oneLine) : `\`${cell(oneLine)}\``;
}

/** Multi-line SQL is also given whole, exactly as sent, in a fenced block longer than any fence inside it. */
function fencedSql(text: string): string[] {
  if (!/[\r\n]/.test(text)) return [];
  const longest = Math.max(2, ...(text.match(/~+/g) ?? []).map((f) => f.length));
  const fence = '~'.repeat(longest + 1);
  return [`${fence}sql`, text, fence, ''];
}

export function renderMarkdown(r: Report): string {
  const out: string[] = [];
  const v = r.verification;
  out.push(`# airlock audit report`, '',
    `Period: ${r.period.from} to ${r.period.to} (UTC, end exclusive). Generated ${r.generated_at} from \`${r.dir}\`.`, '',
    `Trail verification: **${v.intact ? 'intact' : 'FINDINGS'}** — ${v.records.valid}/${v.records.total} records valid, ${v.checkpoints.valid}/${v.checkpoints.total} checkpoints valid.`, '');

  out.push(`## Held requests (${r.requests.length})`, '');
  if (r.requests.length === 0) out.push('No statement was held for approval in this period.', '');
  for (const e of r.requests) {
    out.push(`### ${e.request_id}${e.break_glass ? ' — BREAK-GLASS' : ''}`, '', '| | |', '|---|---|');
    const rows: Array<[string, string]> = [
      ['Requester', cell(e.requester)],
      ['From', cell([e.client_addr, e.application_name && `(${e.application_name})`].filter(Boolean).join(' '))],
      ['Session', cell(e.session_id)],
      ['Resource', cell(e.resource)],
      ['Rule', cell(e.rule)],
      ['Statement', code(statement(e))],
      ['Held at', cell(e.held_at)],
      ['Approvers required', cell(e.min_approvals !== undefined ? `${e.min_approvals} of ${(e.approvers ?? []).join(', ')}` : '')],
      ['Expires', cell(e.expires_at)],
      ['Votes', cell(e.votes.map((x) => `${x.by} at ${x.at}${x.via ? ` via ${x.via}` : ''}`).join('; '))],
      ['Decision', cell(`${e.decision}${e.decided_at ? ` at ${e.decided_at}` : ''}${e.decided_by.length ? ` by ${approvedBy(e)}` : ''}${e.reason ? ` (${e.reason})` : ''}`)],
      ['Break-glass', cell(e.break_glass ? `yes, by ${e.break_glass.by}: ${e.break_glass.reason}` : 'no')],
      ['Ran at', cell(e.ran_at)],
      ['Outcome', cell(result(e))],
    ];
    for (const [k, val] of rows) out.push(`| ${k} | ${val} |`);
    out.push('', ...fencedSql(statement(e)));
  }

  out.push(`## Break-glass awaiting review (${r.break_glass.length})`, '');
  if (r.break_glass.length === 0) out.push('No break-glass use in this period.', '');
  else {
    out.push('| Request | By | When | Reason | Requester | Resource | Review due |', '|---|---|---|---|---|---|---|');
    for (const b of r.break_glass) out.push(`| ${cell(b.request_id)} | ${cell(b.by)} | ${cell(b.at)} | ${cell(b.reason)} | ${cell(b.requester)} | ${cell(b.resource)} | ${cell(b.review_due)} |`);
    out.push('');
  }

  out.push('## Decisions by rule', '', ...countTable('Rule', r.counts.by_rule), '', '## Decisions by resource', '', ...countTable('Resource', r.counts.by_resource), '');
  out.push('## Outcomes', '', '| Outcome | Count |', '|---|---|');
  for (const [k, n] of Object.entries(r.counts.by_outcome).sort()) out.push(`| ${cell(k)} | ${n} |`);
  out.push('');

  out.push('## Verification', '', `${v.records.valid}/${v.records.total} records valid, ${v.checkpoints.valid}/${v.checkpoints.total} checkpoints valid.`, '');
  if (v.findings.length === 0) out.push('No findings.', '');
  else {
    out.push('| Finding | Severity | Segment | Seq | Byte offset | Detail |', '|---|---|---|---|---|---|');
    for (const f of v.findings) out.push(`| ${f.type} | ${f.severity} | ${cell(f.segment)} | ${cell(f.seq)} | ${cell(f.offset)} | ${cell(f.message)} |`);
    out.push('');
  }

  out.push('## Control mapping', '', '| Framework | Control | Title | Evidence in this report |', '|---|---|---|---|');
  for (const c of r.controls) out.push(`| ${c.framework} | ${c.control} | ${cell(c.title)} | ${cell(c.evidence)} |`);
  out.push('');
  return out.join('\n');
}

function countTable(label: string, table: Record<string, Record<string, number>>): string[] {
  const keys = Object.keys(table).sort();
  if (keys.length === 0) return ['No statements decided in this period.'];
  const lines = [`| ${label} | allow | deny | hold |`, '|---|---|---|---|'];
  for (const k of keys) lines.push(`| ${cell(k)} | ${table[k]!.allow ?? 0} | ${table[k]!.deny ?? 0} | ${table[k]!.hold ?? 0} |`);
  return lines;
}

const CSV_COLUMNS: ReadonlyArray<[string, (e: RequestEntry) => string | number | undefined]> = [
  ['request_id', (e) => e.request_id], ['requester', (e) => e.requester], ['client_addr', (e) => e.client_addr],
  ['application_name', (e) => e.application_name], ['session_id', (e) => e.session_id], ['resource', (e) => e.resource],
  ['rule', (e) => e.rule], ['sql', (e) => e.sql], ['sql_sha256', (e) => e.sql_sha256], ['held_at', (e) => e.held_at],
  ['expires_at', (e) => e.expires_at], ['min_approvals', (e) => e.min_approvals], ['decision', (e) => e.decision],
  ['decided_at', (e) => e.decided_at], ['decided_by', (e) => e.decided_by.join(';')], ['reason', (e) => e.reason],
  ['break_glass', (e) => (e.break_glass ? 'yes' : 'no')], ['break_glass_by', (e) => e.break_glass?.by],
  ['break_glass_reason', (e) => e.break_glass?.reason], ['ran_at', (e) => e.ran_at], ['outcome', (e) => e.outcome],
  ['command_tag', (e) => e.command_tag], ['sqlstate', (e) => e.sqlstate], ['errno', (e) => e.errno], ['rows', (e) => e.rows],
  ['duration_ms', (e) => e.duration_ms],
];

/**
 * RFC 4180 quoting. A cell starting with = + - @ is prefixed with ' so a spreadsheet shows it as
 * text instead of running it as a formula (SQL and reasons are attacker-controlled).
 */
function csvCell(value: string | number | undefined): string {
  let text = String(value ?? '');
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function renderCsv(r: Report): string {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')];
  for (const e of r.requests) lines.push(CSV_COLUMNS.map(([, get]) => csvCell(get(e))).join(','));
  return lines.join('\r\n') + '\r\n';
}
