# tests/integration/lib.sh - shared helpers for integration tests.
#
# Source it first thing in a t_*.sh test. If no throwaway cluster is running
# (MODMIG_TEST_PG unset), the test re-runs itself under tests/pgtmp.sh.
# A test that needs a PgBouncer or a hot standby says so before sourcing:
#
#   MODMIG_TEST_NEEDS="pgbouncer standby"
#   . "$(dirname "$0")/lib.sh"
#
# and, if the running pgtmp.sh was started without them, re-runs itself under
# its own pgtmp.sh (same server version) that has them. Likewise
# MODMIG_TEST_MIN_VERSION=18 re-runs the test on PostgreSQL 18 when the suite's
# server is older. Never a skip: if they cannot be started, the test fails.
#
#   mm ARGS...            run $MODMIG, capture stdout/stderr/exit into OUT ERR RC
#   mapp ARGS...          the same with $MODULES_APP (the bundled app's own binary)
#   new_db [NAME]         create a fresh database; sets DB (name) and URL
#   sql "QUERY"           run a query in $DB, print unaligned tuples-only output
#   expect_rc N           assert the last mm exit code
#   expect_out TEXT       assert stdout contains TEXT  (expect_err: stderr)
#   expect_no_out TEXT    assert stdout does not contain TEXT (expect_no_err)
#   expect_eq A B MSG     assert A == B
#   expect_sql "Q" WANT   assert query output equals WANT
#   schema_dump [DB]      the schema of DB (default $DB) as stable text, from
#                         catalog queries (schema_dump.sql): no OIDs, no
#                         creation order, any server version (no pg_dump)
#   db_fingerprint [VT]   a digest of schema_dump plus the version table rows
#   pg_major              the server's major version (13 .. 18)
#   bouncer_url [DB]      libpq URL of DB (default $DB) through the PgBouncer
#                         (transaction pooling; needs MODMIG_TEST_NEEDS=pgbouncer)
#   standby_url [DB]      libpq URL of DB (default $DB) on the hot standby
#                         (read-only; needs MODMIG_TEST_NEEDS=standby)
#   wait_standby_replay [SECONDS]  wait until the standby has replayed the
#                         primary's current WAL position (default 30 s); call it
#                         after writing on the primary and before reading the
#                         standby (new_db's database too). Fails the test on timeout.
#   finish                print the summary and exit non-zero on any failure
set -uo pipefail

: "${MODMIG_SOURCE_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${MODMIG:=$MODMIG_SOURCE_ROOT/build/modmig}"
: "${EXAMPLE_SERVICE:=$MODMIG_SOURCE_ROOT/build/tests/example-service}"
: "${MODULES_APP:=$MODMIG_SOURCE_ROOT/build/modules}"
ROOT=$MODMIG_SOURCE_ROOT

_pgtmp_opts=(); _pgtmp_missing=""
for _need in ${MODMIG_TEST_NEEDS:-}; do
  case $_need in
    pgbouncer) _pgtmp_opts+=(--pgbouncer); [ -n "${MODMIG_TEST_BOUNCER_URL:-}" ] || _pgtmp_missing+=" pgbouncer" ;;
    standby) _pgtmp_opts+=(--standby); [ -n "${MODMIG_TEST_STANDBY_URL:-}" ] || _pgtmp_missing+=" standby" ;;
    *) echo "lib.sh: unknown MODMIG_TEST_NEEDS item '$_need' (known: pgbouncer standby)" >&2; exit 1 ;;
  esac
done
# MODMIG_TEST_MIN_VERSION=N: the test needs server version N or newer (for
# syntax older servers reject); on an older one it re-runs under version N.
_pgtmp_version=""
if [ -n "${MODMIG_TEST_MIN_VERSION:-}" ]; then
  if [ -z "${MODMIG_TEST_PG:-}" ]; then
    [ "${PGTMP_VERSION:-0}" -ge "$MODMIG_TEST_MIN_VERSION" ] 2>/dev/null || _pgtmp_opts+=(--version "$MODMIG_TEST_MIN_VERSION")
  elif [ "${MODMIG_TEST_PGVERSION:-0}" -lt "$MODMIG_TEST_MIN_VERSION" ]; then
    _pgtmp_missing+=" PostgreSQL>=$MODMIG_TEST_MIN_VERSION"; _pgtmp_version=$MODMIG_TEST_MIN_VERSION
    echo "$(basename "$0"): needs PostgreSQL $MODMIG_TEST_MIN_VERSION or newer, the suite runs ${MODMIG_TEST_PGVERSION:-?}: running on $MODMIG_TEST_MIN_VERSION" >&2
  fi
