# tests/integration/lib.sh - shared helpers for integration tests.
#
# Source it first thing in a t_*.sh test. If no throwaway cluster is running
# (MODMIG_TEST_PG unset), the test re-runs itself under tests/pgtmp.sh.
#
#   mm ARGS...            run $MODMIG, capture stdout/stderr/exit into OUT ERR RC
#   new_db [NAME]         create a fresh database; sets DB (name) and URL
#   sql "QUERY"           run a query in $DB, print unaligned tuples-only output
#   expect_rc N           assert the last mm exit code
#   expect_out TEXT       assert stdout contains TEXT  (expect_err: stderr)
#   expect_no_out TEXT    assert stdout does not contain TEXT (expect_no_err)
#   expect_eq A B MSG     assert A == B
#   expect_sql "Q" WANT   assert query output equals WANT
#   db_fingerprint        a digest of the database's schema and version rows
#   finish                print the summary and exit non-zero on any failure
set -uo pipefail

: "${MODMIG_SOURCE_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${MODMIG:=$MODMIG_SOURCE_ROOT/build/modmig}"
: "${EXAMPLE_SERVICE:=$MODMIG_SOURCE_ROOT/build/tests/example-service}"
ROOT=$MODMIG_SOURCE_ROOT

if [ -z "${MODMIG_TEST_PG:-}" ]; then
  exec "$ROOT/tests/pgtmp.sh" -- bash "$0" "$@"
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

# Schema (pg_dump --schema-only) plus the version table rows, as one digest.
db_fingerprint() {
  local vt=${1:-goose_db_version}
  { pg_dump --schema-only --no-owner -d "$DB" 2>/dev/null | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' ;
    psql -qAtX -d "$DB" -c "SELECT version_id, is_applied FROM $vt ORDER BY id" 2>/dev/null; } | md5sum | cut -d' ' -f1
}

finish() {
  echo "$TEST_NAME: $PASSES checks passed, $FAILURES failed"
  [ "$PASSES" -gt 0 ] || { echo "$TEST_NAME: no checks ran" >&2; exit 1; }
  [ "$FAILURES" = 0 ]
}

# ---- helpers for the online tests (t_online_*.sh) ---------------------------
#   schema_dump [DB]        pg_dump --schema-only of DB (default $DB), stable:
#                           no comments, no \restrict keys (pg_dump >= 15.14
#                           prints a random one per run)
#   schema_fingerprint [VT] like db_fingerprint, built on schema_dump
#   goose_section FILE Up|Down   the text of one section of a goose file
#   history_table [SCHEMA]  the name of modmig's history table (a table whose
#                           name contains 'history' in the version table's schema)
#   history_sql "COLS" "WHERE..."  not provided: query "$(history_table)" directly
#   copy_modules            copies modules/ to $TMP/modules, sets MODS
#   add_migration MODULE VERSION NAME UP_SQL [DOWN_SQL]  writes a file into $MODS
schema_dump() {
  pg_dump --schema-only --no-owner -d "${1:-$DB}" 2>/dev/null | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict'
}
schema_fingerprint() {
  local vt=${1:-goose_db_version}
  { schema_dump; psql -qAtX -d "$DB" -c "SELECT version_id, is_applied FROM $vt ORDER BY id" 2>/dev/null; } |
    md5sum | cut -d' ' -f1
}
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
