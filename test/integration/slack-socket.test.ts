// Socket Mode through the daemon (slack.app_token): a click arriving over the WebSocket releases psql's held statement.

import pg from 'pg';
import t from 'tap';
import type { ApprovalRequest } from '../../src/approval/types.js';
import { DEFAULT_PEOPLE, startAirlock } from '../helpers/airlock.js';
import { api } from '../helpers/approval-e2e.js';
import { FakeSlack } from '../helpers/fake-slack.js';
import { start } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';
import { CHANNEL, SLACK_IDS, click } from '../helpers/slack-harness.js';

await requireService('postgres');
const fake = await FakeSlack.start();
t.teardown(() => fake.close());
const people = DEFAULT_PEOPLE.map((p) => ({ ...p, slack_id: SLACK_IDS[p.email]! }));
// No signing secret: with Socket Mode, Slack needs no route into airlock at all.
const airlock = await startAirlock({
  people,
  config: { instance_id: 'slack-socket', slack: { bot_token: 'xoxb-test', app_token: 'xapp-test', channel: CHANNEL, api_url: fake.apiUrl, request_timeout: '1s' } },
});
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_slack_socket; CREATE TABLE airlock_slack_socket (id int);
  INSERT INTO airlock_slack_socket SELECT generate_series(1, 3);`);
const count = async () => (await direct.query('SELECT count(*)::int AS n FROM airlock_slack_socket')).rows[0].n as number;
const bob = { email: 'bob@corp.com', token: airlock.tokens['bob@corp.com']! };
const slackIdle = () => (airlock.daemon as unknown as { slack: { interactions: { idle(): Promise<void> } } }).slack.interactions.idle();

t.test('the daemon connects with the app token; a click over the socket approves; a redelivery does nothing', async (t) => {
  await fake.waitForSocketClient();
  t.equal(fake.callsOf('apps.connections.open')[0]?.token, 'xapp-test', 'connected with the app-level token');
  t.equal((await fetch(`${airlock.adminUrl}/slack/interactions`, { method: 'POST', body: 'payload={}' })).status, 404, 'no HTTP route without a signing secret');

  const p = start('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', 'DELETE FROM airlock_slack_socket WHERE id = 1', airlock.pgUrl('alice@corp.com')]);
  const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
  await fake.waitForCall('chat.postMessage', (c) => String(c.args.text).includes(id));
  const ts = [...fake.messages.entries()].find(([, m]) => String(m.text).includes(id))![0];
  const req = { id, slack: { channel: CHANNEL, ts } } as ApprovalRequest;

  const stranger = fake.sendEnvelope('interactive', click(fake, req, 'UZED', 'approve'));
  await fake.waitForAck(stranger);
  await slackIdle();
  t.equal((await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, bob)).body.request.state, 'pending', 'an unknown Slack user changes nothing');

  const envelope = fake.sendEnvelope('interactive', click(fake, req, SLACK_IDS['bob@corp.com']!, 'approve'));
  await fake.waitForAck(envelope);
  const r = await p.done;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /DELETE 1/);
  t.equal(await count(), 2);
  await fake.waitForCall('chat.update', (c) => c.args.ts === ts && /executed/.test(String(c.args.text)));

  const posts = fake.responsePosts.length;
  fake.sendEnvelope('interactive', click(fake, req, SLACK_IDS['bob@corp.com']!, 'approve'), envelope);
  await fake.waitForAck(envelope);
  await slackIdle();
  t.equal(fake.responsePosts.length, posts, 'the redelivered envelope is a duplicate: no reply, no change');
  t.equal(await count(), 2, 'ran once');
});
