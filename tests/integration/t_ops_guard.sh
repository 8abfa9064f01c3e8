#!/usr/bin/env bash
# The production guard (MODMIG_ENV=production or --production): reset is
# refused, down and redo need --yes, each refusal exits 2 and changes
# nothing; the startup API's apply policy refuses unreviewed migrations
# unless given a plan or allow_unreviewed.
source "$(dirname "$0")/lib.sh"

ALL=$(file_versions "$ROOT"/modules/*/migrations)
history_count() { sql "SELECT count(*) FROM $(history_table)" 2>/dev/null || echo none; }
state() { echo "$(db_fingerprint)/$(history_count)"; }

new_db
mm -d "$URL" up
expect_rc 0 "up"

for how in env flag; do
  if [ "$how" = env ]; then export MODMIG_ENV=production; G=(); else unset MODMIG_ENV; G=(--production); fi
  before=$(state)
  mm -d "$URL" "${G[@]}" reset
  expect_rc 2 "reset in production ($how)"
  expect_err "refusing to reset in production"
  expect_err "modmig down --to V --yes"
  expect_eq "$(state)" "$before" "refused reset changed the database ($how)"
  mm -d "$URL" reset "${G[@]}" --yes
  expect_rc 2 "reset in production even with --yes ($how)"
  mm -d "$URL" "${G[@]}" down
  expect_rc 2 "down without --yes ($how)"
  expect_err "refusing to run down in production without --yes"
  expect_err "--yes"
  expect_eq "$(state)" "$before" "refused down changed the database ($how)"
  mm -d "$URL" "${G[@]}" redo
  expect_rc 2 "redo without --yes ($how)"
  expect_err "refusing to run redo in production without --yes"
  expect_eq "$(state)" "$before" "refused redo changed the database ($how)"
  mm -d "$URL" "${G[@]}" redo --yes
  expect_rc 0 "redo --yes ($how)"
  expect_eq "$(applied_versions)" "$ALL" "redo --yes re-applied"
  last=$(echo "$ALL" | tail -n 1)
  mm -d "$URL" "${G[@]}" down --yes
  expect_rc 0 "down --yes ($how)"
  expect_eq "$(applied_versions)" "$(echo "$ALL" | head -n -1)" "down --yes rolled back one"
  mm -d "$URL" "${G[@]}" up
  expect_rc 0 "up in production from the CLI ($how)"
  expect_eq "$(applied_versions)" "$ALL" "re-applied $last"
done
unset MODMIG_ENV
# outside production the guard is off
mm -d "$URL" down
expect_rc 0 "down outside production"
mm -d "$URL" up
expect_rc 0
# --production is global: before the command as well
mm --production -d "$URL" reset
expect_rc 2 "--production before the command"
expect_err "refusing to reset in production"

# ---------------------------------------------------------------- the startup API
new_db
fp=$(db_fingerprint)
run env DATABASE_URL="$URL" MODMIG_ENV=production "$EXAMPLE_SERVICE" apply
expect_rc 2 "startup apply in production without a plan"
expect_err "refusing to apply"
expect_err "unreviewed migrations in production"
expect_err "modmig plan -o FILE"
expect_err "allow_unreviewed"
expect_eq "$(db_fingerprint)" "$fp" "refused startup changed the database"
expect_sql "SELECT to_regclass('goose_db_version') IS NULL" "t"
# with allow_unreviewed it applies
run env DATABASE_URL="$URL" MODMIG_ENV=production MODMIG_ALLOW_UNREVIEWED=1 "$EXAMPLE_SERVICE" apply
expect_rc 0 "startup apply in production with allow_unreviewed"
expect_eq "$(applied_versions)" "$ALL" "allow_unreviewed applied everything"
# nothing pending: production starts without a plan
run env DATABASE_URL="$URL" MODMIG_ENV=production "$EXAMPLE_SERVICE" apply
expect_rc 0 "production startup with nothing pending"
expect_out "search_path:"
# with a reviewed plan it applies
new_db
mm -d "$URL" plan -o "$TMP/reviewed.plan"
expect_rc 0
run env DATABASE_URL="$URL" MODMIG_ENV=production MODMIG_PLAN="$TMP/reviewed.plan" "$EXAMPLE_SERVICE" apply
expect_rc 0 "startup apply in production with a plan"
expect_eq "$(applied_versions)" "$ALL" "the plan was applied"
# outside production, no plan is needed
new_db
run env DATABASE_URL="$URL" "$EXAMPLE_SERVICE" apply
expect_rc 0 "startup apply outside production"
expect_eq "$(applied_versions)" "$ALL"

finish
