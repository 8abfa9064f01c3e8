#!/usr/bin/env bash
# Per-migration timeouts: a second connection holds a conflicting lock, and
# `up --lock-timeout 1s` fails cleanly (exit 1) with an error that says it
# was a lock timeout and names the lock and the session holding it; nothing
# is applied. The same through a file's `-- modmig lock_timeout=` header, in
# a NO TRANSACTION migration, and a statement timeout.
source "$(dirname "$0")/lib.sh"

goose_file() { mkdir -p "$1"; cat >"$1/$2"; }
history_count() { sql "SELECT count(*) FROM $(history_table)"; }
HOLDER=""
hold_lock() { # TABLE: a second session takes ACCESS EXCLUSIVE on TABLE and sleeps
  psql -qAtX -d "$DB" -v ON_ERROR_STOP=1 -c "SET application_name = 'lock_holder'" \
    -c "BEGIN" -c "LOCK TABLE $1 IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
  HOLDER=$!
  for _ in $(seq 100); do
    [ "$(sql "SELECT count(*) FROM pg_locks WHERE relation = to_regclass('$1') AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && return 0
    sleep 0.1
  done
  fail "the second session did not get its lock on $1"
}
release_lock() {
  [ -n "$HOLDER" ] || return 0
  sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lock_holder' AND datname = current_database()" >/dev/null
  kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; HOLDER=""
}
trap 'release_lock; rm -rf "$TMP"' EXIT

D=$TMP/lock
goose_file "$D" 00001_accounts.sql <<'EOF2'
-- +goose Up
CREATE TABLE accounts (id int PRIMARY KEY);
-- +goose Down
DROP TABLE accounts;
EOF2
goose_file "$D" 00002_accounts_email.sql <<'EOF2'
-- +goose Up
CREATE TABLE accounts_log (id int);
ALTER TABLE public.accounts ADD COLUMN email text;
-- +goose Down
ALTER TABLE accounts DROP COLUMN email;
DROP TABLE accounts_log;
EOF2
new_db
mm -d "$URL" --dir "$D" up --by-one
expect_rc 0 "first migration"
# schema_dump (pg_get_viewdef) could wait for the holder: fingerprint first
fp=$(db_fingerprint); h=$(history_count)
hold_lock accounts
holder_pid=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'lock_holder'")
start=$(date +%s)
run timeout 30 "$MODMIG" -d "$URL" --dir "$D" up --lock-timeout 1s
took=$(( $(date +%s) - start ))
expect_rc 1 "lock timeout"
expect_err "lock timeout (1000ms) exceeded"
expect_err "waiting for a lock on public.accounts"
expect_err "pid $holder_pid (lock_holder"
expect_err "holds AccessExclusiveLock"
expect_err "55P03"
expect_err "00002_accounts_email.sql"
expect_err "--lock-timeout"
[ "$took" -lt 15 ] && pass || fail "the lock timeout took ${took}s"
expect_eq "$(applied_versions)" "1" "a lock timeout applied nothing"
expect_sql "SELECT to_regclass('accounts_log') IS NULL" "t"
release_lock
# nothing changed but the record of the failure (issue 9: failed migrations are recorded)
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$((h + 1))" "a lock timeout changed nothing"
expect_sql "SELECT event || ' ' || failed_unit || ' ' || left(error, 30) FROM $(history_table) ORDER BY id DESC LIMIT 1" \
  "failed_atomic 2 line 3:1: SQLSTATE 55P03: migr"
# without the holder the same up goes through
mm -d "$URL" --dir "$D" up --lock-timeout 1s
expect_rc 0 "up after the lock is released"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 " "applied after release"

# ---------------------------------------------------------------- the file's header
D=$TMP/header
goose_file "$D" 00001_ledger.sql <<'EOF2'
-- +goose Up
CREATE TABLE ledger (id int);
-- +goose Down
DROP TABLE ledger;
EOF2
goose_file "$D" 00002_ledger_index.sql <<'EOF2'
-- modmig lock_timeout=500ms
-- +goose Up
CREATE INDEX ledger_id ON ledger (id);
-- +goose Down
DROP INDEX ledger_id;
EOF2
new_db
mm -d "$URL" --dir "$D" up --by-one
expect_rc 0
fp=$(db_fingerprint); h=$(history_count)
hold_lock ledger
run timeout 30 "$MODMIG" -d "$URL" --dir "$D" up
expect_rc 1 "lock timeout from the file header"
expect_err "lock timeout (500ms) exceeded"
expect_err "public.ledger"
expect_err "lock_holder"
release_lock
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$((h + 1))" "header lock timeout changed nothing"

# ---------------------------------------------------------------- NO TRANSACTION: SET and RESET
D=$TMP/notx
goose_file "$D" 00001_orders.sql <<'EOF2'
-- +goose Up
CREATE TABLE orders (id int);
-- +goose Down
DROP TABLE orders;
EOF2
goose_file "$D" 00002_orders_concurrently.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY orders_id ON orders (id);
-- +goose Down
DROP INDEX CONCURRENTLY orders_id;
EOF2
new_db
mm -d "$URL" --dir "$D" up --by-one
expect_rc 0
hold_lock orders
run timeout 30 "$MODMIG" -d "$URL" --dir "$D" up --lock-timeout 1s
expect_rc 1 "lock timeout in a NO TRANSACTION migration"
expect_err "lock timeout (1000ms) exceeded"
expect_err "public.orders"
expect_err "no unit of 1 took effect; unit 1 failed"
expect_eq "$(applied_versions)" "1" "nothing applied"
release_lock
mm -d "$URL" --dir "$D" up --restart --lock-timeout 1s
expect_rc 0 "restart after the lock is released"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 " "applied after restart"

# ---------------------------------------------------------------- statement timeout
D=$TMP/slow
goose_file "$D" 00001_slow.sql <<'EOF2'
-- +goose Up
CREATE TABLE slow_before (id int);
SELECT pg_sleep(5);
-- +goose Down
DROP TABLE slow_before;
EOF2
new_db
fp=$(db_fingerprint)
run timeout 30 "$MODMIG" -d "$URL" --dir "$D" up --statement-timeout 500ms
expect_rc 1 "statement timeout"
expect_err "statement timeout (500ms) exceeded in unit 2"
expect_err "57014"
expect_err "--statement-timeout"
expect_eq "$(applied_versions)" "" "nothing applied after a statement timeout"
expect_sql "SELECT to_regclass('slow_before') IS NULL" "t"
mm -d "$URL" --dir "$D" up --statement-timeout soon
expect_rc 2 "a bad --statement-timeout"
expect_err "'soon' for '--statement-timeout'"
# the header variant
sed -i '1i -- modmig statement_timeout=300ms' "$D/00001_slow.sql"
run timeout 30 "$MODMIG" -d "$URL" --dir "$D" up
expect_rc 1 "statement timeout from the file header"
expect_err "statement timeout (300ms) exceeded"
expect_eq "$(applied_versions)" "" "nothing applied"
# the settings do not leak: without a timeout the migration completes
sed -i '1d' "$D/00001_slow.sql"
sed -i 's/pg_sleep(5)/pg_sleep(0.2)/' "$D/00001_slow.sql"
mm -d "$URL" --dir "$D" up
expect_rc 0 "no timeout by default"
expect_eq "$(applied_versions)" "1"

finish
