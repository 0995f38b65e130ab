// Block Kit for approval requests: the channel message, the reason modal and the requester's DM (pure).

import { createHash } from 'node:crypto';
import type { ApprovalRequest, ApprovalVote } from '../types.js';
import { visible } from '../../terminal-text.js';
import { redactSqlSecrets } from '../../audit/sql-secrets.js';

/** action_id of each button; the button's value is only the request id, a lookup key. */
export const ACTION = { approve: 'airlock_approve', deny: 'airlock_deny', force: 'airlock_force' } as const;
/** callback_id of the reason modals opened by Deny and Break glass. */
export const VIEW = { deny: 'airlock_deny_reason', force: 'airlock_force_reason' } as const;
export const REASON_BLOCK = 'airlock_reason';
export const REASON_ACTION = 'reason';
export const REASON_MAX_CHARS = 500;

/** Escaped characters of SQL shown; Slack refuses sections over 3000 and messages over ~13k. */
export const SQL_BUDGET = 2500;
const PARAMS_BUDGET = 2500;
const PARAM_BUDGET = 200;

export interface MessageContext {
  /** Display name of the requester from users.yaml, when known. */
  readonly requesterName?: string;
  /** The upstream database behind the resource, when the caller can tell. */
  readonly database?: string;
}

export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly Block[];
}

/** Block Kit objects are plain JSON; typed loosely on purpose (Slack validates them). */
export type Block = Record<string, unknown>;

/** mrkdwn treats &, < and > as control characters (`<!channel>`, links): user text must not. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface Excerpt {
  /** Escaped and cut to the budget, ready for mrkdwn. */
  readonly shown: string;
  readonly truncated: boolean;
}

/**
 * Escapes text and cuts it so the *escaped* form fits the budget: escaping can grow text
 * fivefold, so cutting before escaping would not bound the block size.
 */
export function escapedExcerpt(text: string, budget: number): Excerpt {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    let ch = text[i]!;
    const code = ch.charCodeAt(0);
    // Keep surrogate pairs whole so a cut never leaves half a character.
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) ch += text[++i]!;
    // A carriage return or a bidi override would make Slack draw a different statement than the one held.
    const piece = escapeMrkdwn(ch === '\n' || ch === '\t' ? ch : visible(ch));
    if (out.length + piece.length > budget) return { shown: out, truncated: true };
    out += piece;
  }
  return { shown: out, truncated: false };
}

