#!/usr/bin/env bash
# Versions that match no migration are refused (exit 2, a hint, nothing
# changed): down --to a version that is neither a file nor applied, up
# --module M --to V outside M's range, and a duration without a unit.
source "$(dirname "$0")/lib.sh"

M=(-m "$ROOT/modules/modules.yaml")
new_db
mm -d "$URL" "${M[@]}" up
expect_rc 0
BEFORE=$(applied_versions)

mm -d "$URL" "${M[@]}" down --to 4500
expect_rc 2
expect_err "version 4500 matches no migration"
expect_err "hint: pick a version from 'modmig list'; the nearest are 4004 and 5001"
expect_eq "$(applied_versions)" "$BEFORE" "down --to 4500 changes nothing"
mm -d "$URL" "${M[@]}" down --to 402
expect_rc 2
expect_eq "$(applied_versions)" "$BEFORE" "down --to 402 (a typo for 4002) changes nothing"
mm -d "$URL" "${M[@]}" --json down --to 402
expect_rc 2
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; print(e["code"], e["next_step"])')" \
  "not_found list" "--json: the error's code and next step"
mm -d "$URL" "${M[@]}" down --to 10001
expect_rc 0
expect_eq "$(applied_versions | tail -n 1)" "10001" "a target that names a migration is taken"

new_db
mm -d "$URL" "${M[@]}" up --module db --to 2002
expect_rc 2
expect_err "version 2002 is outside module db's range 1001..1999"
expect_err "hint: pick one of module db's versions from 'modmig list'"
expect_sql "SELECT to_regclass('goose_db_version') IS NULL" "t"
mm -d "$URL" "${M[@]}" plan -o "$TMP/p.json" --module db --to 2002
expect_rc 2
mm -d "$URL" "${M[@]}" up --to 1500
expect_rc 2
expect_err "version 1500 matches no migration"
expect_sql "SELECT to_regclass('goose_db_version') IS NULL" "t"
mm -d "$URL" "${M[@]}" up --module identity --to 2002
expect_rc 0
expect_eq "$(applied_versions | paste -sd' ')" "1001 1002 2001 2002" "a target in range, with the module's dependencies"

for args in "--lock-timeout 2 up" "up --statement-timeout 30"; do
  # shellcheck disable=SC2086
  mm -d "$URL" "${M[@]}" $args
  expect_rc 2
  expect_err "a duration needs a unit"
done
mm -d "$URL" "${M[@]}" --lock-timeout 0 version
expect_rc 0
finish
