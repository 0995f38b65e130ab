// The approvals HTTP API on the admin listener: list, show, approve, deny, force, and JIT access.
//
// Authentication: every call carries the person's email and personal token, as
//   Authorization: Basic base64(email:token)     (curl -u alice@corp.com:$AIRLOCK_TOKEN)
// `Authorization: Bearer base64(email:token)` is accepted too. JSON in and out; errors are
// {"error":{"code","message"}} with codes unauthenticated 401, forbidden 403, not_found 404, conflict 409,
// bad_request 400, store_unavailable 503, audit_unavailable 503, not_configured 501.

import type http from 'node:http';
import { sendError, sendJson, type AdminServer, type RouteContext } from '../admin/server.js';
import { parseDuration } from '../config/units.js';
import { AirlockError, ClientError, type AirlockErrorCode } from '../errors.js';
import type { UserDirectory, UserRecord } from '../identity/types.js';
import type { Policy, Rule } from '../policy/types.js';
import type { ApprovalBroker } from './broker.js';
import type { RequestState } from './types.js';
import { mayView } from './eligibility.js';

export interface ApprovalApiOptions {
  /** The current policy; needed for access requests (which rule, which resource) and revocation rights. */
  readonly policy?: () => Policy | undefined;
}

const STATES: readonly RequestState[] = ['pending', 'approved', 'denied', 'expired', 'cancelled', 'abandoned', 'executed'];

const HTTP_OF: Partial<Record<AirlockErrorCode, [number, string]>> = {
  AIRLOCK_ERR_UNAUTHENTICATED: [401, 'unauthenticated'],
  AIRLOCK_ERR_FORBIDDEN: [403, 'forbidden'],
  AIRLOCK_ERR_NOT_FOUND: [404, 'not_found'],
  AIRLOCK_ERR_CONFLICT: [409, 'conflict'],
  AIRLOCK_ERR_BAD_REQUEST: [400, 'bad_request'],
  AIRLOCK_ERR_STORE_UNAVAILABLE: [503, 'store_unavailable'],
  AIRLOCK_ERR_AUDIT_WRITE: [503, 'audit_unavailable'],
};

type Handler = (ctx: RouteContext, actor: UserRecord) => Promise<void>;

