// The command kind, base writes flag and subkind of each PostgreSQL statement node type.

export interface KindInfo {
  kind: string;
  writes: boolean;
  subkind?: string;
}

const FIXED: Record<string, KindInfo> = {
  SelectStmt: { kind: 'SELECT', writes: false },
  InsertStmt: { kind: 'INSERT', writes: true },
  UpdateStmt: { kind: 'UPDATE', writes: true },
  DeleteStmt: { kind: 'DELETE', writes: true },
  MergeStmt: { kind: 'MERGE', writes: true },
  TruncateStmt: { kind: 'TRUNCATE', writes: true },
  CopyStmt: { kind: 'COPY', writes: false },
  ExplainStmt: { kind: 'EXPLAIN', writes: false },
  CallStmt: { kind: 'CALL', writes: true },
  DoStmt: { kind: 'DO', writes: true },
  PrepareStmt: { kind: 'PREPARE', writes: false },
  ExecuteStmt: { kind: 'EXECUTE', writes: true },
  DeallocateStmt: { kind: 'DEALLOCATE', writes: false },
  VariableShowStmt: { kind: 'SHOW', writes: false },
  DiscardStmt: { kind: 'DISCARD', writes: false },
  ListenStmt: { kind: 'LISTEN', writes: false },
  UnlistenStmt: { kind: 'UNLISTEN', writes: false },
  NotifyStmt: { kind: 'NOTIFY', writes: true },
  ClusterStmt: { kind: 'CLUSTER', writes: true },
  ReindexStmt: { kind: 'REINDEX', writes: true },
  RefreshMatViewStmt: { kind: 'REFRESH', writes: true },
  CheckPointStmt: { kind: 'CHECKPOINT', writes: true },
  CommentStmt: { kind: 'COMMENT', writes: true },
  SecLabelStmt: { kind: 'SECURITY LABEL', writes: true },
  ReassignOwnedStmt: { kind: 'REASSIGN', writes: true },
  ImportForeignSchemaStmt: { kind: 'IMPORT', writes: true },
  // LOAD runs a shared library's initialisation code in the backend.
  LoadStmt: { kind: 'LOAD', writes: true },
  DeclareCursorStmt: { kind: 'DECLARE', writes: false },
  FetchStmt: { kind: 'FETCH', writes: false },
  ClosePortalStmt: { kind: 'CLOSE', writes: false },
  ConstraintsSetStmt: { kind: 'SET', writes: false },
  RuleStmt: { kind: 'CREATE', writes: true },
  ViewStmt: { kind: 'CREATE', writes: true },
  IndexStmt: { kind: 'CREATE', writes: true },
  DefineStmt: { kind: 'CREATE', writes: true },
  CompositeTypeStmt: { kind: 'CREATE', writes: true },
  RenameStmt: { kind: 'ALTER', writes: true },
  AlterSystemStmt: { kind: 'ALTER', writes: true, subkind: 'ALTER SYSTEM' },
  GrantStmt: { kind: 'GRANT', writes: true },
  GrantRoleStmt: { kind: 'GRANT', writes: true },
  LockStmt: { kind: 'LOCK', writes: true },
  VacuumStmt: { kind: 'VACUUM', writes: true },
  VariableSetStmt: { kind: 'SET', writes: false },
  TransactionStmt: { kind: 'BEGIN', writes: false },
};

const TRANSACTION_KINDS: Record<string, KindInfo> = {
  TRANS_STMT_BEGIN: { kind: 'BEGIN', writes: false },
  TRANS_STMT_START: { kind: 'BEGIN', writes: false },
  TRANS_STMT_COMMIT: { kind: 'COMMIT', writes: false },
  TRANS_STMT_ROLLBACK: { kind: 'ROLLBACK', writes: false },
  TRANS_STMT_SAVEPOINT: { kind: 'SAVEPOINT', writes: false },
  TRANS_STMT_RELEASE: { kind: 'RELEASE', writes: false },
  TRANS_STMT_ROLLBACK_TO: { kind: 'ROLLBACK', writes: false },
  // Two-phase commit outlives the session and can settle another session's writes.
  TRANS_STMT_PREPARE: { kind: 'PREPARE', writes: true, subkind: 'PREPARE TRANSACTION' },
  TRANS_STMT_COMMIT_PREPARED: { kind: 'COMMIT', writes: true, subkind: 'COMMIT PREPARED' },
  TRANS_STMT_ROLLBACK_PREPARED: { kind: 'ROLLBACK', writes: true, subkind: 'ROLLBACK PREPARED' },
};

const SET_SUBKINDS: Record<string, string> = {
  role: 'SET ROLE',
  session_authorization: 'SET SESSION AUTHORIZATION',
};

/**
 * Kind of a statement node. `body` is the node's content, needed where one node type covers several
 * commands. Unknown node types return undefined so the caller can fail closed.
 */
export function kindOf(type: string, body: Record<string, unknown>): KindInfo | undefined {
  switch (type) {
    case 'TransactionStmt':
      return TRANSACTION_KINDS[String(body['kind'])] ?? { kind: 'BEGIN', writes: true };
    case 'VariableSetStmt': {
      const setKind = String(body['kind']);
      if (setKind === 'VAR_RESET' || setKind === 'VAR_RESET_ALL') return { kind: 'RESET', writes: false };
      const subkind = SET_SUBKINDS[String(body['name'])];
      return subkind ? { kind: 'SET', writes: false, subkind } : { kind: 'SET', writes: false };
    }
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return { kind: body['is_grant'] ? 'GRANT' : 'REVOKE', writes: true };
    case 'VacuumStmt':
      return { kind: body['is_vacuumcmd'] ? 'VACUUM' : 'ANALYZE', writes: true };
    case 'LockStmt': {
      // ACCESS SHARE (mode 1) needs only SELECT; every stronger mode needs a write privilege.
      const mode = typeof body['mode'] === 'number' ? body['mode'] : 8;
      return { kind: 'LOCK', writes: mode > 1 };
    }
  }
  const fixed = FIXED[type];
  if (fixed) return fixed;
  if (/^(Create|Define)/.test(type)) return { kind: 'CREATE', writes: true };
  if (/^Alter/.test(type)) return { kind: 'ALTER', writes: true };
  if (/^Drop/.test(type)) return { kind: 'DROP', writes: true };
  return undefined;
}
