// People: who may connect (users.yaml), and the verifiers that prove it without storing tokens.

export interface ScramVerifier {
  readonly iterations: number;
  /** base64 */
  readonly salt: string;
  /** base64 */
  readonly stored_key: string;
  /** base64 */
  readonly server_key: string;
}

export interface UserRecord {
  readonly email: string;
  readonly groups: readonly string[];
  readonly slack_id?: string;
  readonly name?: string;
  readonly disabled?: boolean;
  /** PostgreSQL SCRAM-SHA-256 verifier of the token. */
  readonly scram: ScramVerifier;
  /** MySQL mysql_native_password: hex SHA1(SHA1(token)). */
  readonly mysql_native: string;
  /** MySQL caching_sha2_password: hex SHA256(SHA256(token)). */
  readonly caching_sha2: string;
  /** Constant-time check of the token for HTTP API / CLI: scrypt or the SCRAM salted password. */
  readonly created_at: string;
  readonly rotated_at?: string;
}

export interface UserDirectory {
  /** Case-insensitive on the email. */
  get(email: string): UserRecord | undefined;
  bySlackId(slackId: string): UserRecord | undefined;
  all(): readonly UserRecord[];
  /** Constant-time; false for unknown or disabled users. */
  verifyToken(email: string, token: string): boolean;
}
