#!/usr/bin/env bash
# The startup API under contention (DESIGN §8): 8 replicas of the example
# service start at the same moment against one empty database. All succeed,
# each migration is applied exactly once by exactly one of them.
source "$(dirname "$0")/lib.sh"

[ -x "$EXAMPLE_SERVICE" ] || { echo "example service not built: $EXAMPLE_SERVICE" >&2; exit 1; }
ALL=$(file_versions "$ROOT"/modules/*/migrations)
N=$(echo "$ALL" | wc -l)
# module schemas in manifest order, then public
WANT_PATH="search_path: $( (awk '/^[[:space:]]+schema:/ {print $2}' "$ROOT/modules/modules.yaml"; echo public) | paste -sd, - | sed 's/,/, /g')"
REPLICAS=8

new_db
export DATABASE_URL=$URL

# All replicas start together (run_together, lib.sh: a barrier on flock);
# each one's stdout lands in $TMP/log.I, its stderr in $TMP/svc.I.err.
cat >"$TMP/replica.sh" <<EOF
#!/bin/sh
exec "$EXAMPLE_SERVICE" apply 2>"$TMP/svc.\$1.err"
EOF
chmod +x "$TMP/replica.sh"
run_together "$REPLICAS" "$TMP/replica.sh" @I@
total=0
for i in $(seq 1 $REPLICAS); do
  RC=$(cat "$TMP/rc.$i" 2>/dev/null || echo missing)
  OUT=$(cat "$TMP/log.$i"); ERR=$(cat "$TMP/svc.$i.err")
  LAST_CMD="example-service apply (replica $i)"
  expect_rc 0 "replica $i"
  expect_eq "$OUT" "$WANT_PATH" "replica $i prints the application search path"
  n=$(sed -n 's/.*: \([0-9][0-9]*\) migration(s) applied by this process.*/\1/p' <<<"$ERR")
  total=$((total + ${n:-0}))
done
OUT=""; ERR=""; RC=0; LAST_CMD="queries after the replicas"
expect_eq "$total" "$N" "the replicas together applied each migration once"
expect_eq "$(applied_versions)" "$ALL" "every migration applied"
expect_sql "SELECT count(*) FROM (SELECT version_id FROM goose_db_version GROUP BY 1 HAVING count(*) > 1) d" "0"
expect_eq "$(history_versions applied)" "$ALL" "history: exactly one applied event per migration"
expect_eq "$(history_versions applied | sort | uniq -d)" "" "no migration applied twice"
expect_eq "$(history_versions failed)" "" "no failures in the history"

# verify: everything is applied, so it passes and changes nothing
fp=$(schema_fingerprint)
run "$EXAMPLE_SERVICE" verify
expect_rc 0 "verify after apply"
expect_eq "$OUT" "$WANT_PATH" "verify prints the search path"
MODMIG_POLICY=verify run "$EXAMPLE_SERVICE"
expect_rc 0 "MODMIG_POLICY=verify"
expect_eq "$(schema_fingerprint)" "$fp" "verify changes nothing"
# apply again: nothing to do
run "$EXAMPLE_SERVICE" apply
expect_rc 0 "apply with nothing pending"
expect_eq "$(history_versions applied | wc -l)" "$N" "a second apply applies nothing"

# verify against an empty database fails and applies nothing
new_db
export DATABASE_URL=$URL
run "$EXAMPLE_SERVICE" verify
if [ "$RC" != 0 ]; then pass; else fail "verify on an empty database exited 0"; fi
expect_no_out "search_path:"
expect_sql "SELECT count(*) FROM pg_namespace WHERE nspname = 'identity'" "0"
MODMIG_POLICY=verify run "$EXAMPLE_SERVICE"
if [ "$RC" != 0 ]; then pass; else fail "MODMIG_POLICY=verify on an empty database exited 0"; fi
# off: does nothing, starts anyway
run "$EXAMPLE_SERVICE" off
expect_rc 0 "policy off"
expect_eq "$OUT" "$WANT_PATH" "policy off prints the search path"
expect_sql "SELECT count(*) FROM pg_namespace WHERE nspname = 'identity'" "0"
# a bad policy is a usage error
run "$EXAMPLE_SERVICE" sideways
expect_rc 2 "unknown policy"
# an unreachable database: exit 1, no password in the output
DATABASE_URL="postgresql://svc:s3cretpw@127.0.0.1:1/x" run "$EXAMPLE_SERVICE" apply
expect_rc 1 "unreachable database"
expect_no_err "s3cretpw"

finish
