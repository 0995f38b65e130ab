// ConnectionLimits: pending (unauthenticated) connections and sessions are counted apart, so
// sockets that never log in cannot take the slots of people who do.

import t from 'tap';
import { ConnectionLimits, addressKey, type LimitName } from '../../../src/listener/limits.js';

function limits(over: Partial<ConstructorParameters<typeof ConnectionLimits>[0]> = {}) {
  const hits: LimitName[] = [];
  const l = new ConnectionLimits({ maxConnections: 2, maxPerUser: 1, maxPendingAuth: 3, maxPendingAuthPerIp: 2, onLimit: (x) => hits.push(x), ...over });
  return { l, hits };
}

t.test('pending connections do not count toward max_connections', async (t) => {
  const { l } = limits({ maxPendingAuthPerIp: 3 });
  const idle = [l.admitPending('10.0.0.1'), l.admitPending('10.0.0.2'), l.admitPending('10.0.0.3')];
  t.ok(idle.every((a) => a.ok));
  t.equal(l.pendingAuth, 3);
  t.ok(l.admitSession('alice@corp.com').ok);
  t.ok(l.admitSession('bob@corp.com').ok, 'both sessions fit although three sockets are waiting');
  t.equal(l.open, 2);
});

t.test('max_pending_auth and max_pending_auth_per_ip refuse with 53300 / 1040 and are counted', async (t) => {
  const { l, hits } = limits();
  const a = l.admitPending('10.0.0.1');
  t.ok(l.admitPending('10.0.0.1').ok);
  const perIp = l.admitPending('10.0.0.1');
  t.match(perIp, { ok: false, error: { sqlstate: '53300', mysqlErrno: 1040, message: 'too many connections waiting to authenticate from 10.0.0.1 (airlock limits.max_pending_auth_per_ip = 2)' } });
  t.ok(l.admitPending('10.0.0.2').ok, 'another address still gets in');
  const total = l.admitPending('10.0.0.3');
  t.match(total, { ok: false, error: { sqlstate: '53300', mysqlErrno: 1040, message: 'too many connections waiting to authenticate (airlock limits.max_pending_auth = 3)', fatal: true } });
  t.same(hits, ['max_pending_auth_per_ip', 'max_pending_auth']);
  t.equal(l.pendingAuth, 3, 'refusals take no slot');
  if (!a.ok) throw new Error('unreachable');
  a.release();
  a.release();
  t.equal(l.pendingAuth, 2, 'release is idempotent');
  t.ok(l.admitPending('10.0.0.1').ok, 'a freed slot is usable by the same address');
});

t.test('sessions: max_connections first, then per user (case-insensitive); a refusal takes nothing', async (t) => {
  const { l, hits } = limits();
  const s1 = l.admitSession('Alice@corp.com');
  t.ok(s1.ok);
  t.match(l.admitSession('alice@CORP.com'), { ok: false, error: { sqlstate: '53300', message: 'too many connections for alice@CORP.com (airlock limits.max_connections_per_user = 1)' } });
  t.equal(l.open, 1);
  t.ok(l.admitSession('bob@corp.com').ok);
  t.match(l.admitSession('carol@corp.com'), { ok: false, error: { message: 'sorry, too many clients already (airlock limits.max_connections = 2)' } });
  t.same(hits, ['max_connections_per_user', 'max_connections']);
  if (!s1.ok) throw new Error('unreachable');
  s1.release();
  t.ok(l.admitSession('alice@corp.com').ok, 'the user slot and the total slot both came back');
});

t.test('refusal slots are capped at max_pending_auth', async (t) => {
  const { l } = limits();
  const slots = [l.beginRefusal(), l.beginRefusal(), l.beginRefusal()];
  t.ok(slots.every(Boolean));
  t.equal(l.beginRefusal(), undefined);
  slots[0]!();
  slots[0]!();
  t.type(l.beginRefusal(), 'function');
  t.equal(l.beginRefusal(), undefined, 'a second call of the same release frees nothing more');
});

t.test('addressKey: IPv4 as is, mapped IPv4 unwrapped, IPv6 by /64', async (t) => {
  t.equal(addressKey('192.0.2.7'), '192.0.2.7');
  t.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  t.equal(addressKey(undefined), 'unknown');
  t.equal(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  t.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  t.equal(addressKey('2001:DB8::1'), '2001:db8:0:0::/64');
  t.equal(addressKey('2001:0db8:0001:0002::9'), '2001:db8:1:2::/64');
  t.equal(addressKey('::1'), '0:0:0:0::/64');
  t.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.equal(addressKey('2001:db8::a:b:c:1.2.3.4'), '2001:db8:0:a::/64', 'a dotted tail counts as two groups');
  const { l } = limits();
  t.ok(l.admitPending('2001:db8:1:2::1').ok);
  t.ok(l.admitPending('2001:db8:1:2::2').ok);
  t.match(l.admitPending('2001:db8:1:2::3'), { ok: false, error: { message: /from 2001:db8:1:2::\/64 / } }, 'one /64 is one client');
});
