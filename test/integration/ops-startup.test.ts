// `airlock start`: one line per listener when it starts, and the reason and the fix, exit 1, when it cannot.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { spawnAirlock, startExpectingFailure, writeConfig } from '../helpers/airlock-process.js';
import { requireService } from '../helpers/services.js';

await requireService('postgres');

async function freePort(keepOpen: boolean): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  if (!keepOpen) await new Promise<void>((r) => server.close(() => r()));
  return { port, server };
}

t.test('a good start prints one line per listener', async (t) => {
  const files = writeConfig();
  const airlock = await spawnAirlock(files);
  const out = airlock.proc.stdout();
  t.match(out, /^airlock: PostgreSQL listener on 127\.0\.0\.1:\d+$/m);
  t.match(out, /^airlock: admin API, \/healthz, \/readyz and \/metrics on http:\/\/127\.0\.0\.1:\d+$/m);
  t.match(out, /^airlock: instance \S+, audit log in .*audit, state in memory$/m);
  t.equal(out.split('\n').filter((l) => l.startsWith('airlock: ')).length, 3, 'one line each, nothing else plain');
  const exit = await airlock.stop();
  t.equal(exit.code, 0);
});

t.test('port in use', async (t) => {
  const busy = await freePort(true);
  t.teardown(() => new Promise<void>((r) => busy.server.close(() => r())));
  const files = writeConfig({ config: { listen: { postgres: `127.0.0.1:${busy.port}`, admin: '127.0.0.1:0' } } });
  const r = await startExpectingFailure(files.configFile);
  t.equal(r.code, 1);
  t.match(r.stderr, `airlock: cannot start: cannot listen for postgres on 127.0.0.1:${busy.port}: port ${busy.port} is already in use. Fix: stop the other process or change listen.postgres`);
});

t.test('bad config names file and line', async (t) => {
  const files = writeConfig();
  fs.writeFileSync(files.configFile, fs.readFileSync(files.configFile, 'utf8') + 'limits:\n  max_connections: lots\n');
  const r = await startExpectingFailure(files.configFile);
  t.equal(r.code, 1);
  const lines = fs.readFileSync(files.configFile, 'utf8').split('\n');
  const line = lines.findIndex((l) => l.includes('max_connections: lots')) + 1;
  t.match(r.stderr, new RegExp(`airlock: cannot start: .*${files.configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+`, 's'));
  t.match(r.stderr, /max_connections/);
});

t.test('bad policy names file and line', async (t) => {
  const files = writeConfig({ policy: 'version: 1\nresources: {}\nrules:\n  - name: broken\n    action: maybe\n' });
  const r = await startExpectingFailure(files.configFile);
  t.equal(r.code, 1);
  t.match(r.stderr, /^airlock: cannot start: /);
  t.match(r.stderr, new RegExp(`${path.join(files.dir, 'policy.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+`));
});

t.test('unwritable audit directory', async (t) => {
  const files = writeConfig();
  // A path through a regular file cannot be created even by root.
  fs.writeFileSync(path.join(files.dir, 'not-a-dir'), '');
  fs.writeFileSync(files.configFile, fs.readFileSync(files.configFile, 'utf8').replace('dir: ./audit', 'dir: ./not-a-dir/audit'));
  const r = await startExpectingFailure(files.configFile);
  t.equal(r.code, 1);
  t.match(r.stderr, /airlock: cannot start: cannot open the audit log in .*not-a-dir\/audit: .*Fix: make the directory writable by the airlock user or set audit\.dir/);
});

// Regression (fresh-user report): the message said "Fix:" twice, the second one wrong.
t.test('a second airlock on the same audit chain is refused with one fix', async (t) => {
  const files = writeConfig();
  const first = await spawnAirlock(files);
  t.teardown(() => first.stop());
  const r = await startExpectingFailure(files.configFile);
  t.equal(r.code, 1);
  t.match(r.stderr, /airlock: cannot start: cannot open the audit log in .*: the audit chain of instance "[^"]+" in .* is being written by process \d+\. Fix: stop that airlock, or give this one its own instance_id or audit\.dir\n/);
  t.equal(r.stderr.split('Fix:').length - 1, 1, 'one Fix:');
});

t.test('Redis unreachable', async (t) => {
  const { port } = await freePort(false);
  const files = writeConfig({ config: { state: { redis: `redis://127.0.0.1:${port}/0` } } });
  const r = await startExpectingFailure(files.configFile);
  t.equal(r.code, 1);
  t.match(r.stderr, `airlock: cannot start: Redis at redis://127.0.0.1:${port}/0 is unreachable`);
  t.match(r.stderr, /Fix: start Redis or correct state\.redis/);
});

// Regression (fresh-user report): the start-up error printed the Redis password.
t.test('Redis unreachable with a password in the URL: the password is not printed', async (t) => {
  const { port } = await freePort(false);
  const files = writeConfig({ config: { state: { redis: `redis://default:s3cr3t-pw@127.0.0.1:${port}/0` } } });
  const r = await startExpectingFailure(files.configFile);
  t.equal(r.code, 1);
  t.match(r.stderr, `airlock: cannot start: Redis at redis://***@127.0.0.1:${port}/0 is unreachable`);
  t.notMatch(r.stderr + r.stdout, /s3cr3t-pw/);
});

t.test('missing users file', async (t) => {
  const files = writeConfig();
  fs.rmSync(path.join(files.dir, 'users.yaml'));
  const r = await startExpectingFailure(files.configFile);
  t.equal(r.code, 1);
  t.match(r.stderr, /airlock: cannot start: .*users\.yaml/);
  t.match(r.stderr, /Fix:|airlock users add/);
});
