// The config, policy and users commands, run in-process through commander as the CLI runs them.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Command } from 'commander';
import { configCheck, register as registerConfig, type CommandOutcome } from '../../../../src/cli/commands/config.js';
import { policyCheck, policyExplain, register as registerPolicy } from '../../../../src/cli/commands/policy.js';
import { register as registerUsers, usersAdd, usersList, usersRemove, usersRotate } from '../../../../src/cli/commands/users.js';
import { loadUsers } from '../../../../src/identity/users-file.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const examplePolicy = join(repo, 'policy.example.yaml');
const exampleConfig = join(repo, 'config/airlock.example.yaml');

/** Runs argv through a program built like src/cli/program.ts, capturing what the commands print. */
async function cli(...argv: string[]): Promise<CommandOutcome> {
  let stdout = '';
  let stderr = '';
  const program = new Command('airlock').exitOverride().enablePositionalOptions();
  program.configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  for (const register of [registerConfig, registerPolicy, registerUsers]) register(program);
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { exitCode: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    process.exitCode = before;
  }
}

t.test('config check: the example config passes with its policy and a users file', async (t) => {
  const dir = t.testdir({});
  const users = join(dir, 'users.yaml');
  const config = join(dir, 'airlock.yaml');
  writeFileSync(config, readFileSync(exampleConfig, 'utf8').replace('policy: ../policy.example.yaml', `policy: ${examplePolicy}`));
  t.equal((await usersAdd('alice@corp.com', { users, groups: ['engineering'] })).exitCode, 0);
  // Regression (fresh-user report): groups nobody is in (a typo in requesters) passed silently.
  const lonely = await cli('config', 'check', config);
  t.equal(lonely.exitCode, 0, 'warnings do not fail the check');
  t.match(lonely.stderr, `warning: ${examplePolicy}: group "dba" has no members in users.yaml (approvers of "writes-need-dba" (line 52); `);
  t.match(lonely.stderr, /group "oncall" has no members in users\.yaml \(requesters of "oncall-jit-writes" \(line \d+\)\)/);
  t.equal(lonely.stderr.split('\n').filter(Boolean).length, 3, 'one line per group: dba, sre, oncall');
  t.notMatch(lonely.stderr, /"engineering"/);
  for (const [email, group] of [['bob@corp.com', 'dba'], ['carol@corp.com', 'sre'], ['olive@corp.com', 'oncall']] as const) {
    t.equal((await usersAdd(email, { users, groups: [group] })).exitCode, 0);
  }
  const r = await cli('config', 'check', config);
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(r.stderr, '');
  t.same(r.stdout.split('\n'), [
    `OK: ${config} (instance airlock-1; listening: postgres 127.0.0.1:15432, mysql 127.0.0.1:13306, admin 127.0.0.1:9480; state in memory; audit ${join(dir, 'var/audit')})`,
    `OK: ${examplePolicy} (2 resources, 10 rules)`,
    `OK: ${users} (4 users)`,
    '',
  ]);
});

t.test('config check: errors go to stderr as file:line:col and exit 1', async (t) => {
  const dir = t.testdir({ 'airlock.yaml': 'listen: {postgres: "127.0.0.1:1"}\npolicy: p.yaml\nusers: u.yaml\naudit: {dir: a, colour: blue}\n' });
  const file = join(dir, 'airlock.yaml');
  const r = await configCheck(file);
  t.same(r, { exitCode: 1, stdout: '', stderr: `${file}:4:17: audit.colour: unknown key\n` });

  writeFileSync(file, 'listen: {postgres: "127.0.0.1:1"}\npolicy: p.yaml\nusers: u.yaml\naudit: {dir: a}\n');
  const missing = await configCheck(file);
  t.equal(missing.exitCode, 1);
  t.match(missing.stdout, /^OK: .*airlock.yaml/);
  t.same(missing.stderr.split('\n'), [`${join(dir, 'p.yaml')}:1:1: cannot read file: ENOENT`, `${join(dir, 'u.yaml')}:1:1: cannot read file: ENOENT`, '']);

  const defaultFile = await configCheck();
  t.equal(defaultFile.exitCode, 1);
  t.match(defaultFile.stderr, /^\.\/airlock\.yaml:1:1: cannot read file: ENOENT/);
});

