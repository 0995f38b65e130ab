// The daemon's log: JSON lines with session and request ids; SQL only at debug; never a token or password.

import mysql from 'mysql2/promise';
import pg from 'pg';
import t from 'tap';
import { spawnAirlock, writeConfig, type AirlockProcess } from '../helpers/airlock-process.js';
import { examplePolicy } from '../helpers/airlock.js';
import { FakeSlack } from '../helpers/fake-slack.js';
import { run } from '../helpers/processes.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(`DROP TABLE IF EXISTS airlock_ops_logs; CREATE TABLE airlock_ops_logs (id int, note text)`);

const slack = await FakeSlack.start();
t.teardown(() => slack.close());
const BOT_TOKEN = 'xoxb-ops-logs-bot-token-4f1c';
const SIGNING_SECRET = 'ops-logs-signing-secret-9d2e';
const WRONG_PASSWORD = 'alk_not-the-right-token-7e3a';
const SQL_MARKER = 'sql_marker_5b8c';

/** A session that reads, writes (held, then cancelled by a dba deny), fails a login: every kind of line. */
async function session(airlock: AirlockProcess): Promise<string> {
  const read = await run('psql', ['-X', '-c', `SELECT '${SQL_MARKER}' AS marker`, airlock.pgUrl('bob@corp.com')]);
  if (read.code !== 0) throw new Error(read.stderr);
  const c = new pg.Client(airlock.pgConfig('alice@corp.com'));
  const notices: string[] = [];
  c.on('notice', (n) => notices.push(n.message ?? ''));
  c.on('error', () => {});
  await c.connect();
  const held = c.query(`INSERT INTO airlock_ops_logs VALUES (1, '${SQL_MARKER}')`).catch((e: Error) => e);
  for (let i = 0; i < 400 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  const id = /request (\w+)/.exec(notices[0] ?? '')?.[1];
  if (!id) throw new Error('not held');
  // Ctrl-C equivalent: closing the client cancels the request.
  await c.end();
  await held;
  const mysqlPort = Number(/MySQL listener on [\d.]+:(\d+)/.exec(airlock.proc.stdout())?.[1]);
  const my = await mysql.createConnection({ host: '127.0.0.1', port: mysqlPort, user: 'bob@corp.com', password: airlock.tokens['bob@corp.com']!, database: 'shop' });
  await my.query(`SELECT '${SQL_MARKER}_my' AS marker`);
  await my.end();
  const bad = new pg.Client({ ...airlock.pgConfig('bob@corp.com'), password: WRONG_PASSWORD });
  bad.on('error', () => {});
  await bad.connect().catch(() => {});
  return id;
}

async function runWithLogLevel(level: string) {
  const files = writeConfig({
    policy: examplePolicy().replace('resources:\n', 'resources:\n  shop: { protocol: mysql, host: 127.0.0.1, port: 3306, database: test, user: root }\n'),
    config: {
      listen: { postgres: '127.0.0.1:0', mysql: '127.0.0.1:0', admin: '127.0.0.1:0' },
      slack: { bot_token: BOT_TOKEN, signing_secret: SIGNING_SECRET, channel: '#ops', api_url: slack.apiUrl },
    },
  });
  const airlock = await spawnAirlock(files, ['--log-level', level]);
  const requestId = await session(airlock);
  // The request's end is logged after the session closes; wait for it (bounded).
  for (let i = 0; i < 200 && !airlock.proc.stdout().includes('"reason":"client disconnected"'); i++) await new Promise((r) => setTimeout(r, 25));
  const exit = await airlock.stop();
  const secrets = [...Object.values(files.tokens), BOT_TOKEN, SIGNING_SECRET, WRONG_PASSWORD];
  return { out: exit.stdout + exit.stderr, lines: airlock.logLines(), stdout: exit.stdout, requestId, secrets, code: exit.code };
}

t.test('--log-level info: JSON lines with ids, no SQL, no secrets', async (t) => {
  const r = await runWithLogLevel('info');
  t.equal(r.code, 0);
  const plain = r.stdout.split('\n').filter((l) => l && !l.startsWith('{'));
  t.ok(plain.every((l) => l.startsWith('airlock: ')), 'every other line is a start-up line');
  t.ok(r.lines.length > 5, 'there are log lines');
  t.ok(r.lines.every((l) => typeof l.level === 'string' && typeof l.time === 'string' && typeof l.msg === 'string' && typeof l.pid === 'number'), 'level, time, pid and msg on every line');
  t.notOk(r.lines.some((l) => l.level === 'debug' || l.level === 'trace'), 'nothing below info');
  const started = r.lines.filter((l) => l.msg === 'session started');
  t.equal(started.length, 3, 'every session logged (two PostgreSQL, one MySQL)');
  t.ok(started.every((l) => typeof l.session_id === 'string' && l.session_id !== ''), 'with a session id');
  t.ok(r.lines.some((l) => l.msg === 'request held for approval' && l.request_id === r.requestId), 'the hold carries its request id');
  t.ok(r.lines.some((l) => l.msg === 'authentication failed' && typeof l.session_id === 'string'), 'the failed login is logged');
  t.notOk(r.out.includes(SQL_MARKER), 'no SQL text at info');
  t.notMatch(r.out, /INSERT INTO airlock_ops_logs/);
  for (const secret of r.secrets) t.notOk(r.out.includes(secret), `secret ${secret.slice(0, 8)}… not in the log`);
});

t.test('--log-level debug: SQL may appear, secrets never', async (t) => {
  const r = await runWithLogLevel('debug');
  t.equal(r.code, 0);
  t.ok(r.lines.some((l) => l.level === 'debug'), 'debug lines are written');
  t.ok(
    r.lines.some((l) => l.msg === 'statement decided' && typeof l.sql === 'string' && l.sql.includes(SQL_MARKER) && typeof l.session_id === 'string'),
    'each statement decision is logged with its SQL and session id',
  );
  // Regression (fresh-user report): MySQL statements were not logged at debug level.
  t.ok(r.lines.some((l) => l.msg === 'statement decided' && typeof l.sql === 'string' && l.sql.includes(`${SQL_MARKER}_my`)), 'MySQL statements too');
  for (const secret of r.secrets) t.notOk(r.out.includes(secret), `secret ${secret.slice(0, 8)}… not in the log`);
});
