// A local fake of the Slack Web API, response_url and Socket Mode endpoint that records every call (tests only).

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface RecordedCall {
  readonly method: string;
  /** Form fields, with JSON-valued ones (blocks, view, metadata) parsed. */
  readonly args: Record<string, any>;
  readonly token?: string;
}

export interface ResponseUrlPost {
  readonly path: string;
  readonly body: Record<string, any>;
}

export type Fault = 'http500' | 'hang' | { readonly error: string };

interface Waiter<T> {
  readonly pick: () => T | undefined;
  readonly resolve: (v: T) => void;
}

/** Fields the Web API client JSON-stringifies into the form body. */
const JSON_FIELDS = new Set(['blocks', 'view', 'metadata', 'attachments']);

/** How long a wait may last before it fails the test with what was recorded instead of hanging it. */
const WAIT_GUARD_MS = 20_000;

export class FakeSlack {
  readonly calls: RecordedCall[] = [];
  readonly responsePosts: ResponseUrlPost[] = [];
  /** Socket Mode acknowledgements by envelope id. */
  readonly acks = new Map<string, Record<string, any>>();
  /** users.info answers: Slack id → profile. */
  readonly users = new Map<string, { email?: string; name?: string }>();
  /** Latest content of every posted message, by ts. */
  readonly messages = new Map<string, { channel: string; text?: string; blocks?: any[] }>();

  private readonly faults = new Map<string, { fault: Fault; remaining: number }>();
  private readonly waiters: Waiter<unknown>[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<http.ServerResponse>();
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<WebSocket>();
  private seq = 0;
  private port = 0;

  private constructor(private readonly server: http.Server) {
    this.wss = new WebSocketServer({ noServer: true });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/socket') return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
  }

  static async start(): Promise<FakeSlack> {
    let fake!: FakeSlack;
    const server = http.createServer((req, res) => void fake.dispatch(req, res));
    fake = new FakeSlack(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /** A fresh response_url as Slack puts in interaction payloads. */
  responseUrl(): string {
    return `http://127.0.0.1:${this.port}/response/${++this.seq}`;
  }

  /** Makes the next `times` calls of a method (or '*' for all) fail the given way. */
  fail(method: string, fault: Fault, times = Number.POSITIVE_INFINITY): void {
    this.faults.set(method, { fault, remaining: times });
  }

  heal(): void {
    this.faults.clear();
    for (const res of this.hung) res.destroy();
    this.hung.clear();
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves with the first recorded call (already recorded or future) matching. */
  waitForCall(method: string, match: (c: RecordedCall) => boolean = () => true, label = method): Promise<RecordedCall> {
    return this.waitUntil(() => this.calls.find((c) => c.method === method && match(c)), label);
  }

  /** Resolves once `count` calls of the method were recorded. */
  waitForCount(method: string, count: number): Promise<RecordedCall[]> {
    return this.waitUntil(() => {
      const got = this.callsOf(method);
      return got.length >= count ? got : undefined;
    }, `${count} × ${method}`);
  }

  waitForResponsePost(match: (p: ResponseUrlPost) => boolean = () => true): Promise<ResponseUrlPost> {
    return this.waitUntil(() => this.responsePosts.find(match), 'response_url post');
  }

  waitForAck(envelopeId: string): Promise<Record<string, any>> {
    return this.waitUntil(() => this.acks.get(envelopeId), `ack of ${envelopeId}`);
  }

  waitForSocketClient(): Promise<WebSocket> {
    return this.waitUntil(() => [...this.clients][0], 'a Socket Mode client');
  }

  /** Sends an envelope to every connected Socket Mode client; returns its envelope id. */
  sendEnvelope(type: string, payload: unknown, envelopeId = `env-${++this.seq}`): string {
    const frame = JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: false });
    for (const ws of this.clients) ws.send(frame);
    return envelopeId;
  }

  async close(): Promise<void> {
    for (const ws of this.clients) ws.terminate();
    this.wss.close();
    for (const res of this.hung) res.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private waitUntil<T>(pick: () => T | undefined, label: string): Promise<T> {
    const now = pick();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const guard = setTimeout(() => {
        const i = this.waiters.indexOf(waiter as Waiter<unknown>);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`fake Slack never saw ${label}; calls were: ${this.calls.map((c) => c.method).join(', ') || 'none'}`));
      }, WAIT_GUARD_MS);
      const waiter: Waiter<T> = {
        pick,
        resolve: (v) => {
          clearTimeout(guard);
          resolve(v);
        },
      };
      this.waiters.push(waiter as Waiter<unknown>);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      const v = w.pick();
      if (v === undefined) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(v);
    }
  }

