#!/usr/bin/env bash
# Read-only load with mysqlslap, direct to MariaDB and through airlock in one run: prints both figures
# and the ratio. Needs MariaDB on 127.0.0.1:3306 (root, empty password, database test) and a built
# airlock (npm run build; set AIRLOCK_SKIP_BUILD=1 to use dist/ as it is).
#   bench/mysqlslap.sh [concurrency] [queries]
set -euo pipefail

CONCURRENCY="${1:-8}"
QUERIES="${2:-20000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d -t airlock-bench-XXXXXX)"
AIRLOCK_PID=""
cleanup() {
  if [[ -n "$AIRLOCK_PID" ]]; then kill "$AIRLOCK_PID" 2>/dev/null || true; wait "$AIRLOCK_PID" 2>/dev/null || true; fi
  mysql --protocol=TCP -h 127.0.0.1 -P 3306 -u root test -e 'DROP TABLE IF EXISTS bench_airlock_ro' 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mysql --protocol=TCP -h 127.0.0.1 -P 3306 -u root test -e 'SELECT 1' >/dev/null \
  || { echo "MariaDB is not reachable on 127.0.0.1:3306 (root, database test); start it first" >&2; exit 1; }
if [[ -z "${AIRLOCK_SKIP_BUILD:-}" ]]; then (cd "$ROOT" && npm run --silent build); fi

mysql --protocol=TCP -h 127.0.0.1 -P 3306 -u root test -e "
  DROP TABLE IF EXISTS bench_airlock_ro;
  CREATE TABLE bench_airlock_ro (id INT PRIMARY KEY, name VARCHAR(40), qty INT);
  INSERT INTO bench_airlock_ro SELECT seq, CONCAT('item-', seq), seq % 97 FROM seq_1_to_1000;"

PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
cat >"$WORK/policy.yaml" <<YAML
version: 1
resources:
  bench: {protocol: mysql, host: 127.0.0.1, port: 3306, database: test, user: root}
defaults:
  action: allow
  on_unparseable: deny
rules:
  - name: read-only-bench
    match: {writes: true}
    action: deny
YAML
cat >"$WORK/airlock.yaml" <<YAML
listen:
  mysql: 127.0.0.1:$PORT
policy: policy.yaml
users: users.yaml
audit:
  dir: audit
log:
  level: warn
YAML
TOKEN="$("$ROOT/bin/airlock" users add bench@example.com --groups bench --users "$WORK/users.yaml" | grep -Eo 'alk_[A-Za-z0-9_-]+' | head -1)"
"$ROOT/bin/airlock" start -c "$WORK/airlock.yaml" >"$WORK/airlock.log" 2>&1 &
AIRLOCK_PID=$!
for _ in $(seq 1 100); do
  if grep -q 'MySQL listener' "$WORK/airlock.log"; then break; fi
  if ! kill -0 "$AIRLOCK_PID" 2>/dev/null; then cat "$WORK/airlock.log" >&2; exit 1; fi
  sleep 0.1
done
grep -q 'MySQL listener' "$WORK/airlock.log" || { echo "airlock did not start a MySQL listener:" >&2; cat "$WORK/airlock.log" >&2; exit 1; }

QUERY="SELECT id, name, qty FROM bench_airlock_ro WHERE id = 500"
slap() { # host port user password schema -> average seconds
  MYSQL_PWD="$4" mysqlslap --protocol=TCP -h "$1" -P "$2" -u "$3" --skip-ssl --create-schema="$5" --no-drop \
    --concurrency="$CONCURRENCY" --number-of-queries="$QUERIES" --iterations=3 --query="$QUERY" \
    | awk '/Average number of seconds/ {print $(NF-1)}'
}
DIRECT="$(slap 127.0.0.1 3306 root '' test)"
VIA="$(slap 127.0.0.1 "$PORT" bench@example.com "$TOKEN" bench)"
awk -v d="$DIRECT" -v a="$VIA" -v q="$QUERIES" -v c="$CONCURRENCY" 'BEGIN {
  printf "mysqlslap read-only point selects, %d queries, concurrency %d (average of 3 runs)\n", q, c
  printf "  direct:        %8.3f s  %9.0f queries/s\n", d, q / d
  printf "  via airlock:   %8.3f s  %9.0f queries/s\n", a, q / a
  printf "  ratio airlock/direct throughput: %.2f\n", d / a
}'
