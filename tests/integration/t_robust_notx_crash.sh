#!/usr/bin/env bash
# NO TRANSACTION progress (issue 9, finding 4): a 3-unit NO TRANSACTION
# migration is stopped in each of its units by each of three hard ends:
#   stop      the server stops (pg_ctl stop -m immediate) and starts again
#   terminate pg_terminate_backend() of modmig's session
#   kill9     kill -9 of modmig
# 3 x 3 = 9 interruption points. Each time the history says exactly which
# units ran (unit_started/unit_done, the last one started but not known to be
# done), a plain up refuses naming --resume and --restart and saying the
# unit may have taken effect, down refuses (exit 2), and up --resume
# finishes: the objects of all 3 units exist, one 'applied' row, verify
# clean. Each unit waits on an advisory lock a "holder" session owns, so the
# stop always lands in the intended unit. The units are idempotent (IF NOT
# EXISTS), as a NO TRANSACTION unit must be to run again.
#
# Stopping the server would break the tests that share it: this test runs on
# a cluster of its own.
if [ -z "${MODMIG_NOTX_CRASH_OWN:-}" ]; then
  export MODMIG_NOTX_CRASH_OWN=1
  unset MODMIG_TEST_PG
  root=${MODMIG_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
  exec "$root/tests/pgtmp.sh" -- bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
set -m

stop_server() {
  # shellcheck disable=SC2086
  $MODMIG_TEST_PGRUNAS "$MODMIG_TEST_PGBIN/pg_ctl" -D "$MODMIG_TEST_PGDATA" -m immediate -w -t 60 stop >/dev/null
}
start_server() {
  # shellcheck disable=SC2086
  $MODMIG_TEST_PGRUNAS "$MODMIG_TEST_PGBIN/pg_ctl" -D "$MODMIG_TEST_PGDATA" -w -t 60 \
    -l "$PGHOST/restart.log" \
    -o "-p $PGPORT -k $PGHOST -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
}
progress() { sql "SELECT string_agg(event || ':' || coalesce(failed_unit::text, '-'), ',' ORDER BY id) FROM goose_db_version_history WHERE version = 1"; }

D=$TMP/notx
mkdir -p "$D"
cat >"$D/00001_three_units.sql" <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
-- +goose StatementBegin
SELECT pg_advisory_xact_lock(4401); CREATE TABLE IF NOT EXISTS nc_1 (id int);
-- +goose StatementEnd
-- +goose StatementBegin
SELECT pg_advisory_xact_lock(4402); CREATE TABLE IF NOT EXISTS nc_2 (id int);
-- +goose StatementEnd
-- +goose StatementBegin
SELECT pg_advisory_xact_lock(4403); CREATE TABLE IF NOT EXISTS nc_3 (id int);
-- +goose StatementEnd
-- +goose Down
DROP TABLE nc_3;
DROP TABLE nc_2;
DROP TABLE nc_1;
EOF

# "unit_started:1,unit_done:1,...,unit_started:U": units before U done, U started
want_progress() {
  local u=$1 k out=""
  for k in $(seq 1 $((u - 1))); do out="${out}unit_started:$k,unit_done:$k,"; done
  echo "${out}unit_started:$u"
}

POINTS=0
for how in stop terminate kill9; do
  for unit in 1 2 3; do
    tag="($how, unit $unit)"
    new_db
    holder_start $((4400 + unit))
    LAST_CMD="modmig up (background, $tag)"
    "$MODMIG" -d "$URL" --dir "$D" up >"$TMP/bg.out" 2>"$TMP/bg.err" &
    bg=$!
    wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = $((4400 + unit)) AND NOT granted" 1 ||
      fail "$tag modmig never reached unit $unit"
    case $how in
      stop)
        stop_server
        wait "$bg"; RC=$?
        start_server || { fail "$tag the server did not start again"; finish; exit 1; }
        wait "$HOLDER" 2>/dev/null
        expect_rc 1 "$tag modmig fails when the server goes away"
        ;;
      terminate)
        sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'modmig' AND datname = current_database()" >/dev/null
        wait "$bg"; RC=$?
        holder_stop
        expect_rc 1 "$tag modmig fails when its session is terminated"
        ;;
      kill9)
        kill -KILL "$bg"
        wait "$bg"; RC=$?
        # the orphaned session runs on once the holder lets go, and may finish the unit
        holder_stop
        wait_for "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'modmig' AND datname = current_database()" 0 ||
          fail "$tag the killed modmig's session stayed"
        expect_rc 137 "$tag kill -9"
        ;;
    esac
    POINTS=$((POINTS + 1))
    expect_eq "$(progress)" "$(want_progress "$unit")" "$tag the record says which units ran"
    expect_eq "$(applied_versions)" "" "$tag not applied"
    for k in $(seq 1 $((unit - 1))); do
      expect_sql "SELECT to_regclass('nc_$k') IS NOT NULL" "t"
    done
    # plain up refuses: part-way, the unit may have taken effect, both recoveries named
    mm -d "$URL" --dir "$D" up
    expect_rc 1 "$tag plain up refuses"
    expect_err "NO TRANSACTION migration 1 stopped part-way and is not applied"
    expect_err "unit $unit of 3 was running when the run ended and may have taken effect"
    expect_err "'modmig up --resume' to run it again and continue"
    expect_err "'modmig up --restart'"
    mm -d "$URL" --dir "$D" status
    expect_out "failed"
    mm -d "$URL" --dir "$D" reset
    expect_rc 2 "$tag reset refuses while it stands part-way"
    expect_err "cannot reset while NO TRANSACTION migration 1 stands part-way"
    mm -d "$URL" --dir "$D" up --resume
    expect_rc 0 "$tag up --resume finishes"
    expect_sql "SELECT (to_regclass('nc_1') IS NOT NULL)::text || (to_regclass('nc_2') IS NOT NULL)::text || (to_regclass('nc_3') IS NOT NULL)::text" "truetruetrue"
    expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id = 1 AND is_applied" "1"
    expect_sql "SELECT count(*) FROM goose_db_version_history WHERE version = 1 AND event = 'applied'" "1"
    expect_sql "SELECT event || ':' || failed_unit FROM goose_db_version_history WHERE version = 1 AND event = 'resumed'" "resumed:$unit"
    mm -d "$URL" --dir "$D" verify
    expect_rc 0 "$tag verify is clean after the resume"
  done
done
expect_eq "$POINTS" "9" "interruption points tested"

finish
