// When the signing key counts as inside the audit directory (airlock start warns then).

import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { keyFileInsideDir } from '../../../src/audit/signing.js';

t.test('inside, beside, under a shared prefix, and through symlinks', async (t) => {
  const root = t.testdir({ audit: { 'signing-key.pem': 'k', sub: {} }, 'audit-keys': { 'signing-key.pem': 'k' }, keys: {} });
  const audit = path.join(root, 'audit');
  t.ok(keyFileInsideDir(path.join(audit, 'signing-key.pem'), audit));
  t.ok(keyFileInsideDir(path.join(audit, 'sub', 'not-created-yet.pem'), audit), 'a key not created yet counts by its path');
  t.ok(keyFileInsideDir(path.join(root, 'keys', '..', 'audit', 'signing-key.pem'), audit), '.. is resolved');
  t.notOk(keyFileInsideDir(path.join(root, 'audit-keys', 'signing-key.pem'), audit), 'a sibling sharing the prefix is outside');
  t.notOk(keyFileInsideDir(path.join(root, 'keys', 'signing-key.pem'), audit));
  t.notOk(keyFileInsideDir(audit, audit), 'the directory itself is not a key inside it');
  fs.symlinkSync(path.join(audit, 'signing-key.pem'), path.join(root, 'keys', 'link.pem'));
  t.ok(keyFileInsideDir(path.join(root, 'keys', 'link.pem'), audit), 'a symlink to a key inside the directory is inside');
  fs.symlinkSync(audit, path.join(root, 'audit-link'));
  t.ok(keyFileInsideDir(path.join(audit, 'signing-key.pem'), path.join(root, 'audit-link')), 'audit.dir given through a symlink');
});
