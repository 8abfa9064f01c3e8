#!/usr/bin/env bash
# status: the per-module summary after the table (text and --json), narrowed
# by --module; history: --limit, --since and --version.
source "$(dirname "$0")/lib.sh"

A=$TMP/app
mkdir -p "$A/a/migrations" "$A/b/migrations" "$A/c/migrations"
printf 'version_table: goose_db_version\nmodules:\n  - name: a\n  - name: b\n  - name: c\n' >"$A/modules.yaml"
mig() { printf -- '-- +goose Up\nCREATE TABLE %s (id int);\n-- +goose Down\nDROP TABLE %s;\n' "$2" "$2" >"$A/$1"; }
mig a/migrations/01001_a_one.sql a_one
mig a/migrations/01002_a_two.sql a_two
mig b/migrations/02001_b_one.sql b_one
mig c/migrations/03001_c_one.sql c_one
M=(-m "$A/modules.yaml")

new_db
mm -d "$URL" "${M[@]}" up --to 2001
expect_rc 0 "up --to 2001"
mig a/migrations/01003_a_three.sql a_three # arrives late: missing

# ---- status: table, then one line per module, then the totals ----------------------
mm -d "$URL" "${M[@]}" --no-color status
expect_rc 0 "status"
expect_eq "$(printf '%s\n' "$OUT" | sed -n '1,6p' | awk '{print $1, $2, $3, $4}')" "VERSION MODULE NAME STATE
01001 a a_one applied
01002 a a_two applied
01003 a a_three missing
02001 b b_one applied
03001 c c_one pending" "status table"
expect_eq "$(printf '%s\n' "$OUT" | sed -n '7,$p')" "
MODULE  APPLIED  PENDING  MISSING  FAILED  NO_FILE  LAST_VERSION
a       2        0        1        0       0        01002
b       1        0        0        0       0        02001
c       0        1        0        0       0        -
3 applied, 1 pending, 1 missing, 0 no file; current version 02001" "status: the per-module summary"

mm -d "$URL" "${M[@]}" --no-color status --module a
expect_rc 0 "status --module a"
expect_eq "$(printf '%s\n' "$OUT" | sed -n '5,$p')" "
MODULE  APPLIED  PENDING  MISSING  FAILED  NO_FILE  LAST_VERSION
a       2        0        1        0       0        01002
2 applied, 0 pending, 1 missing, 0 no file; current version 02001" "status --module filters the summary"
expect_no_out "b_one"

mm -d "$URL" "${M[@]}" --json status
expect_rc 0 "status --json"
got=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([(m["version"], m["state"]) for m in d["migrations"]])
print([(m["module"], m["applied"], m["pending"], m["missing"], m["failed"], m["no_file"], m["last_version"]) for m in d["modules"]])
print(d["applied"], d["pending"], d["missing"], d["failed"], d["no_file"], d["current_version"], d["warning"])' 2>&1)
expect_eq "$got" "[(1001, 'applied'), (1002, 'applied'), (1003, 'missing'), (2001, 'applied'), (3001, 'pending')]
[('a', 2, 0, 1, 0, 0, 1002), ('b', 1, 0, 0, 0, 0, 2001), ('c', 0, 1, 0, 0, 0, 0)]
3 1 1 0 0 2001 None" "status --json carries the summary"
mm -d "$URL" "${M[@]}" --json status --module c
got=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d["migrations"]), [m["module"] for m in d["modules"]], d["pending"])' 2>&1)
expect_eq "$got" "1 ['c'] 1" "status --json --module c"

# --dir: no modules, no summary table; the totals stay
mkdir -p "$TMP/dir" && cp "$A"/a/migrations/*.sql "$TMP/dir/"
new_db
mm -d "$URL" --dir "$TMP/dir" up --to 1002
mm -d "$URL" --dir "$TMP/dir" --no-color status
expect_rc 0 "status --dir"
expect_no_out "LAST_VERSION"
expect_out "2 applied, 1 pending, 0 missing, 0 no file; current version 01002"
mm -d "$URL" --dir "$TMP/dir" --json status
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["modules"], d["pending"])')" "[] 1" "status --json --dir"

# ---- history: --limit, --since, --version ------------------------------------------
mm -d "$URL" --dir "$TMP/dir" up
mm -d "$URL" --dir "$TMP/dir" down
expect_rc 0 "down"
hist() { # the event and version of each row of history --json ARGS
	mm -d "$URL" --dir "$TMP/dir" --json history "$@"
	printf '%s' "$OUT" | python3 -c 'import json,sys; [print(r["event"], r["version"]) for r in json.load(sys.stdin)]' 2>&1
}
expect_eq "$(hist)" "applied 1001
applied 1002
applied 1003
rolled_back 1003" "history: every event"
expect_eq "$(hist --limit 2)" "applied 1003
rolled_back 1003" "history --limit 2: the last two, oldest first"
expect_eq "$(hist --version 1003)" "applied 1003
rolled_back 1003" "history --version"
expect_eq "$(hist --version 1003 --limit 1)" "rolled_back 1003" "history --version --limit"
expect_eq "$(hist --since 2000-01-01)" "$(hist)" "history --since a date in the past"
expect_eq "$(hist --since 2000-01-01T00:00:00Z --version 1001)" "applied 1001" "history --since an ISO timestamp"
expect_eq "$(hist --since "$(date -u -d tomorrow +%F)")" "" "history --since tomorrow"
mm -d "$URL" --dir "$TMP/dir" --no-color history --since "$(date -u -d tomorrow +%F)"
expect_rc 0
expect_eq "$OUT" "no history: modmig has recorded no events that match in this database" "history: nothing matches"
mm -d "$URL" --dir "$TMP/dir" --no-color history --limit 1
expect_rc 0 "history --limit 1 (text)"
expect_eq "$(printf '%s\n' "$OUT" | wc -l)" "2" "history --limit 1: header and one row"
expect_out "rolled_back"
mm -d "$URL" --dir "$TMP/dir" history --since yesterdayish
expect_rc 2 "history --since garbage"
expect_err "invalid time 'yesterdayish': expected a date such as 2026-11-01 or an ISO 8601 timestamp"
mm -d "$URL" --dir "$TMP/dir" history --limit 0
expect_rc 2 "history --limit 0"
expect_err "invalid value '0' for '--limit': expected a positive number such as 20"
mm -d "$URL" --dir "$TMP/dir" history --version
expect_rc 2 "history --version without a value"
expect_err "option '--version' needs a value"
# the global --version still prints modmig's version
mm --version
expect_rc 0
expect_out "modmig "

finish
