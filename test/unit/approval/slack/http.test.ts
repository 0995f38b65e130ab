// Slack over HTTP end to end: a held request is posted, signed clicks decide it, bad ones change nothing.

import t from 'tap';
import { CHANNEL, click, slackHarness, submit, SLACK_IDS } from '../../../helpers/slack-harness.js';
import { ACTION, VIEW } from '../../../../src/approval/slack/message.js';

const blocksText = (blocks: unknown) => JSON.stringify(blocks);
const hasButtons = (blocks: any[]) => blocks.some((b) => b.type === 'actions');

t.test('a held statement posts one message with the SQL, parameters, requester and buttons', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold({}, { sql: "DELETE FROM orders WHERE id = $1 AND note = '<!channel>'", params: ['42', null] });
  const posts = h.fake.callsOf('chat.postMessage');
  t.equal(posts.length, 1, 'exactly one message');
  const args = posts[0]!.args;
  t.equal(args.channel, CHANNEL);
  t.equal(posts[0]!.token, 'xoxb-test');
  const text = blocksText(args.blocks);
  t.match(text, 'DELETE FROM orders WHERE id = $1');
  t.match(text, '&lt;!channel&gt;', 'SQL is escaped');
  t.match(text, "$1 = '42'");
  t.match(text, '$2 = NULL');
  t.match(text, 'alice@corp.com');
  t.match(text, req.id);
  const actions = args.blocks.find((b: any) => b.type === 'actions');
  t.same(actions.elements.map((e: any) => e.action_id), [ACTION.approve, ACTION.deny, ACTION.force]);
  const stored = await h.store.get(req.id);
  t.same(stored?.slack, { channel: CHANNEL, ts: [...h.fake.messages.keys()][0] }, 'message coordinates stored for other replicas');
});

t.test('a correctly signed Approve click releases the statement and updates the message', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold();
  const held = (await h.store.get(req.id))!;
  const verdict = h.broker.wait(req.id, new AbortController().signal);
  t.equal(await h.deliver(click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'approve')), 200);
  const outcome = await verdict;
  t.equal(outcome.verdict, 'approved');
  await h.settle();
  const update = h.fake.callsOf('chat.update').at(-1)!;
  t.equal(update.args.ts, held.slack!.ts);
  t.notOk(hasButtons(update.args.blocks), 'buttons gone once approved');
  t.match(blocksText(update.args.blocks), /Approved.*bob@corp.com \(via slack\)/);
  const dm = await h.fake.waitForCall('chat.postMessage', (c) => c.args.channel === `D${SLACK_IDS['alice@corp.com']}`);
  t.match(dm.args.text, /approved by bob@corp.com/);
  t.equal(h.metrics.count('accepted'), 1);
});

