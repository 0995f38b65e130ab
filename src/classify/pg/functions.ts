// What calling a PostgreSQL function does: pure built-in, tagged read, or (fail closed) a write.

/** How the walker must treat one call. */
export type FunctionEffect =
  | { kind: 'pure' }
  | { kind: 'tagged-read'; tag: string }
  | { kind: 'write' }
  /** nextval/setval/currval: the first argument names a sequence, which counts as a table. */
  | { kind: 'sequence'; writes: boolean }
  /** query_to_xml & co: the server runs the SQL text in argument `sqlArg` locally (only with `argCount` arguments, when set). */
  | { kind: 'runs-local-sql'; sqlArg: number; argCount?: number }
  /** table_to_xml & co: argument 0 names a table. */
  | { kind: 'reads-named-table' }
  /** schema_to_xml & co: reads every table of a schema or database, none named in the SQL. */
  | { kind: 'reads-unnamed-tables' }
  /** dblink & co: runs SQL text elsewhere; always a write, the text gives nested kinds. */
  | { kind: 'runs-remote-sql'; sqlArg: (argCount: number) => number }
  | { kind: 'set-config' };

// Built-ins that change no state outliving the statement. Anything absent is treated as a write,
// so this list errs on the short side: a missing entry costs an approval, an extra one a bypass.
const PURE = new Set(`
abs acos acosd acosh age array_agg array_append array_cat array_dims array_fill array_length array_lower
array_ndims array_position array_positions array_prepend array_remove array_replace array_to_json
array_to_string array_upper ascii asin asind asinh atan atan2 atan2d atand atanh avg bit_and bit_count bit_length
bit_or bit_xor bool_and bool_or btrim cardinality cbrt ceil ceiling char_length character_length chr
clock_timestamp coalesce col_description concat concat_ws corr cos cosd cosh cot cotd count covar_pop
covar_samp cume_dist current_database current_query current_schema current_schemas current_setting
date_bin date_part date_trunc decode degrees dense_rank div encode enum_first enum_last enum_range every
exp extract factorial first_value float4 float8 floor format format_type gcd gen_random_uuid generate_series
generate_subscripts get_bit get_byte greatest has_any_column_privilege has_column_privilege
has_database_privilege has_function_privilege has_schema_privilege has_sequence_privilege
has_table_privilege has_type_privilege hashtext host hostmask inet_client_addr inet_client_port
inet_server_addr inet_server_port initcap int2 int4 int8 isempty isfinite json_agg json_array_elements
json_array_elements_text json_array_length json_build_array json_build_object json_each json_each_text
json_extract_path json_extract_path_text json_object json_object_agg json_object_keys json_populate_record
json_populate_recordset json_strip_nulls json_to_record json_to_recordset json_typeof jsonb_agg
jsonb_array_elements jsonb_array_elements_text jsonb_array_length jsonb_build_array jsonb_build_object
jsonb_concat jsonb_each jsonb_each_text jsonb_extract_path jsonb_extract_path_text jsonb_insert
jsonb_object jsonb_object_agg jsonb_object_keys jsonb_path_exists jsonb_path_match jsonb_path_query
jsonb_path_query_array jsonb_path_query_first jsonb_populate_record jsonb_populate_recordset jsonb_pretty
jsonb_set jsonb_set_lax jsonb_strip_nulls jsonb_to_record jsonb_to_recordset jsonb_typeof justify_days
justify_hours justify_interval lag last_value lcm lead least left length like_escape ln localtime
localtimestamp log log10 lower lower_inc lower_inf lpad ltrim make_date make_interval make_time
make_timestamp make_timestamptz masklen max md5 min mode mod netmask network now nth_value ntile nullif
num_nonnulls num_nulls numeric obj_description octet_length overlay parse_ident percent_rank
percentile_cont percentile_disc pg_backend_pid pg_client_encoding pg_collation_for pg_column_size
pg_conf_load_time pg_database_size pg_encoding_to_char pg_get_constraintdef pg_get_expr
pg_get_function_arguments pg_get_function_identity_arguments pg_get_function_result pg_get_functiondef
pg_get_indexdef pg_get_keywords pg_get_partkeydef pg_get_ruledef pg_get_serial_sequence
pg_get_statisticsobjdef pg_get_triggerdef pg_get_userbyid pg_get_viewdef pg_has_role pg_index_column_has_property
pg_indexes_size pg_is_in_recovery pg_jit_available pg_my_temp_schema pg_postmaster_start_time
pg_relation_filenode pg_relation_size pg_size_bytes pg_size_pretty pg_table_is_visible pg_table_size
pg_tablespace_size pg_total_relation_size pg_type_is_visible pg_function_is_visible pg_typeof
pg_current_wal_lsn pg_last_wal_receive_lsn pg_last_wal_replay_lsn pg_last_xact_replay_timestamp
phraseto_tsquery pi plainto_tsquery position power quote_ident quote_literal quote_nullable radians random
range_merge rank regexp_count regexp_instr regexp_like regexp_match regexp_matches regexp_replace
regexp_split_to_array regexp_split_to_table regexp_substr regr_avgx regr_avgy regr_count regr_intercept
regr_r2 regr_slope regr_sxx regr_sxy regr_syy repeat replace reverse right round row_number row_to_json
rpad rtrim scale setseed setweight sha224 sha256 sha384 sha512 shobj_description sign similar_escape
similar_to_escape sin sind sinh split_part sqrt starts_with statement_timestamp stddev stddev_pop
stddev_samp string_agg string_to_array string_to_table strip strpos substr substring sum tan tand tanh
timeofday timezone to_ascii to_char to_date to_hex to_json to_jsonb to_number to_regclass to_regproc
to_regprocedure to_regrole to_regtype to_timestamp to_tsquery to_tsvector transaction_timestamp translate
trim_array trim_scale trunc ts_headline ts_rank ts_rank_cd tsquery_phrase tsvector_to_array
unistr unnest upper upper_inc upper_inf uuid_extract_timestamp uuid_extract_version var_pop var_samp
variance version websearch_to_tsquery width_bucket xmlagg xmlcomment xmlconcat xmlexists xml_is_well_formed
xpath xpath_exists normalize is_normalized btrim bool int2 int4 text varchar
`.split(/\s+/).filter(Boolean));

