// Which MySQL/MariaDB function calls are known to leave no state behind, and which carry a danger tag.

/**
 * Built-in functions that change nothing outliving the statement. Anything not listed
 * (user-defined, stored, plugin UDFs, schema-qualified) counts as a write: fail closed.
 * Type names appear because CAST(x AS DECIMAL(10,2)) lexes like a call.
 */
const PURE = new Set(
  `abs acos adddate addtime aes_decrypt aes_encrypt any_value ascii asin atan atan2 avg benchmark bin bin_to_uuid
  binary bit_and bit_count bit_length bit_or bit_xor cast ceil ceiling char char_length character_length charset
  coalesce coercibility collation compress concat concat_ws connection_id conv convert convert_tz cos cot count crc32
  cume_dist curdate current_date current_role current_time current_timestamp current_user curtime database date
  date_add date_format date_sub datediff datetime day dayname dayofmonth dayofweek dayofyear decimal default degrees
  dense_rank double elt exp export_set extract extractvalue field find_in_set first_value float floor format
  format_bytes format_pico_time found_rows from_base64 from_days from_unixtime geomcollection geometrycollection
  get_format get_lock greatest group_concat grouping gtid_subset gtid_subtract hex hour icu_version if ifnull
  inet6_aton inet6_ntoa inet_aton inet_ntoa insert instr int integer interval is_free_lock is_ipv4 is_ipv4_compat
  is_ipv4_mapped is_ipv6 is_used_lock is_uuid isnull json json_array json_arrayagg json_array_append
  json_array_insert json_contains json_contains_path json_depth json_extract json_insert json_keys json_length
  json_merge json_merge_patch json_merge_preserve json_object json_objectagg json_overlaps json_pretty json_quote
  json_remove json_replace json_schema_valid json_schema_validation_report json_search json_set json_storage_free
  json_storage_size json_table json_type json_unquote json_valid json_value lag last_day last_insert_id last_value
  lcase lead least left length linestring ln load_file localtime localtimestamp locate log log10 log2 lower lpad
  ltrim make_set makedate maketime master_pos_wait match max md5 microsecond mid min minute mod month monthname
  multilinestring multipoint multipolygon name_const nchar now nth_value ntile nullif oct octet_length ord
  percent_rank period_add period_diff pi point polygon position pow power ps_current_thread_id ps_thread_id quarter
  quote radians rand random_bytes rank regexp_instr regexp_like regexp_replace regexp_substr release_all_locks
  release_lock repeat replace reverse right round row row_count row_number rpad rtrim schema sec_to_time second
  session_user sha sha1 sha2 sign signed sin sleep source_pos_wait soundex space sqrt st_area st_asbinary st_astext
  st_aswkb st_aswkt st_buffer st_centroid st_contains st_distance st_geomfromtext st_geomfromwkb st_intersects
  st_length st_srid st_within st_x st_y statement_digest statement_digest_text std stddev stddev_pop stddev_samp
  str_to_date strcmp subdate substr substring substring_index subtime sum sysdate system_user tan time time_format
  time_to_sec timediff timestamp timestampadd timestampdiff to_base64 to_days to_seconds trim truncate ucase
  uncompress uncompressed_length unhex unix_timestamp unsigned updatexml upper user utc_date utc_time utc_timestamp
  uuid uuid_short uuid_to_bin validate_password_strength values var_pop var_samp variance varchar version
  wait_for_executed_gtid_set week weekday weekofyear weight_string year yearweek
  lastval nextval setval decode encode des_decrypt des_encrypt encrypt old_password password sformat natural_sort_key
  json_detailed json_loose json_compact json_exists json_query json_normalize json_equals sys_guid to_char
  column_get column_json column_list column_exists column_check column_create column_add column_delete`
    .split(/\s+/)
    .filter((f) => f !== ''),
);

/** Sequence functions advance or read a sequence: their argument is a table. */
export const SEQUENCE_FUNCTIONS: Readonly<Record<string, { writes: boolean }>> = {
  nextval: { writes: true },
  setval: { writes: true },
  lastval: { writes: false },
};

const TAGS: Readonly<Record<string, string>> = {
  sleep: 'dos',
  benchmark: 'dos',
  load_file: 'server-file-read',
  get_lock: 'lock',
  release_lock: 'lock',
  release_all_locks: 'lock',
  master_pos_wait: 'dos',
  source_pos_wait: 'dos',
  wait_for_executed_gtid_set: 'dos',
};

export function isPureFunction(name: string): boolean {
  return PURE.has(name) && !(name in SEQUENCE_FUNCTIONS && SEQUENCE_FUNCTIONS[name]!.writes);
}

export function functionTag(name: string): string | undefined {
  return TAGS[name];
}
