#!/usr/bin/env bash
# Interruption (issue 9, finding 3): SIGINT, SIGTERM and SIGHUP while a
# migration runs cancel the running statement; the server rolls it back, the
# history records what happened, the lock is released and modmig exits 130
# (SIGINT) or 143 (SIGTERM, SIGHUP) with one line. The interrupted
# transactional migration is never committed afterwards; a NO TRANSACTION
# migration keeps exactly the units recorded as done. A second signal exits
# at once. The next up completes.
#
# Each migration is held mid-way by an advisory lock that a "holder" session
# owns, so the signal always lands inside the same unit. Before the fix, the
# client died, and once the holder let go, the server ran the migration to
# COMMIT and recorded it as applied.
source "$(dirname "$0")/lib.sh"
set -m # background jobs get their own process group: signals reach modmig

start_up() { # DIR ARGS...: modmig up in the background
  local d=$1; shift
  LAST_CMD="modmig --dir $d up $* (background)"
  "$MODMIG" -d "$URL" --dir "$d" up "$@" >"$TMP/bg.out" 2>"$TMP/bg.err" &
  BG=$!
}
wait_blocked() { # KEY: modmig's backend waits for advisory lock KEY
  wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = $1 AND NOT granted" 1 ||
    fail "modmig never waited for lock $1"
}
finish_bg() { wait "$BG"; RC=$?; OUT=$(cat "$TMP/bg.out"); ERR=$(cat "$TMP/bg.err"); }
events() { sql "SELECT string_agg(event || ':' || coalesce(failed_unit::text, '-'), ',' ORDER BY id) FROM goose_db_version_history WHERE version = $1"; }
lock_free() { # no advisory lock left and no modmig session left
  wait_for "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'modmig' AND datname = current_database()" 0 &&
    wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())" 0
}
table_exists() { sql "SELECT to_regclass('$1') IS NOT NULL"; }

# ---- transactional: a 3-unit migration held at unit 2
T=$TMP/tx
mkdir -p "$T"
cat >"$T/00001_base.sql" <<'EOF'
-- +goose Up
CREATE TABLE sg_base (id int);
-- +goose Down
DROP TABLE sg_base;
EOF
cat >"$T/00002_slow.sql" <<'EOF'
-- +goose Up
CREATE TABLE sg_slow (id int);
SELECT pg_advisory_xact_lock(4200);
CREATE TABLE sg_after_wait (id int);
-- +goose Down
DROP TABLE sg_after_wait;
DROP TABLE sg_slow;
EOF
cat >"$T/00003_next.sql" <<'EOF'
-- +goose Up
CREATE TABLE sg_next (id int);
-- +goose Down
DROP TABLE sg_next;
EOF

for signal in INT TERM HUP; do
  case $signal in INT) want=130;; *) want=143;; esac
  new_db
  mm -d "$URL" --dir "$T" up --to 1
  expect_rc 0 "($signal) migration 1 applied first"
  holder_start 4200
  start_up "$T"
  wait_blocked 4200
  kill -s "$signal" "$BG"
  finish_bg
  expect_rc "$want" "($signal) exit code"
  expect_err "modmig: interrupted by SIG$signal: migration 2 was interrupted while it was applied and rolled back: nothing of it was kept"
  expect_eq "$(wc -l <<<"$ERR")" "1" "($signal) one line on stderr"
  # let the holder go: a server still running the migration would now commit it
  holder_stop
  sleep 0.5
  expect_eq "$(table_exists sg_slow)/$(table_exists sg_after_wait)" "f/f" "($signal) nothing of migration 2 was committed"
  expect_eq "$(applied_versions | tr '\n' ' ')" "1 " "($signal) only migration 1 is applied"
  expect_eq "$(events 2)" "interrupted:2" "($signal) the history records the interruption at unit 2"
  expect_sql "SELECT error FROM goose_db_version_history WHERE version = 2" \
    "line 3:1: SQLSTATE 57014: migration 2 failed: canceling statement due to user request"
  lock_free || fail "($signal) the lock or modmig's session is still there"
  expect_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())" "0"
  mm -d "$URL" --dir "$T" up
  expect_rc 0 "($signal) the next up completes"
  expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 3 " "($signal) everything is applied after the next up"
  expect_eq "$(table_exists sg_slow)/$(table_exists sg_after_wait)/$(table_exists sg_next)" "t/t/t" "($signal) objects exist"
  expect_eq "$(events 2)" "interrupted:2,applied:-" "($signal) history: interrupted, then applied"
done

