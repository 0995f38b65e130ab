// The config file watcher reloads only files that changed and then held still: a file caught
// between its truncation and its write is not reloaded (regression: CI saw a policy reload refused
// as "policy.yaml:1:1: must be object" when the watcher read the file mid-write).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigFileWatcher, filesDigest } from '../../../src/config/file-watch.js';

function setup(t: Parameters<Parameters<typeof t.test>[1]>[0]) {
  const dir = t.testdir({ 'policy.yaml': 'version: 1\n', 'users.yaml': 'users: {}\n' });
  const files = [join(dir, 'policy.yaml'), join(dir, 'users.yaml')];
  let loaded = filesDigest(files);
  const reloads: string[] = [];
  const watcher = new ConfigFileWatcher(files, () => loaded, () => {
    reloads.push(filesDigest(files));
    loaded = filesDigest(files);
  });
  return { files, watcher, reloads };
}

t.test('unchanged files are never reloaded', async (t) => {
  const { watcher, reloads } = setup(t);
  t.equal(watcher.check(), 'unchanged');
  t.equal(watcher.check(), 'unchanged');
  t.same(reloads, []);
});

t.test('a file seen empty mid-write is not reloaded; its final content is, once', async (t) => {
  const { files, watcher, reloads } = setup(t);
  writeFileSync(files[0]!, ''); // the writer has truncated the file and not yet written it
  t.equal(watcher.check(), 'settling');
  writeFileSync(files[0]!, 'version: 1\nrules: []\n');
  t.equal(watcher.check(), 'settling', 'changed since the last look: wait again');
  t.same(reloads, [], 'nothing reloaded while the file was moving');
  t.equal(watcher.check(), 'reloaded', 'the same content twice in a row is reloaded');
  t.equal(reloads.length, 1);
  t.equal(reloads[0], filesDigest(files), 'the final content was what got loaded');
  t.equal(watcher.check(), 'unchanged', 'and not again');
});

t.test('a change already loaded by SIGHUP is not reloaded again', async (t) => {
  const dir = t.testdir({ 'policy.yaml': 'a\n', 'users.yaml': 'b\n' });
  const files = [join(dir, 'policy.yaml'), join(dir, 'users.yaml')];
  let loaded = filesDigest(files);
  let reloads = 0;
  const watcher = new ConfigFileWatcher(files, () => loaded, () => reloads++);
  writeFileSync(files[1]!, 'c\n');
  t.equal(watcher.check(), 'settling');
  loaded = filesDigest(files); // SIGHUP loaded it in between
  t.equal(watcher.check(), 'unchanged');
  t.equal(reloads, 0);
});

t.test('a file that stays empty is reloaded (and refused by the loader) after it settles', async (t) => {
  const { files, watcher, reloads } = setup(t);
  writeFileSync(files[0]!, '');
  t.equal(watcher.check(), 'settling');
  t.equal(watcher.check(), 'reloaded', 'an operator who empties the file hears about it');
  t.equal(reloads.length, 1);
});

t.test('polling: a real write is reloaded once, after it settles', async (t) => {
  const { files, reloads } = setup(t);
  let loaded = filesDigest(files);
  let count = 0;
  const watcher = new ConfigFileWatcher(files, () => loaded, () => {
    count++;
    loaded = filesDigest(files);
  }, { pollMs: 20, settleMs: 20 });
  t.same(watcher.start(), [], 'both files are watchable');
  t.teardown(() => watcher.stop());
  writeFileSync(files[0]!, 'version: 1\n# changed\n');
  for (let i = 0; i < 200 && count === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(count, 1, 'reloaded once');
  t.same(reloads, [], 'the other watcher of setup() was never started');
});

t.test('an unwatchable path is reported, not thrown', async (t) => {
  const watcher = new ConfigFileWatcher(['\0bad'], () => '', () => {});
  t.same(watcher.start(), ['\0bad']);
  watcher.stop();
});