t.test('policy check: the example policy, a broken one, and --config', async (t) => {
  const ok = await cli('policy', 'check', examplePolicy);
  t.same(ok, {
    exitCode: 0,
    stdout: `OK: ${examplePolicy} (2 resources (orders, analytics), 10 rules; defaults: allow, unparseable: require_approval)\n`,
    stderr: '',
  });
  const dir = t.testdir({
    'bad.yaml': 'version: 1\nresources: {r: {protocol: postgres, host: h, port: 1, database: d, user: u}}\ndefaults: {action: allow, on_unparseable: deny}\nrules:\n  - {name: x, match: {commands: [SELEC]}, action: deny}\n',
    'long.yaml': 'version: 1\nresources: {r: {protocol: postgres, host: h, port: 1, database: d, user: u}}\ndefaults: {action: allow, on_unparseable: deny}\nrules:\n  - {name: x, match: {}, action: require_approval, approval: {approvers: [a], timeout: 2h}}\n',
    'airlock.yaml': 'listen: {postgres: "127.0.0.1:0"}\npolicy: long.yaml\nusers: u.yaml\naudit: {dir: a}\napprovals: {max_timeout: 3h}\n',
  });
  const bad = await cli('policy', 'check', join(dir, 'bad.yaml'));
  t.equal(bad.exitCode, 1);
  t.match(bad.stderr, new RegExp(`^${join(dir, 'bad.yaml')}:5:34: rules\\[0\\]\\.match\\.commands\\[0\\]: unknown command "SELEC"`));
  // Alone, 2h exceeds the default 1h maximum; the config raises it to 3h.
  t.equal((await policyCheck(join(dir, 'long.yaml'))).exitCode, 1);
  const viaConfig = await cli('policy', 'check', '--config', join(dir, 'airlock.yaml'));
  t.equal(viaConfig.exitCode, 0, viaConfig.stderr);
  t.match(viaConfig.stdout, `OK: ${join(dir, 'long.yaml')}`);
  const noConfig = await policyCheck(undefined, { config: join(dir, 'nope.yaml') });
  t.equal(noConfig.exitCode, 1);
  t.match(noConfig.stderr, /nope\.yaml:1:1: cannot read file: ENOENT/);
});

