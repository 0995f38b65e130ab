// startSlack as the daemon calls it: config in, HTTP route and Socket Mode up, broker attached later.

import t from 'tap';
import { pino } from 'pino';
import { AdminServer } from '../../../../src/admin/server.js';
import { ApprovalBroker } from '../../../../src/approval/broker.js';
import { MemoryApprovalStore } from '../../../../src/approval/memory-store.js';
import { startSlack } from '../../../../src/approval/slack/index.js';
import { computeSignature } from '../../../../src/approval/slack/signature.js';
import { FakeSlack } from '../../../helpers/fake-slack.js';
import { MemoryAudit } from '../../../helpers/memory-audit.js';
import { PEOPLE, spec, userDirectory } from '../../../helpers/approval-fixtures.js';
import { click } from '../../../helpers/slack-harness.js';

t.test('wires notifier, HTTP interactions and Socket Mode from the config; clicks wait for the broker', async (t) => {
  const fake = await FakeSlack.start();
  const log = pino({ level: 'silent' });
  const store = new MemoryApprovalStore();
  const dir = userDirectory(PEOPLE.map((p) => (p.email === 'bob@corp.com' ? { ...p, slack_id: 'UBOB' } : p)));
  const admin = new AdminServer();
  const errors: string[] = [];
  const slack = await startSlack({
    config: {
      instance_id: 'replica-a',
      slack: { bot_token: 'xoxb-1', signing_secret: 'sekrit', app_token: 'xapp-1', channel: 'C1', api_url: fake.apiUrl, trust_emails: false, request_timeout_ms: 2000 },
    },
    log,
    metrics: { slackErrors: { inc: ({ method }) => errors.push(method) } },
    store,
    users: () => dir,
    admin,
  });
  const addr = await admin.listen('127.0.0.1', 0);
  const broker = new ApprovalBroker({ store, users: () => dir, audit: new MemoryAudit(), instanceId: 'replica-a', leaseMs: 30_000, log, notifiers: [slack.notifier] });
  t.teardown(async () => {
    await slack.interactions.idle();
    await slack.stop();
    await broker.close();
    await admin.close();
    await fake.close();
  });
  await slack.socket!.ready;
  t.equal(fake.callsOf('apps.connections.open')[0]?.token, 'xapp-1');

  const req = await broker.open({
    requester: { email: 'alice@corp.com', groups: ['dev'] }, resource: 'orders-prod', protocol: 'postgres', rule: 'r',
    approval: spec(), sql: 'DELETE FROM t', params: [], kinds: ['DELETE'], tables: ['t'], session_id: 's',
  });
  await slack.notifier.idle();
  const held = (await store.get(req.id))!;
  t.equal(held.slack?.channel, 'C1');

  const post = async (payload: unknown) => {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await fetch(`http://127.0.0.1:${addr.port}/slack/interactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': computeSignature('sekrit', ts, body) },
      body,
    });
    await res.arrayBuffer();
    return res.status;
  };

  // Before attach: the click is refused politely, nothing changes.
  const early = click(fake, held, 'UBOB', 'approve');
  t.equal(await post(early), 200);
  await slack.interactions.idle();
  t.match((await fake.waitForResponsePost((p) => p.path === new URL(early.response_url).pathname)).body.text, /unavailable/);
  t.equal((await store.get(req.id))!.state, 'pending');

  slack.attach(broker);
  t.equal(await post(click(fake, held, 'UBOB', 'approve')), 200);
  await slack.interactions.idle();
  t.equal((await store.get(req.id))!.state, 'approved');
  t.same(errors, []);
});
