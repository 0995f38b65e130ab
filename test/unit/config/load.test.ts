// loadConfig: defaults, path resolution, env substitution, and file:line:col errors for every problem.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { loadConfig, parseHostPort } from '../../../src/config/load.js';
import { AirlockError } from '../../../src/errors.js';

const MINIMAL = `listen:
  postgres: 127.0.0.1:15432
  mysql: 127.0.0.1:13306
  admin: 127.0.0.1:9480          # HTTP: /healthz, /metrics, /api/v1/...
policy: ./policy.yaml
users: ./users.yaml
state: {}                        # in-memory; or {redis: redis://127.0.0.1:6379/0}
audit:
  dir: ./var/audit
`;

function write(t: Parameters<Parameters<typeof tap.test>[1]>[0], text: string): string {
  const dir = t.testdir({});
  const file = join(dir, 'airlock.yaml');
  writeFileSync(file, text);
  return file;
}

function errorLines(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof AirlockError && err.code === 'AIRLOCK_ERR_CONFIG') return err.message.split('\n');
    throw err;
  }
  throw new Error('expected AIRLOCK_ERR_CONFIG');
}

t.test('the issue example loads with every default filled in', async (t) => {
  const file = write(t, MINIMAL);
  const dir = join(file, '..');
  const c = loadConfig(file);
  t.equal(c.file, file);
  t.equal(c.instance_id, hostname());
  t.same(c.listen, {
    postgres: { host: '127.0.0.1', port: 15432 },
    mysql: { host: '127.0.0.1', port: 13306 },
    admin: { host: '127.0.0.1', port: 9480 },
  });
  t.equal(c.policy, join(dir, 'policy.yaml'));
  t.equal(c.users, join(dir, 'users.yaml'));
  t.same(c.state, {});
  t.same(c.audit, {
    dir: join(dir, 'var/audit'),
    sql: 'text',
    sql_max_bytes: 256 * 1024,
    signing_key: join(dir, 'var/audit/signing-key.pem'),
    checkpoint_interval_ms: 60_000,
    checkpoint_records: 1000,
    rotate_bytes: 64 * 1024 * 1024,
    rotate_age_ms: 24 * 3_600_000,
  });
  t.same(c.approvals, { max_timeout_ms: 3_600_000, lease_ms: 15_000 });
  t.same(c.limits, {
    max_connections: 1000,
    max_connections_per_user: 50,
    max_pending_auth: 256,
    max_pending_auth_per_ip: 32,
    auth_timeout_ms: 10_000,
    idle_timeout_ms: 0,
    max_message_bytes: 64 * 1024 * 1024,
    shutdown_grace_ms: 30_000,
  });
  t.equal(c.slack, undefined);
  t.equal(c.tls, undefined);
  t.same(c.log, { level: 'info' });
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.limits) && Object.isFrozen(c.listen.postgres));
  t.throws(() => ((c as { policy: string }).policy = 'x'));
});

t.test('every optional key is read and converted', async (t) => {
  const file = write(
    t,
    `instance_id: airlock-a
listen:
  postgres: "[::1]:0"
policy: /etc/airlock/policy.yaml
users: users.yaml
state: {redis: "redis://127.0.0.1:6379/0"}
tls: {cert: tls/cert.pem, key: tls/key.pem, require: true}
approvals: {max_timeout: 2h, lease: 500ms}
limits:
  max_connections: 10
  max_connections_per_user: 2
  max_pending_auth: 20
  max_pending_auth_per_ip: 4
  auth_timeout: 1m30s
  idle_timeout: 15m
  max_message_bytes: 1MiB
  shutdown_grace: 0
audit:
  dir: /var/audit
  sql: hash
  sql_max_bytes: 4KiB
  signing_key: keys/audit.pem
  checkpoint_interval: 5s
  checkpoint_records: 10
  rotate_bytes: 1048576
  rotate_age: 1d
slack:
  bot_token: \${env:T_SLACK_BOT}
  signing_secret: "pre-\${env:T_SLACK_SECRET}-post"
  channel: "#ops"
  api_url: http://127.0.0.1:1/api/
  trust_emails: true
  request_timeout: 2s
log: {level: debug}
`,
  );
  const dir = join(file, '..');
  const c = loadConfig(file, { T_SLACK_BOT: 'xoxb-1', T_SLACK_SECRET: 's3' });
  t.equal(c.instance_id, 'airlock-a');
  t.same(c.listen, { postgres: { host: '::1', port: 0 } });
  t.equal(c.policy, '/etc/airlock/policy.yaml');
  t.equal(c.users, join(dir, 'users.yaml'));
  t.same(c.state, { redis: 'redis://127.0.0.1:6379/0' });
  t.same(c.tls, { cert: join(dir, 'tls/cert.pem'), key: join(dir, 'tls/key.pem'), require: true });
  t.same(c.approvals, { max_timeout_ms: 7_200_000, lease_ms: 500 });
  t.same(c.limits, {
    max_connections: 10,
    max_connections_per_user: 2,
    max_pending_auth: 20,
    max_pending_auth_per_ip: 4,
    auth_timeout_ms: 90_000,
    idle_timeout_ms: 900_000,
    max_message_bytes: 1024 * 1024,
    shutdown_grace_ms: 0,
  });
  t.same(c.audit, {
    dir: '/var/audit',
    sql: 'hash',
    sql_max_bytes: 4096,
    signing_key: join(dir, 'keys/audit.pem'),
    checkpoint_interval_ms: 5000,
    checkpoint_records: 10,
    rotate_bytes: 1048576,
    rotate_age_ms: 86_400_000,
  });
  t.same(c.slack, {
    bot_token: 'xoxb-1',
    signing_secret: 'pre-s3-post',
    channel: '#ops',
    api_url: 'http://127.0.0.1:1/api/',
    trust_emails: true,
    request_timeout_ms: 2000,
  });
  t.same(c.log, { level: 'debug' });
});

