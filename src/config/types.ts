// airlock.yaml after validation: defaults filled, paths absolute, deep-frozen.

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface Config {
  /** Absolute path of the file this came from (or '<demo>'). */
  readonly file: string;
  readonly instance_id: string;
  readonly listen: {
    readonly postgres?: HostPort;
    readonly mysql?: HostPort;
    readonly admin?: HostPort;
  };
  /** Absolute paths. */
  readonly policy: string;
  readonly users: string;
  readonly state: { readonly redis?: string };
  readonly audit: {
    readonly dir: string;
    readonly sql: 'text' | 'hash';
    /** Longer SQL is recorded as its first this-many bytes with the full text's SHA-256 and length. */
    readonly sql_max_bytes: number;
    /** Ed25519 private key file (PEM); generated at first start. Default <dir>/signing-key.pem */
    readonly signing_key: string;
    readonly checkpoint_interval_ms: number;
    readonly checkpoint_records: number;
    readonly rotate_bytes: number;
    readonly rotate_age_ms: number;
  };
  /** TLS for client-facing listeners (PostgreSQL SSLRequest, MySQL CLIENT_SSL). */
  readonly tls?: {
    readonly cert: string;
    readonly key: string;
    /** Refuse clients that log in without TLS (default false: TLS is offered, not required). */
    readonly require: boolean;
  };
  readonly approvals: {
    readonly max_timeout_ms: number;
    readonly lease_ms: number;
  };
  readonly limits: {
    readonly max_connections: number;
    readonly max_connections_per_user: number;
    /** Connections not yet authenticated; these do not count toward max_connections. */
    readonly max_pending_auth: number;
    /** The same, per client address (IPv6 per /64). */
    readonly max_pending_auth_per_ip: number;
    readonly auth_timeout_ms: number;
    readonly idle_timeout_ms: number;   // 0 = none
    readonly max_message_bytes: number;
    readonly shutdown_grace_ms: number;
  };
  readonly slack?: {
    readonly bot_token: string;
    readonly signing_secret?: string;
    readonly app_token?: string;
    readonly channel: string;
    readonly api_url?: string;
    readonly trust_emails: boolean;
    readonly request_timeout_ms: number;
  };
  readonly log: { readonly level: string };
}