  private onSocket(ws: WebSocket): void {
    this.clients.add(ws);
    ws.on('close', () => this.clients.delete(ws));
    ws.on('message', (data) => {
      try {
        const msg = JSON.parse(String(data)) as { envelope_id?: string; payload?: Record<string, any> };
        if (msg.envelope_id) this.acks.set(msg.envelope_id, msg.payload ?? {});
      } catch {
        /* not an ack: ignore like Slack would */
      }
      this.wake();
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'AFAKE' } }));
    this.wake();
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake.invalid');

    if (url.pathname.startsWith('/response/')) {
      this.responsePosts.push({ path: url.pathname, body: raw ? JSON.parse(raw) : {} });
      this.wake();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      res.writeHead(404).end();
      return;
    }
    const method = url.pathname.slice('/api/'.length);
    const args = parseArgs(raw, req.headers['content-type']);
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : (args.token as string | undefined);
    this.calls.push({ method, args, ...(token ? { token } : {}) });
    this.wake();

    const fault = this.takeFault(method);
    if (fault === 'hang') {
      this.hung.add(res);
      return;
    }
    if (fault === 'http500') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      return;
    }
    const body = fault ? { ok: false, error: fault.error } : this.answer(method, args);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private takeFault(method: string): Fault | undefined {
    const entry = this.faults.get(method) ?? this.faults.get('*');
    if (!entry || entry.remaining <= 0) return undefined;
    entry.remaining--;
    return entry.fault;
  }

  private answer(method: string, args: Record<string, any>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return { ok: true, user_id: 'UBOT', team_id: 'TFAKE', bot_id: 'BFAKE' };
      case 'chat.postMessage': {
        const invalid = blockProblem(args.blocks);
        if (invalid) return { ok: false, error: 'invalid_blocks', errors: [invalid] };
        if (typeof args.text === 'string' && args.text.length > 4000) return { ok: false, error: 'msg_too_long' };
        const ts = `${1_700_000_000 + ++this.seq}.000100`;
        const channel = String(args.channel);
        this.messages.set(ts, { channel, text: args.text, blocks: args.blocks });
        return { ok: true, channel, ts, message: { ts, text: args.text, blocks: args.blocks } };
      }
      case 'chat.update': {
        const msg = this.messages.get(String(args.ts));
        if (!msg || msg.channel !== args.channel) return { ok: false, error: 'message_not_found' };
        const invalid = blockProblem(args.blocks);
        if (invalid) return { ok: false, error: 'invalid_blocks', errors: [invalid] };
        this.messages.set(String(args.ts), { channel: msg.channel, text: args.text, blocks: args.blocks });
        return { ok: true, channel: msg.channel, ts: args.ts };
      }
      case 'chat.postEphemeral':
        return { ok: true, message_ts: `${1_700_000_000 + ++this.seq}.000200` };
      case 'views.open': {
        const view = args.view as Record<string, any> | undefined;
        if (!args.trigger_id || !view) return { ok: false, error: 'invalid_arguments' };
        if (String(view.private_metadata ?? '').length > 3000) return { ok: false, error: 'invalid_arguments' };
        if (String(view.title?.text ?? '').length > 24) return { ok: false, error: 'invalid_arguments' };
        const problem = blockProblem(view.blocks);
        if (problem) return { ok: false, error: 'invalid_arguments', errors: [problem] };
        return { ok: true, view: { id: `V${++this.seq}`, ...view } };
      }
      case 'users.info': {
        const user = this.users.get(String(args.user));
        if (!user) return { ok: false, error: 'user_not_found' };
        return { ok: true, user: { id: args.user, name: user.name, real_name: user.name, profile: { email: user.email } } };
      }
      case 'conversations.open':
        return { ok: true, channel: { id: `D${String(args.users)}` } };
      case 'apps.connections.open':
        return { ok: true, url: `ws://127.0.0.1:${this.port}/socket` };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

function parseArgs(raw: string, contentType: string | undefined): Record<string, any> {
  if (!raw) return {};
  if (contentType?.includes('application/json')) return JSON.parse(raw) as Record<string, any>;
  const args: Record<string, any> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    args[k] = JSON_FIELDS.has(k) ? JSON.parse(v) : v;
  }
  return args;
}

/** The Block Kit limits real Slack enforces, so a too-big message fails here as it would there. */
function blockProblem(blocks: unknown): string | undefined {
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks)) return 'blocks is not an array';
  if (blocks.length > 50) return 'more than 50 blocks';
  const ids = new Set<string>();
  for (const b of blocks as Record<string, any>[]) {
    if (b.block_id) {
      if (ids.has(b.block_id)) return `duplicate block_id ${b.block_id}`;
      ids.add(b.block_id);
    }
    if (b.type === 'section') {
      if (b.text && String(b.text.text).length > 3000) return 'section text over 3000';
      if (b.fields && (b.fields.length > 10 || b.fields.some((f: any) => String(f.text).length > 2000))) return 'bad fields';
    }
    if (b.type === 'header' && String(b.text?.text).length > 150) return 'header over 150';
    if (b.type === 'actions') {
      for (const e of b.elements ?? []) {
        if (String(e.value ?? '').length > 2000) return 'button value over 2000';
        if (String(e.text?.text ?? '').length > 75) return 'button text over 75';
      }
    }
  }
  return undefined;
}