/** A ``` inside the SQL would close the code block early; a zero-width space keeps it inert. */
function fenceSafe(text: string): string {
  return text.replace(/```/g, '`\u200b`\u200b`');
}

export interface SqlView {
  readonly block: string;
  readonly truncated: boolean;
  readonly length: number;
  readonly sha256: string;
}

export function sqlView(sql: string, budget = SQL_BUDGET): SqlView {
  // A channel is no place for a password literal; the SHA-256 below is still of the statement as sent.
  const { shown, truncated } = escapedExcerpt(redactSqlSecrets(sql).text, budget);
  return {
    block: '```' + fenceSafe(shown) + (truncated ? '\n…' : '') + '```',
    truncated,
    length: sql.length,
    sha256: createHash('sha256').update(sql, 'utf8').digest('hex'),
  };
}

/** Parameters as SQL literals, one a line, so NULL and the empty string look different. */
export function paramsView(params: readonly (string | null)[], protocol: ApprovalRequest['protocol']): string {
  const lines: string[] = [];
  let used = 0;
  for (let i = 0; i < params.length; i++) {
    const value = params[i];
    const label = protocol === 'postgres' ? `$${i + 1}` : `?${i + 1}`;
    let literal: string;
    if (value === null || value === undefined) literal = 'NULL';
    else {
      const cut = escapedExcerpt(value.replace(/'/g, "''"), PARAM_BUDGET);
      literal = `'${cut.shown}'${cut.truncated ? `… (${value.length} chars)` : ''}`;
    }
    const line = `${label} = ${fenceSafe(literal)}`;
    if (used + line.length > PARAMS_BUDGET) {
      lines.push(`… and ${params.length - i} more`);
      break;
    }
    lines.push(line);
    used += line.length + 1;
  }
  return '```' + lines.join('\n') + '```';
}

/** `<!date^…>` renders in each reader's time zone; the fallback is ISO UTC. */
export function slackDate(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${new Date(ms).toISOString()}>`;
}

export function formatDuration(ms: number): string {
  const totalMinutes = Math.round(ms / 60_000);
  if (totalMinutes < 1) return `${Math.round(ms / 1000)}s`;
  const h = Math.floor(totalMinutes / 60);
  const m = totalMinutes % 60;
  return h === 0 ? `${m}m` : m === 0 ? `${h}h` : `${h}h${m}m`;
}

function voteLine(verb: string, vote: ApprovalVote): string {
  const reason = vote.reason ? `: ${escapedExcerpt(vote.reason, REASON_MAX_CHARS).shown}` : '';
  return `${verb} by ${escapeMrkdwn(vote.by)} (via ${vote.via}) at ${slackDate(vote.at)}${reason}`;
}

/** One line saying where the request stands and who did what, when. */
export function statusLine(req: ApprovalRequest): string {
  const votes = req.approvals.map((v) => voteLine('approved', v));
  const need = `${req.approvals.length} of ${req.approval.min_approvals} approvals`;
  const finalAt = req.final_at ? ` at ${slackDate(req.final_at)}` : '';
  const finalReason = req.final_reason ? ` (${escapedExcerpt(req.final_reason, REASON_MAX_CHARS).shown})` : '';
  const approvedBy = req.break_glass
    ? `:rotating_light: *BREAK GLASS* ${voteLine('forced', req.break_glass)}`
    : `:white_check_mark: *Approved*: ${votes.join('; ')}`;
  switch (req.state) {
    case 'pending':
      return [`:hourglass_flowing_sand: *Pending*: ${need}`, ...votes].join('\n');
    case 'approved':
      return approvedBy;
    case 'executed':
      return `${approvedBy}\n:arrow_forward: *Executed*${finalAt}`;
    case 'denied':
      return `:no_entry: *Denied* ${req.denial ? voteLine('', req.denial).trimStart() : finalAt}`;
    case 'expired':
      return `:alarm_clock: *Expired* unanswered${finalAt} (${need})`;
    case 'cancelled':
      return `:no_entry_sign: *Cancelled*${finalAt}${finalReason}`;
    case 'abandoned':
      return `:ghost: *Abandoned*${finalAt}: the airlock replica holding the connection went away${finalReason}`;
  }
}

function field(label: string, value: string): Block {
  return { type: 'mrkdwn', text: `*${label}*\n${value}` };
}

/** The channel message; buttons only while the request is pending. */
export function approvalMessage(req: ApprovalRequest, ctx: MessageContext = {}): SlackMessage {
  const spec = req.approval;
  const who = ctx.requesterName
    ? `${escapeMrkdwn(ctx.requesterName)} <mailto:${escapeMrkdwn(req.requester.email)}|${escapeMrkdwn(req.requester.email)}>`
    : escapeMrkdwn(req.requester.email);
  const groups = req.requester.groups.length ? escapeMrkdwn(req.requester.groups.join(', ')) : '_none_';
  const target = ctx.database
    ? `${escapeMrkdwn(req.resource)} (database \`${escapeMrkdwn(ctx.database)}\`, ${req.protocol})`
    : `${escapeMrkdwn(req.resource)} (${req.protocol})`;
  const approvers =
    `${req.approvals.length} of ${spec.min_approvals} from ${escapeMrkdwn(spec.approvers.join(', '))}` +
    (spec.all_groups_must_approve ? ' (one from each group)' : '');
  const fields: Block[] = [
    field('Requester', `${who}\nGroups: ${groups}`),
    field('Resource', target),
    field('Rule', escapeMrkdwn(req.rule)),
    field('Approvals', approvers),
    field('Expires', slackDate(req.expires_at)),
  ];
  if (spec.mode === 'jit') {
    fields.push(field('Access', `JIT for ${spec.jit_duration_ms ? formatDuration(spec.jit_duration_ms) : 'the rule duration'}`));
  }
  if (spec.force_approvers.length) fields.push(field('Break glass', escapeMrkdwn(spec.force_approvers.join(', '))));

  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: req.sql ? 'Statement held for approval' : 'Access requested', emoji: true } },
    { type: 'section', fields },
  ];
  let sha = '';
  if (req.sql) {
    const sql = sqlView(req.sql);
    sha = sql.sha256;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*SQL*\n${sql.block}` } });
    if (sql.truncated) {
      blocks.push({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `SQL truncated: ${sql.length} characters in full, SHA-256 \`${sql.sha256}\`` }],
      });
    }
  }
  if (req.params.length) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Parameters*\n${paramsView(req.params, req.protocol)}` } });
  }
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: statusLine(req) } });
  blocks.push({
    type: 'context',
    elements: [
      { type: 'mrkdwn', text: `Request \`${escapeMrkdwn(req.id)}\` · instance ${escapeMrkdwn(req.instance_id)}${sha ? ` · sha256 ${sha.slice(0, 16)}` : ''}` },
    ],
  });
  if (req.state === 'pending') blocks.push(actionsBlock(req));
  return { text: fallbackText(req), blocks };
}

