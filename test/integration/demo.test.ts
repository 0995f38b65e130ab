// The README's first command: `airlock demo` in front of the embedded PGlite database, walked through
// as its instructions say (a read runs, a DELETE is held until bob approves, a DROP is denied).

import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import pg from 'pg';
import t from 'tap';
import { startDemo, demoInstructions } from '../../src/demo/demo.js';
import { createLogger } from '../../src/log.js';
import { run } from '../helpers/processes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-demo-test-'));
const demo = await startDemo({ dir, host: '127.0.0.1', pgPort: 0, adminPort: 0, log: createLogger({ level: 'silent' }) });
t.teardown(async () => {
  await demo.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
const port = demo.daemon.addresses.postgres!.port;
const person = (email: string) => demo.people.find((p) => p.email === email)!;
const url = (email: string) => `postgresql://${encodeURIComponent(email)}:${encodeURIComponent(person(email).token)}@127.0.0.1:${port}/orders?sslmode=disable`;

t.test('instructions name the people, their tokens and the commands', async (t) => {
  const text = demoInstructions(demo);
  t.match(text, /alice@example\.com/);
  t.match(text, /airlock approvals/);
  t.notMatch(text, /signing key is inside/, 'no warning about the key: the demo keeps it outside the audit dir');
});

t.test('a read runs, a DELETE waits for bob, a DROP is denied', async (t) => {
  const read = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT count(*) > 0 FROM orders', url('alice@example.com')]);
  t.equal(read.stdout.trim(), 't', read.stderr);

  const alice = new pg.Client({ connectionString: url('alice@example.com') });
  await alice.connect();
  t.teardown(() => alice.end());
  const held = alice.query("DELETE FROM orders WHERE status = 'cancelled'");
  let request;
  for (let i = 0; i < 200 && !request; i++) {
    request = (await demo.daemon.approvalBroker.list({ states: ['pending'] }))[0];
    if (!request) await new Promise((r) => setTimeout(r, 25));
  }
  t.ok(request, 'the DELETE is held');
  const bob = (demo.daemon as unknown as { users: { get(e: string): unknown } }).users.get('bob@example.com');
  const decided = await demo.daemon.approvalBroker.approve(request!.id, bob as Parameters<typeof demo.daemon.approvalBroker.approve>[1], 'cli');
  t.equal(decided.outcome, 'approved');
  t.equal((await held).command, 'DELETE', 'and runs once bob approves');

  const drop = await alice.query('DROP TABLE orders').catch((e: { code?: string; message: string }) => e);
  t.match(drop, { code: '42501', message: /no-drop/ });
});
