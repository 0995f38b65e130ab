// The daemon's Slack integration against a fake Slack, with psql and pg through airlock: post, signed clicks, modals, CLI, Slack trouble.

import pg from 'pg';
import t from 'tap';
import type { ApprovalRequest } from '../../src/approval/types.js';
import { computeSignature } from '../../src/approval/slack/signature.js';
import { ACTION, VIEW } from '../../src/approval/slack/message.js';
import { DEFAULT_PEOPLE, examplePolicy, startAirlock } from '../helpers/airlock.js';
import { api, cli, ranMessage, sendHeld, until } from '../helpers/approval-e2e.js';
import { requireBuild } from '../helpers/airlock-process.js';
import { FakeSlack } from '../helpers/fake-slack.js';
import { start } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';
import { CHANNEL, SIGNING_SECRET, SLACK_IDS, click, submit } from '../helpers/slack-harness.js';

await requireService('postgres');
requireBuild();
const fake = await FakeSlack.start();
t.teardown(() => fake.close());
const people = DEFAULT_PEOPLE.map((p) => ({ ...p, slack_id: SLACK_IDS[p.email]! }));
const policy = examplePolicy(`
  - name: two-dbas
    resources: [orders]
    match: { tables: [airlock_slack_two] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 2, timeout: 10m }`);
const airlock = await startAirlock({
  policy,
  people,
  config: { instance_id: 'slack-e2e', slack: { bot_token: 'xoxb-test', signing_secret: SIGNING_SECRET, channel: CHANNEL, api_url: fake.apiUrl, request_timeout: '1s' } },
});
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_slack; CREATE TABLE airlock_slack (id int primary key, note text);
  INSERT INTO airlock_slack SELECT g, 'row ' || g FROM generate_series(1, 5) g;
  DROP TABLE IF EXISTS airlock_slack_two; CREATE TABLE airlock_slack_two (id int);`);
const count = async () => (await direct.query('SELECT count(*)::int AS n FROM airlock_slack')).rows[0].n as number;
const bob = { email: 'bob@corp.com', token: airlock.tokens['bob@corp.com']! };
const state = async (id: string) => (await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, bob)).body.request as ApprovalRequest;

function psql(sql: string) {
  return start('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', sql, airlock.pgUrl('alice@corp.com')]);
}

/** The message posted for a request (its ts), waiting for it if needed. */
async function posted(id: string) {
  const call = await fake.waitForCall('chat.postMessage', (c) => c.args.channel === CHANNEL && String(c.args.text).includes(id), `the message of ${id}`);
  const ts = [...fake.messages.entries()].find(([, m]) => m.channel === CHANNEL && String(m.text).includes(id))?.[0];
  if (!ts) throw new Error(`fake Slack stored no message for ${id}`);
  return { call, ts };
}

/** A signed POST to the admin listener, exactly as Slack sends it; returns the HTTP status. */
async function deliver(body: string, o: { secret?: string; timestamp?: number } = {}): Promise<number> {
  const ts = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const res = await fetch(`${airlock.adminUrl}/slack/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': computeSignature(o.secret ?? SIGNING_SECRET, ts, body) },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}
/** Every accepted interaction handled (the daemon's own Slack handle, in-process). */
const slackIdle = () => (airlock.daemon as unknown as { slack: { interactions: { idle(): Promise<void> } } }).slack.interactions.idle();
const form = (payload: unknown) => new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
const clickOn = (id: string, ts: string, user: string, action: keyof typeof ACTION) => click(fake, { id, slack: { channel: CHANNEL, ts } } as ApprovalRequest, user, action);
const updatesOf = (ts: string) => fake.callsOf('chat.update').filter((c) => c.args.ts === ts);
const waitForUpdate = (ts: string, text: RegExp) => fake.waitForCall('chat.update', (c) => c.args.ts === ts && text.test(String(c.args.text)), `an update of ${ts} matching ${text}`);

t.test('psql held: one message; forged, stale, unknown and self clicks change nothing; a signed Approve runs it', async (t) => {
  const p = psql('DELETE FROM airlock_slack WHERE id = 1');
  const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
  const { call, ts } = await posted(id);
  const blocks = JSON.stringify(call.args.blocks);
  t.match(blocks, /DELETE FROM airlock_slack WHERE id = 1/, 'the SQL');
  t.match(blocks, /alice@corp\.com/, 'the requester');
  for (const action of Object.values(ACTION)) t.match(blocks, new RegExp(`"action_id":"${action}","value":"${id}"|"value":"${id}"[^}]*"action_id":"${action}"`), `button ${action}`);

  const good = form(clickOn(id, ts, SLACK_IDS['bob@corp.com']!, 'approve'));
  t.equal(await deliver(good, { secret: 'not-the-secret' }), 401, 'bad signature refused');
  t.equal(await deliver(good, { timestamp: Math.floor(Date.now() / 1000) - 600 }), 401, 'stale timestamp refused');
  const responsesBefore = fake.responsePosts.length;
  t.equal(await deliver(form(clickOn(id, ts, 'UZED', 'approve'))), 200);
  t.equal(await deliver(form(clickOn(id, ts, SLACK_IDS['alice@corp.com']!, 'approve'))), 200);
  await fake.waitForResponsePost((r) => /not linked to an airlock user/.test(r.body.text));
  await fake.waitForResponsePost((r) => /you cannot approve your own request/.test(r.body.text));
  t.equal(fake.responsePosts.length, responsesBefore + 2, 'each refused clicker is told, privately');
  t.equal((await state(id)).state, 'pending');
  t.same((await state(id)).approvals, []);
  t.equal(p.child.exitCode, null, 'psql is still waiting');
  t.equal(await count(), 5);
  t.equal(updatesOf(ts).length, 0, 'the message did not change');

  t.equal(await deliver(good), 200);
  const r = await p.done;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /DELETE 1/);
  t.equal(await count(), 4);
  await waitForUpdate(ts, /executed/);
  t.match(JSON.stringify(updatesOf(ts).at(-1)!.args.blocks), /approved by bob@corp\.com \(via slack\)/, 'the update names the approver');
  t.notMatch(JSON.stringify(updatesOf(ts).at(-1)!.args.blocks), new RegExp(ACTION.approve), 'no buttons once decided');

  const seen = fake.responsePosts.length;
  t.equal(await deliver(good), 200, 'a replayed delivery is acknowledged…');
  await slackIdle();
  t.equal(fake.responsePosts.length, seen, '…and does nothing, not even a reply');
  t.equal((await state(id)).state, 'executed');
  t.equal(await count(), 4, 'it ran once');
  t.equal(fake.callsOf('chat.postMessage').filter((c) => c.args.channel === CHANNEL && String(c.args.text).includes(id)).length, 1, 'one message per request');
});