t.test('bad signature, stale timestamp, replay, unknown user and the requester change nothing', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold({ min_approvals: 2 });
  const held = (await h.store.get(req.id))!;
  const pendingWithVotes = async (n: number) => {
    const now = (await h.store.get(req.id))!;
    t.equal(now.state, 'pending');
    t.equal(now.approvals.length, n, `${n} vote(s) counted`);
  };

  t.equal(await h.deliver(click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'approve'), { secret: 'wrong' }), 401, 'bad signature refused');
  t.equal(await h.deliver(click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'approve'), { timestamp: Math.floor(Date.now() / 1000) - 301 }), 401, 'stale timestamp refused');
  t.equal(await h.deliver(click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'approve'), { timestamp: Math.floor(Date.now() / 1000) + 301 }), 401, 'future timestamp refused');
  await h.settle();
  await pendingWithVotes(0);
  t.equal(h.metrics.count('bad_signature'), 1);
  t.equal(h.metrics.count('stale'), 2);

  // Unknown clicker: an ephemeral explanation, nothing else.
  const unknown = click(h.fake, held, 'UNOBODY', 'approve');
  t.equal(await h.deliver(unknown), 200);
  await h.settle();
  t.match((await h.fake.waitForResponsePost((p) => p.path === new URL(unknown.response_url).pathname)).body, { response_type: 'ephemeral', replace_original: false, text: /not linked/ });
  await pendingWithVotes(0);

  // The requester clicking Approve on their own request.
  const own = click(h.fake, held, SLACK_IDS['alice@corp.com']!, 'approve');
  t.equal(await h.deliver(own), 200);
  await h.settle();
  t.match((await h.fake.waitForResponsePost((p) => p.path === new URL(own.response_url).pathname)).body.text, /own request/);
  await pendingWithVotes(0);

  // A disabled user is as good as unknown.
  const disabled = click(h.fake, held, SLACK_IDS['olga@corp.com']!, 'approve');
  t.equal(await h.deliver(disabled), 200);
  await h.settle();
  t.match((await h.fake.waitForResponsePost((p) => p.path === new URL(disabled.response_url).pathname)).body.text, /not linked/);
  await pendingWithVotes(0);

  // A valid click counts once; the same delivery again is a duplicate and does nothing.
  const good = click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'approve');
  const body = new URLSearchParams({ payload: JSON.stringify(good) }).toString();
  const ts = Math.floor(Date.now() / 1000);
  t.equal(await h.deliver(undefined, { body, timestamp: ts }), 200);
  await h.settle();
  await pendingWithVotes(1);
  const postsBefore = h.fake.responsePosts.length;
  t.equal(await h.deliver(undefined, { body, timestamp: ts }), 200, 'a replay is acknowledged');
  await h.settle();
  t.equal(h.metrics.count('duplicate'), 1, 'and recognised as a duplicate');
  t.equal(h.fake.responsePosts.length, postsBefore, 'no second reply: it was not handled again');
  await pendingWithVotes(1);
});

t.test('an approver outside the rule\'s groups gets an explanation and changes nothing', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold();
  const held = (await h.store.get(req.id))!;
  const payload = click(h.fake, held, SLACK_IDS['dave@corp.com']!, 'approve'); // sre-oncall: force only
  t.equal(await h.deliver(payload), 200);
  await h.settle();
  t.match((await h.fake.waitForResponsePost((p) => p.path === new URL(payload.response_url).pathname)).body.text, /not in an approver group/);
  t.equal((await h.store.get(req.id))!.approvals.length, 0);
  t.equal(h.metrics.count('unauthorized'), 1);
});

t.test('Deny asks for a reason in a modal; the reason reaches the requester', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold();
  const held = (await h.store.get(req.id))!;
  const verdict = h.broker.wait(req.id, new AbortController().signal);
  const deny = click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'deny');
  t.equal(await h.deliver(deny), 200);
  await h.settle();
  const open = await h.fake.waitForCall('views.open');
  t.equal(open.args.trigger_id, deny.trigger_id);
  t.equal(open.args.view.callback_id, VIEW.deny);
  t.equal(JSON.parse(open.args.view.private_metadata).id, req.id);
  t.equal((await h.store.get(req.id))!.state, 'pending', 'opening the modal decides nothing');

  t.equal(await h.deliver(submit(open.args.view, SLACK_IDS['bob@corp.com']!, 'not during the <freeze>')), 200);
  const outcome = await verdict;
  t.equal(outcome.verdict, 'denied');
  t.equal(outcome.verdict === 'denied' && outcome.reason, 'not during the <freeze>', 'the reason the client gets as its error');
  await h.settle();
  const update = h.fake.callsOf('chat.update').at(-1)!;
  t.notOk(hasButtons(update.args.blocks));
  t.match(blocksText(update.args.blocks), /Denied.*bob@corp.com.*not during the &lt;freeze&gt;/);
  const dm = await h.fake.waitForCall('chat.postMessage', (c) => String(c.args.channel).startsWith('D'));
  t.match(dm.args.text, /denied by bob@corp.com: not during the &lt;freeze&gt;/);
});

t.test('the requester cannot open a Deny modal on their own request', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold();
  const held = (await h.store.get(req.id))!;
  const own = click(h.fake, held, SLACK_IDS['alice@corp.com']!, 'deny');
  t.equal(await h.deliver(own), 200);
  await h.settle();
  t.match((await h.fake.waitForResponsePost((p) => p.path === new URL(own.response_url).pathname)).body.text, /own request/);
  t.equal(h.fake.callsOf('views.open').length, 0);
});

