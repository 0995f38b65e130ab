#!/usr/bin/env bash
# pgbench -S direct to PostgreSQL and through airlock, in one run, and the ratio of the two.
# Usage: bash bench/pgbench.sh [seconds=15] [clients=8] [threads=2]
# Needs: the machine's PostgreSQL on 127.0.0.1:5432 (trust, db test), a built airlock (npm run build).
# Only loopback addresses are used.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-15}
CLIENTS=${2:-8}
THREADS=${3:-2}
MODE=${MODE:-simple}
[ -f dist/main.js ] || npm run build >/dev/null

work=$(mktemp -d)
trap 'kill $AIRLOCK_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

cat > "$work/policy.yaml" <<YAML
version: 1
resources:
  bench:
    protocol: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    user: postgres
defaults:
  action: allow
  on_unparseable: deny
rules:
  - name: no-drop-for-engineering
    requesters: [engineering]
    match: { commands: [DROP] }
    action: deny
YAML
cat > "$work/airlock.yaml" <<YAML
listen:
  postgres: 127.0.0.1:0
  admin: 127.0.0.1:0
policy: ./policy.yaml
users: ./users.yaml
state: {}
audit:
  dir: ./audit
log:
  level: warn
YAML
: > "$work/users.yaml"
TOKEN=$(node bin/airlock users add bench@example.com --groups benchmarkers --users "$work/users.yaml" | grep -oE 'alk_[A-Za-z0-9_-]+' | head -1)

node bin/airlock start --config "$work/airlock.yaml" > "$work/airlock.out" 2>&1 &
AIRLOCK_PID=$!
for _ in $(seq 1 100); do grep -q 'PostgreSQL listener on' "$work/airlock.out" && break; sleep 0.1; done
PORT=$(grep -oE 'PostgreSQL listener on [0-9.]+:[0-9]+' "$work/airlock.out" | grep -oE '[0-9]+$')
[ -n "$PORT" ] || { cat "$work/airlock.out"; echo "airlock did not start" >&2; exit 1; }

echo "pgbench -S -M $MODE -c $CLIENTS -j $THREADS -T $SECONDS_RUN (scale 1)"
pgbench -i -s 1 -q -h 127.0.0.1 -p 5432 -U postgres test >/dev/null 2>&1

tps() { grep -oE 'tps = [0-9.]+' | head -1 | grep -oE '[0-9.]+'; }
DIRECT=$(pgbench -S -n -M "$MODE" -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_RUN" -h 127.0.0.1 -p 5432 -U postgres test 2>/dev/null | tps)
THROUGH=$(PGPASSWORD="$TOKEN" pgbench -S -n -M "$MODE" -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_RUN" -h 127.0.0.1 -p "$PORT" -U bench@example.com bench 2>/dev/null | tps)
echo "direct:  $DIRECT tps"
echo "airlock: $THROUGH tps"
awk -v a="$THROUGH" -v d="$DIRECT" 'BEGIN { printf "ratio (airlock/direct): %.3f\n", a / d }'
