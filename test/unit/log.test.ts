// Logger: JSON lines with session/request ids, secrets redacted, SQL only at debug.

import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger, requestLogger, sessionLogger } from '../../src/log.js';
import { AirlockError } from '../../src/errors.js';

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const SECRET = 'hunter2-s3cr3t-value';

t.test('credentials never reach the output', async (t) => {
  const out = sink();
  const log = createLogger({ level: 'trace', pretty: false, destination: out.stream });
  log.info({ password: SECRET }, 'top level');
  log.info({ upstream: { password: SECRET, user: 'app' } }, 'nested');
  log.info({ slack: { bot_token: SECRET, signing_secret: SECRET, app_token: SECRET } }, 'slack config');
  log.info({ cfg: { resource: { password: SECRET } } }, 'two levels deep');
  log.info({ headers: { authorization: `Bearer ${SECRET}`, 'x-slack-signature': SECRET } }, 'headers');
  log.info({ req: { headers: { cookie: SECRET } } }, 'request headers');
  log.debug({ token: SECRET, secret: SECRET, api_key: SECRET }, 'debug too');
  t.equal(out.lines().length, 7);
  t.notOk(out.text().includes(SECRET), 'the secret appears nowhere');
  t.match(out.lines()[1], { upstream: { password: '[redacted]', user: 'app' } }, 'other fields stay');
});

t.test('pretty output is redacted too', async (t) => {
  const out = sink();
  const log = createLogger({ level: 'info', pretty: true, destination: out.stream });
  log.info({ password: SECRET, resource: 'orders-prod' }, 'pretty line');
  t.match(out.text(), /pretty line/);
  t.match(out.text(), /orders-prod/);
  t.notOk(out.text().includes(SECRET));
  t.throws(() => JSON.parse(out.text()), 'pretty output is not JSON');
});

t.test('SQL text appears only at debug level', async (t) => {
  const out = sink();
  const log = createLogger({ level: 'debug', pretty: false, destination: out.stream });
  log.debug({ sql: 'select secret_col from t', params: ['42'] }, 'statement');
  log.info({ sql: 'select secret_col from t', params: ['42'], decision: 'deny' }, 'statement decided');
  const [debugLine, infoLine] = out.lines();
  t.equal(debugLine!.sql, 'select secret_col from t');
  t.same(debugLine!.params, ['42']);
  t.notOk('sql' in infoLine!, 'info drops sql');
  t.notOk('params' in infoLine!, 'info drops params');
  t.equal(infoLine!.decision, 'deny', 'other fields stay');

  const quiet = sink();
  createLogger({ level: 'info', pretty: false, destination: quiet.stream }).debug({ sql: 'select 1' }, 'statement');
  t.equal(quiet.text(), '', 'debug lines are off at info');
});

t.test('one JSON line per event, carrying session and request ids', async (t) => {
  const out = sink();
  const log = createLogger({ level: 'info', pretty: false, destination: out.stream, base: { instance_id: 'i-1' } });
  const session = sessionLogger(log, 'sess-1', { protocol: 'postgres' });
  session.info('connected');
  requestLogger(session, 'req-9').warn('held');
  const lines = out.lines();
  t.equal(lines.length, 2);
  t.match(lines[0], { level: 'info', msg: 'connected', session_id: 'sess-1', protocol: 'postgres', instance_id: 'i-1' });
  t.match(lines[1], { level: 'warn', msg: 'held', session_id: 'sess-1', request_id: 'req-9' });
  t.match(lines[0]!.time, /^\d{4}-\d\d-\d\dT/);
});

t.test('an unknown level is a config error, not a silent default', async (t) => {
  t.throws(() => createLogger({ level: 'verbose', pretty: false }), AirlockError);
  t.throws(() => createLogger({ level: 'verbose', pretty: false }), { code: 'AIRLOCK_ERR_CONFIG' });
});
