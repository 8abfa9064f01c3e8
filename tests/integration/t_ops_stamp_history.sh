#!/usr/bin/env bash
# modmig stamp: adopting a schema created by hand (stamped without running,
# recorded as "stamped", then up applies the rest), --module, and refusals
# that change nothing. modmig history: events in order with sha256, user and
# host, --module, --json, an empty database, and the append-only trigger.
source "$(dirname "$0")/lib.sh"

ALL=$(file_versions "$ROOT"/modules/*/migrations)
FIRST4=$(echo "$ALL" | head -n 4)
V4=$(echo "$FIRST4" | tail -n 1)
FILES4=$(ls "$ROOT"/modules/*/migrations/*.sql | sort -t/ -k1 | while read -r f; do
  echo "$(basename "$f") $f"; done | sort | head -n 4 | awk '{print $2}')
[ "$V4" = 2002 ] || { echo "expected the fourth bundled migration to be 2002, got $V4" >&2; exit 1; }

# "event version module file sha256? user? host?" for history --json on stdin
json_events() {
  python3 -c '
import json, sys
for e in json.load(sys.stdin):
    for k in ("id", "at", "event", "version", "module", "file", "sha256", "duration_ms", "user",
              "host", "failed_unit", "error"):
        assert k in e, (k, e)
    print(e["event"], e["version"], e["module"], e["file"],
          "sha" if e["sha256"] and len(e["sha256"]) == 64 else "nosha",
          "user" if e["user"] else "nouser", "host" if e["host"] else "nohost")'
}
ident_tables() { sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'identity'"; }

# ---------------------------------------------------------------- stamp: adopting a hand-made schema
new_db
for f in $FILES4; do
  goose_section "$f" Up | psql -qX -v ON_ERROR_STOP=1 -d "$DB" >/dev/null 2>&1 ||
    { echo "cannot apply $f by hand" >&2; exit 1; }
done
tables=$(ident_tables)
[ "$tables" -gt 0 ] && pass || fail "the hand-made schema has no identity tables"

# refusals first: nothing is created or changed
fp=$(schema_fingerprint)
mm -d "$URL" stamp 2005
expect_rc 2 "stamp of an unknown version"
expect_err "unknown version 2005: no migration file has that version"
expect_eq "$(schema_fingerprint)" "$fp" "a refused stamp changed the database"
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose%'" "0"
mm -d "$URL" stamp 3001 --module identity
expect_rc 2 "stamp of a version outside the module's range"
expect_err "version 3001 is not in module identity's range 2001..2999"
expect_eq "$(schema_fingerprint)" "$fp" "a refused stamp changed the database"
mm -d "$URL" stamp 2002 --module nosuch
expect_rc 2 "stamp --module of an unknown module"
expect_err "unknown module 'nosuch'"
mm -d "$URL" stamp abc
expect_rc 2 "stamp of a non-number"
mm -d "$URL" stamp
expect_rc 2 "stamp without a version"
expect_err "missing version"
expect_eq "$(schema_fingerprint)" "$fp" "refused stamps changed the database"

mm -d "$URL" stamp "$V4"
expect_rc 0 "stamp $V4"
for v in $FIRST4; do
  line=$(printf '%s\n' "$OUT" | grep -E "^stamped +0*$v " | head -n 1)
  [ -n "$line" ] && pass || fail "no stamped line for $v"
done
expect_out "4 migrations stamped as applied without running"
expect_eq "$(applied_versions)" "$FIRST4" "stamped versions are applied"
expect_eq "$(history_versions stamped)" "$FIRST4" "history has one stamped row each"
expect_sql "SELECT count(*) FROM goose_db_version_history WHERE event <> 'stamped'" "0"
expect_sql "SELECT count(*) FROM goose_db_version_history WHERE length(sha256) = 64" "4"
expect_eq "$(ident_tables)" "$tables" "stamp ran no migration"
mm -d "$URL" status
for v in $FIRST4; do
  line=$(printf '%s\n' "$OUT" | grep -E "(^|[^0-9])0*$v([^0-9]|$)" | head -n 1)
  [[ "$line" == *applied* ]] && pass || fail "status of stamped $v: [$line]"
done
mm -d "$URL" verify
expect_rc 3 "verify after stamp: the rest is pending"
expect_no_out "changed"
# stamping again: nothing to do
mm -d "$URL" stamp "$V4"
expect_rc 0 "stamp again"
expect_out "nothing to stamp"
expect_eq "$(history_versions stamped)" "$FIRST4" "a second stamp records nothing"
mm -d "$URL" up
expect_rc 0 "up after stamp applies the rest"
expect_eq "$(applied_versions)" "$ALL" "everything applied"
expect_eq "$(history_versions applied)" "$(echo "$ALL" | tail -n +5)" "up applied only the rest"
mm -d "$URL" verify
expect_rc 0 "verify after stamp and up"

# ---------------------------------------------------------------- stamp --module
new_db
mm -d "$URL" --json stamp 3001 --module organization
expect_rc 0 "stamp --module organization"
expect_eq "$(applied_versions)" "3001" "only organization's 3001 stamped"
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%d:%s" % (s["version"], s["module"]) for s in d["stamped"]))')
expect_eq "$got" "3001:organization" "stamp --json"
mm -d "$URL" stamp 2001 --module identity
expect_rc 0
expect_eq "$(applied_versions | tr '\n' ' ')" "2001 3001 " "stamp --module identity"

# ---------------------------------------------------------------- history
new_db
mm -d "$URL" history
expect_rc 0 "history on an empty database"
expect_out "no history"
mm -d "$URL" --json history
expect_rc 0
expect_eq "$OUT" "[]" "history --json on an empty database"

mm -d "$URL" up
expect_rc 0
mm -d "$URL" down
expect_rc 0
LAST=$(echo "$ALL" | tail -n 1)
mm -d "$URL" --json history
expect_rc 0 "history --json"
events=$(printf '%s' "$OUT" | json_events 2>&1)
expect_eq "$(echo "$events" | awk '$1 == "applied" {print $2}')" "$ALL" "applied events in order"
expect_eq "$(echo "$events" | tail -n 1 | awk '{print $1, $2, $3}')" "rolled_back $LAST stripe" \
  "the rollback is the last event"
expect_eq "$(echo "$events" | awk '{print $5, $6, $7}' | sort -u)" "sha user host" \
  "every event has sha256, user and host"
ids=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(str(e["id"]) for e in json.load(sys.stdin)))')
expect_eq "$ids" "$(echo $ids | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')" "oldest first"

mm -d "$URL" --json history --module billing
expect_rc 0 "history --module billing"
expect_eq "$(printf '%s' "$OUT" | json_events | awk '{print $3}' | sort -u)" "billing" "--module filters"
expect_eq "$(printf '%s' "$OUT" | json_events | awk '{print $2}')" \
  "$(file_versions "$ROOT/modules/billing/migrations")" "billing's events"
mm -d "$URL" history --module stripe
expect_rc 0
expect_out "rolled_back"
expect_out "10002_stripe_invoice_links.sql"
expect_out "$PGUSER"
expect_no_out "billing"
mm -d "$URL" history --module nosuch
expect_rc 2 "history --module of an unknown module"

# the history is append-only
h=$(history_table)
n=$(sql "SELECT count(*) FROM $h")
run psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -c "UPDATE $h SET event = 'x'"
[ "$RC" != 0 ] && pass || fail "UPDATE of the history succeeded"
expect_err "append-only"
run psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -c "DELETE FROM $h"
[ "$RC" != 0 ] && pass || fail "DELETE from the history succeeded"
expect_err "append-only"
run psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -c "TRUNCATE $h"
[ "$RC" != 0 ] && pass || fail "TRUNCATE of the history succeeded"
expect_sql "SELECT count(*) FROM $h" "$n"

# a failed NO TRANSACTION migration shows its unit and error
mkdir -p "$TMP/notx"
printf -- '-- +goose Up\nCREATE TABLE dup (x int);\nINSERT INTO dup VALUES (1), (1);\n-- +goose Down\nDROP TABLE dup;\n' \
  >"$TMP/notx/00001_dup.sql"
printf -- '-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY dup_plain ON dup (x);\nCREATE UNIQUE INDEX CONCURRENTLY dup_x ON dup (x);\n-- +goose Down\nDROP INDEX CONCURRENTLY IF EXISTS dup_x;\n' \
  >"$TMP/notx/00002_dup_idx.sql"
new_db
mm -d "$URL" --dir "$TMP/notx" up
expect_rc 1
mm -d "$URL" --dir "$TMP/notx" history
expect_rc 0 "history after a failure"
line=$(printf '%s\n' "$OUT" | grep ' failed ')
[[ "$line" == *"00002"*"unit 2:"*"could not create unique index"* ]] && pass || fail "failed line: [$line]"
mm -d "$URL" --dir "$TMP/notx" --json history
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; e=json.load(sys.stdin)[-1]; print(e["event"], e["failed_unit"], bool(e["error"]))')
expect_eq "$got" "failed 2 True" "history --json failure"

mm history --help
expect_rc 0
expect_out "usage: modmig [GLOBAL OPTIONS] history"
mm stamp --help
expect_rc 0
expect_out "usage: modmig [GLOBAL OPTIONS] stamp VERSION"

finish
