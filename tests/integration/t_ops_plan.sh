#!/usr/bin/env bash
# Reviewed plans: plan -o FILE writes the exact pending list with checksums
# and a state fingerprint and changes nothing; up --plan applies exactly that
# list; a plan invalidated by a new file, a changed file, or a database that
# changed meanwhile is refused with exit 3 and nothing changes; a malformed
# plan is exit 2 with file:line; the startup API applies a plan.
source "$(dirname "$0")/lib.sh"

ALL=$(file_versions "$ROOT"/modules/*/migrations)
N=$(echo "$ALL" | wc -l)
history_count() { sql "SELECT count(*) FROM $(history_table)" 2>/dev/null || echo none; }

# ---------------------------------------------------------------- plan, then up --plan
copy_modules
new_db
fp=$(db_fingerprint)
mm -d "$URL" -m "$MODS/modules.yaml" plan -o "$TMP/p1.plan"
expect_rc 0 "plan on a fresh database"
expect_eq "$(db_fingerprint)" "$fp" "plan changed the database"
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose%'" "0"
expect_out "modmig-plan 1"
expect_out "modmig up --plan $TMP/p1.plan"
grep -qx 'modmig-plan 1' <<<"$(head -n 1 "$TMP/p1.plan")" && pass || fail "plan header"
grep -q '^version_table goose_db_version$' "$TMP/p1.plan" && pass || fail "version_table line"
grep -Eq '^state [0-9a-f]{64}$' "$TMP/p1.plan" && pass || fail "state line"
planned=$(awk '$1 == "apply" {print $2}' "$TMP/p1.plan")
expect_eq "$planned" "$ALL" "the plan lists every pending migration in up order"
sha=$(sha256sum "$MODS/db/migrations/01001_db_init.sql" | cut -d' ' -f1)
grep -q "^apply 1001 db $sha .*01001_db_init.sql$" "$TMP/p1.plan" && pass || fail "apply line with module, sha256 and file"
grep -q "^end $N$" "$TMP/p1.plan" && pass || fail "end line"
# the printed plan is the file
expect_eq "$(printf '%s\n' "$OUT" | grep -v '^# next:')" "$(cat "$TMP/p1.plan")" "stdout shows the plan file"

mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p1.plan"
expect_rc 0 "up --plan"
expect_eq "$(applied_versions)" "$ALL" "up --plan applied the planned list"
expect_out "$N migrations applied"
# applying the same plan again: it is done, nothing to do (a second replica)
fp=$(db_fingerprint); h=$(history_count)
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p1.plan"
expect_rc 0 "the same plan again"
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$h" "the same plan again changed nothing"

# ---------------------------------------------------------------- --to and --module are recorded
copy_modules
new_db
mm -d "$URL" -m "$MODS/modules.yaml" plan -o "$TMP/p2.plan" --to 2002
expect_rc 0 "plan --to"
expect_eq "$(awk '$1 == "apply" {print $2}' "$TMP/p2.plan" | tr '\n' ' ')" "1001 1002 2001 2002 " "plan --to 2002"
grep -q '^option to 2002$' "$TMP/p2.plan" && pass || fail "option to recorded"
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p2.plan"
expect_rc 0 "up --plan of a --to plan"
expect_eq "$(applied_versions | tr '\n' ' ')" "1001 1002 2001 2002 " "applied exactly the --to plan"
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p2.plan" --to 3001
expect_rc 2 "--plan with --to"
expect_err "--plan"

# ---------------------------------------------------------------- invalidated by a new file
copy_modules
new_db
mm -d "$URL" -m "$MODS/modules.yaml" up --to 2004
expect_rc 0
mm -d "$URL" -m "$MODS/modules.yaml" plan -o "$TMP/p3.plan"
expect_rc 0
add_migration identity 02005 late_column "ALTER TABLE identity.persons ADD COLUMN late_col int;" \
  "ALTER TABLE identity.persons DROP COLUMN late_col;"
fp=$(db_fingerprint); h=$(history_count)
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p3.plan"
expect_rc 3 "plan invalidated by a new file"
expect_err "the plan does not match"
expect_err "2005"
expect_err "pending but not in the plan"
expect_err "nothing was changed"
expect_err "modmig plan -o FILE"
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$h" "a mismatching plan changed nothing"

# ---------------------------------------------------------------- invalidated by a changed file
rm "$MODS/identity/migrations/02005_late_column.sql"
mm -d "$URL" -m "$MODS/modules.yaml" plan -o "$TMP/p4.plan"
expect_rc 0
printf -- '-- reviewed? no: edited after the plan\n' >>"$MODS/billing/migrations/04002_billing_invoice_lines.sql"
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p4.plan"
expect_rc 3 "plan invalidated by a changed file"
expect_err "4002"
expect_err "changed since the plan was written"
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$h" "a changed file: nothing changed"

# ---------------------------------------------------------------- the database changed meanwhile
copy_modules
mm -d "$URL" -m "$MODS/modules.yaml" plan -o "$TMP/p5.plan"
expect_rc 0
mm -d "$URL" -m "$MODS/modules.yaml" up --by-one
expect_rc 0 "another up between plan and apply"
fp=$(db_fingerprint); h=$(history_count)
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p5.plan"
expect_rc 3 "database changed since the plan"
expect_err "was applied since the plan was written"
expect_err "the database changed since the plan was written"
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$h" "changed database: nothing changed"
# a rolled-back-and-reapplied migration changes the fingerprint, not the pending list
mm -d "$URL" -m "$MODS/modules.yaml" plan -o "$TMP/p6.plan"
expect_rc 0
mm -d "$URL" -m "$MODS/modules.yaml" redo
expect_rc 0
fp=$(db_fingerprint); h=$(history_count)
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p6.plan"
expect_rc 3 "redo between plan and apply"
expect_err "the database changed since the plan was written"
expect_eq "$(db_fingerprint)/$(history_count)" "$fp/$h" "after redo: nothing changed"
# a fresh plan applies
mm -d "$URL" -m "$MODS/modules.yaml" plan -o "$TMP/p7.plan"
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/p7.plan"
expect_rc 0 "a fresh plan applies"
expect_eq "$(applied_versions)" "$ALL" "everything applied"

# ---------------------------------------------------------------- malformed plans: exit 2, file:line
copy_modules
new_db
mm -d "$URL" -m "$MODS/modules.yaml" plan -o "$TMP/good.plan"
fp=$(db_fingerprint)
bad_plan() { # NAME LINE MESSAGE (sed script on stdin edits good.plan)
  local f=$TMP/$1.plan
  sed -f /dev/stdin "$TMP/good.plan" >"$f"
  mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$f"
  expect_rc 2 "malformed plan $1"
  expect_err "$f:$2"
  expect_err "$3"
  expect_eq "$(db_fingerprint)" "$fp" "malformed plan $1 changed the database"
}
line_of() { grep -n "$1" "$TMP/good.plan" | head -n 1 | cut -d: -f1; }
L=$(line_of '^apply 2001 ')
bad_plan checksum "$L" "checksum" <<'EOF'
/^apply 2001 /s/ [0-9a-f]\{64\} / deadbeef /
EOF
bad_plan unknown "$L" "unexpected line" <<'EOF'
/^apply 2001 /s/^apply/apply-this/
EOF
bad_plan header 1 "not a modmig plan" <<'EOF'
1s/.*/modmig-plan 2/
EOF
L=$(wc -l <"$TMP/good.plan")
bad_plan truncated "$((L - 1))" "truncated" <<'EOF'
$d
EOF
bad_plan count "$((L - 1))" "end" <<'EOF'
/^apply 2001 /d
EOF
L=$(line_of '^state ')
bad_plan option "$((L + 1))" "option" <<'EOF'
/^state /a option yolo
EOF
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/no-such.plan"
expect_rc 2 "missing plan file"
expect_err "no-such.plan"
expect_eq "$(db_fingerprint)" "$fp" "missing plan file changed nothing"
mm -d "$URL" plan
expect_rc 2 "plan without -o"
expect_err "-o FILE"

# ---------------------------------------------------------------- dry run of a plan
mm -d "$URL" -m "$MODS/modules.yaml" up --plan "$TMP/good.plan" --dry-run
expect_rc 0 "dry run of a plan"
expect_out "would apply"
expect_eq "$(db_fingerprint)" "$fp" "dry run of a plan changed nothing"

# ---------------------------------------------------------------- the startup API with a plan
new_db
fp=$(db_fingerprint)
mm -d "$URL" plan -o "$TMP/svc.plan"
expect_rc 0 "plan for the bundled modules"
printf -- 'x\n' >"$TMP/svc-bad.plan"
run env DATABASE_URL="$URL" MODMIG_PLAN="$TMP/svc-bad.plan" "$EXAMPLE_SERVICE" apply
expect_rc 2 "startup with a malformed plan"
expect_err "svc-bad.plan:1"
expect_eq "$(db_fingerprint)" "$fp" "startup with a malformed plan changed nothing"
run env DATABASE_URL="$URL" MODMIG_PLAN="$TMP/svc.plan" "$EXAMPLE_SERVICE" apply
expect_rc 0 "startup with a plan"
expect_out "search_path:"
expect_eq "$(applied_versions)" "$ALL" "startup applied the plan"
# a second replica with the same plan finds it applied
run env DATABASE_URL="$URL" MODMIG_PLAN="$TMP/svc.plan" "$EXAMPLE_SERVICE" apply
expect_rc 0 "second replica with the same plan"
expect_err "applied already"
# a stale plan is refused at startup too
mm -d "$URL" down
run env DATABASE_URL="$URL" MODMIG_PLAN="$TMP/svc.plan" "$EXAMPLE_SERVICE" apply
expect_rc 3 "startup with a stale plan"
expect_err "the plan does not match"

finish
