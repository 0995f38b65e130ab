// users.yaml: validation with positions, the directory's lookups and token checks, and atomic 0600 edits that keep other entries.
import t from 'tap';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { AirlockError } from '../../../src/errors.js';
import { addUser, listUsers, removeUser, rotateUser } from '../../../src/identity/user-admin.js';
import { loadUsers, readUsersFile } from '../../../src/identity/users-file.js';
import { verifyCachingSha2Plain } from '../../../src/identity/verifiers.js';

type T = Parameters<Parameters<typeof t.test>[1]>[0];

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof AirlockError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an AirlockError');
}

function usersPath(t: T): string {
  return join(t.testdir({}), 'users.yaml');
}

t.test('add creates the file 0600 with verifiers only, and the directory accepts the token', async (t) => {
  const file = usersPath(t);
  const now = new Date('2025-01-02T03:04:05.000Z');
  const { token, record } = addUser(file, { email: 'Alice@Corp.com', groups: ['engineering', 'dba'], slack_id: 'U123', name: 'Alice' }, now);
  t.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  t.notMatch(text, token, 'the token is never written');
  t.notMatch(text, token.slice(4), 'not even without its prefix');
  t.match(text, /^# airlock users/);
  t.same(parse(text).users, [record]);
  t.equal(record.created_at, '2025-01-02T03:04:05.000Z');
  t.same(Object.keys(record), ['email', 'name', 'groups', 'slack_id', 'scram', 'mysql_native', 'caching_sha2', 'created_at']);
  t.same(readdirSync(join(file, '..')), ['users.yaml'], 'no temp file left behind');

  const dir = loadUsers(file);
  t.equal(dir.get('alice@corp.com')?.name, 'Alice', 'email lookup ignores case');
  t.equal(dir.get('ALICE@CORP.COM')?.email, 'Alice@Corp.com');
  t.equal(dir.bySlackId('U123')?.email, 'Alice@Corp.com');
  t.equal(dir.bySlackId('U999'), undefined);
  t.equal(dir.all().length, 1);
  t.ok(dir.verifyToken('alice@CORP.com', token));
  t.notOk(dir.verifyToken('alice@corp.com', token + 'x'));
  t.notOk(dir.verifyToken('nobody@corp.com', token));
  t.ok(Object.isFrozen(dir.get('alice@corp.com')));
  t.ok(verifyCachingSha2Plain(dir.get('alice@corp.com')!, token));
});

t.test('add refuses duplicates (any case), bad input and a taken slack id', async (t) => {
  const file = usersPath(t);
  addUser(file, { email: 'bob@corp.com', groups: ['eng'], slack_id: 'U1' });
  t.same(codeOf(() => addUser(file, { email: 'BOB@corp.com', groups: ['eng'] })).code, 'AIRLOCK_ERR_CONFLICT');
  t.same(codeOf(() => addUser(file, { email: 'carol@corp.com', groups: ['eng'], slack_id: 'U1' })).code, 'AIRLOCK_ERR_CONFLICT');
  const bad = codeOf(() => addUser(file, { email: 'not-an-email', groups: [], slack_id: 'x1' }));
  t.equal(bad.code, 'AIRLOCK_ERR_BAD_REQUEST');
  t.match(bad.message, /not an email address.*at least one group.*slack id "x1"/);
  t.equal(listUsers(file).length, 1);
});

t.test('rotate replaces the verifiers and keeps everything else; remove keeps the others untouched', async (t) => {
  const file = usersPath(t);
  const a = addUser(file, { email: 'a@x.io', groups: ['g'] });
  const b = addUser(file, { email: 'b@x.io', groups: ['g'] });
  // An operator's comment and hand-set flag must survive edits.
  writeFileSync(file, readFileSync(file, 'utf8').replace('- email: b@x.io', '# contractor until June\n  - email: b@x.io\n    disabled: true'));
  const bBefore = listUsers(file)[1]!;

  const rotated = rotateUser(file, 'A@X.IO', new Date('2025-02-01T00:00:00Z'));
  t.not(rotated.token, a.token);
  const dir = loadUsers(file);
  t.notOk(dir.verifyToken('a@x.io', a.token), 'the old token stops working');
  t.ok(dir.verifyToken('a@x.io', rotated.token));
  t.equal(dir.get('a@x.io')!.rotated_at, '2025-02-01T00:00:00.000Z');
  t.equal(dir.get('a@x.io')!.created_at, a.record.created_at);
  t.same(dir.get('b@x.io'), bBefore, 'the other user is untouched');
  t.notOk(dir.verifyToken('b@x.io', b.token), 'disabled users never verify');
  t.match(readFileSync(file, 'utf8'), /# contractor until June/);

  t.same(removeUser(file, 'a@x.io').email, 'a@x.io');
  t.same(listUsers(file), [bBefore]);
  t.match(readFileSync(file, 'utf8'), /# contractor until June/);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(codeOf(() => removeUser(file, 'a@x.io')).code, 'AIRLOCK_ERR_NOT_FOUND');
  t.equal(codeOf(() => rotateUser(file, 'zed@x.io')).code, 'AIRLOCK_ERR_NOT_FOUND');
});

t.test('loading reports every problem with file:line:col', async (t) => {
  const file = usersPath(t);
  addUser(file, { email: 'a@x.io', groups: ['g'], slack_id: 'U1' });
  const good = readFileSync(file, 'utf8');
  const entry = good.slice(good.indexOf('  - email'));
  writeFileSync(
    file,
    good.replace('mysql_native: ', 'colour: red\n    mysql_native: ') + entry.replace('a@x.io', 'A@X.io').replace(/iterations: 4096/, 'iterations: 10'),
  );
  const { code, message } = codeOf(() => loadUsers(file));
  t.equal(code, 'AIRLOCK_ERR_USERS');
  const lines = message.split('\n');
  t.equal(lines.length, 2, message);
  t.match(lines[0], new RegExp(`^${file}:\\d+:5: users\\[0\\]\\.colour: unknown key$`));
  t.match(lines[1], new RegExp(`^${file}:\\d+:19: users\\[1\\]\\.scram\\.iterations: must be >= 4096$`));

  writeFileSync(file, good + entry.replace('a@x.io', 'A@X.io'));
  const dup = codeOf(() => loadUsers(file)).message.split('\n');
  t.equal(dup.length, 2);
  t.match(dup[0], /users\[1\]\.email: duplicate user A@X.io \(emails compare without case\)$/);
  t.match(dup[1], /users\[1\]\.slack_id: slack_id U1 is already used by a@x.io$/);

  t.equal(codeOf(() => loadUsers(join(file, '..', 'missing.yaml'))).code, 'AIRLOCK_ERR_USERS');
  writeFileSync(file, '');
  t.same(loadUsers(file).all(), [], 'an empty file has no users');
  writeFileSync(file, 'users:\n');
  t.same(readUsersFile(file).records, []);
});

t.test('env references are not substituted in users.yaml', async (t) => {
  const file = usersPath(t);
  addUser(file, { email: 'a@x.io', groups: ['g'] });
  writeFileSync(file, readFileSync(file, 'utf8').replace('groups: [ g ]', 'groups: [ "${env:HOME}" ]'));
  t.same(loadUsers(file).get('a@x.io')!.groups, ['${env:HOME}']);
});
