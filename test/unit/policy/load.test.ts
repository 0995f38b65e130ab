// loadPolicy: the example shape, compiled defaults, and every semantic error with its position.
import t from 'tap';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy } from '../../../src/policy/load.js';
import { AirlockError } from '../../../src/errors.js';

const EXAMPLE = `version: 1
resources:
  orders:                        # the database name clients ask for
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    user: postgres
    password: \${env:ORDERS_DB_PASSWORD}   # optional; env references, never literals required
defaults:
  action: allow                  # for statements no rule matches
  on_unparseable: require_approval
rules:
  - name: writes-need-dba
    resources: [orders]
    requesters: [engineering]    # groups; omitted = everyone
    match: { commands: [INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY] }
    action: require_approval
    approval: { approvers: [dba], min_approvals: 1, force_approvers: [sre], timeout: 10m }
  - name: no-drop
    resources: [orders]
    match: { commands: [DROP] }
    action: deny
`;

type T = Parameters<Parameters<typeof t.test>[1]>[0];
const dirs = new WeakMap<T, string>();
function write(t: T, text: string, name = 'policy.yaml'): string {
  let dir = dirs.get(t);
  if (!dir) dirs.set(t, (dir = t.testdir({})));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function errorLines(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof AirlockError && err.code === 'AIRLOCK_ERR_POLICY') return err.message.split('\n');
    throw err;
  }
  throw new Error('expected AIRLOCK_ERR_POLICY');
}

