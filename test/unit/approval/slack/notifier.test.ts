// The notifier under trouble and across replicas: Slack down or slow never blocks a request; one replica posts.

import t from 'tap';
import { ApprovalBroker } from '../../../../src/approval/broker.js';
import { SlackNotifier } from '../../../../src/approval/slack/notifier.js';
import { CHANNEL, CountingMetrics, SLACK_IDS, slackHarness } from '../../../helpers/slack-harness.js';
import { spec } from '../../../helpers/approval-fixtures.js';
import { MemoryAudit } from '../../../helpers/memory-audit.js';

const hasButtons = (blocks: any[]) => blocks.some((b) => b.type === 'actions');
const heldInput = (approval = spec()) => ({
  requester: { email: 'alice@corp.com', groups: ['dev'] },
  resource: 'orders-prod',
  protocol: 'postgres' as const,
  rule: 'writes-need-dba',
  approval,
  sql: 'DELETE FROM orders WHERE id = $1',
  params: ['42'],
  kinds: ['DELETE'],
  tables: ['orders'],
  session_id: 's-1',
});

t.test('Slack answering 500 still lets the CLI approve; the failure is retried a bounded number of times and counted', async (t) => {
  const h = await slackHarness(t);
  h.fake.fail('*', 'http500');
  const req = await h.broker.open(heldInput());
  const verdict = h.broker.wait(req.id, new AbortController().signal);
  await h.broker.approve(req.id, h.users().get('bob@corp.com')!, 'cli');
  t.equal((await verdict).verdict, 'approved');
  await h.settle();
  t.equal(h.fake.callsOf('chat.postMessage').length, 3, 'one try and two retries, then it gives up');
  t.ok(h.metrics.errors.includes('chat.postMessage'), 'counted');
  t.equal((await h.store.get(req.id))!.slack, undefined, 'no message recorded');
});

t.test('Slack timing out does not hold up a CLI approval', async (t) => {
  const h = await slackHarness(t, { requestTimeoutMs: 200 });
  h.fake.fail('chat.postMessage', 'hang');
  const req = await h.broker.open(heldInput());
  await h.fake.waitForCall('chat.postMessage');
  const verdict = h.broker.wait(req.id, new AbortController().signal);
  await h.broker.approve(req.id, h.users().get('bob@corp.com')!, 'cli');
  t.equal((await verdict).verdict, 'approved', 'decided while the Slack post still hangs');
  await h.settle();
  t.ok(h.metrics.errors.includes('chat.postMessage'), 'the timed-out post is counted');
  t.ok(h.fake.callsOf('chat.postMessage').length >= 3, 'and was retried');
});

t.test('one failed try is retried and the message gets through', async (t) => {
  const h = await slackHarness(t);
  h.fake.fail('chat.postMessage', 'http500', 1);
  const req = await h.hold();
  t.equal(h.fake.callsOf('chat.postMessage').length, 2);
  t.ok((await h.store.get(req.id))!.slack, 'posted on the retry');
  t.same(h.metrics.errors, []);
});

t.test('a Slack error reply (channel_not_found) is counted and does not retry forever', async (t) => {
  const h = await slackHarness(t);
  h.fake.fail('chat.postMessage', { error: 'channel_not_found' });
  const req = await h.hold();
  t.equal(h.fake.callsOf('chat.postMessage').length, 1, 'platform errors are final');
  t.same(h.metrics.errors, ['chat.postMessage']);
  t.equal((await h.store.get(req.id))!.state, 'pending');
});

t.test('expiry updates the message and tells the requester', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold({ timeout_ms: 200 });
  const outcome = await h.broker.wait(req.id, new AbortController().signal);
  t.equal(outcome.verdict, 'expired');
  await h.settle();
  const update = h.fake.callsOf('chat.update').at(-1)!;
  t.notOk(hasButtons(update.args.blocks));
  t.match(JSON.stringify(update.args.blocks), /Expired/);
  const dm = await h.fake.waitForCall('chat.postMessage', (c) => c.args.channel === `D${SLACK_IDS['alice@corp.com']}`);
  t.match(dm.args.text, /expired/);
});

t.test('a cancelled request (client gone) loses its buttons; no DM to the one who cancelled', async (t) => {
  const h = await slackHarness(t);
  const req = await h.hold();
  const abort = new AbortController();
  const verdict = h.broker.wait(req.id, abort.signal);
  abort.abort();
  t.equal((await verdict).verdict, 'cancelled');
  await h.settle();
  const update = h.fake.callsOf('chat.update').at(-1)!;
  t.notOk(hasButtons(update.args.blocks));
  t.match(JSON.stringify(update.args.blocks), /Cancelled/);
  t.equal(h.fake.callsOf('conversations.open').length, 0);
});

t.test('two replicas: only the one holding the connection posts and updates, whoever decides', async (t) => {
  const h = await slackHarness(t);
  const metricsB = new CountingMetrics();
  const notifierB = new SlackNotifier({ web: h.web, channel: CHANNEL, instanceId: 'replica-b', store: h.store, users: h.users, log: h.log, metrics: metricsB });
  const brokerB = new ApprovalBroker({ store: h.store, users: h.users, audit: new MemoryAudit(), instanceId: 'replica-b', leaseMs: 30_000, log: h.log, notifiers: [notifierB] });
  t.teardown(async () => {
    notifierB.close();
    await brokerB.close();
  });

  const req = await h.hold({ min_approvals: 2 });
  // A decision taken on replica B, by the API there.
  await brokerB.approve(req.id, h.users().get('bob@corp.com')!, 'api');
  await brokerB.approve(req.id, h.users().get('carol@corp.com')!, 'api');
  await h.settle();
  await notifierB.idle();
  t.equal(h.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === CHANNEL).length, 1, 'one channel message');
  const updates = h.fake.callsOf('chat.update');
  t.equal(updates.length, 2, 'one update per change, none from replica B');
  t.notOk(hasButtons(updates.at(-1)!.args.blocks));
  t.equal(h.fake.callsOf('conversations.open').length, 1, 'one DM');
});