fi
if [ -z "${MODMIG_TEST_PG:-}" ]; then
  exec "$ROOT/tests/pgtmp.sh" "${_pgtmp_opts[@]}" -- bash "$0" "$@"
fi
if [ -n "$_pgtmp_missing" ]; then
  # The suite's cluster lacks what this test needs: a private one, same version.
  if [ -n "${MODMIG_TEST_REEXEC:-}" ]; then
    echo "$(basename "$0"): pgtmp.sh did not provide:$_pgtmp_missing" >&2; exit 1
  fi
  exec env -u MODMIG_TEST_BOUNCER_URL -u MODMIG_TEST_BOUNCER_HOST -u MODMIG_TEST_BOUNCER_PORT \
    -u MODMIG_TEST_STANDBY_URL -u MODMIG_TEST_STANDBY_HOST -u MODMIG_TEST_STANDBY_PORT MODMIG_TEST_REEXEC=1 \
    "$ROOT/tests/pgtmp.sh" --version "${_pgtmp_version:-${MODMIG_TEST_PGVERSION:-}}" "${_pgtmp_opts[@]}" \
    -- bash "$0" "$@"
fi

TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/modmig-$TEST_NAME.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PASSES=0
FAILURES=0
OUT=""; ERR=""; RC=0

pass() { PASSES=$((PASSES + 1)); }
fail() {
  FAILURES=$((FAILURES + 1))
  echo "FAIL [$TEST_NAME:${BASH_LINENO[1]:-?}] $*" >&2
  echo "  last command: ${LAST_CMD:-}" >&2
  echo "  rc=$RC stdout: $(printf '%s' "$OUT" | head -c 2000)" >&2
  echo "  stderr: $(printf '%s' "$ERR" | head -c 2000)" >&2
}

mm() {
  LAST_CMD="modmig $*"
  "$MODMIG" "$@" >"$TMP/.out" 2>"$TMP/.err"
  RC=$?
  OUT=$(cat "$TMP/.out"); ERR=$(cat "$TMP/.err")
  return 0
}

# the bundled example application's own binary (modmig_cli_main over its
# embedded migrations), captured the same way as mm
mapp() {
  LAST_CMD="modules $*"
  "$MODULES_APP" "$@" >"$TMP/.out" 2>"$TMP/.err"
  RC=$?
  OUT=$(cat "$TMP/.out"); ERR=$(cat "$TMP/.err")
  return 0
}

# run any command the same way as mm
run() {
  LAST_CMD="$*"
  "$@" >"$TMP/.out" 2>"$TMP/.err"
  RC=$?
  OUT=$(cat "$TMP/.out"); ERR=$(cat "$TMP/.err")
  return 0
}

new_db() {
  DB=${1:-t_$(echo "$TEST_NAME" | tr -c 'a-z0-9_\n' '_')_$RANDOM$RANDOM}
  psql -qX -d postgres -v ON_ERROR_STOP=1 -c "SET client_min_messages TO warning" -c "DROP DATABASE IF EXISTS \"$DB\"" \
    -c "CREATE DATABASE \"$DB\"" >/dev/null || { echo "cannot create database $DB" >&2; exit 1; }
  URL="postgresql://$PGUSER@/$DB?host=$PGHOST&port=$PGPORT"
  export DB URL
}

