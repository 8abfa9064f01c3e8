#!/usr/bin/env bash
# Robustness 4 (issue 5): bad input at scale. tests/mutate.py generates 150
# malformed migration files and manifest trees from valid ones with a fixed
# seed; every mutation is an error by DESIGN §2/§3. Each gives exit 2 and an
# error `NAME:LINE[:COL]: error: ...` naming the mutated file (and the exact
# line where only one line is defensible). A sample of 30 runs `up` against a
# fresh database: exit 2 and the database is untouched (no table, no schema).
#
#   MODMIG_MUTATE_SEED=N picks another corpus (default: mutate.py's seed).
source "$(dirname "$0")/lib.sh"

corpus=$TMP/corpus
python3 "$ROOT/tests/mutate.py" "$corpus" ${MODMIG_MUTATE_SEED:+--seed "$MODMIG_MUTATE_SEED"} \
  || { echo "mutate.py failed" >&2; exit 1; }

re_escape() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }
# The database holds no object of ours and no schema besides public.
untouched() {
  sql "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%')
          || '|' ||
          (SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%'
               AND nspname NOT IN ('public', 'information_schema'))" 2>&1
}

# Controls: the originals are valid, so each mutant fails because of its mutation.
for f in "$corpus"/valid/files/*.sql; do
  mm inspect "$f"
  expect_rc 0 "(valid original $(basename "$f"))"
done
mm -m "$corpus/valid/tree/modules.yaml" validate
expect_rc 0 "(valid manifest tree)"
new_db
mm -d "$URL" -m "$corpus/valid/tree/modules.yaml" -q up
expect_rc 0 "(valid tree applies)"
expect_sql "SELECT count(*) FROM goose_db_version WHERE version_id > 0" "4"

# check_error BLAME EXACT: stderr has NAME:LINE[:COL]: error: for one of the
# |-separated names, at line EXACT when given.
check_error() {
  local blame=$1 exact=$2 alt re="" b
  IFS='|' read -ra alt <<<"$blame"
  for b in "${alt[@]}"; do re="$re${re:+|}$(re_escape "$b")"; done
  if [ -n "$exact" ]; then
    re="(^|[/ ])($re):$exact(:[0-9]+)?: error: "
  else
    re="(^|[/ ])($re):[1-9][0-9]*(:[0-9]+)?: error: "
  fi
  if grep -Eq -- "$re" <<<"$ERR"; then pass; else
    fail "stderr lacks [$re]"
  fi
}

n=0
while IFS=$'\t' read -r id kind mut target blame exact; do
  n=$((n + 1))
  if [ "$kind" = file ]; then
    mm inspect "$target"
  else
    mm -m "$target" validate
  fi
  LAST_CMD="$LAST_CMD   [mutant $id: $mut]"
  expect_rc 2 "(mutant $id: $mut)"
  check_error "$blame" "$exact"
  # nothing on stdout for a rejected input
  expect_eq "$OUT" "" "mutant $id ($mut): stdout"
done <"$corpus/index.tsv"
expect_eq "$([ "$n" -ge 100 ] && echo enough)" "enough" "at least 100 mutants ($n)"

# up on a fresh database changes nothing: every 2nd tree mutant (30), plus 8
# single-file mutants run as the second file of a --dir whose first file is
# valid (so a runner that parses lazily would apply the first one).
sampled=0
while IFS=$'\t' read -r id kind mut target blame exact; do
  num=$((10#${id:1}))
  if [ "$kind" = tree ]; then
    [ $((num % 2)) = 0 ] || continue
    new_db
    mm -d "$URL" -m "$target" up
  else
    [ $((num % 11)) = 0 ] || continue
    d=$TMP/dir_$id
    mkdir -p "$d"
    printf -- '-- +goose Up\nCREATE TABLE ok_marker (id int);\n-- +goose Down\nDROP TABLE ok_marker;\n' >"$d/00001_ok.sql"
    cp "$target" "$d/00002_$(basename "$target" | cut -d_ -f2-)"
    blame=00002_$(basename "$target" | cut -d_ -f2-)
    new_db
    mm -d "$URL" --dir "$d" up
  fi
  LAST_CMD="$LAST_CMD   [mutant $id: $mut]"
  expect_rc 2 "(up, mutant $id: $mut)"
  check_error "$blame" ""
  expect_eq "$(untouched)" "0|0" "up with mutant $id ($mut): database untouched (relations|schemas)"
  sampled=$((sampled + 1))
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
done <"$corpus/index.tsv"
expect_eq "$([ "$sampled" -ge 20 ] && echo enough)" "enough" "at least 20 up samples ($sampled)"
echo "$n mutants checked, $sampled run with up"
finish