t.test('all problems are reported at once with file:line:col and key path', async (t) => {
  const file = write(
    t,
    `listen:
  postgres: 127.0.0.1:99999
  mysqll: x
policy: ./policy.yaml
state: {redis: "\${env:T_UNSET_VAR}"}
audit:
  dir: ./var/audit
  sql: texty
  rotate_age: 10 minutes
limits: {max_connections: 0, idle_timeout: 5}
`,
  );
  const lines = errorLines(() => loadConfig(file, {}));
  t.same(lines, [
    `${file}:1:1: missing required key "users"`,
    `${file}:3:3: listen.mysqll: unknown key`,
    `${file}:5:16: environment variable T_UNSET_VAR is not set`,
    `${file}:8:8: audit.sql: must be one of: text, hash`,
    `${file}:9:15: audit.rotate_age: must be a duration like 500ms, 30s, 10m, 1h`,
    `${file}:10:27: limits.max_connections: must be >= 1`,
    `${file}:10:44: limits.idle_timeout: must be <= 0`,
  ]);
});

t.test('semantic checks run after the schema passes', async (t) => {
  const file = write(
    t,
    `listen: {postgres: "127.0.0.1:70000"}
policy: p.yaml
users: u.yaml
audit: {dir: a}
approvals: {max_timeout: "0"}
limits: {max_connections: 5, max_connections_per_user: 6}
`,
  );
  t.same(errorLines(() => loadConfig(file, {})), [
    `${file}:1:20: listen.postgres: port must be between 0 and 65535`,
    `${file}:5:26: approvals.max_timeout: must be greater than zero`,
    `${file}:6:56: limits.max_connections_per_user: must not exceed limits.max_connections`,
  ]);
});

t.test('max_pending_auth_per_ip follows a smaller max_pending_auth unless set, and may not exceed it', async (t) => {
  const base = 'listen: {postgres: "127.0.0.1:0"}\npolicy: p.yaml\nusers: u.yaml\naudit: {dir: a}\n';
  const small = loadConfig(write(t, `${base}limits: {max_pending_auth: 5}\n`), {});
  t.equal(small.limits.max_pending_auth, 5);
  t.equal(small.limits.max_pending_auth_per_ip, 5);
  const big = loadConfig(write(t, `${base}limits: {max_pending_auth: 1000}\n`), {});
  t.equal(big.limits.max_pending_auth_per_ip, 32);
  const file = write(t, `${base}limits: {max_pending_auth: 5, max_pending_auth_per_ip: 6}\n`);
  t.same(errorLines(() => loadConfig(file, {})), [`${file}:5:56: limits.max_pending_auth_per_ip: must not exceed limits.max_pending_auth`]);
  const zero = write(t, `${base}limits: {max_pending_auth: 0}\n`);
  t.same(errorLines(() => loadConfig(zero, {})), [`${zero}:5:28: limits.max_pending_auth: must be >= 1`]);
});

t.test('yaml syntax errors, duplicate keys, unreadable and empty files', async (t) => {
  const bad = write(t, 'listen: {postgres: 127.0.0.1:1\npolicy: [\n');
  t.match(errorLines(() => loadConfig(bad))[0], new RegExp(`^${bad}:\\d+:\\d+: `));
  const dup = write(t, 'policy: a\npolicy: b\n');
  t.match(errorLines(() => loadConfig(dup)).join('\n'), /:2:1: .*[Mm]ap keys must be unique/);
  t.match(errorLines(() => loadConfig('/nonexistent/airlock.yaml'))[0], /^\/nonexistent\/airlock.yaml:1:1: cannot read file: ENOENT/);
  const empty = write(t, '');
  t.same(errorLines(() => loadConfig(empty)), [`${empty}:1:1: must be object`]);
});

t.test('parseHostPort', async (t) => {
  t.same(parseHostPort('localhost:5432'), { host: 'localhost', port: 5432 });
  t.same(parseHostPort('[::1]:1'), { host: '::1', port: 1 });
  t.equal(parseHostPort('::1:1'), undefined);
  t.equal(parseHostPort('a:65536'), undefined);
  t.equal(parseHostPort('a'), undefined);
});

t.test('state.redis takes the standalone, Sentinel and Cluster URL forms; a bad one is named with file:line', async (t) => {
  for (const url of ['redis://127.0.0.1:6379/0', 'rediss://r.example:6380', 'redis+sentinel://:pw@s1:26379,s2:26380/mymaster/2', 'rediss+cluster://n1:7000,n2:7001']) {
    const c = loadConfig(write(t, MINIMAL.replace('state: {}', `state: {redis: "${url}"}`)));
    t.same(c.state, { redis: url }, url);
  }
  const bad = [
    ['http://127.0.0.1:6379', /:7:\d+: state\.redis: must be a redis:\/\/, redis\+sentinel:\/\/ or redis\+cluster:\/\/ URL/],
    ['redis+sentinel://s1:26379', /:7:\d+: state\.redis: a Sentinel URL needs the master name/],
    ['redis+cluster://n1:70000', /:7:\d+: state\.redis: bad host:port "n1:70000"/],
  ] as const;
  for (const [url, expected] of bad) {
    const lines = errorLines(() => loadConfig(write(t, MINIMAL.replace('state: {}', `state: {redis: "${url}"}`))));
    t.equal(lines.length, 1, url);
    t.match(lines[0], expected);
  }
});