export function registerApprovalApi(admin: AdminServer, broker: ApprovalBroker, users: () => UserDirectory, options: ApprovalApiOptions = {}): void {
  const route = (method: string, pattern: string, handler: Handler) =>
    admin.route(method, pattern, async (ctx) => {
      try {
        await handler(ctx, authenticate(ctx.req, users()));
      } catch (err) {
        if (!replyWithError(ctx.res, err)) throw err;
      }
    });

  route('GET', '/api/v1/requests', async ({ res, url }, actor) => {
    const states = url.searchParams.get('state')?.split(',').filter(Boolean);
    const bad = states?.find((s) => !STATES.includes(s as RequestState));
    if (bad) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', `unknown state "${bad}" (one of ${STATES.join(', ')})`);
    const bg = url.searchParams.get('break_glass');
    const requests = await broker.list({
      ...(states ? { states: states as RequestState[] } : {}),
      ...(bg === null ? {} : { breakGlass: bg === '1' || bg === 'true' }),
    });
    sendJson(res, 200, { requests: requests.filter((r) => mayView(actor, r)) });
  });

  /** GET and the decisions answer alike for people who may not see a request: a 403 would confirm it exists. */
  const visible = async (id: string, actor: UserRecord) => {
    const request = await broker.get(id);
    if (!request || !mayView(actor, request)) throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no approval request ${id}`);
    return request;
  };

  route('GET', '/api/v1/requests/:id', async ({ res, params }, actor) => {
    sendJson(res, 200, { request: await visible(params.id!, actor) });
  });

  route('POST', '/api/v1/requests/:id/approve', async ({ res, params }, actor) => {
    await visible(params.id!, actor);
    sendJson(res, 200, await broker.approve(params.id!, actor, 'api'));
  });

  route('POST', '/api/v1/requests/:id/deny', async ({ res, params, rawBody }, actor) => {
    const reason = stringField(jsonBody(rawBody), 'reason') ?? '';
    await visible(params.id!, actor);
    sendJson(res, 200, await broker.deny(params.id!, actor, reason, 'api'));
  });

  route('POST', '/api/v1/requests/:id/force', async ({ res, params, rawBody }, actor) => {
    const reason = stringField(jsonBody(rawBody), 'reason') ?? '';
    await visible(params.id!, actor);
    sendJson(res, 200, await broker.force(params.id!, actor, reason, 'api'));
  });

  route('GET', '/api/v1/access', async ({ res }) => {
    sendJson(res, 200, { grants: await broker.listAccess() });
  });

  route('POST', '/api/v1/access', async ({ res, rawBody }, actor) => {
    const policy = options.policy?.();
    if (!policy) throw new NotConfigured('access requests need the policy, which this API was not given');
    const body = jsonBody(rawBody);
    const resourceName = required(body, 'resource');
    const rule = jitRule(policy, required(body, 'rule'));
    const resource = policy.resources.get(resourceName);
    if (!resource) throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no resource "${resourceName}" in the policy`);
    if (rule.resources && !rule.resources.includes(resourceName)) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', `rule "${rule.name}" does not apply to resource "${resourceName}"`);
    if (rule.requesters && !rule.requesters.some((g) => actor.groups.includes(g))) throw new AirlockError('AIRLOCK_ERR_FORBIDDEN', `rule "${rule.name}" is not for your groups`);
    const max = rule.approval!.jit_duration_ms ?? rule.approval!.timeout_ms;
    const durationText = stringField(body, 'duration');
    let durationMs = max;
    if (durationText !== undefined) {
      try {
        durationMs = parseDuration(durationText);
      } catch (err) {
        throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', (err as Error).message);
      }
    }
    if (durationMs <= 0 || durationMs > max) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', `duration must be more than 0 and at most the rule's ${max / 60_000}m`);
    const reason = required(body, 'reason');
    const request = await broker.requestAccess(actor, { resource: resourceName, protocol: resource.protocol, rule: rule.name, approval: rule.approval!, durationMs, reason });
    sendJson(res, 201, { request });
  });

  route('DELETE', '/api/v1/access/:id', async ({ res, params }, actor) => {
    const grant = (await broker.listAccess()).find((g) => g.id === params.id);
    if (!grant) throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no active access grant ${params.id}`);
    const own = grant.requester.toLowerCase() === actor.email.toLowerCase();
    const rule = options.policy?.()?.rules.find((r) => r.name === grant.rule);
    const deciders = [...(rule?.approval?.approvers ?? []), ...(rule?.approval?.force_approvers ?? [])];
    if (!own && !actor.groups.some((g) => deciders.includes(g))) {
      throw new AirlockError('AIRLOCK_ERR_FORBIDDEN', `only ${grant.requester} or an approver of rule "${grant.rule}" may revoke this grant`);
    }
    if (!(await broker.revokeAccess(grant.id, actor))) throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no active access grant ${params.id}`);
    sendJson(res, 200, { revoked: grant.id });
  });
}

class NotConfigured extends Error {}

/** Basic or Bearer, both carrying base64(email:token); checked by the directory in constant time. */
export function authenticate(req: http.IncomingMessage, users: UserDirectory): UserRecord {
  const header = req.headers.authorization ?? '';
  const m = /^(Basic|Bearer)\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) throw new AirlockError('AIRLOCK_ERR_UNAUTHENTICATED', 'send Authorization: Basic base64(email:token)');
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const email = colon > 0 ? decoded.slice(0, colon) : '';
  const token = colon > 0 ? decoded.slice(colon + 1) : '';
  // verifyToken runs for unknown users too, so timing does not reveal who exists.
  const valid = users.verifyToken(email, token);
  const user = users.get(email);
  if (!valid || !user || user.disabled) throw new AirlockError('AIRLOCK_ERR_UNAUTHENTICATED', 'unknown user or wrong token');
  return user;
}

function replyWithError(res: http.ServerResponse, err: unknown): boolean {
  if (err instanceof NotConfigured) {
    sendError(res, 501, 'not_configured', err.message);
    return true;
  }
  if (err instanceof AirlockError) {
    const mapped = HTTP_OF[err.code];
    if (!mapped) return false;
    if (mapped[0] === 401) res.setHeader('www-authenticate', 'Basic realm="airlock"');
    sendError(res, mapped[0], mapped[1], err.message);
    return true;
  }
  if (err instanceof ClientError && (err.sqlstate === '57P03' || err.sqlstate === '58030')) {
    sendError(res, 503, err.sqlstate === '57P03' ? 'store_unavailable' : 'audit_unavailable', err.message);
    return true;
  }
  return false;
}

function jsonBody(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', 'the body is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', `"${name}" must be a string`);
  return v;
}

function required(body: Record<string, unknown>, name: string): string {
  const v = stringField(body, name)?.trim();
  if (!v) throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', `"${name}" is required`);
  return v;
}

function jitRule(policy: Policy, name: string): Rule {
  const rule = policy.rules.find((r) => r.name === name);
  if (!rule) throw new AirlockError('AIRLOCK_ERR_NOT_FOUND', `no rule "${name}" in the policy`);
  if (rule.action !== 'require_approval' || rule.approval?.mode !== 'jit') throw new AirlockError('AIRLOCK_ERR_BAD_REQUEST', `rule "${name}" is not a jit approval rule`);
  return rule;
}
