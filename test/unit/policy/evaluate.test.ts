// Data-driven policy evaluation: test/fixtures/policy/<name>.policy.yaml with <name>.cases.yaml.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Classification } from '../../../src/classify/types.js';
import type { Requester } from '../../../src/policy/types.js';
import { evaluate, explain } from '../../../src/policy/evaluate.js';
import { loadPolicy } from '../../../src/policy/load.js';

const fixtures = fileURLToPath(new URL('../../fixtures/policy/', import.meta.url));

interface Case {
  name: string;
  resource: string;
  user: string;
  sql?: string;
  classification: Classification;
  expect: Record<string, unknown>;
}

const APPROVAL_KEYS = ['approvers', 'min_approvals', 'all_groups_must_approve', 'force_approvers', 'timeout_ms', 'channel', 'mode', 'jit_duration_ms', 'hold'];

const caseFiles = readdirSync(fixtures).filter((f) => f.endsWith('.cases.yaml'));
t.ok(caseFiles.length >= 2, 'case files are found');

for (const casesFile of caseFiles) {
  const base = casesFile.replace(/\.cases\.yaml$/, '');
  t.test(base, async (t) => {
    const policy = loadPolicy(join(fixtures, `${base}.policy.yaml`));
    const spec = parse(readFileSync(join(fixtures, casesFile), 'utf8')) as { users: Record<string, Requester>; cases: Case[] };
    for (const c of spec.cases) {
      const requester = spec.users[c.user];
      if (!requester) throw new Error(`${casesFile}: case "${c.name}" names unknown user ${c.user}`);
      const input = { resource: c.resource, requester, sql: c.sql ?? '' };
      const d = evaluate(policy, input, c.classification);
      const got: Record<string, unknown> = {
        action: d.action,
        source: d.source,
        rule: d.rule?.name,
        statementIndex: d.statementIndex,
        reason: d.reason,
      };
      for (const k of APPROVAL_KEYS) got[k] = (d.approval as Record<string, unknown> | undefined)?.[k];
      const wanted = Object.fromEntries(Object.keys(c.expect).map((k) => [k, got[k]]));
      t.same(wanted, c.expect, c.name);
      if (c.expect.action !== 'hold') t.equal(d.approval, undefined, `${c.name}: no approval unless held`);
      // explain must always agree with evaluate.
      t.same(explain(policy, input, c.classification).decision, d, `${c.name}: explain agrees`);
    }
  });
}

t.test('explain traces every rule for every statement', async (t) => {
  const policy = loadPolicy(join(fixtures, 'main.policy.yaml'));
  const alice = { email: 'alice@corp.com', groups: ['engineering'] };
  const x = explain(policy, { resource: 'orders', requester: alice, sql: 'select 1; delete from orders' }, {
    statements: [
      { kind: 'SELECT', writes: false, tables: [] },
      { kind: 'DELETE', writes: true, tables: ['orders'] },
    ],
  });
  t.equal(x.decision.action, 'hold');
  t.equal(x.statements.length, 2);
  t.equal(x.statements[0]!.decision.action, 'allow');
  t.equal(x.statements[0]!.decision.rule?.name, 'select-orders');
  t.equal(x.statements[1]!.decision.rule?.name, 'writes-need-dba');
  const byName = Object.fromEntries(x.statements[1]!.rules.map((r) => [r.rule.name, r]));
  t.equal(x.statements[1]!.rules.length, policy.rules.length);
  t.same(byName['writes-need-dba'], { rule: policy.rules[0], outcome: 'matched', detail: 'matches (commands INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY)' });
  t.same(byName['no-drop']!.outcome, 'no-match');
  t.equal(byName['no-drop']!.detail, 'commands [DROP] do not match DELETE (writes)');
  t.equal(byName['shop-users-writes']!.outcome, 'not-bound');
  t.equal(byName['shop-users-writes']!.detail, 'bound to shop, not orders');
  t.equal(byName['contractors-hold-everything']!.outcome, 'not-requester');
  t.equal(byName['contractors-hold-everything']!.detail, 'applies to groups contractors; alice@corp.com is in engineering');
  t.equal(byName['secrets']!.detail, 'tables [secrets, *.secrets] match none of orders');
  t.equal(byName['no-sleep']!.detail, 'regex /pg_sleep\\s*\\(/i does not match the SQL');

  const shop = explain(policy, { resource: 'shop', requester: alice, sql: '' }, { statements: [{ kind: 'SELECT', writes: false, tables: ['users'] }] });
  const users = shop.statements[0]!.rules.find((r) => r.rule.name === 'shop-users-writes')!;
  t.equal(users.detail, 'writes: true but the statement has writes: false');
  const dropAgain = shop.statements[0]!.rules.find((r) => r.rule.name === 'contractors-hold-everything')!;
  t.equal(dropAgain.outcome, 'not-requester');

  const unparseable = explain(policy, { resource: 'orders', requester: alice, sql: 'x' }, { unparseable: true, reason: 'r' });
  t.same(unparseable.statements, []);
  t.equal(unparseable.decision.source, 'unparseable');
});

t.test('a string of many statements is decided with each regex tested once (regression: 100,000 statements froze the daemon)', async (t) => {
  const { loadPolicy } = await import('../../../src/policy/load.js');
  const { evaluate } = await import('../../../src/policy/evaluate.js');
  const fsm = await import('node:fs');
  const osm = await import('node:os');
  const pathm = await import('node:path');
  const dir = fsm.mkdtempSync(pathm.join(osm.tmpdir(), 'airlock-regex-'));
  const file = pathm.join(dir, 'policy.yaml');
  fsm.writeFileSync(file, `version: 1
resources:
  orders: { protocol: postgres, host: 127.0.0.1, port: 5432, database: test, user: postgres }
defaults: { action: allow, on_unparseable: deny }
rules:
  - name: no-sleeping
    match: { regex: "pg_sleep\\\\s*\\\\(" }
    action: deny
`);
  const policy = loadPolicy(file);
  const sql = 'select 1;'.repeat(20000);
  const statements = Array.from({ length: 20000 }, () => ({ kind: 'SELECT', writes: false, tables: [] as string[] }));
  const original = RegExp.prototype.test;
  let calls = 0;
  RegExp.prototype.test = function (this: RegExp, s: string) {
    if (this.source.startsWith('pg_sleep')) calls++;
    return original.call(this, s);
  };
  try {
    const d = evaluate(policy, { resource: 'orders', requester: { email: 'a@b.c', groups: [] }, sql }, { statements });
    t.equal(d.action, 'allow');
  } finally {
    RegExp.prototype.test = original;
  }
  t.equal(calls, 1, 'the regex ran once for the whole string, not once per statement');
});
