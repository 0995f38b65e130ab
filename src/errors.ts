// Errors: what a client may see is a type apart from what only the operator sees.

/** An error whose message is shown to the database client (SQLSTATE for PostgreSQL, errno for MySQL). */
export class ClientError extends Error {
  readonly sqlstate: string;
  readonly mysqlErrno: number;
  readonly detail?: string;
  readonly hint?: string;
  /** FATAL ends the session (PostgreSQL severity), ERROR only the statement. */
  readonly fatal: boolean;
  constructor(opts: { sqlstate: string; mysqlErrno: number; message: string; detail?: string; hint?: string; fatal?: boolean }) {
    super(opts.message);
    this.name = 'ClientError';
    this.sqlstate = opts.sqlstate;
    this.mysqlErrno = opts.mysqlErrno;
    this.detail = opts.detail;
    this.hint = opts.hint;
    this.fatal = opts.fatal ?? false;
  }
}

/** Stable codes for internal errors; logged and used in CLI output, never sent to a database client. */
export type AirlockErrorCode =
  | 'AIRLOCK_ERR_CONFIG'
  | 'AIRLOCK_ERR_POLICY'
  | 'AIRLOCK_ERR_USERS'
  | 'AIRLOCK_ERR_UPSTREAM_CONNECT'
  | 'AIRLOCK_ERR_UPSTREAM_AUTH'
  | 'AIRLOCK_ERR_STORE_UNAVAILABLE'
  | 'AIRLOCK_ERR_AUDIT_WRITE'
  | 'AIRLOCK_ERR_PROTOCOL'
  | 'AIRLOCK_ERR_NOT_FOUND'
  | 'AIRLOCK_ERR_FORBIDDEN'
  | 'AIRLOCK_ERR_CONFLICT'
  | 'AIRLOCK_ERR_UNAUTHENTICATED'
  | 'AIRLOCK_ERR_BAD_REQUEST'
  | 'AIRLOCK_ERR_SLACK';

export class AirlockError extends Error {
  readonly code: AirlockErrorCode;
  constructor(code: AirlockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AirlockError';
    this.code = code;
  }
}
