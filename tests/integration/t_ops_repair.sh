#!/usr/bin/env bash
# modmig repair, in the way of Flyway's: explicit, --dry-run-able, each action
# its own history event; verify and doctor honour it. An out-of-order
# migration that up accepted no longer keeps verify at exit 3 forever, and a
# changed file's new checksum can be accepted, with a reason.
source "$(dirname "$0")/lib.sh"

D=$TMP/ops
mkdir -p "$D"
mig() { printf -- '-- +goose Up\nCREATE TABLE %s (id int);\n-- +goose Down\nDROP TABLE %s;\n' "$2" "$2" >"$D/$1_$2.sql"; }
hist() { sql "SELECT count(*) FROM $(history_table) WHERE event = '$1'"; }
mig 00001 a
mig 00003 c
new_db
mm -d "$URL" --dir "$D" up
expect_rc 0
mig 00002 b
mm -d "$URL" --dir "$D" up
expect_rc 0
expect_err "out of order"
mm -d "$URL" --dir "$D" verify
expect_rc 3
expect_out "out_of_order"

mm -d "$URL" --dir "$D" repair --acknowledge 2 --dry-run
expect_rc 0
expect_err "would record acknowledged"
expect_eq "$(hist acknowledged)" "0" "a dry run records nothing"
mm -d "$URL" --dir "$D" verify
expect_rc 3
mm -d "$URL" --dir "$D" repair --acknowledge 2
expect_rc 0
expect_err "recorded acknowledged"
expect_eq "$(hist acknowledged)" "1" "acknowledged is its own history event"
mm -d "$URL" --dir "$D" verify
expect_rc 0
mm -d "$URL" --dir "$D" doctor
expect_rc 0

# a changed file: its new checksum accepted, with a reason
printf -- '-- a comment added after the fact\n' >>"$D/00001_a.sql"
mm -d "$URL" --dir "$D" verify
expect_rc 3
expect_out "changed"
mm -d "$URL" --dir "$D" repair --accept-checksum 1
expect_rc 2
expect_err "needs --reason"
mm -d "$URL" --dir "$D" repair --accept-checksum 1 --reason "comment only" --dry-run
expect_rc 0
expect_eq "$(hist checksum_accepted)" "0" "a dry run records nothing"
mm -d "$URL" --dir "$D" --json repair --accept-checksum 1 --reason "comment only"
expect_rc 0
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["action"], d["version"], d["reason"])')" \
  "checksum_accepted 1 comment only" "repair --json"
expect_sql "SELECT count(*) FROM $(history_table) WHERE event = 'checksum_accepted' AND sha256 = '$(sha256sum "$D/00001_a.sql" | cut -d' ' -f1)'" "1"
mm -d "$URL" --dir "$D" verify
expect_rc 0

# refusals: exit 2, nothing recorded
before=$(sql "SELECT count(*) FROM $(history_table)")
mm -d "$URL" --dir "$D" repair --acknowledge 9
expect_rc 2
expect_err "version 9 is not applied"
mm -d "$URL" --dir "$D" repair
expect_rc 2
mm -d "$URL" --dir "$D" repair --acknowledge 2 --accept-checksum 1 --reason x
expect_rc 2
expect_eq "$(sql "SELECT count(*) FROM $(history_table)")" "$before" "refusals record nothing"
finish
