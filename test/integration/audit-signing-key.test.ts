// `airlock start` warns when the checkpoint signing key lies inside audit.dir, where whoever can
// rewrite the chain can also re-sign it; a key kept elsewhere starts without the warning.

import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { spawnAirlock, writeConfig } from '../helpers/airlock-process.js';

const WARNING = /^audit signing key is inside audit\.dir: anyone who can write that directory can re-sign a forged chain\. Fix: .*audit\.signing_key/;

async function startupWarnings(t: Test, config: Record<string, unknown>): Promise<Record<string, unknown>[]> {
  const files = writeConfig({ config });
  const airlock = await spawnAirlock(files);
  const exit = await airlock.stop();
  t.equal(exit.code, 0, exit.stderr);
  fs.rmSync(files.dir, { recursive: true, force: true });
  return airlock.logLines().filter((l) => l.level === 'warn' && typeof l.msg === 'string' && WARNING.test(l.msg));
}

t.test('the default key (<audit dir>/signing-key.pem) is warned about at start', async (t) => {
  const warnings = await startupWarnings(t, { audit: { dir: './audit' } });
  t.equal(warnings.length, 1, 'one warning');
  t.match(warnings[0], { signing_key: /[/\\]audit[/\\]signing-key\.pem$/, audit_dir: /[/\\]audit$/ });
});

t.test('a key set outside audit.dir is not', async (t) => {
  t.same(await startupWarnings(t, { audit: { dir: './audit', signing_key: './keys/signing-key.pem' } }), []);
});

t.test('a key in a directory that merely shares the prefix (audit-keys beside audit) is not', async (t) => {
  t.same(await startupWarnings(t, { audit: { dir: './audit', signing_key: path.join('.', 'audit-keys', 'signing-key.pem') } }), []);
});