t.test('Break glass works for a force approver with a reason, and only for one', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold();
  const held = (await h.store.get(req.id))!;
  const bob = click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'force');
  t.equal(await h.deliver(bob), 200);
  await h.settle();
  t.match((await h.fake.waitForResponsePost((p) => p.path === new URL(bob.response_url).pathname)).body.text, /force-approver/);
  t.equal(h.fake.callsOf('views.open').length, 0, 'no modal for a non force approver');

  const verdict = h.broker.wait(req.id, new AbortController().signal);
  t.equal(await h.deliver(click(h.fake, held, SLACK_IDS['dave@corp.com']!, 'force')), 200);
  await h.settle();
  const open = await h.fake.waitForCall('views.open');
  t.equal(open.args.view.callback_id, VIEW.force);
  t.equal(await h.deliver(submit(open.args.view, SLACK_IDS['dave@corp.com']!, 'incident 42')), 200);
  const outcome = await verdict;
  t.equal(outcome.verdict, 'approved');
  t.equal(outcome.verdict === 'approved' && outcome.breakGlass, true);
  await h.settle();
  t.match(blocksText(h.fake.callsOf('chat.update').at(-1)!.args.blocks), /BREAK GLASS.*dave@corp.com.*incident 42/);
});

t.test('a modal submitted without a reason changes nothing', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold();
  const held = (await h.store.get(req.id))!;
  await h.deliver(click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'deny'));
  await h.settle();
  const open = await h.fake.waitForCall('views.open');
  t.equal(await h.deliver(submit(open.args.view, SLACK_IDS['bob@corp.com']!, '   ')), 200);
  await h.settle();
  const eph = await h.fake.waitForCall('chat.postEphemeral');
  t.equal(eph.args.user, SLACK_IDS['bob@corp.com']);
  t.equal(eph.args.channel, CHANNEL);
  t.match(eph.args.text, /reason is required/);
  t.equal((await h.store.get(req.id))!.state, 'pending');
});

t.test('the message is updated after each vote; a CLI approval updates it too', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold({ min_approvals: 2 });
  const held = (await h.store.get(req.id))!;
  await h.deliver(click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'approve'));
  await h.settle();
  const first = h.fake.callsOf('chat.update').at(-1)!;
  t.ok(hasButtons(first.args.blocks), 'still pending: buttons stay');
  t.match(blocksText(first.args.blocks), /1 of 2/);

  await h.broker.approve(req.id, h.users().get('carol@corp.com')!, 'cli');
  await h.settle();
  const last = h.fake.callsOf('chat.update').at(-1)!;
  t.not(last, first);
  t.notOk(hasButtons(last.args.blocks));
  t.match(blocksText(last.args.blocks), /carol@corp.com \(via cli\)/);
  t.equal(h.fake.messages.get(held.slack!.ts)!.blocks!.some((b: any) => b.type === 'actions'), false, 'the fake holds the final message');
});

t.test('trust_emails: a clicker without slack_id is matched by profile email only when trusted', async (t) => {
  for (const trustEmails of [false, true]) {
    await t.test(`trust_emails ${trustEmails}`, async (t) => {
      const h = await slackHarness(t, { trustEmails, withoutSlackId: ['carol@corp.com'] });
      h.fake.users.set('UCARL', { email: 'carol@corp.com' });
      h.fake.users.set('UIMPOSTOR', { email: 'bob@corp.com' });
      const req = await h.hold();
      const held = (await h.store.get(req.id))!;
      // bob's users.yaml entry pins UBOB: another account showing his email never stands in for him.
      await h.deliver(click(h.fake, held, 'UIMPOSTOR', 'approve'));
      await h.settle();
      t.equal((await h.store.get(req.id))!.approvals.length, 0, 'an email pinned to another Slack id never matches');
      await h.deliver(click(h.fake, held, 'UCARL', 'approve'));
      await h.settle();
      const after = (await h.store.get(req.id))!;
      t.equal(after.state, trustEmails ? 'approved' : 'pending', trustEmails ? 'matched by email' : 'email not trusted');
      t.equal(h.fake.callsOf('users.info').length, trustEmails ? 2 : 0, 'users.info asked only when emails are trusted');
    });
  }
});
