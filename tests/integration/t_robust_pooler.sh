#!/usr/bin/env bash
# Behind PgBouncer in transaction pooling mode (issue 9 finding 1), and the
# locks' waits:
#   1. 16 concurrent `modmig up` through the bouncer x MODMIG_POOLER_ROUNDS
#      rounds (default 6), with the default session lock and with --lock
#      table, 20 migrations among which some call pg_advisory_unlock_all()
#      and one NO TRANSACTION file runs DISCARD ALL: every run exits 0, every
#      migration is applied exactly once (version rows and 'applied' history
#      rows per version), verify is clean
#   2. doctor through the bouncer reports the pooler (exit 3, what to do);
#      direct, it does not
#   3. the lock wait names the holder and flags one idle in its session; the
#      CLI gives up after --lock-timeout with the holder in the message
#   4. the table lock: a live lease blocks (exit 1, names the holder), an
#      expired one is taken over, and the lease row is gone after the run
MODMIG_TEST_NEEDS=pgbouncer
source "$(dirname "$0")/lib.sh"

ROUNDS=${MODMIG_POOLER_ROUNDS:-6}
N=16
M=20

D=$TMP/mig
mkdir -p "$D"
for i in $(seq 1 "$M"); do
  v=$(printf '%05d' "$i")
  {
    echo "-- +goose Up"
    [ $((i % 4)) = 0 ] && echo "SELECT pg_advisory_unlock_all();"
    echo "CREATE TABLE t$i (id int);"
    echo "INSERT INTO t$i VALUES ($i);"
    echo "-- +goose Down"
    echo "DROP TABLE t$i;"
  } >"$D/${v}_m$i.sql"
done
cat >"$D/00007_m7.sql" <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
DISCARD ALL;
CREATE TABLE t7 (id int);
INSERT INTO t7 VALUES (7);
-- +goose Down
DROP TABLE t7;
EOF
WANT=$(seq 1 "$M" | tr '\n' ' ' | sed 's/ $//')
# the rows of every t<i>, in one query: M when each migration's INSERT ran once
COUNT_ROWS=$(seq 1 "$M" | sed 's/.*/(SELECT count(*) FROM t&)/' | paste -sd+)

# run_together (lib.sh): each run gets 3 minutes, through the bouncer under load
RUN_TOGETHER_TIMEOUT=180

# ---- 1. 16 concurrent runs through the bouncer --------------------------------
total_dups=0; total_runs=0
for mode in session table; do
  for round in $(seq 1 "$ROUNDS"); do
    new_db
    BURL=$(bouncer_url)
    run_together "$N" "$MODMIG" -d "$BURL" --dir "$D" --lock "$mode" -q up
    total_runs=$((total_runs + N))
    expect_eq "$BAD" "" "$mode lock, round $round: all $N runs exit 0"
    expect_eq "$(sql "SELECT string_agg(version_id::text, ' ' ORDER BY version_id) FROM goose_db_version WHERE version_id > 0")" \
      "$WANT" "$mode lock, round $round: each version has one row in the version table"
    expect_eq "$(sql "SELECT string_agg(version::text, ' ' ORDER BY version) FROM goose_db_version_history WHERE event = 'applied'")" \
      "$WANT" "$mode lock, round $round: each version has one 'applied' history row"
    expect_sql "SELECT count(*) FROM goose_db_version_history WHERE event NOT IN ('applied', 'unit_started', 'unit_done')" "0"
    # every table exists once and holds its one row: no migration ran twice
    expect_eq "$(sql "SELECT $COUNT_ROWS")" "$M" "$mode lock, round $round: every migration's INSERT ran once"
    dups=$(sql "SELECT (SELECT count(*) - count(DISTINCT version_id) FROM goose_db_version) +
                       (SELECT count(*) - count(DISTINCT version) FROM goose_db_version_history WHERE event = 'applied')")
    total_dups=$((total_dups + dups))
    [ "$mode" = table ] && expect_sql "SELECT count(*) FROM goose_db_version_lock" "0"
    mm -d "$URL" --dir "$D" verify
    expect_rc 0 "$mode lock, round $round: verify is clean"
    psql -qX -d postgres -c "DROP DATABASE \"$DB\" WITH (FORCE)" >/dev/null 2>&1
    [ "$FAILURES" -gt 0 ] && { echo "stopping after $mode round $round" >&2; break 2; }
  done
done
echo "pooler: 2 lock modes x $ROUNDS rounds x $N concurrent runs ($total_runs runs), $total_dups duplicates"
expect_eq "$total_dups" "0" "no duplicate over all rounds"

# ---- 2. doctor sees the pooler ------------------------------------------------
new_db
mm -d "$(bouncer_url)" --dir "$D" doctor
expect_rc 3 "doctor through a transaction-mode bouncer"
expect_out "pooler"
expect_out "transaction mode"
expect_out "table lock"
mm -d "$URL" --dir "$D" doctor
expect_out "the same backend"
expect_no_out "transaction mode"

# ---- 3. the lock wait names the holder and flags an idle one -----------------
new_db
mm -d "$URL" --dir "$D" up --to 1
expect_rc 0
key=$(mm -d "$URL" --dir "$D" doctor; grep -o 'advisory key [-0-9]*' <<<"$OUT" | grep -o '[-0-9]*$')
[ -n "$key" ] && pass || fail "doctor names the advisory key"
fifo=$TMP/holder.fifo; mkfifo "$fifo"
psql -qAtX -d "$DB" <"$fifo" >/dev/null 2>&1 &
holder=$!
exec 8>"$fifo"
echo "SET application_name = 'stuck-holder'; SELECT pg_advisory_lock($key);" >&8
for _ in $(seq 1 50); do
  [ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND granted")" -ge 1 ] && break
  sleep 0.1
done
mm -d "$URL" --dir "$D" --lock-timeout 12s up
expect_rc 1 "up gives up after --lock-timeout"
expect_err "waiting for the migration lock held by pid"
expect_err "still waiting for the migration lock after 5s: held by pid"
expect_err "stuck-holder"
expect_err "idle in its session for"
expect_err "pg_terminate_backend("
expect_err "timed out after 12s waiting for the migration lock held by pid"
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY id) FROM goose_db_version" "0 1"
exec 8>&-
wait "$holder" 2>/dev/null

# ---- 4. the table lock -------------------------------------------------------
new_db
mm -d "$URL" --dir "$D" --lock table up --to 1
expect_rc 0 "the first --lock table run creates the lock table"
expect_sql "SELECT count(*) FROM goose_db_version_lock" "0"
sql "INSERT INTO goose_db_version_lock (owner, expires_at, client_host, application_name)
     VALUES ('someone-else', now() + interval '1 hour', 'otherhost', 'other-migrator')" >/dev/null
mm -d "$(bouncer_url)" --dir "$D" --lock table --lock-timeout 2s up
expect_rc 1 "a live lease blocks"
expect_err "table lock held by other-migrator on otherhost"
expect_err "expires in"
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY id) FROM goose_db_version" "0 1"
sql "UPDATE goose_db_version_lock SET expires_at = now() - interval '1 second'" >/dev/null
mm -d "$(bouncer_url)" --dir "$D" --lock table --lock-timeout 2s up
expect_rc 0 "an expired lease is taken over"
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0" "$M"
expect_sql "SELECT count(*) FROM goose_db_version_lock" "0"

finish
