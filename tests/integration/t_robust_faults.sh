#!/usr/bin/env bash
# Robustness 3 (issue 5): faults in the middle of a run.
#   (a) the migration's connection is terminated (pg_terminate_backend)
#   (b) the server is stopped mid-run (pg_ctl -m fast, and -m immediate)
#   (c) the disk of the data directory is full (the cluster's data directory
#       lives on a small tmpfs, shrunk to leave ~6 MB free)
#   (d) a statement fails inside a StatementBegin block
# Each time: a clear error naming the migration's file, exit 1, nothing of the
# failed migration in the database or the state tables, and the next run
# completes.
#
# (b) and (c) need a cluster of their own: the script runs itself again under a
# nested tests/pgtmp.sh whose data directory is on a tmpfs (mounting one needs
# root; without it (c) is reported as not run, and does not count as passed).
source "$(dirname "$0")/lib.sh"

MODE=${1:-main}
VT=goose_db_version

# make_fx DIR KIND: three migrations; the second one is the faulty one.
make_fx() {
  local d=$1 kind=$2
  mkdir -p "$d"
  printf -- '-- +goose Up\nCREATE TABLE fa (id int);\n-- +goose Down\nDROP TABLE fa;\n' >"$d/00001_first.sql"
  case $kind in
    sleep)
      printf -- '-- +goose Up\nCREATE TABLE fb (id int);\nINSERT INTO fb VALUES (1);\nSELECT pg_sleep(3);\n-- +goose Down\nDROP TABLE fb;\n' ;;
    block)
      printf -- '-- +goose Up\nCREATE TABLE fb (id int);\n-- +goose StatementBegin\nINSERT INTO fb VALUES (1);\nCREATE FUNCTION fb_f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\nSELECT 1/0;\n-- +goose StatementEnd\n-- +goose Down\nDROP FUNCTION fb_f();\nDROP TABLE fb;\n' ;;
    full)
      printf -- '-- +goose Up\nCREATE TABLE fb (x text);\nINSERT INTO fb SELECT repeat(md5(g::text), 30) FROM generate_series(1, 20000) g;\n-- +goose Down\nDROP TABLE fb;\n' ;;
  esac >"$d/00002_second.sql"
  printf -- '-- +goose Up\nCREATE TABLE fc (id int);\n-- +goose Down\nDROP TABLE fc;\n' >"$d/00003_third.sql"
}

