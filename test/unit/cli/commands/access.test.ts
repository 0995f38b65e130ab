// `airlock access` runs in-process against a real admin API on port 0.

import t from 'tap';
import { accessList, accessRequest, accessRevoke } from '../../../../src/cli/commands/access.js';
import { approvalsApprove } from '../../../../src/cli/commands/approvals.js';
import { startApprovalServer } from '../../../helpers/approval-server.js';

const server = await startApprovalServer();
t.teardown(() => server.close());

const as = (email: string, token: string) => ({ AIRLOCK_ADMIN_URL: server.url, AIRLOCK_USER: email, AIRLOCK_TOKEN: token });
const bob = as('bob@corp.com', 'tok-bob');

t.test('access request, list, revoke', async (t) => {
  const frank = as('frank@corp.com', 'tok-frank');
  const asked = await accessRequest('orders-prod', { rule: 'prod-jit', duration: '30m', reason: 'backfill' }, frank);
  t.equal(asked.exitCode, 0, asked.stderr);
  const id = /access request (\w+) is pending/.exec(asked.stdout)?.[1];
  t.ok(id, 'prints the request id');
  t.equal((await accessList({}, frank)).stdout, 'no active access windows\n');
  await approvalsApprove(id!, {}, bob);
  const list = await accessList({}, frank);
  t.match(list.stdout, new RegExp(`jit-${id}\\s+frank@corp.com\\s+orders-prod\\s+prod-jit`));
  const grants = JSON.parse((await accessList({ json: true }, frank)).stdout);
  t.equal(grants.length, 1);
  t.match((await accessRevoke(grants[0].id, {}, as('alice@corp.com', 'tok-alice'))).stderr, /not allowed/);
  t.match((await accessRevoke(grants[0].id, {}, bob)).stdout, /revoked/);
  t.equal((await accessList({}, frank)).stdout, 'no active access windows\n');
  t.match((await accessRequest('orders-prod', { rule: 'writes-need-dba', reason: 'x' }, frank)).stderr, /is not a jit approval rule/);
});
