// HTTP client of the approvals API, for the CLI: one method per endpoint, errors typed by the API's stable codes.

import type { ApprovalRequest, JitGrant } from './types.js';
import type { DecisionResult } from './broker-types.js';

export class ApiError extends Error {
  /** HTTP status; 0 when the API could not be reached. */
  readonly status: number;
  /** The API's stable code (unauthenticated, forbidden, not_found, conflict, ...) or 'unreachable'. */
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface ApprovalApiClientOptions {
  readonly baseUrl: string;
  readonly email: string;
  readonly token: string;
}

export class ApprovalApiClient {
  private readonly base: string;
  private readonly authorization: string;

  constructor(private readonly opts: ApprovalApiClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.authorization = `Basic ${Buffer.from(`${opts.email}:${opts.token}`).toString('base64')}`;
  }

  async listRequests(filter: { states?: readonly string[]; breakGlass?: boolean } = {}): Promise<ApprovalRequest[]> {
    const q = new URLSearchParams();
    if (filter.states?.length) q.set('state', filter.states.join(','));
    if (filter.breakGlass) q.set('break_glass', '1');
    const query = q.size ? `?${q}` : '';
    return (await this.call<{ requests: ApprovalRequest[] }>('GET', `/api/v1/requests${query}`)).requests;
  }

  async getRequest(id: string): Promise<ApprovalRequest> {
    return (await this.call<{ request: ApprovalRequest }>('GET', `/api/v1/requests/${encodeURIComponent(id)}`)).request;
  }

  approve(id: string): Promise<DecisionResult> {
    return this.call('POST', `/api/v1/requests/${encodeURIComponent(id)}/approve`, {});
  }

  deny(id: string, reason: string): Promise<DecisionResult> {
    return this.call('POST', `/api/v1/requests/${encodeURIComponent(id)}/deny`, { reason });
  }

  force(id: string, reason: string): Promise<DecisionResult> {
    return this.call('POST', `/api/v1/requests/${encodeURIComponent(id)}/force`, { reason });
  }

  async listAccess(): Promise<JitGrant[]> {
    return (await this.call<{ grants: JitGrant[] }>('GET', '/api/v1/access')).grants;
  }

  async requestAccess(input: { resource: string; rule: string; duration?: string; reason: string }): Promise<ApprovalRequest> {
    return (await this.call<{ request: ApprovalRequest }>('POST', '/api/v1/access', input)).request;
  }

  async revokeAccess(id: string): Promise<void> {
    await this.call('DELETE', `/api/v1/access/${encodeURIComponent(id)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: this.authorization,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const why = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiError(0, 'unreachable', `cannot reach admin API at ${this.base} (${why}; is airlock running? set --admin or AIRLOCK_ADMIN_URL)`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError(res.status, 'bad_response', `admin API at ${this.base} answered ${res.status} with something that is not JSON`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `HTTP ${res.status}`);
    }
    return json as T;
  }
}