t.test('policy explain: classifies with the resource dialect and prints the deciding rule per statement', async (t) => {
  const dir = t.testdir({});
  const users = join(dir, 'users.yaml');
  await usersAdd('alice@corp.com', { users, groups: ['engineering'] });

  const r = await cli('policy', 'explain', '--resource', 'orders', '--user', 'ALICE@corp.com', '--policy', examplePolicy, '--users', users, 'SELECT 1; DELETE FROM orders WHERE id = 1');
  t.equal(r.exitCode, 0, r.stderr);
  const out = r.stdout.split('\n');
  t.equal(out[0], 'Requester: alice@corp.com (groups: engineering) on orders (postgres)');
  t.equal(out[1], 'Decision: HOLD by rule "writes-need-dba" (line 52)');
  t.equal(out[2], 'Why: Statement 2: Rule "writes-need-dba" (line 52) requires approval from dba for DELETE of orders on orders.');
  t.equal(out[3], 'Approval: 1 distinct approver from dba; break-glass: sre; timeout 10m; per command; hold: wait; channel #db-approvals');
  t.match(r.stdout, /\nStatement 1: SELECT \(writes: false; tables: -\)\n {2}-> allow by defaults\.action\n/);
  t.match(r.stdout, /\nStatement 2: DELETE \(writes: true; tables: orders\)\n {2}-> hold by rule "writes-need-dba" \(line 52\)\n {2}\* writes-need-dba \(line 52\) \[require_approval\] matched: /);
  t.match(r.stdout, / {3}no-drop \(line 83\) \[deny\] no-match: commands \[DROP\] do not match DELETE \(writes\)\n/);
  t.match(r.stdout, / {3}analytics-is-read-only \(line 112\) \[deny\] not-bound: bound to analytics, not orders\n/);

  const mysql = await policyExplain('SELECT * FROM `Credentials_2024`', { resource: 'analytics', user: 'x@y.z', groups: ['eng'], policy: examplePolicy });
  t.equal(mysql.exitCode, 0, mysql.stderr);
  t.match(mysql.stdout, /^Requester: x@y\.z \(groups: eng\) on analytics \(mysql\)\nDecision: DENY by rule "secrets-are-off-limits"/);
  // A qualified name needs a glob that allows the schema part: the example lists "*.credentials_*" for that.
  const qualified = await policyExplain('SELECT * FROM `Test`.`Credentials_2024`', { resource: 'analytics', user: 'x@y.z', groups: ['eng'], policy: examplePolicy });
  t.match(qualified.stdout, /\nDecision: DENY by rule "secrets-are-off-limits"/);

  // Regression (fresh-user report): the example's regex let pg_sleep_for() and pg_sleep_until() through.
  for (const sql of ["SELECT pg_sleep_for('1 hour')", 'SELECT pg_sleep_until(now() + interval \'1h\')', 'select PG_SLEEP (1)', 'SELECT pg_sleep/**/(0.1)']) {
    const sleep = await policyExplain(sql, { resource: 'orders', user: 'x@y.z', groups: [], policy: examplePolicy });
    t.match(sleep.stdout, /\nDecision: DENY by rule "no-sleeping-on-orders"/, sql);
  }

  // Regression (fresh-user report): role password hashes were readable through the example policy.
  for (const sql of ['SELECT * FROM pg_authid', 'SELECT passwd FROM pg_catalog.pg_shadow']) {
    const hashes = await policyExplain(sql, { resource: 'orders', user: 'x@y.z', groups: [], policy: examplePolicy });
    t.match(hashes.stdout, /\nDecision: DENY by rule "secrets-are-off-limits"/, sql);
  }

  // Fresh-user round 3: switching to the upstream login's role is refused by the example policy.
  for (const sql of ['set role postgres', 'SET SESSION AUTHORIZATION postgres']) {
    const role = await policyExplain(sql, { resource: 'orders', user: 'x@y.z', groups: [], policy: examplePolicy });
    t.match(role.stdout, /\nDecision: DENY by rule "no-role-switching"/, sql);
  }

  const unparseable = await policyExplain('SELEC 1', { resource: 'orders', user: 'x@y.z', groups: [], policy: examplePolicy });
  t.match(unparseable.stdout, /\nDecision: HOLD by defaults\.on_unparseable\nWhy: The SQL could not be classified/);
  t.match(unparseable.stdout, /\nApproval: 1 distinct approver from dba; break-glass: sre; timeout 10m/);

  const unknownResource = await policyExplain('SELECT 1', { resource: 'nope', user: 'x@y.z', groups: [], policy: examplePolicy });
  t.same(unknownResource, { exitCode: 1, stdout: '', stderr: `unknown resource "nope"; ${examplePolicy} defines: orders, analytics\n` });
  const unknownUser = await policyExplain('SELECT 1', { resource: 'orders', user: 'bob@corp.com', policy: examplePolicy, users });
  t.same(unknownUser, { exitCode: 1, stdout: '', stderr: `no user bob@corp.com in ${users} (or pass --groups)\n` });
  const missingOption = await cli('policy', 'explain', '--resource', 'orders', 'SELECT 1').catch((e: Error) => e);
  t.match(missingOption, { code: 'commander.missingMandatoryOptionValue' });
});

