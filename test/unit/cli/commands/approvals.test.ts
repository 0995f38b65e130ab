// `airlock approvals` runs in-process against a real admin API on port 0.

import net from 'node:net';
import t from 'tap';
import { approvalsApprove, approvalsDeny, approvalsForce, approvalsList, approvalsShow } from '../../../../src/cli/commands/approvals.js';
import { resolveAdminUrl } from '../../../../src/approval/cli-target.js';
import { spec } from '../../../helpers/approval-fixtures.js';
import { startApprovalServer } from '../../../helpers/approval-server.js';

const server = await startApprovalServer();
t.teardown(() => server.close());

const as = (email: string, token: string) => ({ AIRLOCK_ADMIN_URL: server.url, AIRLOCK_USER: email, AIRLOCK_TOKEN: token });
const bob = as('bob@corp.com', 'tok-bob');

async function hold(sql = 'DELETE FROM orders WHERE id = $1') {
  return server.broker.open({
    requester: { email: 'alice@corp.com', groups: ['dev'] },
    resource: 'orders-prod',
    protocol: 'postgres',
    rule: 'writes-need-dba',
    approval: spec({ min_approvals: 2 }),
    sql,
    params: ['9'],
    kinds: ['DELETE'],
    tables: ['orders'],
    session_id: 's',
  });
}

t.test('list, show, approve, deny, force', async (t) => {
  const req = await hold();
  const list = await approvalsList({}, bob);
  t.equal(list.exitCode, 0);
  t.match(list.stdout, /^ID\s+STATE\s+REQUESTER/);
  t.match(list.stdout, new RegExp(`${req.id}\\s+pending\\s+alice@corp.com\\s+orders-prod\\s+writes-need-dba\\s+0/2`));
  const asJson = JSON.parse((await approvalsList({ json: true }, bob)).stdout);
  t.ok(asJson.some((r: { id: string }) => r.id === req.id), '--json');

  const show = await approvalsShow(req.id, {}, bob);
  t.match(show.stdout, /sql {8}DELETE FROM orders WHERE id = \$1/);
  t.match(show.stdout, /params {5}"9"/);

  const self = await approvalsApprove(req.id, {}, as('alice@corp.com', 'tok-alice'));
  t.equal(self.exitCode, 1);
  t.match(self.stderr, /not allowed: you cannot approve your own request/);

  const first = await approvalsApprove(req.id, {}, bob);
  t.match(first.stdout, /approval recorded \(1 of 2 people\); still pending/);
  const twice = await approvalsApprove(req.id, {}, bob);
  t.match(twice.stderr, /conflict: bob@corp.com has already approved/);
  const second = await approvalsApprove(req.id, { user: 'carol@corp.com' }, { ...bob, AIRLOCK_TOKEN: 'tok-carol' });
  t.match(second.stdout, /approved; the statement runs now/, '--user overrides AIRLOCK_USER');

  const other = await hold('DELETE FROM orders');
  const denied = await approvalsDeny(other.id, { reason: 'not today' }, bob);
  t.match(denied.stdout, /denied \(not today\)/);

  const third = await hold('TRUNCATE orders');
  t.match((await approvalsForce(third.id, { reason: 'INC-1' }, bob)).stderr, /not allowed/);
  t.match((await approvalsForce(third.id, { reason: 'INC-1' }, as('dave@corp.com', 'tok-dave'))).stdout, /force-approved \(break-glass/);
  const bg = await approvalsList({ breakGlass: true }, bob);
  t.match(bg.stdout, /FORCED BY/);
  t.match(bg.stdout, new RegExp(`${third.id}\\s+dave@corp.com`));
});

// Regression (fresh-user report): a carriage return or ANSI escape in held SQL made the terminal draw a
// harmless statement over the one that runs.
t.test('show and list print hidden characters of the SQL escaped, never interpreted', async (t) => {
  const sql = 'DELETE FROM orders\rSELECT 1;          \x1b[2K\x1b[1A-- \u202eredro';
  const req = await hold(sql);
  const show = await approvalsShow(req.id, {}, bob);
  t.notMatch(show.stdout, /[\r\x1b\u202e]/, 'no raw CR, ESC or bidi override reaches the terminal');
  t.match(show.stdout, 'sql        DELETE FROM orders\\rSELECT 1;          \\x1b[2K\\x1b[1A-- \\u202eredro\n');
  t.match(show.stdout, /^kinds {6}DELETE$/m, 'the kinds are shown');
  t.match(show.stdout, /^tables {5}orders$/m);
  const list = await approvalsList({}, bob);
  t.notMatch(list.stdout, /[\r\x1b\u202e]/);
  t.match(list.stdout, 'DELETE FROM orders SELECT 1; \\x1b[2K');

  const multi = await hold('DELETE FROM orders\napproved   bob@corp.com via cli');
  const lines = (await approvalsShow(multi.id, {}, bob)).stdout.split('\n');
  t.ok(lines.includes('sql        DELETE FROM orders'), 'multi-line SQL keeps its lines');
  t.ok(lines.includes('           approved   bob@corp.com via cli'), 'a following line is indented so it cannot pass for a field');
  t.notOk(lines.some((l) => l.startsWith('approved')), 'no forged approval line');
});

t.test('clear errors: credentials, authentication, unreachable API', async (t) => {
  const missing = await approvalsList({}, { AIRLOCK_ADMIN_URL: server.url });
  t.match(missing.stderr, /set AIRLOCK_USER \(or --user\) .* AIRLOCK_TOKEN/);
  const wrong = await approvalsList({}, as('bob@corp.com', 'nope'));
  t.equal(wrong.exitCode, 1);
  t.match(wrong.stderr, /authentication failed/);
  const free = net.createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
  const port = (free.address() as net.AddressInfo).port;
  await new Promise<void>((r) => free.close(() => r()));
  const down = await approvalsList({ admin: `http://127.0.0.1:${port}` }, bob);
  t.match(down.stderr, new RegExp(`cannot reach admin API at http://127.0.0.1:${port} .*is airlock running\\? set --admin or AIRLOCK_ADMIN_URL`));
  t.match((await approvalsShow('zzzzzzzzzzzz', {}, bob)).stderr, /not found/);
});

t.test('admin URL: flag, then environment, then listen.admin of the config', async (t) => {
  const dir = t.testdir({ 'airlock.yaml': 'listen:\n  admin: 0.0.0.0:9911\n' });
  t.equal(await resolveAdminUrl({ admin: 'http://a:1', config: `${dir}/airlock.yaml` }, { AIRLOCK_ADMIN_URL: 'http://b:2' }), 'http://a:1');
  t.equal(await resolveAdminUrl({ config: `${dir}/airlock.yaml` }, { AIRLOCK_ADMIN_URL: 'http://b:2' }), 'http://b:2');
  t.equal(await resolveAdminUrl({ config: `${dir}/airlock.yaml` }, {}), 'http://127.0.0.1:9911', 'a wildcard address is reached on loopback');
  await t.rejects(resolveAdminUrl({ config: `${dir}/missing.yaml` }, {}), /pass --admin URL, set AIRLOCK_ADMIN_URL, or set listen.admin/);
});
