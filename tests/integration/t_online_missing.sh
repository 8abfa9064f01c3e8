#!/usr/bin/env bash
# Allow-missing across modules, the within-module out-of-order warning and
# its --strict error, and rollback by apply order (DESIGN §4).
source "$(dirname "$0")/lib.sh"

copy_modules
M=(-m "$MODS/modules.yaml")
ALL=$(file_versions "$MODS"/*/migrations)
LAST=$(echo "$ALL" | tail -n 1)
LAST_FILE=$(ls "$MODS"/*/migrations/*.sql | while read -r f; do
  b=$(basename "$f"); [ $((10#${b%%_*})) = "$LAST" ] && echo "$f"; done)
LAST_MODULE=$(basename "$(dirname "$(dirname "$LAST_FILE")")")
ID_LAST=$(file_versions "$MODS/identity/migrations" | tail -n 1)
V_MISSING=$((ID_LAST + 1)) # identity, arrives after later modules are applied
V_NEW=$((LAST + 1))        # last module: an ordinary pending migration
V_HIGH=$((ID_LAST + 3))    # identity, applied before ...
V_LOW=$((ID_LAST + 2))     # ... this lower one arrives: out of order within identity

state_of() { # version -> its state in status --json
  mm -d "$URL" "${M[@]}" --json status
  printf '%s' "$OUT" | json_states | awk -v v="$1" '$1 == v {print $2}'
}
status_line() { printf '%s\n' "$OUT" | grep -E "(^|[^0-9])0*$1([^0-9]|$)" | head -n 1; }

new_db
mm -d "$URL" "${M[@]}" up
expect_rc 0 "initial up"
expect_eq "$(applied_versions)" "$ALL" "initial up applies everything"

# ---------------------------------------------------------------- allow-missing
add_migration identity "$V_MISSING" late_arrival \
  "CREATE TABLE identity.late_arrival (id bigint PRIMARY KEY);" "DROP TABLE identity.late_arrival;"
add_migration "$LAST_MODULE" "$V_NEW" brand_new \
  "CREATE TABLE public.brand_new (id bigint PRIMARY KEY);" "DROP TABLE public.brand_new;"

mm -d "$URL" "${M[@]}" status
expect_rc 0 "status with a missing migration"
line=$(status_line "$V_MISSING")
if [[ "$line" == *missing* ]]; then pass; else fail "status line for $V_MISSING: [$line]"; fi
line=$(status_line "$V_NEW")
if [[ "$line" == *pending* ]]; then pass; else fail "status line for $V_NEW: [$line]"; fi
expect_eq "$(state_of "$V_MISSING")" "missing" "status --json: $V_MISSING is missing"
expect_eq "$(state_of "$V_NEW")" "pending" "status --json: $V_NEW is pending"
expect_eq "$(state_of "$LAST")" "applied" "status --json: $LAST is applied"

mm -d "$URL" "${M[@]}" up
expect_rc 0 "up applies the missing migration"
expect_eq "$(applied_versions)" "$(printf '%s\n' $ALL "$V_MISSING" "$V_NEW" | sort -n)" \
  "missing and new applied"
expect_sql "SELECT to_regclass('identity.late_arrival') IS NOT NULL" "t"
expect_eq "$(history_versions applied | tail -n 2 | paste -sd' ')" "$V_MISSING $V_NEW" \
  "missing first, then new"
expect_no_err "$V_NEW" # an ordinary pending migration draws no warning
expect_eq "$(state_of "$V_MISSING")" "applied" "status after up"

# ---------------------------------------------------------------- out of order within a module
add_migration identity "$V_HIGH" identity_high \
  "CREATE TABLE identity.high (id int);" "DROP TABLE identity.high;"
mm -d "$URL" "${M[@]}" up
expect_rc 0
add_migration identity "$V_LOW" identity_low \
  "CREATE TABLE identity.low (id int);" "DROP TABLE identity.low;"

fp=$(schema_fingerprint)
mm -d "$URL" "${M[@]}" up --strict
expect_rc 3 "up --strict refuses an out-of-order migration within a module"
expect_err "$V_LOW"
if grep -qiE 'out.of.order' <<<"$ERR"; then pass; else fail "--strict message does not say out of order"; fi
expect_eq "$(schema_fingerprint)" "$fp" "--strict changed nothing"
expect_sql "SELECT to_regclass('identity.low') IS NULL" "t"

mm -d "$URL" "${M[@]}" up
expect_rc 0 "plain up applies it with a warning"
expect_err "$V_LOW"
if grep -qiE 'warn' <<<"$ERR"; then pass; else fail "no warning on stderr for the out-of-order migration"; fi
expect_sql "SELECT to_regclass('identity.low') IS NOT NULL" "t"
expect_eq "$(applied_versions | grep -cx "$V_LOW")" "1" "$V_LOW applied once"

# ---------------------------------------------------------------- down follows apply order
# apply order of the tail: ... LAST, V_MISSING, V_NEW, V_HIGH, V_LOW
for want in "$V_LOW" "$V_HIGH" "$V_NEW" "$V_MISSING" "$LAST"; do
  before=$(applied_versions)
  mm -d "$URL" "${M[@]}" down
  expect_rc 0 "down"
  gone=$(comm -23 <(echo "$before" | sort) <(applied_versions | sort) | paste -sd' ')
  expect_eq "$gone" "$want" "down removes the most recently applied"
done
expect_sql "SELECT to_regclass('identity.low') IS NULL AND to_regclass('identity.high') IS NULL
  AND to_regclass('identity.late_arrival') IS NULL AND to_regclass('public.brand_new') IS NULL" "t"
expect_eq "$(history_versions rolled_back | tail -n 5 | paste -sd' ')" \
  "$V_LOW $V_HIGH $V_NEW $V_MISSING $LAST" "history records rollbacks in apply order"

# down --module identity after out-of-order: the module's most recently applied
mm -d "$URL" "${M[@]}" up
expect_rc 0
# missing ones first (V_MISSING, V_LOW, V_HIGH), then the new ones: V_HIGH after V_LOW
# ... then LAST and V_NEW of $LAST_MODULE, which depends on identity: refused
mm -d "$URL" "${M[@]}" down --module identity
expect_rc 2
expect_err "module $LAST_MODULE depends on it"
expect_eq "$(applied_versions | grep -cx "$V_HIGH")" "1" "a refused down keeps $V_HIGH"
for _ in 1 2; do mm -d "$URL" "${M[@]}" down --module "$LAST_MODULE"; expect_rc 0; done
mm -d "$URL" "${M[@]}" down --module identity
expect_rc 0
expect_eq "$(applied_versions | grep -cx "$V_HIGH")" "0" "down --module identity removes $V_HIGH"
expect_eq "$(applied_versions | grep -cx "$V_LOW")" "1" "and keeps $V_LOW"

finish
