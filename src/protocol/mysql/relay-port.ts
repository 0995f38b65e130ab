// What the MySQL relay lends the command handlers it delegates to (relay-gating, relay-statements, relay-control).

import type { ClientError } from '../../errors.js';
import type { SessionIdentity, Verdict } from '../../session/gate.js';
import type { MysqlPacket } from './framer.js';
import type { Expectation, ReplyShape, ResponseTracker } from './response-tracker.js';

/** An expectation for a command whose outcome is recorded as a statement execution. */
export type SendExpectation = Omit<Expectation, 'shape'> & { shape: ReplyShape };

export interface RelayPort {
  readonly tracker: ResponseTracker;
  /** Who the session acts for now (COM_CHANGE_USER replaces it). */
  session: SessionIdentity;
  /** Bytes to the server, pausing the client under backpressure. */
  forward(raw: Buffer): void;
  /** Forwards a command that expects a reply, recording its outcome. */
  send(raw: Buffer, e: SendExpectation, requestId?: string): void;
  /** Answers ERR once earlier replies reached the client. */
  refuse(error: ClientError): Promise<void>;
  /** Judge, then run (forward) or refuse. */
  gateThen(sql: string, params: readonly (string | null)[], run: (requestId: string | undefined, verdict: Verdict) => Promise<void> | void): Promise<void> | void;
  writeClient(buf: Buffer): void;
  /** Sequence id of airlock's own reply to the command being handled: one past its last packet. */
  readonly replySeq: number;
  errPayload(error: ClientError): Buffer;
  okPayload(): Buffer;
  /** The next client packet, taken out of turn (an exchange inside a command). */
  nextClientPacket(): Promise<MysqlPacket>;
  /** Prepared statements and session text are gone (COM_RESET_CONNECTION, COM_CHANGE_USER). */
  resetSessionState(): void;
  /** Ends the client's side gracefully (then close). */
  endClient(): void;
  close(reason: string): void;
}
