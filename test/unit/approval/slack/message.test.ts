// Block Kit builders: escaping, truncation, parameters, buttons by state.

import t from 'tap';
import { createHash } from 'node:crypto';
import type { ApprovalRequest } from '../../../../src/approval/types.js';
import {
  ACTION, REASON_BLOCK, SQL_BUDGET, VIEW, approvalMessage, escapeMrkdwn, escapedExcerpt, formatDuration,
  outcomeText, paramsView, reasonModal, sqlView,
} from '../../../../src/approval/slack/message.js';
import { newRequest } from '../../../helpers/approval-fixtures.js';

function request(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return { ...newRequest(), state: 'pending', approvals: [], ...overrides } as ApprovalRequest;
}

const textOf = (blocks: readonly Record<string, any>[]): string => JSON.stringify(blocks);
const actionsOf = (blocks: readonly Record<string, any>[]) => blocks.find((b) => b.type === 'actions');

t.test('escapes the three mrkdwn control characters and nothing else', async (t) => {
  t.equal(escapeMrkdwn('<!channel> & <@U1> "x"'), '&lt;!channel&gt; &amp; &lt;@U1&gt; "x"');
  t.equal(escapeMrkdwn('plain'), 'plain');
});

t.test('a <!channel> injection in the SQL cannot ping the channel', async (t) => {
  const msg = approvalMessage(request({ sql: "SELECT '<!channel>' /* <https://evil|click> */" }));
  const all = textOf(msg.blocks);
  t.notMatch(all, /<!channel>/);
  t.notMatch(all, /<https:\/\/evil/);
  t.match(all, /&lt;!channel&gt;/);
});

t.test('escaped excerpts bound the escaped length, not the raw one', async (t) => {
  const cut = escapedExcerpt('<'.repeat(1000), 100);
  t.ok(cut.truncated);
  t.ok(cut.shown.length <= 100);
  t.equal(cut.shown, '&lt;'.repeat(25));
  t.same(escapedExcerpt('short', 100), { shown: 'short', truncated: false });
});

t.test('a cut never splits a surrogate pair', async (t) => {
  const cut = escapedExcerpt('a😀😀', 2);
  t.equal(cut.shown, 'a');
  t.ok(cut.truncated);
  t.equal(escapedExcerpt('a😀', 3).shown, 'a😀');
});

t.test('long SQL is truncated and shows its full length and SHA-256', async (t) => {
  const sql = 'SELECT ' + "'x', ".repeat(2000) + '1';
  const view = sqlView(sql);
  t.ok(view.truncated);
  t.equal(view.length, sql.length);
  t.equal(view.sha256, createHash('sha256').update(sql).digest('hex'));
  const msg = approvalMessage(request({ sql }));
  const all = textOf(msg.blocks);
  t.match(all, `${sql.length} characters in full`);
  t.match(all, view.sha256);
  const sqlSection = msg.blocks.find((b: any) => b.type === 'section' && String(b.text?.text).startsWith('*SQL*')) as any;
  t.ok(sqlSection.text.text.length <= 3000, 'section stays under Slack\'s 3000 limit');
  t.ok(sqlSection.text.text.length > SQL_BUDGET, 'but shows as much as the budget allows');
});

t.test('short SQL is shown whole with no truncation note', async (t) => {
  const msg = approvalMessage(request({ sql: 'DELETE FROM orders WHERE id = $1' }));
  const all = textOf(msg.blocks);
  t.match(all, '```DELETE FROM orders WHERE id = $1```');
  t.notMatch(all, /truncated/);
});