# ---- a second signal exits at once, without waiting; still nothing is committed
new_db
mm -d "$URL" --dir "$T" up --to 1
holder_start 4200
start_up "$T"
wait_blocked 4200
# a second session blocks the history table, so recording the interruption waits
PGAPPNAME=blocker psql -qAtX -d "$DB" -c "BEGIN" -c "LOCK goose_db_version_history" -c "SELECT pg_sleep(600)" \
  >/dev/null 2>&1 &
BLOCKER=$!
wait_for "SELECT count(*) FROM pg_locks WHERE relation = 'goose_db_version_history'::regclass AND mode = 'AccessExclusiveLock' AND granted" 1 ||
  fail "the blocker did not lock the history"
kill -INT "$BG"
wait_for "SELECT count(*) FROM pg_locks WHERE relation = 'goose_db_version_history'::regclass AND NOT granted" 1 ||
  fail "recording the interruption did not wait for the history"
kill -INT "$BG"
finish_bg
expect_rc 130 "second SIGINT"
expect_err "modmig: interrupted again: exiting now"
sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'blocker' AND datname = current_database()" >/dev/null
wait "$BLOCKER" 2>/dev/null
holder_stop
sleep 0.5
expect_eq "$(table_exists sg_slow)/$(table_exists sg_after_wait)" "f/f" "(second signal) nothing of migration 2 was committed"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 " "(second signal) only migration 1 is applied"
lock_free || fail "(second signal) the lock is still held"
mm -d "$URL" --dir "$T" up
expect_rc 0 "(second signal) the next up completes"
expect_eq "$(applied_versions | tr '\n' ' ')" "1 2 3 " "(second signal) all applied"

# ---- NO TRANSACTION: held in unit 2 of 3; unit 1 stays done, unit 2 is rolled back
N=$TMP/notx
mkdir -p "$N"
cat >"$N/00001_notx.sql" <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE IF NOT EXISTS sn_1 (id int);
-- +goose StatementBegin
CREATE TABLE IF NOT EXISTS sn_2 (id int); SELECT pg_advisory_xact_lock(4300);
-- +goose StatementEnd
CREATE TABLE IF NOT EXISTS sn_3 (id int);
-- +goose Down
DROP TABLE sn_3;
DROP TABLE sn_2;
DROP TABLE sn_1;
EOF
for signal in INT TERM; do
  case $signal in INT) want=130;; *) want=143;; esac
  new_db
  holder_start 4300
  start_up "$N"
  wait_blocked 4300
  kill -s "$signal" "$BG"
  finish_bg
  expect_rc "$want" "(notx $signal) exit code"
  expect_err "modmig: interrupted by SIG$signal: NO TRANSACTION migration 1 was interrupted: unit 1 of 3 took effect; unit 2 did not take effect; run 'modmig up --resume' to continue at unit 2"
  expect_eq "$(wc -l <<<"$ERR")" "1" "(notx $signal) one line on stderr"
  holder_stop
  sleep 0.5
  expect_eq "$(table_exists sn_1)/$(table_exists sn_2)/$(table_exists sn_3)" "t/f/f" "(notx $signal) exactly unit 1 took effect"
  expect_eq "$(events 1)" "unit_started:1,unit_done:1,unit_started:2,interrupted_partway:2" "(notx $signal) the record says unit 1 done, unit 2 interrupted"
  expect_eq "$(applied_versions)" "" "(notx $signal) not applied"
  lock_free || fail "(notx $signal) the lock is still held"
  # a plain up refuses and names the recoveries; down refuses and changes nothing
  fp=$(db_fingerprint)
  mm -d "$URL" --dir "$N" up
  expect_rc 1 "(notx $signal) plain up refuses"
  expect_err "NO TRANSACTION migration 1 stopped part-way and is not applied: unit 1 took effect, unit 2 of 3 did not take effect"
  expect_err "'modmig up --resume' to continue at unit 2"
  mm -d "$URL" --dir "$N" down
  expect_rc 2 "(notx $signal) down refuses while it stands part-way"
  expect_err "cannot roll back while NO TRANSACTION migration 1 stands part-way"
  expect_eq "$(db_fingerprint)" "$fp" "(notx $signal) the refusals changed nothing"
  mm -d "$URL" --dir "$N" up --resume
  expect_rc 0 "(notx $signal) up --resume"
  expect_eq "$(table_exists sn_1)/$(table_exists sn_2)/$(table_exists sn_3)" "t/t/t" "(notx $signal) all units took effect"
  expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id = 1 AND is_applied" "1"
  expect_eq "$(events 1 | sed 's/.*interrupted_partway:2,//')" "resumed:2,unit_started:2,unit_done:2,unit_started:3,unit_done:3,applied:-" "(notx $signal) history of the resume"
  mm -d "$URL" --dir "$N" verify
  expect_rc 0 "(notx $signal) verify is clean"
done

finish
