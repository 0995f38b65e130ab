// The approvals HTTP API over real HTTP: authentication, eligibility as status codes, JSON errors, JIT access.

import t from 'tap';
import { basic, startApprovalServer } from '../../helpers/approval-server.js';
import { spec } from '../../helpers/approval-fixtures.js';
import type { NewRequestInput } from '../../../src/approval/broker.js';

const server = await startApprovalServer();
t.teardown(() => server.close());

const TOKENS: Record<string, string> = {
  'alice@corp.com': 'tok-alice',
  'bob@corp.com': 'tok-bob',
  'carol@corp.com': 'tok-carol',
  'dave@corp.com': 'tok-dave',
  'frank@corp.com': 'tok-frank',
};

async function call(method: string, path: string, as?: string, body?: unknown, auth?: string) {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = auth;
  else if (as) headers.authorization = basic(as, TOKENS[as]!);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

function held(overrides: Partial<NewRequestInput> = {}): Promise<{ id: string }> {
  return server.broker.open({
    requester: { email: 'alice@corp.com', groups: ['dev'] },
    resource: 'orders-prod',
    protocol: 'postgres',
    rule: 'writes-need-dba',
    approval: spec(),
    sql: 'UPDATE orders SET paid = true WHERE id = $1',
    params: ['5'],
    kinds: ['UPDATE'],
    tables: ['orders'],
    session_id: 's',
    ...overrides,
  });
}

t.test('authentication', async (t) => {
  const none = await call('GET', '/api/v1/requests');
  t.equal(none.status, 401);
  t.same(none.body.error.code, 'unauthenticated');
  t.match(none.headers.get('www-authenticate'), /Basic/);
  t.equal((await call('GET', '/api/v1/requests', undefined, undefined, basic('bob@corp.com', 'wrong'))).status, 401, 'wrong token');
  t.equal((await call('GET', '/api/v1/requests', undefined, undefined, basic('nobody@corp.com', 'tok-bob'))).status, 401, 'unknown user');
  t.equal((await call('GET', '/api/v1/requests', undefined, undefined, basic('olga@corp.com', 'tok-olga'))).status, 401, 'disabled user');
  t.equal((await call('GET', '/api/v1/requests', undefined, undefined, 'Basic !!!')).status, 401, 'garbage');
  const bearer = `Bearer ${Buffer.from('bob@corp.com:tok-bob').toString('base64')}`;
  t.equal((await call('GET', '/api/v1/requests', undefined, undefined, bearer)).status, 200, 'Bearer base64(email:token)');
  t.equal((await call('GET', '/api/v1/requests', 'bob@corp.com')).status, 200, 'Basic');
});

t.test('list, show, approve', async (t) => {
  const req = await held();
  const list = await call('GET', '/api/v1/requests?state=pending', 'bob@corp.com');
  t.ok(list.body.requests.some((r: { id: string }) => r.id === req.id));
  t.equal((await call('GET', '/api/v1/requests?state=bogus', 'bob@corp.com')).body.error.code, 'bad_request');
  const show = await call('GET', `/api/v1/requests/${req.id}`, 'bob@corp.com');
  t.equal(show.body.request.sql, 'UPDATE orders SET paid = true WHERE id = $1');
  t.same(show.body.request.params, ['5']);
  t.equal((await call('GET', '/api/v1/requests/zzzzzzzzzzzz', 'bob@corp.com')).status, 404);

  const self = await call('POST', `/api/v1/requests/${req.id}/approve`, 'alice@corp.com');
  t.equal(self.status, 403, 'the requester cannot approve');
  t.equal(self.body.error.code, 'forbidden');
  t.equal((await call('POST', `/api/v1/requests/${req.id}/approve`, 'frank@corp.com')).status, 404, 'not an approver, so not shown it either');
  const ok = await call('POST', `/api/v1/requests/${req.id}/approve`, 'bob@corp.com');
  t.equal(ok.status, 200);
  t.equal(ok.body.outcome, 'approved');
  t.equal(ok.body.request.state, 'approved');
  const again = await call('POST', `/api/v1/requests/${req.id}/approve`, 'carol@corp.com');
  t.equal(again.status, 409);
  t.equal(again.body.error.code, 'conflict');
  t.equal((await call('POST', '/api/v1/requests/zzzzzzzzzzzz/approve', 'bob@corp.com')).status, 404);
});

t.test('deny and force', async (t) => {
  const req = await held();
  t.equal((await call('POST', `/api/v1/requests/${req.id}/deny`, 'bob@corp.com', '{not json')).body.error.code, 'bad_request');
  const denied = await call('POST', `/api/v1/requests/${req.id}/deny`, 'bob@corp.com', { reason: 'use a migration' });
  t.equal(denied.body.request.state, 'denied');
  t.equal(denied.body.request.final_reason, 'use a migration');

  const other = await held();
  const noReason = await call('POST', `/api/v1/requests/${other.id}/force`, 'dave@corp.com', {});
  t.equal(noReason.status, 400, 'force needs a reason');
  t.equal((await call('POST', `/api/v1/requests/${other.id}/force`, 'bob@corp.com', { reason: 'x' })).status, 403, 'not a force approver');
  const forced = await call('POST', `/api/v1/requests/${other.id}/force`, 'dave@corp.com', { reason: 'INC-7' });
  t.equal(forced.body.outcome, 'forced');
  const flagged = await call('GET', '/api/v1/requests?break_glass=1', 'bob@corp.com');
  t.same(flagged.body.requests.map((r: { id: string }) => r.id), [other.id]);
});

t.test('JIT access: request, approve, list, revoke', async (t) => {
  t.equal((await call('POST', '/api/v1/access', 'frank@corp.com', { resource: 'orders-prod', rule: 'writes-need-dba', reason: 'x' })).status, 400, 'not a jit rule');
  t.equal((await call('POST', '/api/v1/access', 'frank@corp.com', { resource: 'orders-prod', rule: 'nope', reason: 'x' })).status, 404);
  t.equal((await call('POST', '/api/v1/access', 'frank@corp.com', { resource: 'orders-prod', rule: 'prod-jit', reason: 'x', duration: '5h' })).status, 400, 'longer than the rule allows');
  t.equal((await call('POST', '/api/v1/access', 'frank@corp.com', { resource: 'orders-prod', rule: 'prod-jit' })).status, 400, 'reason required');
  const asked = await call('POST', '/api/v1/access', 'frank@corp.com', { resource: 'orders-prod', rule: 'prod-jit', duration: '30m', reason: 'backfill' });
  t.equal(asked.status, 201);
  t.equal(asked.body.request.state, 'pending');
  t.equal(asked.body.request.sql, '');
  t.equal((await call('POST', `/api/v1/requests/${asked.body.request.id}/approve`, 'bob@corp.com')).body.outcome, 'approved');
  const grants = (await call('GET', '/api/v1/access', 'frank@corp.com')).body.grants;
  const grant = grants.find((g: { request_id: string }) => g.request_id === asked.body.request.id);
  t.equal(grant.expires_at - grant.granted_at, 30 * 60_000);
  t.equal((await call('DELETE', `/api/v1/access/${grant.id}`, 'alice@corp.com')).status, 403, 'neither grantee nor approver');
  t.equal((await call('DELETE', `/api/v1/access/${grant.id}`, 'frank@corp.com')).status, 200, 'the grantee may give it up');
  t.equal((await call('DELETE', `/api/v1/access/${grant.id}`, 'frank@corp.com')).status, 404);
});

// Regression (fresh-user report): any user could read every request's SQL and parameters.
t.test('a request is visible to its requester and to those who could decide it, to nobody else', async (t) => {
  const req = await held({ sql: 'UPDATE customers SET card = $1', params: ['4111 1111 1111 1111'] });
  for (const who of ['alice@corp.com', 'bob@corp.com', 'dave@corp.com']) {
    t.equal((await call('GET', `/api/v1/requests/${req.id}`, who)).status, 200, `${who} sees it`);
    t.ok((await call('GET', '/api/v1/requests?state=pending', who)).body.requests.some((r: { id: string }) => r.id === req.id), `${who} lists it`);
  }
  const frank = await call('GET', `/api/v1/requests/${req.id}`, 'frank@corp.com');
  t.equal(frank.status, 404, 'frank (sre, neither requester nor approver) is told it does not exist');
  t.notMatch(JSON.stringify(frank.body), /4111/);
  const list = await call('GET', '/api/v1/requests?state=pending', 'frank@corp.com');
  t.equal(list.status, 200);
  t.notOk(list.body.requests.some((r: { id: string }) => r.id === req.id), 'and does not list it');
});

// Regression (tester): a decision by someone who may not view the request answered 403 naming the rule and
// its groups, confirming what GET denies exists.
t.test('approve, deny and force by someone who may not view the request answer 404, like GET', async (t) => {
  const req = await held();
  for (const [action, body] of [['approve', undefined], ['deny', { reason: 'no' }], ['force', { reason: 'INC-1' }]] as const) {
    const frank = await call('POST', `/api/v1/requests/${req.id}/${action}`, 'frank@corp.com', body);
    t.equal(frank.status, 404, `${action}: 404`);
    t.same(frank.body, { error: { code: 'not_found', message: `no approval request ${req.id}` } }, `${action}: the same answer as for an unknown id`);
    t.notMatch(JSON.stringify(frank.body), /writes-need-dba|dba|sre/, `${action}: neither rule nor groups named`);
  }
  const self = await call('POST', `/api/v1/requests/${req.id}/approve`, 'alice@corp.com');
  t.equal(self.status, 403, 'the requester, who may view it, still hears why she cannot approve');
  t.match(self.body.error.message, /cannot approve your own request/);
  t.equal((await call('POST', `/api/v1/requests/${req.id}/deny`, 'alice@corp.com', { reason: 'x' })).status, 403, 'nor deny');
  t.equal((await call('POST', `/api/v1/requests/${req.id}/force`, 'bob@corp.com', { reason: 'x' })).status, 403, 'an approver who is no force approver sees it, so hears 403');
  t.equal((await call('GET', `/api/v1/requests/${req.id}`, 'bob@corp.com')).body.request.state, 'pending', 'nothing changed');
});

// Regression (tester): under audit: { params: redact } approvers were shown '[redacted]' for every value.
t.test('a rule that redacts parameters in the audit log still shows them to approvers', async (t) => {
  const req = await held({ sql: 'DELETE FROM orders WHERE id > $1', params: ['93170428'], redact_params: true });
  const show = await call('GET', `/api/v1/requests/${req.id}`, 'bob@corp.com');
  t.same(show.body.request.params, ['93170428'], 'the approver sees $1');
  t.ok((await call('GET', '/api/v1/requests?state=pending', 'bob@corp.com')).body.requests.some((r: { id: string; params: string[] }) => r.id === req.id && r.params[0] === '93170428'), 'in the list too');
  const audited = server.audit.records.filter((r) => r.fields.request_id === req.id);
  t.same(audited.find((r) => r.type === 'request.held')?.fields.params, ['[redacted]']);
  t.notMatch(JSON.stringify(audited), '93170428', 'no audit record carries the value');
});