t.test('a ``` inside the SQL cannot close the code block', async (t) => {
  const view = sqlView('SELECT 1 /* ``` */');
  t.equal(view.block.match(/```/g)?.length, 2);
});

t.test('parameters render as SQL literals, NULL distinct from empty', async (t) => {
  const text = paramsView(['42', null, '', "O'Brien", '<b>'], 'postgres');
  t.match(text, "$1 = '42'");
  t.match(text, '$2 = NULL');
  t.match(text, "$3 = ''");
  t.match(text, "$4 = 'O''Brien'");
  t.match(text, "$5 = '&lt;b&gt;'");
  t.match(paramsView(['1'], 'mysql'), "?1 = '1'");
  const long = paramsView(['v'.repeat(5000)], 'postgres');
  t.match(long, '(5000 chars)');
  const many = paramsView(Array.from({ length: 500 }, (_, i) => `value-${i}`.repeat(5)), 'postgres');
  t.ok(many.length < 3000);
  t.match(many, /… and \d+ more/);
});

t.test('the pending message shows who, what, where, rule, approvals, expiry, id and three buttons', async (t) => {
  const req = request({ approval: { ...newRequest().approval, min_approvals: 2 } });
  const msg = approvalMessage(req, { requesterName: 'Alice Liddell', database: 'orders' });
  const all = textOf(msg.blocks);
  for (const want of ['Alice Liddell', 'alice@corp.com', 'dev', 'orders-prod', 'database `orders`', 'writes-need-dba', '0 of 2', req.id, '<!date^']) {
    t.match(all, want, `shows ${want}`);
  }
  t.match(all, "$1 = '42'");
  const actions = actionsOf(msg.blocks);
  t.same(actions.elements.map((e: any) => e.action_id), [ACTION.approve, ACTION.deny, ACTION.force]);
  t.ok(actions.elements.every((e: any) => e.value === req.id), 'button values are only the request id');
  t.notMatch(msg.text, /DELETE/, 'notification text carries no SQL');
});

t.test('JIT requests show the duration', async (t) => {
  const msg = approvalMessage(request({ approval: { ...newRequest().approval, mode: 'jit', jit_duration_ms: 90 * 60_000 } }));
  t.match(textOf(msg.blocks), 'JIT for 1h30m');
  t.equal(formatDuration(30 * 60_000), '30m');
  t.equal(formatDuration(2 * 3_600_000), '2h');
});

t.test('each vote changes the actions block id; final states drop the buttons and say who did what', async (t) => {
  const at = Date.now();
  const one = approvalMessage(request({ approval: { ...newRequest().approval, min_approvals: 2 }, approvals: [{ by: 'bob@corp.com', groups: ['dba'], at, via: 'slack' }] }));
  const zero = approvalMessage(request());
  t.not(actionsOf(one.blocks).block_id, actionsOf(zero.blocks).block_id);
  t.match(textOf(one.blocks), 'approved by bob@corp.com (via slack)');

  const denied = approvalMessage(request({ state: 'denied', denial: { by: 'bob@corp.com', groups: ['dba'], at, via: 'cli', reason: 'no <way>' }, final_at: at }));
  t.notOk(actionsOf(denied.blocks));
  t.match(textOf(denied.blocks), /Denied\* by bob@corp.com \(via cli\).*no &lt;way&gt;/);

  const forced = approvalMessage(request({ state: 'approved', break_glass: { by: 'dave@corp.com', groups: ['sre-oncall'], at, via: 'slack', reason: 'outage' }, final_at: at }));
  t.notOk(actionsOf(forced.blocks));
  t.match(textOf(forced.blocks), /BREAK GLASS.*dave@corp.com.*outage/);

  for (const state of ['expired', 'cancelled', 'abandoned', 'executed'] as const) {
    const m = approvalMessage(request({ state, final_at: at }));
    t.notOk(actionsOf(m.blocks), `${state}: no buttons`);
    t.match(textOf(m.blocks), new RegExp(state, 'i'));
  }
});

t.test('reason modal carries the id in private_metadata and asks for a bounded reason', async (t) => {
  const req = request();
  const view = reasonModal({ kind: 'deny', request: req, channel: 'C1' }) as any;
  t.equal(view.callback_id, VIEW.deny);
  t.same(JSON.parse(view.private_metadata), { id: req.id, channel: 'C1' });
  const input = view.blocks.find((b: any) => b.block_id === REASON_BLOCK);
  t.equal(input.element.max_length, 500);
  t.ok(view.title.text.length <= 24);
  const force = reasonModal({ kind: 'force', request: req }) as any;
  t.equal(force.callback_id, VIEW.force);
  t.ok(force.title.text.length <= 24);
});

t.test('outcome DM text per state', async (t) => {
  const at = Date.now();
  t.match(outcomeText(request({ state: 'denied', denial: { by: 'bob@corp.com', groups: ['dba'], at, via: 'slack', reason: 'not now' } }))!, /denied by bob@corp.com: not now/);
  t.match(outcomeText(request({ state: 'approved', approvals: [{ by: 'bob@corp.com', groups: ['dba'], at, via: 'slack' }] }))!, /approved by bob@corp.com/);
  t.match(outcomeText(request({ state: 'expired' }))!, /expired/);
  t.equal(outcomeText(request()), undefined);
  t.equal(outcomeText(request({ state: 'cancelled' })), undefined);
});

// Regression (fresh-user report): Slack showed a different statement than the one held.
t.test('the SQL block shows carriage returns, escapes and bidi overrides as text', async (t) => {
  const view = sqlView('DELETE FROM orders\rSELECT 1 \x1b[2K \u202eredro\nWHERE\tx');
  t.equal(view.block, '```DELETE FROM orders\\rSELECT 1 \\x1b[2K \\u202eredro\nWHERE\tx```');
});