const TAGGED_READS = new Map<string, string>([
  ...['pg_read_file', 'pg_read_binary_file', 'pg_stat_file', 'pg_ls_dir', 'pg_ls_logdir', 'pg_ls_waldir',
    'pg_ls_tmpdir', 'pg_ls_archive_statusdir', 'pg_ls_logicalsnapdir', 'pg_ls_logicalmapdir',
    'pg_ls_replslotdir'].map((f) => [f, 'server-file-read'] as const),
  ...['pg_sleep', 'pg_sleep_for', 'pg_sleep_until'].map((f) => [f, 'dos'] as const),
  ...['pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
    'pg_try_advisory_lock', 'pg_try_advisory_lock_shared', 'pg_try_advisory_xact_lock',
    'pg_try_advisory_xact_lock_shared', 'pg_advisory_unlock', 'pg_advisory_unlock_shared',
    'pg_advisory_unlock_all'].map((f) => [f, 'lock'] as const),
]);

const LOCAL_SQL_ARG = new Map<string, number>([
  ['query_to_xml', 0], ['query_to_xmlschema', 0], ['query_to_xml_and_xmlschema', 0],
  // ts_stat(sqlquery [, weights]) runs its first argument.
  ['ts_stat', 0],
]);
const NAMED_TABLE = new Set(['table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema']);
const UNNAMED_TABLES = new Set([
  'schema_to_xml', 'schema_to_xmlschema', 'schema_to_xml_and_xmlschema',
  'database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema',
]);

// dblink(sql) and dblink(conn, sql[, fail]); dblink_open(cursor, sql) and dblink_open(conn, cursor, sql[, fail]).
const REMOTE_SQL = new Map<string, (argCount: number) => number>([
  ['dblink', (n) => (n === 1 ? 0 : 1)],
  ['dblink_exec', (n) => (n === 1 ? 0 : 1)],
  ['dblink_send_query', () => 1],
  ['dblink_open', (n) => (n === 2 ? 1 : 2)],
]);

/** `nameParts` as the parser gives them (already folded): ["f"] or ["schema", "f"]. */
export function functionEffect(nameParts: readonly string[]): FunctionEffect {
  const name = nameParts[nameParts.length - 1] ?? '';
  const schema = nameParts.length >= 2 ? nameParts[nameParts.length - 2] : undefined;
  const remote = REMOTE_SQL.get(name);
  // dblink lives in whatever schema the extension was installed into: any schema counts.
  if (remote) return { kind: 'runs-remote-sql', sqlArg: remote };
  if (schema !== undefined && schema !== 'pg_catalog') return { kind: 'write' };
  if (PURE.has(name)) return { kind: 'pure' };
  const tag = TAGGED_READS.get(name);
  if (tag) return { kind: 'tagged-read', tag };
  if (name === 'nextval' || name === 'setval') return { kind: 'sequence', writes: true };
  if (name === 'currval') return { kind: 'sequence', writes: false };
  const sqlArg = LOCAL_SQL_ARG.get(name);
  if (sqlArg !== undefined) return { kind: 'runs-local-sql', sqlArg };
  // ts_rewrite(query, select text) runs its second argument; ts_rewrite(query, target, substitute) runs nothing.
  if (name === 'ts_rewrite') return { kind: 'runs-local-sql', sqlArg: 1, argCount: 2 };
  if (NAMED_TABLE.has(name)) return { kind: 'reads-named-table' };
  if (UNNAMED_TABLES.has(name)) return { kind: 'reads-unnamed-tables' };
  if (name === 'set_config') return { kind: 'set-config' };
  return { kind: 'write' };
}
