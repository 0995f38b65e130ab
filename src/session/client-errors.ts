// Every error airlock itself shows a database client, in one place, with both protocols' codes.

import { ClientError } from '../errors.js';

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export const clientErrors = {
  tooManyPendingAuth: (limit: number) =>
    new ClientError({
      sqlstate: '53300',
      mysqlErrno: 1040,
      message: `too many connections waiting to authenticate (airlock limits.max_pending_auth = ${limit})`,
      hint: 'A connection counts toward this limit until it has logged in. Try again in a moment.',
      fatal: true,
    }),
  tooManyPendingAuthFrom: (address: string, limit: number) =>
    new ClientError({
      sqlstate: '53300',
      mysqlErrno: 1040,
      message: `too many connections waiting to authenticate from ${address} (airlock limits.max_pending_auth_per_ip = ${limit})`,
      hint: 'A connection counts toward this limit until it has logged in. Try again in a moment.',
      fatal: true,
    }),
  tooManyClients: (limit: number) =>
    new ClientError({ sqlstate: '53300', mysqlErrno: 1040, message: `sorry, too many clients already (airlock limits.max_connections = ${limit})`, fatal: true }),
  tooManyForUser: (email: string, limit: number) =>
    new ClientError({ sqlstate: '53300', mysqlErrno: 1040, message: `too many connections for ${email} (airlock limits.max_connections_per_user = ${limit})`, fatal: true }),
  deniedByRule: (rule: string) =>
    new ClientError({
      sqlstate: '42501',
      mysqlErrno: 1142,
      message: `airlock: statement denied by policy rule "${rule}"`,
      hint: 'Ask the owners of the policy if you need this statement to run.',
    }),
  deniedByDefault: (why: string) =>
    new ClientError({ sqlstate: '42501', mysqlErrno: 1142, message: `airlock: statement denied (${why})` }),
  deniedByApprover: (requestId: string, by: string, reason: string) =>
    new ClientError({
      sqlstate: '42501',
      mysqlErrno: 1142,
      message: `airlock: request ${requestId} was denied by ${by}: ${reason || 'no reason given'}`,
    }),
  expired: (requestId: string, timeoutMs: number) =>
    new ClientError({
      sqlstate: '57014',
      mysqlErrno: 1317,
      message: `airlock: approval request ${requestId} timed out after ${formatDuration(timeoutMs)}; the statement did not run`,
    }),
  /** No request id: the client went away before the statement was held. */
  cancelled: (requestId?: string) =>
    new ClientError({
      sqlstate: '57014',
      mysqlErrno: 1317,
      message: `canceling statement due to user request (${requestId ? `airlock request ${requestId} cancelled; ` : ''}the statement did not run)`,
    }),
  abandoned: (requestId: string) =>
    new ClientError({
      sqlstate: '57014',
      mysqlErrno: 1317,
      message: `airlock: approval request ${requestId} was abandoned; the statement did not run`,
    }),
  storeUnavailable: (detail: string) =>
    new ClientError({
      sqlstate: '57P03',
      mysqlErrno: 1053,
      message: `airlock: the approval store is unavailable, so statements that need approval cannot be held right now (${detail})`,
      hint: 'Statements that need no approval still work. Try again when the approval store is back.',
    }),
  auditUnavailable: () =>
    new ClientError({
      sqlstate: '58030',
      mysqlErrno: 1290,
      message: 'airlock: the audit log cannot be written, so this statement is refused',
    }),
  retryPending: (requestId: string) =>
    new ClientError({
      sqlstate: '55000',
      mysqlErrno: 1317,
      message: `airlock: approval request ${requestId} is pending; re-send the same statement after it is approved`,
    }),
  shuttingDown: () =>
    new ClientError({
      sqlstate: '57P01',
      mysqlErrno: 1053,
      message: 'airlock is shutting down; the held statement did not run',
      fatal: true,
    }),
  /** A session that held nothing when shutdown ended it (idle, or past the grace period). */
  sessionShutDown: () =>
    new ClientError({
      sqlstate: '57P01',
      mysqlErrno: 1053,
      message: 'terminating connection because airlock is shutting down',
      fatal: true,
    }),
  /** tls.require: refused before any credential is checked. */
  tlsRequired: () =>
    new ClientError({
      sqlstate: '28000',
      mysqlErrno: 3159,
      message: 'airlock requires TLS for every connection (tls.require in airlock.yaml)',
      hint: 'Connect with sslmode=require (PostgreSQL) or --ssl-mode=REQUIRED (MySQL).',
      fatal: true,
    }),
  accessChanged: () =>
    new ClientError({
      sqlstate: '57P01',
      mysqlErrno: 1053,
      message: 'airlock: your access changed (removed, disabled, moved to other groups, or a new token issued); this session is closed',
      hint: 'Reconnect (with your current token) to continue with your current access.',
      fatal: true,
    }),
  unknownPortal: () =>
    new ClientError({
      sqlstate: '34000',
      mysqlErrno: 1243,
      message: 'airlock: Execute of a portal or prepared statement that was never bound on this connection; nothing ran',
    }),
  fastPathRefused: () =>
    new ClientError({
      sqlstate: '42501',
      mysqlErrno: 1142,
      message: 'airlock: the fast-path function call protocol is not allowed through airlock',
    }),
};