t.test('2-of-2 in Slack: the message shows each vote, and the second approver releases psql', async (t) => {
  const p = psql('INSERT INTO airlock_slack_two VALUES (2)');
  const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
  const { ts } = await posted(id);
  t.equal(await deliver(form(clickOn(id, ts, SLACK_IDS['bob@corp.com']!, 'approve'))), 200);
  const vote = await fake.waitForCall('chat.update', (c) => c.args.ts === ts && /1 of 2 approvals/.test(JSON.stringify(c.args.blocks)), 'the 1-of-2 update');
  t.match(JSON.stringify(vote.args.blocks), /approved by bob@corp\.com \(via slack\)/);
  t.match(JSON.stringify(vote.args.blocks), new RegExp(ACTION.approve), 'buttons stay while pending');
  t.equal(p.child.exitCode, null, 'psql still waits');
  t.equal(await deliver(form(clickOn(id, ts, SLACK_IDS['dave@corp.com']!, 'approve'))), 200);
  const r = await p.done;
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /INSERT 0 1/);
  await waitForUpdate(ts, /executed/);
  t.match(JSON.stringify(updatesOf(ts).at(-1)!.args.blocks), /bob@corp\.com[\s\S]*dave@corp\.com/);
  t.equal((await direct.query('SELECT count(*)::int AS n FROM airlock_slack_two')).rows[0].n, 1);
});

t.test('Deny in Slack opens a modal; the submitted reason reaches psql and the message', async (t) => {
  const p = psql(`UPDATE airlock_slack SET note = 'x'`);
  const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
  const { ts } = await posted(id);
  t.equal(await deliver(form(clickOn(id, ts, SLACK_IDS['dave@corp.com']!, 'deny'))), 200);
  const opened = await fake.waitForCall('views.open', (c) => String(c.args.view?.private_metadata).includes(id));
  t.equal(opened.args.view.callback_id, VIEW.deny);
  t.equal((await state(id)).state, 'pending', 'the click alone decides nothing');
  t.equal(await deliver(form(submit(opened.args.view, SLACK_IDS['dave@corp.com']!, 'not during the freeze'))), 200);
  const r = await p.done;
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`ERROR:\\s+airlock: request ${id} was denied by dave@corp.com: not during the freeze`));
  await waitForUpdate(ts, /denied/);
  t.match(JSON.stringify(updatesOf(ts).at(-1)!.args.blocks), /not during the freeze/);
  t.equal((await direct.query(`SELECT count(*)::int AS n FROM airlock_slack WHERE note = 'x'`)).rows[0].n, 0);
});

t.test('a CLI approval updates the Slack message too (parameters shown)', async (t) => {
  const alice = new pg.Client(airlock.pgConfig('alice@corp.com'));
  await alice.connect();
  t.teardown(() => alice.end());
  const { id, result } = await sendHeld(alice, 'INSERT INTO airlock_slack VALUES ($1, $2)', [100, 'from pg']);
  const { call, ts } = await posted(id);
  t.match(JSON.stringify(call.args.blocks), /Parameters[\s\S]*100[\s\S]*from pg/, 'the bound parameters');
  const approved = await cli(['approvals', 'approve', id, '--admin', airlock.adminUrl], bob);
  t.equal(approved.code, 0, approved.stderr);
  const res = await result;
  t.notOk(res instanceof Error, ranMessage(res));
  await waitForUpdate(ts, /executed/);
  t.match(JSON.stringify(updatesOf(ts).at(-1)!.args.blocks), /approved by bob@corp\.com \(via api\)/, 'the CLI decides through the API');
});

t.test('Slack answering 500s, then hanging: the CLI still approves', async (t) => {
  for (const fault of ['http500', 'hang'] as const) {
    fake.fail('*', fault);
    const before = fake.calls.length;
    const p = psql(`DELETE FROM airlock_slack WHERE id = ${fault === 'http500' ? 2 : 3}`);
    const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
    await until(`the notifier to try Slack (${fault})`, () => fake.calls.slice(before).some((c) => c.method === 'chat.postMessage'));
    const approved = await cli(['approvals', 'approve', id, '--admin', airlock.adminUrl], bob);
    t.equal(approved.code, 0, approved.stderr);
    const r = await p.done;
    t.equal(r.code, 0, `${fault}: ${r.stderr}`);
    t.match(r.stdout, /DELETE 1/);
    t.equal((await state(id)).state, 'executed');
    fake.heal();
  }
  t.same((await direct.query('SELECT id FROM airlock_slack ORDER BY id')).rows.map((r) => r.id), [4, 5, 100], 'each approved statement ran once');
});