t.test('users add, list, rotate, remove through the CLI', async (t) => {
  const dir = t.testdir({});
  const users = join(dir, 'users.yaml');
  const added = await cli('users', 'add', 'alice@corp.com', '--groups', 'engineering, dba', '--slack-id', 'U123', '--name', 'Alice A', '--users', users);
  t.equal(added.exitCode, 0, added.stderr);
  const token = /\n {2}(alk_[A-Za-z0-9_-]{43})\n/.exec(added.stdout)?.[1];
  t.ok(token, 'the token is printed');
  t.match(added.stdout, `Added alice@corp.com (groups: engineering, dba) to ${users}.\nToken (shown once`);
  t.notMatch(readFileSync(users, 'utf8'), token!);
  t.ok(loadUsers(users).verifyToken('alice@corp.com', token!));

  const again = await cli('users', 'add', 'Alice@corp.com', '--groups', 'x', '--users', users);
  t.same(again, { exitCode: 1, stdout: '', stderr: `user Alice@corp.com already exists in ${users} (use \`airlock users rotate\` for a new token)\n` });

  await usersAdd('bob@corp.com', { users, groups: ['sre'] });
  const list = await cli('users', 'list', '--users', users);
  t.equal(list.exitCode, 0);
  const rows = list.stdout.trimEnd().split('\n');
  t.equal(rows.length, 3);
  t.match(rows[0], /^EMAIL\s+NAME\s+GROUPS\s+SLACK\s+STATUS\s+CREATED\s+ROTATED$/);
  t.match(rows[1], /^alice@corp\.com\s+Alice A\s+engineering,dba\s+U123\s+active\s+\d{4}-\S+\s+-$/);
  t.match(rows[2], /^bob@corp\.com\s+-\s+sre\s+-\s+active/);
  t.notMatch(list.stdout, /stored_key|server_key|mysql_native|caching_sha2|[0-9a-f]{40}/);

  const json = await usersList({ users, json: true });
  const parsed = JSON.parse(json.stdout) as Record<string, unknown>[];
  t.same(parsed.map((u) => Object.keys(u)), [
    ['email', 'name', 'groups', 'slack_id', 'disabled', 'created_at'],
    ['email', 'groups', 'disabled', 'created_at'],
  ]);

  const rotated = await cli('users', 'rotate', 'ALICE@corp.com', '--users', users);
  t.equal(rotated.exitCode, 0);
  const newToken = /\n {2}(alk_\S+)\n/.exec(rotated.stdout)?.[1];
  t.ok(newToken && newToken !== token);
  t.match(rotated.stdout, 'The previous token no longer works');
  t.notOk(loadUsers(users).verifyToken('alice@corp.com', token!));
  t.ok(loadUsers(users).verifyToken('alice@corp.com', newToken!));
  t.match((await usersList({ users })).stdout, /alice@corp\.com .* \d{4}-\d\d-\d\dT\S+Z\n/);

  t.same(await cli('users', 'remove', 'bob@corp.com', '--users', users), { exitCode: 0, stdout: `Removed bob@corp.com from ${users}.\n`, stderr: '' });
  t.same(await usersRemove('bob@corp.com', { users }), { exitCode: 1, stdout: '', stderr: `no user bob@corp.com in ${users}\n` });
  t.same(await usersRotate('bob@corp.com', { users }), { exitCode: 1, stdout: '', stderr: `no user bob@corp.com in ${users}\n` });
  t.equal(loadUsers(users).all().length, 1);
});

t.test('users commands find the users file through --config', async (t) => {
  const dir = t.testdir({ 'airlock.yaml': 'listen: {postgres: "127.0.0.1:0"}\npolicy: p.yaml\nusers: people.yaml\naudit: {dir: a}\n' });
  const added = await cli('users', 'add', 'c@d.e', '--groups', 'g', '--config', join(dir, 'airlock.yaml'));
  t.equal(added.exitCode, 0, added.stderr);
  t.match(added.stdout, `to ${join(dir, 'people.yaml')}.`);
  t.equal(loadUsers(join(dir, 'people.yaml')).all().length, 1);
  const empty = join(dir, 'empty.yaml');
  writeFileSync(empty, '');
  t.same(await usersList({ users: empty }), { exitCode: 0, stdout: `No users in ${empty}.\n`, stderr: '' });
});