sql() { psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

expect_rc() {
  if [ "$RC" = "$1" ]; then pass; else fail "expected exit $1, got $RC ${2:-}"; fi
}
expect_out() {
  if [[ "$OUT" == *"$1"* ]]; then pass; else fail "stdout lacks: $1"; fi
}
expect_err() {
  if [[ "$ERR" == *"$1"* ]]; then pass; else fail "stderr lacks: $1"; fi
}
expect_no_out() {
  if [[ "$OUT" != *"$1"* ]]; then pass; else fail "stdout unexpectedly has: $1"; fi
}
expect_no_err() {
  if [[ "$ERR" != *"$1"* ]]; then pass; else fail "stderr unexpectedly has: $1"; fi
}
expect_eq() {
  if [ "$1" = "$2" ]; then pass; else fail "${3:-values differ}: got [$1] want [$2]"; fi
}
expect_sql() {
  local got; got=$(sql "$1" 2>&1)
  if [ "$got" = "$2" ]; then pass; else fail "query [$1]: got [$got] want [$2]"; fi
}

# The schema as text (see schema_dump.sql). Errors go to stderr, never hidden.
schema_dump() {
  psql -qAtX -v ON_ERROR_STOP=1 -d "${1:-$DB}" -f "$ROOT/tests/integration/schema_dump.sql"
}
# Schema plus the version table rows, as one digest (no version table: none).
db_fingerprint() {
  local vt=${1:-goose_db_version}
  { schema_dump; psql -qAtX -d "$DB" -c "SELECT version_id, is_applied FROM $vt ORDER BY id" 2>/dev/null; } |
    md5sum | cut -d' ' -f1
}

pg_major() {
  if [ -n "${MODMIG_TEST_PGVERSION:-}" ]; then echo "$MODMIG_TEST_PGVERSION"
  else echo $(( $(psql -qAtX -d postgres -c "SHOW server_version_num") / 10000 )); fi
}
bouncer_url() {
  [ -n "${MODMIG_TEST_BOUNCER_HOST:-}" ] || { echo "bouncer_url: no PgBouncer (set MODMIG_TEST_NEEDS=pgbouncer before sourcing lib.sh)" >&2; return 1; }
  echo "postgresql://$PGUSER@/${1:-$DB}?host=$MODMIG_TEST_BOUNCER_HOST&port=$MODMIG_TEST_BOUNCER_PORT"
}
standby_url() {
  [ -n "${MODMIG_TEST_STANDBY_HOST:-}" ] || { echo "standby_url: no standby (set MODMIG_TEST_NEEDS=standby before sourcing lib.sh)" >&2; return 1; }
  echo "postgresql://$PGUSER@/${1:-$DB}?host=$MODMIG_TEST_STANDBY_HOST&port=$MODMIG_TEST_STANDBY_PORT"
}
wait_standby_replay() {
  local secs=${1:-30} lsn url i
  url=$(standby_url postgres) || { fail "wait_standby_replay: no standby"; return 1; }
  lsn=$(psql -qAtX -d postgres -c "SELECT pg_current_wal_lsn()") || { fail "wait_standby_replay: cannot read the primary's WAL position"; return 1; }
  for ((i = 0; i < secs * 10; i++)); do
    [ "$(psql -qAtX -d "$url" -c "SELECT coalesce(pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn, false)" 2>/dev/null)" = t ] && return 0
    sleep 0.1
  done
  fail "the standby did not replay up to $lsn within ${secs}s (at $(psql -qAtX -d "$url" -c "SELECT pg_last_wal_replay_lsn()" 2>&1))"
  return 1
}

# ---- waiting on the server (tests that race modmig against sessions) -------
#   wait_for QUERY WANT [DB]  poll until QUERY returns WANT (30 s at most);
#                             errors (a server going away) read as "not yet"
#   holder_start KEY          a session (application_name holder) that holds
#                             advisory lock KEY until holder_stop; sets HOLDER
#   holder_stop               terminates it and waits for it
wait_for() {
  local i
  for i in $(seq 1 600); do
    [ "$(psql -qAtX -d "${3:-$DB}" -c "$1" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
holder_start() {
  PGAPPNAME=holder psql -qAtX -d "$DB" -c "SELECT pg_advisory_lock($1)" -c "SELECT pg_sleep(600)" \
    >/dev/null 2>&1 &
  HOLDER=$!
  wait_for "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objid = $1 AND granted" 1 ||
    fail "the holder did not get lock $1"
}
holder_stop() {
  psql -qAtX -d "$DB" -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'holder' AND datname = current_database()" \
    >/dev/null 2>&1
  wait "$HOLDER" 2>/dev/null
}

# ---- concurrent runs (the robust tests' races) ------------------------------
#   run_together N CMD ARGS...  start N copies of CMD at once (a barrier on
#                               flock: each waits for a shared lock this shell
#                               holds until all are ready), wait for all. In
#                               CMD and ARGS, @I@ stands for the copy's number.
#                               Copy I's exit code lands in $TMP/rc.I (97: it
#                               never passed the barrier), its output in
#                               $TMP/log.I; BAD lists the copies that did not
#                               exit 0 ("" when all did), whose logs go to
#                               stderr. Each copy gets RUN_TOGETHER_TIMEOUT
#                               seconds (default 120).
run_together() {
  local n=$1; shift
  local lockf=$TMP/barrier.lock i pids=() args limit=${RUN_TOGETHER_TIMEOUT:-120}
  : >"$lockf"; rm -f "$TMP"/ready.* "$TMP"/rc.* "$TMP"/log.*
  exec 9>"$lockf"; flock -x 9
  for i in $(seq 1 "$n"); do
    args=("${@//@I@/$i}")
    (
      exec 9>&-
      touch "$TMP/ready.$i"
      flock -s -w 60 "$lockf" true || { echo 97 >"$TMP/rc.$i"; exit 97; }
      timeout "$limit" "${args[@]}" >"$TMP/log.$i" 2>&1
      echo $? >"$TMP/rc.$i"
    ) &
    pids+=($!)
  done
  for _ in $(seq 1 600); do
    [ "$(ls "$TMP"/ready.* 2>/dev/null | wc -l)" -ge "$n" ] && break
    sleep 0.01
  done
  sleep 0.05
  exec 9>&-
  wait "${pids[@]}"
  BAD=""
  for i in $(seq 1 "$n"); do
    local rc; rc=$(cat "$TMP/rc.$i" 2>/dev/null || echo missing)
    if [ "$rc" != 0 ]; then BAD="$BAD #$i:rc=$rc"; echo "--- run #$i exited $rc:" >&2; head -c 1500 "$TMP/log.$i" >&2; fi
  done
}

finish() {
  echo "$TEST_NAME: $PASSES checks passed, $FAILURES failed"
  [ "$PASSES" -gt 0 ] || { echo "$TEST_NAME: no checks ran" >&2; exit 1; }
  [ "$FAILURES" = 0 ]
}

# ---- helpers for the online tests (t_online_*.sh) ---------------------------
#   schema_fingerprint [VT] a digest of schema_dump plus the version table rows
#                           (the same as db_fingerprint)
#   goose_section FILE Up|Down   the text of one section of a goose file
#   history_table [SCHEMA]  the name of modmig's history table (a table whose
#                           name contains 'history' in the version table's schema)
#   history_sql "COLS" "WHERE..."  not provided: query "$(history_table)" directly
#   copy_modules            copies modules/ to $TMP/modules, sets MODS
#   add_migration MODULE VERSION NAME UP_SQL [DOWN_SQL]  writes a file into $MODS
schema_fingerprint() { db_fingerprint "$@"; }
goose_section() {
  awk -v want="$2" '
    tolower($0) ~ /^--[ \t]*\+goose[ \t]+up[ \t\r]*$/ {s="up"; next}
    tolower($0) ~ /^--[ \t]*\+goose[ \t]+down[ \t\r]*$/ {s="down"; next}
    s==tolower(want) {print}' "$1"
}
history_table() {
  sql "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
       WHERE table_name LIKE '%history%' AND table_schema = coalesce(
         (SELECT table_schema FROM information_schema.tables WHERE table_name = 'goose_db_version' LIMIT 1),
         '${1:-public}') ORDER BY length(table_name) LIMIT 1"
}
copy_modules() {
  rm -rf "$TMP/modules"; cp -r "$ROOT/modules" "$TMP/modules"; MODS=$TMP/modules
}
add_migration() {
  local module=$1 version=$2 name=$3 up=$4 down=${5:-}
  printf -- '-- +goose Up\n%s\n\n-- +goose Down\n%s\n' "$up" "$down" \
    >"$MODS/$module/migrations/${version}_${name}.sql"
}
#   file_versions DIR...    the versions (as integers, ascending) of DIR/*.sql
#                           for every DIR (e.g. "$ROOT"/modules/*/migrations)
#   applied_versions [VT]   version_id > 0 in the version table, ascending
#   history_versions KIND   versions of history rows with any field = KIND
#                           ('applied', 'rolled_back', ...), in insertion order
#   json_states             reads JSON on stdin, prints "version state" lines
#                           for every object with a "version" key
file_versions() {
  local d f
  for d in "$@"; do for f in "$d"/*.sql; do [ -e "$f" ] || continue
    f=$(basename "$f"); echo $((10#${f%%_*})); done; done | sort -n
}
applied_versions() {
  sql "SELECT version_id FROM ${1:-goose_db_version} WHERE version_id > 0 ORDER BY version_id"
}
history_versions() {
  local h; h=$(history_table)
  sql "SELECT coalesce(j->>'version', j->>'version_id') FROM (SELECT to_jsonb(h) AS j FROM $h h) x
       WHERE EXISTS (SELECT 1 FROM jsonb_each_text(j) e WHERE lower(e.value) = lower('$1'))
       ORDER BY coalesce(j->>'id', '0')::bigint, (j->>'version')"
}
json_states() {
  python3 -c '
import json, sys
def walk(o):
    if isinstance(o, dict):
        if "version" in o:
            st = o.get("state", o.get("status"))
            print(o["version"], st)
        for v in o.values():
            if isinstance(v, (dict, list)): walk(v)
    elif isinstance(o, list):
        for v in o: walk(v)
walk(json.load(sys.stdin))'
}
