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
  # up in production: the library's rule, a reviewed plan or --allow-unreviewed
  before=$(state)
  mm -d "$URL" "${G[@]}" up
  expect_rc 2 "unreviewed up in production from the CLI ($how)"
  expect_err "refusing to apply 1 unreviewed migration in production"
  expect_err "hint: write a plan with 'modmig plan -o FILE', review it, then run 'modmig up --plan FILE'; or pass --allow-unreviewed"
  expect_eq "$(state)" "$before" "refused up changed the database ($how)"
  mm -d "$URL" "${G[@]}" up --dry-run
  expect_rc 0 "a dry run needs no review ($how)"
  mm -d "$URL" "${G[@]}" plan -o "$TMP/cli.plan"
  expect_rc 0
  mm -d "$URL" "${G[@]}" up --plan "$TMP/cli.plan"
  expect_rc 0 "up --plan in production ($how)"
  expect_eq "$(applied_versions)" "$ALL" "re-applied $last"
  mm -d "$URL" "${G[@]}" down --yes
  expect_rc 0
  mm -d "$URL" "${G[@]}" up --allow-unreviewed
  expect_rc 0 "up --allow-unreviewed in production ($how)"
  expect_eq "$(applied_versions)" "$ALL" "re-applied $last"
  mm -d "$URL" "${G[@]}" up
  expect_rc 0 "nothing pending needs no review ($how)"
done

# MODMIG_ENV in any case, and prod; an unknown value is not production and says so
for value in Production PROD prod; do
  MODMIG_ENV=$value mm -d "$URL" reset
  expect_rc 2 "MODMIG_ENV=$value is production"
  expect_err "refusing to reset in production"
done
MODMIG_ENV=prodution mm -d "$URL" version
expect_rc 0
expect_err "warning: MODMIG_ENV=prodution is not an environment modmig knows"
MODMIG_ENV=staging mm -d "$URL" version
expect_no_err "warning"

# stamp in production needs --yes
new_db
before=$(state)
MODMIG_ENV=production mm -d "$URL" stamp 1002
expect_rc 2 "stamp in production without --yes"
expect_err "refusing to run stamp in production without --yes"
expect_eq "$(state)" "$before" "refused stamp changed the database"
MODMIG_ENV=production mm -d "$URL" stamp 1002 --yes
expect_rc 0 "stamp --yes in production"
expect_eq "$(applied_versions | paste -sd' ')" "1001 1002" "stamped"
new_db
mm -d "$URL" up
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
run env DATABASE_URL="$URL" MODMIG_ENV=PRODUCTION MODMIG_ALLOW_UNREVIEWED=1 "$EXAMPLE_SERVICE" apply
expect_rc 0 "startup apply in production with allow_unreviewed"
expect_eq "$(applied_versions)" "$ALL" "allow_unreviewed applied everything"
# nothing pending: production starts without a plan
run env DATABASE_URL="$URL" MODMIG_ENV=production "$EXAMPLE_SERVICE" apply
expect_rc 0 "production startup with nothing pending"
expect_out "search_path:"
expect_err "0 migration(s) applied by this process, at version $(echo "$ALL" | tail -n 1)"
run env DATABASE_URL="$URL" MODMIG_ENV=Prod "$EXAMPLE_SERVICE" apply
expect_rc 0 "MODMIG_ENV=Prod, nothing pending"
run env DATABASE_URL="$URL" MODMIG_ENV=prodution "$EXAMPLE_SERVICE" apply
expect_rc 0
expect_err "MODMIG_ENV=prodution is not an environment modmig knows"
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
