// Upstream MySQL logins against the machine's MariaDB with its ed25519 plugin (MariaDB's own
// client_ed25519 exchange, which airlock answers for resources whose user is IDENTIFIED VIA ed25519).
import t from 'tap';
import { connectUpstreamMysql } from '../../../src/upstream/mysql-connect.js';
import { direct, requireMariadb } from '../../helpers/mysql-airlock.js';

await requireMariadb();
const admin = await direct();
const [plugins] = await admin.query("SELECT plugin_status FROM information_schema.plugins WHERE plugin_name = 'ed25519'");
if ((plugins as unknown[]).length === 0) {
  try {
    await admin.query("INSTALL SONAME 'auth_ed25519'");
  } catch (err) {
    throw new Error(`these tests need MariaDB's ed25519 plugin; it could not be installed (${(err as Error).message}); install the MariaDB server package that ships auth_ed25519.so`);
  }
}
const USER = 'airlock_ed25519_t';
const PASSWORD = 'ed-secret-ü-42';
await admin.query(`DROP USER IF EXISTS ${USER}@'127.0.0.1', ${USER}@'localhost'`);
for (const host of ['127.0.0.1', 'localhost']) {
  await admin.query(`CREATE USER ${USER}@'${host}' IDENTIFIED VIA ed25519 USING PASSWORD(?)`, [PASSWORD]);
  await admin.query(`GRANT SELECT ON test.* TO ${USER}@'${host}'`);
}
t.teardown(async () => {
  await admin.query(`DROP USER IF EXISTS ${USER}@'127.0.0.1', ${USER}@'localhost'`);
  await admin.end();
});

const target = (password: string) => ({ host: '127.0.0.1', port: 3306, user: USER, password, database: 'test' });

t.test('a resource user IDENTIFIED VIA ed25519 logs in and runs a query', async (t) => {
  // Several logins: each gets a fresh nonce, so a token that only sometimes verified would show.
  for (let i = 0; i < 20; i++) {
    const up = await connectUpstreamMysql(target(PASSWORD), { clientCapabilities: 0, connectTimeoutMs: 5000, readSqlMode: true });
    t.type(up.sqlMode, 'string', `login ${i + 1}: a query answered`);
    up.socket.destroy();
  }
});

t.test('a wrong password is refused with the server\'s message', async (t) => {
  await t.rejects(connectUpstreamMysql(target('not-it'), { clientCapabilities: 0, connectTimeoutMs: 5000 }), /login as airlock_ed25519_t failed: Access denied/);
});
