// The admin HTTP listener: one small router shared by health, metrics, the approvals API and Slack.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RouteContext {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  /** Values of `:name` segments in the route pattern. */
  readonly params: Readonly<Record<string, string>>;
  readonly url: URL;
  /** The exact request body bytes (Slack signatures are computed over them). */
  readonly rawBody: Buffer;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly handler: RouteHandler;
}

/** Request bodies above this are refused: the API and Slack payloads are small. */
const MAX_BODY_BYTES = 1024 * 1024;

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** JSON error with a stable code, the shape every API error has. */
export function sendError(res: http.ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

export class AdminServer {
  private readonly routes: Route[] = [];
  private readonly server: http.Server;
  private onError: (err: unknown, ctx: { method: string; path: string }) => void = () => {};

  constructor() {
    this.server = http.createServer((req, res) => void this.dispatch(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10000;
    this.server.requestTimeout = 30000;
  }

  /** pattern: '/api/v1/requests/:id/approve' — `:name` matches one path segment. */
  route(method: string, pattern: string, handler: RouteHandler): this {
    const names: string[] = [];
    const source = pattern
      .split('/')
      .map((part) => {
        if (part.startsWith(':')) {
          names.push(part.slice(1));
          return '([^/]+)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  setErrorHandler(fn: (err: unknown, ctx: { method: string; path: string }) => void): void {
    this.onError = fn;
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  address(): AddressInfo | null {
    return this.server.address() as AddressInfo | null;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]!);
      });
      try {
        const rawBody = await readBody(req);
        if (rawBody === undefined) {
          sendError(res, 413, 'body_too_large', `request body exceeds ${MAX_BODY_BYTES} bytes`);
          return;
        }
        await route.handler({ req, res, params, url, rawBody });
      } catch (err) {
        this.onError(err, { method, path: url.pathname });
        if (!res.headersSent) sendError(res, 500, 'internal', 'internal error');
        else res.destroy();
      }
      return;
    }
    if (pathMatched) sendError(res, 405, 'method_not_allowed', `${method} not allowed on ${url.pathname}`);
    else sendError(res, 404, 'not_found', `no route for ${url.pathname}`);
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
