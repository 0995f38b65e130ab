// Self-approval is refused; an SRE's break-glass force on her own request runs and is flagged everywhere a reviewer looks.

import pg from 'pg';
import t from 'tap';
import { startAirlock } from '../helpers/airlock.js';
import { api, auditRecords, cli, metric, ranMessage, sendHeld } from '../helpers/approval-e2e.js';
import { requireBuild } from '../helpers/airlock-process.js';
import { dedicatedRedisDb } from '../helpers/redis-db.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');
requireBuild();
const redis = await dedicatedRedisDb(8, (fn) => t.teardown(fn));
const airlock = await startAirlock({ config: { instance_id: 'breakglass', state: { redis } } });
t.teardown(() => airlock.stop());

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query('DROP TABLE IF EXISTS airlock_breakglass; CREATE TABLE airlock_breakglass (id int, note text)');
const rows = async () => (await direct.query('SELECT id, note FROM airlock_breakglass ORDER BY id')).rows;

// carol is in sre (a force approver of writes-need-dba) and engineering (its requesters).
const carol = new pg.Client(airlock.pgConfig('carol@corp.com'));
await carol.connect();
t.teardown(() => carol.end());
const as = (email: string) => ({ email, token: airlock.tokens[email]! });

t.test('the requester cannot approve her own request, nor deny it, whatever her groups', async (t) => {
  const { id, result } = await sendHeld(carol, 'INSERT INTO airlock_breakglass VALUES ($1, $2)', [1, 'self approve']);
  const self = await cli(['approvals', 'approve', id, '--admin', airlock.adminUrl], as('carol@corp.com'));
  t.equal(self.code, 1);
  t.match(self.stderr, /not allowed: you cannot approve your own request/);
  const selfDeny = await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/deny`, as('carol@corp.com'), { reason: 'mine' });
  t.equal(selfDeny.status, 403);
  const forceWithoutReason = await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/force`, as('carol@corp.com'), { reason: '  ' });
  t.equal(forceWithoutReason.status, 400, 'break-glass needs a reason');
  const notForcer = await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/force`, as('bob@corp.com'), { reason: 'I am a dba' });
  t.equal(notForcer.status, 403, 'only force approvers may force');
  t.equal((await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, as('bob@corp.com'))).body.request.state, 'pending');
  t.same(await rows(), [], 'nothing ran');
  // Clean up the way an approver would.
  t.equal((await api(airlock.adminUrl, 'POST', `/api/v1/requests/${id}/deny`, as('bob@corp.com'), { reason: 'tidy up' })).status, 200);
  t.match(await result, { code: '42501' });
});

t.test('break-glass self-force with a reason runs, and is flagged in state, audit, CLI and metrics', async (t) => {
  const before = await metric(airlock.adminUrl, 'airlock_approval_requests_total', { outcome: 'break_glass' });
  const { id, result } = await sendHeld(carol, 'INSERT INTO airlock_breakglass VALUES ($1, $2)', [2, 'forced']);
  const forced = await cli(['approvals', 'force', id, '--reason', 'INC-4711 checkout is down', '--admin', airlock.adminUrl], as('carol@corp.com'));
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stdout, new RegExp(`request ${id}: force-approved \\(break-glass, flagged for review\\)`));
  const res = await result;
  t.notOk(res instanceof Error, ranMessage(res));
  t.same(await rows(), [{ id: 2, note: 'forced' }]);

  const request = (await api(airlock.adminUrl, 'GET', `/api/v1/requests/${id}`, as('bob@corp.com'))).body.request;
  t.equal(request.state, 'executed');
  t.match(request.break_glass, { by: 'carol@corp.com', reason: 'INC-4711 checkout is down' });

  const used = auditRecords(airlock.dir).filter((r) => r.type === 'breakglass.used' && r.request_id === id);
  t.equal(used.length, 1, 'one breakglass.used audit record');
  t.match(used[0], { by: 'carol@corp.com', reason: 'INC-4711 checkout is down', self: true });
  t.ok(used[0]!.review_due, 'a review date is set');

  const listed = await cli(['approvals', 'list', '--break-glass', '--admin', airlock.adminUrl], as('bob@corp.com'));
  t.equal(listed.code, 0, listed.stderr);
  const line = listed.stdout.split('\n').find((l) => l.startsWith(id));
  t.ok(line, `the request is listed:\n${listed.stdout}`);
  t.match(line, /carol@corp\.com.*carol@corp\.com.*orders\s+writes-need-dba\s+INC-4711 checkout is down/);

  t.equal(await metric(airlock.adminUrl, 'airlock_approval_requests_total', { outcome: 'break_glass' }), before + 1);
});
