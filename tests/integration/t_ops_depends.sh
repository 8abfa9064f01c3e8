#!/usr/bin/env bash
# depends_on is enforced (DESIGN §2): up --module M applies what M depends on
# first, transitively; down --module M refuses while a module that depends on
# M has a migration applied after M's.
source "$(dirname "$0")/lib.sh"

M=(-m "$ROOT/modules/modules.yaml")
versions_of() { local m; for m in "$@"; do file_versions "$ROOT/modules/$m/migrations"; done | sort -n; }

new_db
# stripe depends on db, organization, billing; organization on identity
mm -d "$URL" "${M[@]}" up --module stripe
expect_rc 0
WANT=$(versions_of db identity organization billing stripe)
expect_eq "$(applied_versions)" "$WANT" "up --module stripe applies its dependencies first"
expect_eq "$(history_versions applied | head -n 1)" "$(echo "$WANT" | head -n 1)" "dependencies run first"
expect_sql "SELECT to_regclass('entitlements.grants') IS NULL" "t"

# --dry-run lists the dependencies too, and changes nothing
new_db
mm -d "$URL" "${M[@]}" up --module billing --dry-run
expect_rc 0
expect_out "would apply 01001 db"
expect_out "would apply 03001 organization"
expect_no_out "stripe"
expect_sql "SELECT to_regclass('goose_db_version') IS NULL" "t"

# down --module of a module others depend on
new_db
mm -d "$URL" "${M[@]}" up --module stripe
expect_rc 0
BEFORE=$(applied_versions)
mm -d "$URL" "${M[@]}" down --module billing
expect_rc 2
expect_err "module stripe depends on it"
expect_err "hint:"
expect_eq "$(applied_versions)" "$BEFORE" "a refused down changes nothing"
mm -d "$URL" "${M[@]}" down --module db
expect_rc 2
expect_eq "$(applied_versions)" "$BEFORE" "a refused down changes nothing"
mm -d "$URL" "${M[@]}" down --module stripe
expect_rc 0
mm -d "$URL" "${M[@]}" down --module stripe
expect_rc 0
expect_eq "$(applied_versions)" "$(versions_of db identity organization billing)" "stripe rolled back"
# nothing of stripe is applied any more: billing may go
mm -d "$URL" "${M[@]}" down --module billing
expect_rc 0
expect_out "rolled back"
finish
