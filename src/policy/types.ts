// Policy shapes after validation: what policy.yaml says, compiled for evaluation.

export type RuleAction = 'allow' | 'deny' | 'require_approval';

export interface ResourceSpec {
  readonly name: string;
  readonly protocol: 'postgres' | 'mysql';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Resolved from ${env:NAME} at load time; undefined when not given. */
  readonly password?: string;
  readonly tls?: { readonly mode: 'disable' | 'require' | 'verify-full'; readonly ca?: string };
  /** MySQL: schemas a client may USE / COM_INIT_DB on this resource; default [database]. */
  readonly allowed_schemas?: readonly string[];
  /** MySQL upstream flavour for classification; default mariadb/mysql is detected at connect. */
}

export interface ApprovalSpec {
  readonly approvers: readonly string[];
  readonly min_approvals: number;
  readonly all_groups_must_approve: boolean;
  readonly force_approvers: readonly string[];
  /** Milliseconds; default 10 minutes, capped by config approvals.max_timeout. */
  readonly timeout_ms: number;
  readonly channel?: string;
  readonly mode: 'per_command' | 'jit';
  /** For mode jit: window length in milliseconds. */
  readonly jit_duration_ms?: number;
  /** wait: the client waits on the connection; retry: error at once, re-send after approval. */
  readonly hold: 'wait' | 'retry';
}

export interface RuleMatch {
  /** Kinds (SELECT, INSERT, ...) and the groups DDL, DCL, READ, WRITE; matched against kind and nested_kinds. */
  readonly commands?: readonly string[];
  /** Table globs (`*` and `?`), compared case-insensitively for MySQL. */
  readonly tables?: readonly string[];
  readonly writes?: boolean;
  /** Last resort: a regex against the SQL text. */
  readonly regex?: string;
}

export interface Rule {
  readonly name: string;
  /** undefined = all resources */
  readonly resources?: readonly string[];
  /** undefined = everyone */
  readonly requesters?: readonly string[];
  readonly match: RuleMatch;
  readonly action: RuleAction;
  readonly approval?: ApprovalSpec;
  readonly audit?: { readonly params: 'keep' | 'redact' };
  /** 1-based line in the policy file, for explain output. */
  readonly line?: number;
}

export interface Policy {
  readonly version: 1;
  readonly file: string;
  /** SHA-256 hex of the file bytes. */
  readonly sha256: string;
  readonly resources: ReadonlyMap<string, ResourceSpec>;
  readonly defaults: {
    readonly action: RuleAction;
    readonly on_unparseable: RuleAction;
    /** Approval used when a default action is require_approval. */
    readonly approval: ApprovalSpec;
  };
  readonly rules: readonly Rule[];
}

export interface Requester {
  readonly email: string;
  readonly groups: readonly string[];
}

export type DecisionAction = 'allow' | 'deny' | 'hold';

export interface Decision {
  readonly action: DecisionAction;
  /** The deciding rule; undefined when a default decided. */
  readonly rule?: Rule;
  /** 'rule' | 'default' | 'unparseable' */
  readonly source: 'rule' | 'default' | 'unparseable';
  /** Human-readable why (for explain and logs at debug level). */
  readonly reason: string;
  /** For hold: the approval requirements. */
  readonly approval?: ApprovalSpec;
  /** Index of the deciding statement inside a multi-statement string. */
  readonly statementIndex?: number;
}
