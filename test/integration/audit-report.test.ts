// The auditor's report over a test period: every held request with requester, approvers, times and
// SQL; what it says ran equals what the database itself logged; break-glass flagged for review.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import t from 'tap';
import type { Report, RequestEntry } from '../../src/audit/report.js';
import { examplePolicy, startAirlock } from '../helpers/airlock.js';
import { run, start, type Running } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = path.join(ROOT, 'dist', 'main.js');
if (!fs.existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` first (npm test does)');

const ITEMS = 'airlock_report_items';
const EXPIRING = 'airlock_report_expiring';
const PAIR = 'airlock_report_pair';
const DBLOG = 'airlock_report_dblog';

const policy = examplePolicy(`
  - name: report-quick-expiry
    resources: [orders]
    match: { tables: [${EXPIRING}] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, timeout: 1s }
  - name: report-two-dbas
    resources: [orders]
    match: { tables: [${PAIR}] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 2, timeout: 10m }`);

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
// The database keeps its own log: a statement trigger on every table writes the query text it ran.
await direct.query(`
  DROP TABLE IF EXISTS ${ITEMS}, ${EXPIRING}, ${PAIR}, ${DBLOG};
  CREATE TABLE ${DBLOG} (id serial PRIMARY KEY, tbl text NOT NULL, query text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE TABLE ${ITEMS} (id int PRIMARY KEY, note text);
  CREATE TABLE ${EXPIRING} (id int);
  CREATE TABLE ${PAIR} (id int);
  INSERT INTO ${ITEMS} SELECT g, 'row ' || g FROM generate_series(1, 10) g;
  CREATE OR REPLACE FUNCTION airlock_report_log() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN INSERT INTO ${DBLOG}(tbl, query) VALUES (TG_TABLE_NAME, current_query()); RETURN NULL; END $$;
  CREATE TRIGGER log_items AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${ITEMS} FOR EACH STATEMENT EXECUTE FUNCTION airlock_report_log();
  CREATE TRIGGER log_expiring AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${EXPIRING} FOR EACH STATEMENT EXECUTE FUNCTION airlock_report_log();
  CREATE TRIGGER log_pair AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${PAIR} FOR EACH STATEMENT EXECUTE FUNCTION airlock_report_log();
`);
t.teardown(() => direct.query(`DROP TABLE IF EXISTS ${ITEMS}, ${EXPIRING}, ${PAIR}, ${DBLOG}; DROP FUNCTION IF EXISTS airlock_report_log()`).then(() => {}));

const periodFrom = new Date(Date.now() - 1000).toISOString();
const airlock = await startAirlock({ policy });
let stopped = false;
t.teardown(() => (stopped ? undefined : airlock.stop()));

const broker = () => airlock.daemon.approvalBroker;
type Actor = Parameters<ReturnType<typeof broker>['approve']>[1];
const person = (email: string): Actor => (airlock.daemon as unknown as { users: { get(e: string): unknown } }).users.get(email) as Actor;

function psql(sql: string, email: string): Running {
  return start('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', sql, airlock.pgUrl(email)]);
}

async function held(sql: string, email: string): Promise<{ id: string; p: Running }> {
  const p = psql(sql, email);
  const id = (await p.waitFor(/request ([a-z0-9]+)/))[1]!;
  return { id, p };
}

const SQL = {
  approved: `DELETE FROM ${ITEMS} WHERE id = 1`,
  denied: `UPDATE ${ITEMS} SET note = 'frozen' WHERE id = 2`,
  breakGlass: `UPDATE ${ITEMS} SET note = 'hotfix' WHERE id = 3`,
  expired: `INSERT INTO ${EXPIRING} VALUES (1)`,
  pair: `INSERT INTO ${PAIR} VALUES (7)`,
};
const ids: Record<keyof typeof SQL, string> = { approved: '', denied: '', breakGlass: '', expired: '', pair: '' };

t.test('a test period of held statements: approved, denied, break-glass, expired, two approvers', async (t) => {
  const approved = await held(SQL.approved, 'alice@corp.com');
  ids.approved = approved.id;
  await broker().approve(approved.id, person('bob@corp.com'), 'cli');
  t.equal((await approved.p.done).code, 0, approved.p.stderr());

  const denied = await held(SQL.denied, 'alice@corp.com');
  ids.denied = denied.id;
  await broker().deny(denied.id, person('bob@corp.com'), 'not during the freeze', 'cli');
  t.equal((await denied.p.done).code, 1);

  // carol is sre: break-glass on her own request, alone, with a reason.
  const forced = await held(SQL.breakGlass, 'carol@corp.com');
  ids.breakGlass = forced.id;
  await broker().force(forced.id, person('carol@corp.com'), 'incident 4711: customer cannot log in', 'cli');
  t.equal((await forced.p.done).code, 0, forced.p.stderr());

  const expiring = await held(SQL.expired, 'alice@corp.com');
  ids.expired = expiring.id;
  const expiredRun = await expiring.p.done;
  t.equal(expiredRun.code, 1);
  t.match(expiredRun.stderr, /timed out/);

  const pair = await held(SQL.pair, 'alice@corp.com');
  ids.pair = pair.id;
  await broker().approve(pair.id, person('bob@corp.com'), 'cli');
  await broker().approve(pair.id, person('dave@corp.com'), 'api');
  t.equal((await pair.p.done).code, 0, pair.p.stderr());

  // A statement that is simply allowed is not a held request.
  const read = await run('psql', ['-X', '-At', '-c', `SELECT count(*) FROM ${ITEMS}`, airlock.pgUrl('alice@corp.com')]);
  t.equal(read.stdout.trim(), '9', read.stderr);
  await airlock.stop();
  stopped = true;
});

async function report(format: 'json' | 'md'): Promise<string> {
  const to = new Date(Date.now() + 60_000).toISOString();
  const r = await run('node', [MAIN, 'audit', 'report', path.join(airlock.dir, 'audit'), '--from', periodFrom, '--to', to, '--format', format]);
  if (r.code !== 0) throw new Error(`airlock audit report exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

t.test('the JSON report lists every held request end to end and matches the database log', async (t) => {
  const rep = JSON.parse(await report('json')) as Report;
  t.equal(rep.verification.intact, true, JSON.stringify(rep.verification.findings));
  const byId = new Map(rep.requests.map((e) => [e.request_id, e]));
  t.same([...byId.keys()].sort(), Object.values(ids).sort(), 'exactly the five held requests');
  const get = (k: keyof typeof SQL): RequestEntry => byId.get(ids[k])!;

  for (const k of Object.keys(SQL) as (keyof typeof SQL)[]) {
    const e = get(k);
    t.equal(e.sql, SQL[k], `${k}: the exact SQL`);
    t.equal(e.requester, k === 'breakGlass' ? 'carol@corp.com' : 'alice@corp.com', `${k}: requester`);
    t.equal(e.resource, 'orders');
    t.ok(e.held_at && e.decided_at, `${k}: held and decided times`);
    t.ok(e.held_at! <= e.decided_at!, `${k}: decided after held`);
    t.ok(e.client_addr?.startsWith('127.0.0.1'), `${k}: client address from the session`);
    t.equal(e.application_name, 'psql', `${k}: application_name from the session`);
  }
  t.match(get('approved'), { decision: 'approved', decided_by: ['bob@corp.com'], rule: 'writes-need-dba', outcome: 'ok', command_tag: 'DELETE 1', rows: 1 });
  t.match(get('denied'), { decision: 'denied', decided_by: ['bob@corp.com'], reason: 'not during the freeze' });
  t.match(get('breakGlass'), { decision: 'approved', decided_by: ['carol@corp.com'], break_glass: { by: 'carol@corp.com', reason: 'incident 4711: customer cannot log in' }, outcome: 'ok', command_tag: 'UPDATE 1' });
  t.match(get('expired'), { decision: 'expired', decided_by: [], rule: 'report-quick-expiry' });
  t.match(get('pair'), { decision: 'approved', rule: 'report-two-dbas', min_approvals: 2, outcome: 'ok', command_tag: 'INSERT 0 1' });
  t.same([...get('pair').decided_by].sort(), ['bob@corp.com', 'dave@corp.com'], 'both approvers');
  t.same(get('pair').votes.map((v) => v.by).sort(), ['bob@corp.com', 'dave@corp.com']);
  for (const k of ['approved', 'breakGlass', 'pair'] as const) {
    const e = get(k);
    t.ok(e.ran_at && e.finished_at && e.decided_at! <= e.ran_at && e.ran_at <= e.finished_at, `${k}: ran after the decision, finished after it ran: ${JSON.stringify([e.held_at, e.decided_at, e.ran_at, e.finished_at])}`);
    t.type(e.duration_ms, 'number');
  }
  for (const k of ['denied', 'expired'] as const) t.notOk(get(k).ran_at, `${k}: never ran`);

  const ranPerReport = rep.requests.filter((e) => e.ran_at !== undefined && e.outcome === 'ok').map((e) => e.sql).sort();
  const dblog = (await direct.query<{ query: string }>(`SELECT query FROM ${DBLOG} ORDER BY id`)).rows.map((r) => r.query).sort();
  t.same(ranPerReport, dblog, 'what the report says ran is exactly what the database logged');

  t.equal(rep.break_glass.length, 1, 'one break-glass use awaiting review');
  t.match(rep.break_glass[0], { request_id: ids.breakGlass, by: 'carol@corp.com', reason: 'incident 4711: customer cannot log in', requester: 'carol@corp.com', resource: 'orders' });
  t.ok(rep.break_glass[0]!.review_due, 'a review due date');
  t.match(rep.counts.by_outcome, { approved: 3, denied: 1, expired: 1, executed_ok: 4 });
});

t.test('the Markdown report flags the break-glass use and shows each request', async (t) => {
  const md = await report('md');
  t.match(md, /## Held requests \(5\)/);
  t.match(md, new RegExp(`### ${ids.breakGlass} — BREAK-GLASS`));
  t.match(md, /## Break-glass awaiting review \(1\)/);
  t.match(md, /\| carol@corp\.com \| [^|]+ \| incident 4711: customer cannot log in \| carol@corp\.com \| orders \|/);
  for (const k of Object.keys(SQL) as (keyof typeof SQL)[]) {
    t.match(md, new RegExp(`### ${ids[k]}`), `${k} has a section`);
    t.ok(md.includes(`\`${SQL[k]}\``), `${k}: SQL shown`);
  }
  t.match(md, /\| Decision \| denied at [^|]+ by bob@corp\.com \(not during the freeze\) \|/);
  t.match(md, /Trail verification: \*\*intact\*\*/);
});