find_history() {
  HIST=$(sql "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
              WHERE schemaname = 'public' AND tablename LIKE '%history%' ORDER BY 1 LIMIT 1" 2>/dev/null)
  local tname; tname=$(sql "SELECT tablename FROM pg_tables WHERE schemaname = 'public'
                            AND tablename LIKE '%history%' ORDER BY 1 LIMIT 1" 2>/dev/null)
  HIST_V=$(sql "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'
                AND table_name = '$tname' AND column_name IN ('version_id', 'version') ORDER BY column_name DESC LIMIT 1" 2>/dev/null)
  HIST_E=$(sql "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'
                AND table_name = '$tname' AND column_name IN ('event', 'kind', 'action', 'event_type', 'type', 'op', 'operation')
                ORDER BY array_position(ARRAY['event','kind','action','event_type','type','op','operation']::name[], column_name::name) LIMIT 1" 2>/dev/null)
}
hist_applied() {
  find_history
  if [ -z "$HIST" ] || [ -z "$HIST_V" ] || [ -z "$HIST_E" ]; then echo "no history table"; return; fi
  sql "SELECT coalesce(string_agg($HIST_V::text, ' ' ORDER BY $HIST_V), '') FROM $HIST
       WHERE lower($HIST_E::text) IN ('applied', 'apply', 'up')" 2>&1
}
applied() { sql "SELECT string_agg(version_id::text, ' ' ORDER BY version_id) FROM $VT WHERE is_applied" 2>&1; }
exists() { sql "SELECT to_regclass('public.$1') IS NOT NULL" 2>&1; }

# Only migration 1 is applied; nothing of migration 2 anywhere.
check_first_only() {
  local ctx=$1
  expect_eq "$(applied)" "0 1" "$ctx: version table holds only migration 1"
  expect_eq "$(hist_applied)" "1" "$ctx: history has an applied event for migration 1 only"
  expect_eq "$(exists fb)" "f" "$ctx: table of the failed migration"
  expect_eq "$(exists fc)" "f" "$ctx: migration 3 not attempted"
}
check_all() {
  local ctx=$1
  expect_eq "$(applied)" "0 1 2 3" "$ctx: all applied"
  expect_eq "$(hist_applied)" "1 2 3" "$ctx: one applied event per migration"
  expect_eq "$(exists fb)$(exists fc)" "tt" "$ctx: tables of migrations 2 and 3"
}
# wait_sleeping: pid of the backend of $DB that runs pg_sleep, within 15 s.
wait_sleeping() {
  local p=""
  for _ in $(seq 1 150); do
    p=$(sql "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
             AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep%' LIMIT 1" 2>/dev/null)
    [ -n "$p" ] && break
    sleep 0.1
  done
  echo "$p"
}
# bg_up DIR: start `modmig up` in the background, output in $TMP/bg.{out,err}
bg_up() {
  timeout 60 "$MODMIG" -d "$URL" --dir "$1" up >"$TMP/bg.out" 2>"$TMP/bg.err" &
  BG=$!
}
bg_wait() {
  wait "$BG"; RC=$?
  OUT=$(cat "$TMP/bg.out"); ERR=$(cat "$TMP/bg.err")
  LAST_CMD="modmig --dir $1 up (background)"
}
expect_err_re() {
  if grep -Eiq -- "$1" <<<"$ERR"; then pass; else fail "stderr does not match /$1/ ${2:-}"; fi
}

restart_server() {
  # shellcheck disable=SC2086
  $MODMIG_TEST_PGRUNAS "$MODMIG_TEST_PGBIN/pg_ctl" -D "$MODMIG_TEST_PGDATA" -w -t 60 \
    -l "$PGHOST/restart.log" \
    -o "-p $PGPORT -k $PGHOST -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
}
stop_server() {
  # shellcheck disable=SC2086
  $MODMIG_TEST_PGRUNAS "$MODMIG_TEST_PGBIN/pg_ctl" -D "$MODMIG_TEST_PGDATA" -m "$1" -w -t 60 stop >/dev/null
}

# ---------------------------------------------------------------------------
# The nested run: a cluster of our own, data directory on the tmpfs $2.
if [ "$MODE" = --own-cluster ]; then
  MNT=$2
  TEST_NAME="$TEST_NAME(own cluster)"
  make_fx "$TMP/sleep" sleep
  make_fx "$TMP/full" full

  # (b) the server is stopped while migration 2 runs.
  for how in fast immediate; do
    new_db
    bg_up "$TMP/sleep"
    pid=$(wait_sleeping)
    expect_eq "${pid:+found}" "found" "(b/$how) the slow migration is running"
    stop_server "$how" || fail "(b/$how) pg_ctl stop failed"
    bg_wait "$TMP/sleep"
    expect_rc 1 "(b/$how) server stopped mid-run"
    expect_err "00002_second.sql"
    expect_err_re 'terminat|shut ?down|connection|server closed'
    restart_server || { fail "(b/$how) cannot restart the server"; finish; exit 1; }
    check_first_only "(b/$how) after restart"
    mm -d "$URL" --dir "$TMP/sleep" -q up
    expect_rc 0 "(b/$how) next up after restart"
    check_all "(b/$how) next up"
  done

  # (c) the data directory's disk fills up during migration 2.
  if [ -n "$MNT" ]; then
    new_db
    used=$(df -k --output=used "$MNT" | tail -n 1 | tr -d ' ')
    if mount -o remount,size=$((used + 6000))k "$MNT"; then
      mm -d "$URL" --dir "$TMP/full" up
      expect_rc 1 "(c) disk full"
      expect_err "00002_second.sql"
      expect_err_re 'could not extend|space|disk'
      mount -o remount,size=400m "$MNT" || fail "(c) cannot grow the tmpfs again"
      check_first_only "(c) after disk full"
      mm -d "$URL" --dir "$TMP/full" -q up
      expect_rc 0 "(c) next up once space is free"
      check_all "(c) next up"
      expect_sql "SELECT count(*) FROM fb" "20000"
    else
      echo "NOTE: (c) disk full not run: cannot resize the tmpfs" >&2
    fi
  fi
  finish
  exit $?
fi

# ---------------------------------------------------------------------------
# The main run, on the shared cluster.

# (a) the connection is terminated while migration 2 runs.
make_fx "$TMP/sleep" sleep
new_db
bg_up "$TMP/sleep"
pid=$(wait_sleeping)
expect_eq "${pid:+found}" "found" "(a) the slow migration is running"
[ -n "$pid" ] && sql "SELECT pg_terminate_backend($pid)" >/dev/null
bg_wait "$TMP/sleep"
expect_rc 1 "(a) connection terminated"
expect_err "00002_second.sql"
expect_err_re 'terminat|connection|server closed'
check_first_only "(a) after termination"
mm -d "$URL" --dir "$TMP/sleep" -q up
expect_rc 0 "(a) next up"
check_all "(a) next up"

# (d) a statement fails inside a StatementBegin block.
make_fx "$TMP/block" block
new_db
mm -d "$URL" --dir "$TMP/block" up
expect_rc 1 "(d) failing statement inside a block"
expect_err "division by zero"
# file:line of the block (its StatementBegin line 3 .. the failing line 6)
expect_err_re '00002_second\.sql:[3-6]\b'
check_first_only "(d) after the failure"
expect_sql "SELECT count(*) FROM pg_proc WHERE proname = 'fb_f'" "0"
# The same file again fails the same way, and changes nothing.
mm -d "$URL" --dir "$TMP/block" -q up
expect_rc 1 "(d) second attempt"
check_first_only "(d) after the second attempt"
sed -i '/SELECT 1\/0;/d' "$TMP/block/00002_second.sql"
mm -d "$URL" --dir "$TMP/block" -q up
expect_rc 0 "(d) next up after fixing the file"
check_all "(d) after the fix"
expect_sql "SELECT count(*) FROM fb" "1"
expect_sql "SELECT fb_f()" "1"

# (b) and (c): a nested cluster whose data directory is on a tmpfs.
# (outside $TMP, which the server's unprivileged user cannot enter)
MNT=$(mktemp -d "${TMPDIR:-/tmp}/modmig-robust-fs.XXXXXX")
chmod 755 "$MNT"
trap 'umount -l "$MNT" 2>/dev/null; rmdir "$MNT" 2>/dev/null; rm -rf "$TMP"' EXIT
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=400m,mode=1777 modmig-robust "$MNT" 2>"$TMP/mount.err"; then
  TMPDIR=$MNT "$ROOT/tests/pgtmp.sh" -- bash "$0" --own-cluster "$MNT"
  nested=$?
  umount -l "$MNT" 2>/dev/null
else
  echo "NOTE: no tmpfs (not root or mount refused: $(cat "$TMP/mount.err" 2>/dev/null)); (c) disk full not run" >&2
  "$ROOT/tests/pgtmp.sh" -- bash "$0" --own-cluster ""
  nested=$?
fi
LAST_CMD="nested run on a cluster of its own"; RC=$nested; OUT=""; ERR=""
expect_eq "$nested" 0 "(b)/(c) on a cluster of its own"
finish
