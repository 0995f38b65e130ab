// The NoticeResponse a PostgreSQL client gets the moment its statement is held: psql prints it, so
// the developer knows why the query waits, who must approve, until when, and how to cancel.

import type { ApprovalRequest } from '../../approval/types.js';
import { formatDuration } from '../../session/client-errors.js';
import { noticeResponse } from './messages.js';

export function heldNotice(request: ApprovalRequest): Buffer {
  const a = request.approval;
  const needed = a.all_groups_must_approve
    ? `${a.min_approvals} approval(s), one from each of: ${a.approvers.join(', ')}`
    : `${a.min_approvals} approval(s) from: ${a.approvers.join(', ')}`;
  return noticeResponse({
    severity: 'NOTICE',
    sqlstate: '01000',
    message: `airlock: statement held for approval, request ${request.id}`,
    detail: `Needs ${needed}. Expires at ${new Date(request.expires_at).toISOString()} (in ${formatDuration(request.expires_at - request.created_at)}). Rule: ${request.rule}.`,
    hint: `An approver runs: airlock approvals approve ${request.id}   (Ctrl-C cancels the request)`,
  });
}