function actionsBlock(req: ApprovalRequest): Block {
  const button = (text: string, actionId: string, style?: 'primary' | 'danger'): Block => ({
    type: 'button',
    action_id: actionId,
    value: req.id,
    text: { type: 'plain_text', text },
    ...(style ? { style } : {}),
  });
  return {
    type: 'actions',
    // Slack wants block ids unique across updates of one message: the vote count changes with each.
    block_id: `airlock:${req.id}:${req.approvals.length}`,
    elements: [
      button('Approve', ACTION.approve, 'primary'),
      button('Deny…', ACTION.deny, 'danger'),
      button('Break glass…', ACTION.force),
    ],
  };
}

/** Notification text: no SQL, it would land in push notifications and previews. */
export function fallbackText(req: ApprovalRequest): string {
  const what = req.sql ? 'Statement' : 'Access request';
  const state = req.state === 'pending' ? 'needs approval' : req.state;
  return `${what} by ${req.requester.email} on ${req.resource} ${state} (request ${req.id})`;
}

export interface ReasonModalInput {
  readonly kind: 'deny' | 'force';
  readonly request: ApprovalRequest;
  /** Where the click came from, so a refusal can be posted back as an ephemeral message. */
  readonly channel?: string;
}

/** private_metadata of the modal: the request id (a lookup key) and the originating channel. */
export interface ModalMetadata {
  readonly id: string;
  readonly channel?: string;
}

export function reasonModal({ kind, request, channel }: ReasonModalInput): Block {
  const metadata: ModalMetadata = { id: request.id, ...(channel ? { channel } : {}) };
  const intro =
    kind === 'deny'
      ? `Deny request \`${escapeMrkdwn(request.id)}\` by ${escapeMrkdwn(request.requester.email)} on ${escapeMrkdwn(request.resource)}. The reason is shown to the requester.`
      : `:rotating_light: *Break glass* approves request \`${escapeMrkdwn(request.id)}\` on ${escapeMrkdwn(request.resource)} alone. It is flagged and reviewed afterwards.`;
  return {
    type: 'modal',
    callback_id: kind === 'deny' ? VIEW.deny : VIEW.force,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: kind === 'deny' ? 'Deny request' : 'Break glass' },
    submit: { type: 'plain_text', text: kind === 'deny' ? 'Deny' : 'Force approve' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: intro } },
      {
        type: 'input',
        block_id: REASON_BLOCK,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: REASON_ACTION, multiline: true, min_length: 1, max_length: REASON_MAX_CHARS },
      },
    ],
  };
}

/** The direct message a requester gets when their request is decided; undefined for no message. */
export function outcomeText(req: ApprovalRequest): string | undefined {
  const subject = `Your request \`${escapeMrkdwn(req.id)}\` on ${escapeMrkdwn(req.resource)}`;
  switch (req.state) {
    case 'approved':
      return req.break_glass
        ? `${subject} was force-approved (break glass) by ${escapeMrkdwn(req.break_glass.by)}: ${escapedExcerpt(req.break_glass.reason ?? '', REASON_MAX_CHARS).shown}`
        : `${subject} was approved by ${req.approvals.map((v) => escapeMrkdwn(v.by)).join(', ')}.`;
    case 'denied':
      return `${subject} was denied by ${escapeMrkdwn(req.denial?.by ?? 'an approver')}: ${escapedExcerpt(req.denial?.reason ?? '', REASON_MAX_CHARS).shown}`;
    case 'expired':
      return `${subject} expired before it got ${req.approval.min_approvals} approval(s).`;
    default:
      return undefined;
  }
}
