// Slack over Socket Mode: the real SocketModeClient against the fake's apps.connections.open and WebSocket.

import t, { type Test } from 'tap';
import { startSlackSocket } from '../../../../src/approval/slack/socket.js';
import { VIEW } from '../../../../src/approval/slack/message.js';
import { SLACK_IDS, click, slackHarness, submit, type Harness } from '../../../helpers/slack-harness.js';

async function withSocket(t: Test, h: Harness) {
  const socket = startSlackSocket({ appToken: 'xapp-test', apiUrl: h.fake.apiUrl, requestTimeoutMs: 2_000, interactions: h.interactions, log: h.log });
  t.teardown(() => socket.stop());
  await socket.ready;
  await h.fake.waitForSocketClient();
  return socket;
}

t.test('connects with the app token and approves over the socket; a redelivered envelope is a duplicate', async (t) => {
  const h = await slackHarness(t, { http: false });
  await withSocket(t, h);
  const open = h.fake.callsOf('apps.connections.open');
  t.equal(open.length, 1);
  t.equal(open[0]!.token, 'xapp-test', 'apps.connections.open uses the app-level token');

  const req = await h.hold();
  const held = (await h.store.get(req.id))!;
  const verdict = h.broker.wait(req.id, new AbortController().signal);
  const payload = click(h.fake, held, SLACK_IDS['bob@corp.com']!, 'approve');
  const envelope = h.fake.sendEnvelope('interactive', payload);
  await h.fake.waitForAck(envelope);
  t.equal((await verdict).verdict, 'approved');
  await h.settle();
  t.match(JSON.stringify(h.fake.callsOf('chat.update').at(-1)!.args.blocks), /bob@corp.com \(via slack\)/);

  // Slack redelivers envelopes it thinks were not acknowledged: the same envelope again.
  h.fake.acks.delete(envelope);
  h.fake.sendEnvelope('interactive', payload, envelope);
  await h.fake.waitForAck(envelope);
  await h.settle();
  t.equal(h.metrics.count('duplicate'), 1, 'acknowledged again but not handled again');
});

t.test('Deny with a reason over the socket; an unknown clicker changes nothing', async (t) => {
  const h = await slackHarness(t, { http: false });
  await withSocket(t, h);
  const req = await h.hold();
  const held = (await h.store.get(req.id))!;

  const stranger = click(h.fake, held, 'UNOBODY', 'deny');
  await h.fake.waitForAck(h.fake.sendEnvelope('interactive', stranger));
  await h.settle();
  t.match((await h.fake.waitForResponsePost((p) => p.path === new URL(stranger.response_url).pathname)).body.text, /not linked/);
  t.equal(h.fake.callsOf('views.open').length, 0);

  const verdict = h.broker.wait(req.id, new AbortController().signal);
  await h.fake.waitForAck(h.fake.sendEnvelope('interactive', click(h.fake, held, SLACK_IDS['carol@corp.com']!, 'deny')));
  await h.settle();
  const modal = await h.fake.waitForCall('views.open');
  t.equal(modal.args.view.callback_id, VIEW.deny);
  await h.fake.waitForAck(h.fake.sendEnvelope('interactive', submit(modal.args.view, SLACK_IDS['carol@corp.com']!, 'use the replica')));
  const outcome = await verdict;
  t.equal(outcome.verdict, 'denied');
  t.equal(outcome.verdict === 'denied' && outcome.reason, 'use the replica');
});