t.test('the issue example loads', async (t) => {
  const file = write(t, EXAMPLE);
  const p = loadPolicy(file, { env: { ORDERS_DB_PASSWORD: 'pw' } });
  t.equal(p.version, 1);
  t.equal(p.file, file);
  t.equal(p.sha256, createHash('sha256').update(EXAMPLE).digest('hex'));
  t.same([...p.resources.entries()], [
    ['orders', { name: 'orders', protocol: 'postgres', host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres', password: 'pw' }],
  ]);
  t.same(p.defaults, {
    action: 'allow',
    on_unparseable: 'require_approval',
    approval: { approvers: ['dba'], min_approvals: 1, all_groups_must_approve: false, force_approvers: ['sre'], timeout_ms: 600_000, mode: 'per_command', hold: 'wait' },
  });
  t.same(p.rules, [
    {
      name: 'writes-need-dba',
      resources: ['orders'],
      requesters: ['engineering'],
      match: { commands: ['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'COPY'] },
      action: 'require_approval',
      approval: { approvers: ['dba'], min_approvals: 1, all_groups_must_approve: false, force_approvers: ['sre'], timeout_ms: 600_000, mode: 'per_command', hold: 'wait' },
      line: 14,
    },
    { name: 'no-drop', resources: ['orders'], match: { commands: ['DROP'] }, action: 'deny', line: 20 },
  ]);
  t.ok(Object.isFrozen(p.rules[0]!.match.commands));
  t.throws(() => (p.resources as Map<string, unknown>).set('x', {}));
  t.throws(() => (p.resources as Map<string, unknown>).delete('orders'));
  t.equal(p.resources.size, 1);
});

t.test('an unset password variable is an error naming file:line and the variable', async (t) => {
  const file = write(t, EXAMPLE);
  t.same(errorLines(() => loadPolicy(file, { env: {} })), [`${file}:9:15: environment variable ORDERS_DB_PASSWORD is not set`]);
  const noPassword = write(t, EXAMPLE.replace(/ {4}password:.*\n/, ''));
  t.equal(loadPolicy(noPassword, { env: {} }).resources.get('orders')!.password, undefined);
});

t.test('optional rule fields are compiled', async (t) => {
  const file = write(
    t,
    `version: 1
resources:
  shop: {protocol: mysql, host: db, port: 3306, database: shop, user: app, allowed_schemas: [shop, shop_archive], tls: {mode: verify-full, ca: certs/ca.pem}}
defaults: {action: deny, on_unparseable: deny}
rules:
  - name: jit
    match: {tables: ["orders_*"], writes: true, regex: "^update"}
    action: require_approval
    hold: retry
    approval: {approvers: [dba, sre], min_approvals: 2, all_groups_must_approve: true, channel: "#x", mode: jit, jit: {duration: 2h}, timeout: 1h}
    audit: {params: redact}
  - name: jit-default-window
    match: {commands: [set global]}
    action: require_approval
    approval: {approvers: [dba], mode: jit, hold: retry}
`,
  );
  const p = loadPolicy(file, { maxTimeoutMs: 3_600_000 });
  t.same(p.resources.get('shop'), {
    name: 'shop', protocol: 'mysql', host: 'db', port: 3306, database: 'shop', user: 'app',
    tls: { mode: 'verify-full', ca: join(file, '..', 'certs/ca.pem') },
    allowed_schemas: ['shop', 'shop_archive'],
  });
  t.same(p.rules[0], {
    name: 'jit',
    match: { tables: ['orders_*'], writes: true, regex: '^update' },
    action: 'require_approval',
    approval: { approvers: ['dba', 'sre'], min_approvals: 2, all_groups_must_approve: true, force_approvers: [], timeout_ms: 3_600_000, channel: '#x', mode: 'jit', jit_duration_ms: 7_200_000, hold: 'retry' },
    audit: { params: 'redact' },
    line: 6,
  });
  t.same(p.rules[1]!.match.commands, ['SET GLOBAL']);
  t.equal(p.rules[1]!.approval!.jit_duration_ms, 1_800_000);
  t.equal(p.rules[1]!.approval!.hold, 'retry');
  t.same(p.defaults.approval.approvers, ['dba', 'sre']);
});

t.test('schema and semantic errors are all reported with positions', async (t) => {
  const file = write(
    t,
    `version: 2
resources:
  orders: {protocol: postgres, host: h, port: 5432, database: d, user: u, allowed_schemas: [x]}
  "bad name": {protocol: mysql, host: h, port: 70000, database: d, user: u, colour: red}
defaults: {action: allow}
rules:
  - name: a
    resources: [orders, nope]
    match: {commands: [SELEC, ddl, "alter system"], regex: "([a-z"}
    action: require_approval
    approval: {approvers: [], timeout: 2h, jit: {duration: 1m}, hold: wait}
    hold: retry
  - name: a
    match: {}
    action: deny
    approval: {approvers: [dba]}
    hold: retry
  - name: c
    match: {commands: [DROP]}
    action: require_approval
  - name: d
    match: {tables: [x], unknown: 1}
    action: maybe
    approval: {min_approvals: 0}
`,
  );
  const lines = errorLines(() => loadPolicy(file));
  t.same(lines, expectedSchemaErrors(file));

  const semantic = write(
    t,
    `version: 1
resources:
  orders: {protocol: postgres, host: h, port: 5432, database: d, user: u, allowed_schemas: [x]}
  "bad name": {protocol: mysql, host: h, port: 3306, database: d, user: u}
defaults: {action: require_approval}
rules:
  - name: a
    resources: [orders, nope]
    match: {commands: [SELEC, ddl, "alter system"], regex: "([a-z"}
    action: require_approval
    approval: {approvers: [], timeout: 2h, jit: {duration: 1m}, hold: wait}
    hold: retry
  - name: a
    match: {}
    action: deny
    approval: {approvers: [dba]}
    hold: retry
  - name: c
    match: {commands: [DROP]}
    action: require_approval
`,
    'semantic.yaml',
  );
  t.same(errorLines(() => loadPolicy(semantic)), [
    `${semantic}:3:75: resources.orders.allowed_schemas: allowed_schemas applies to mysql resources only`,
    `${semantic}:4:3: resources.bad name: resource names are database names: letters, digits, _ . - only`,
    `${semantic}:5:11: defaults: defaults.action is require_approval, so defaults.approval must name the approver groups`,
    `${semantic}:8:25: rules[0].resources[1]: unknown resource "nope"`,
    `${semantic}:9:24: rules[0].match.commands[0]: unknown command "SELEC" (a statement kind such as SELECT or DELETE, or one of DDL, DCL, READ, WRITE)`,
    `${semantic}:9:60: rules[0].match.regex: regex does not compile: Invalid regular expression: /([a-z/i: Unterminated character class`,
    `${semantic}:11:16: rules[0].approval.approvers: require_approval needs at least one approver group`,
    `${semantic}:11:40: rules[0].approval.timeout: 2h exceeds approvals.max_timeout (1h)`,
    `${semantic}:11:44: rules[0].approval.jit: jit applies only with mode: jit`,
    `${semantic}:12:5: rules[0].hold: conflicts with approval.hold (wait)`,
    `${semantic}:13:11: rules[1].name: duplicate rule name "a" (first defined on line 7)`,
    `${semantic}:16:5: rules[1].approval: approval applies only to action require_approval (this rule is deny)`,
    `${semantic}:17:5: rules[1].hold: hold applies only to action require_approval (this rule is deny)`,
    `${semantic}:18:5: rules[2]: action require_approval needs an approval block naming approver groups`,
  ]);
});

function expectedSchemaErrors(file: string): string[] {
  return [
    `${file}:1:10: version: must be 1`,
    `${file}:4:48: resources.bad name.port: must be <= 65535`,
    `${file}:4:77: resources.bad name.colour: unknown key`,
    `${file}:22:26: rules[3].match.unknown: unknown key`,
    `${file}:23:13: rules[3].action: must be one of: allow, deny, require_approval`,
    `${file}:24:31: rules[3].approval.min_approvals: must be >= 1`,
  ];
}

t.test('on_unparseable hold with no approver anywhere is refused; a raised max timeout is honoured', async (t) => {
  const file = write(
    t,
    `version: 1
resources: {r: {protocol: postgres, host: h, port: 1, database: d, user: u}}
defaults: {action: allow}
rules: []
`,
  );
  t.same(errorLines(() => loadPolicy(file)), [`${file}:3:11: defaults: on_unparseable is require_approval but no rule names approvers: add defaults.approval`]);

  const longText = `version: 1
resources: {r: {protocol: postgres, host: h, port: 1, database: d, user: u}}
defaults: {action: allow, on_unparseable: deny}
rules:
  - {name: x, match: {writes: true}, action: require_approval, approval: {approvers: [a], timeout: 3h}}
`;
  const long = write(t, longText, 'long.yaml');
  t.equal(loadPolicy(long, { maxTimeoutMs: 4 * 3_600_000 }).rules[0]!.approval!.timeout_ms, 3 * 3_600_000);
  t.match(errorLines(() => loadPolicy(long))[0], /:5:100: rules\[0\]\.approval\.timeout: 3h exceeds approvals\.max_timeout \(1h\)$/);
  // The default timeout shrinks to fit a smaller maximum instead of failing.
  const noTimeout = write(t, longText.replace(', timeout: 3h', ''), 'b.yaml');
  t.equal(loadPolicy(noTimeout, { maxTimeoutMs: 60_000 }).rules[0]!.approval!.timeout_ms, 60_000);
});
