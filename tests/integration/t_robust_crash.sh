#!/usr/bin/env bash
# Robustness 2 (issue 5): `kill -9` of `modmig up` at a random point of a
# 200-migration run, 20 times, each followed by a normal `up`. Each time the
# final schema and version table equal those of a clean run.
#
# The kill points are drawn from a fixed seed per repetition (printed on
# failure). MODMIG_ROBUST_REPS=N overrides the number of repetitions.
source "$(dirname "$0")/lib.sh"

REPS=${MODMIG_ROBUST_REPS:-12}
NMIG=200
BASE_SEED=${MODMIG_ROBUST_SEED:-5200}

# A goose directory of 200 small transactional migrations: tables, indexes,
# a view, functions in StatementBegin blocks, data and an ALTER of an earlier
# table, so that a half-applied migration would show in the schema.
fx=$TMP/mig
mkdir -p "$fx"
for i in $(seq 1 $NMIG); do
  f=$(printf '%s/%05d_step_%d.sql' "$fx" "$i" "$i")
  {
    echo "-- +goose Up"
    echo "CREATE TABLE t$i (id int PRIMARY KEY, v text NOT NULL DEFAULT 'x$i');"
    echo "INSERT INTO t$i (id) VALUES (1), (2);"
    case $((i % 4)) in
      0) echo "CREATE INDEX t${i}_v ON t$i (v);";;
      1) echo "-- +goose StatementBegin"
         echo "CREATE FUNCTION f$i() RETURNS int LANGUAGE plpgsql AS \$\$"
         echo "BEGIN RETURN $i; END;"
         echo "\$\$;"
         echo "-- +goose StatementEnd";;
      2) echo "CREATE VIEW v$i AS SELECT id, v FROM t$i;";;
      3) [ "$i" -gt 3 ] && echo "ALTER TABLE t$((i - 2)) ADD COLUMN c$i int;"
         echo "COMMENT ON TABLE t$i IS 'step $i';";;
    esac
    echo "-- +goose Down"
    case $((i % 4)) in
      1) echo "DROP FUNCTION f$i();";;
      2) echo "DROP VIEW v$i;";;
      3) [ "$i" -gt 3 ] && echo "ALTER TABLE t$((i - 2)) DROP COLUMN c$i;";;
    esac
    echo "DROP TABLE t$i;"
  } >"$f"
done

VT=goose_db_version
applied() { sql "SELECT string_agg(version_id::text, ' ' ORDER BY version_id) FROM $VT WHERE is_applied" 2>&1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# The clean reference run.
new_db
t0=$(now_ms)
mm -d "$URL" --dir "$fx" -q up
t1=$(now_ms)
expect_rc 0 "(clean reference run)"
CLEAN_MS=$((t1 - t0))
[ "$CLEAN_MS" -lt 50 ] && CLEAN_MS=50
schema_dump >"$TMP/ref.schema"
REF_APPLIED=$(applied)
expect_eq "$(echo "$REF_APPLIED" | wc -w)" "$((NMIG + 1))" "clean run applies all $NMIG migrations (plus row 0)"
expect_sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'" "$NMIG"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
echo "clean run of $NMIG migrations: ${CLEAN_MS} ms"

midrun=0
for rep in $(seq 1 "$REPS"); do
  seed=$((BASE_SEED + rep))
  RANDOM=$seed
  delay_ms=$(( (RANDOM * 32768 + RANDOM) % (CLEAN_MS + 1) ))
  new_db
  "$MODMIG" -d "$URL" --dir "$fx" -q up >"$TMP/killed.log" 2>&1 &
  pid=$!
  sleep "$(awk -v m="$delay_ms" 'BEGIN{printf "%.3f", m/1000}')"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  n_at_kill=$(sql "SELECT count(*) FROM $VT WHERE version_id > 0" 2>/dev/null || echo 0)
  [ "${n_at_kill:-0}" -gt 0 ] && [ "${n_at_kill:-0}" -lt "$NMIG" ] && midrun=$((midrun + 1))

  # The follow-up run must wait for the dead session's lock (if its backend
  # still holds it) and then complete.
  LAST_CMD="modmig -d URL --dir fx -q up (after kill -9 at ${delay_ms} ms, seed $seed)"
  run timeout 60 "$MODMIG" -d "$URL" --dir "$fx" -q up
  expect_rc 0 "(rep $rep, seed $seed, kill at ${delay_ms} ms, $n_at_kill applied at kill)"
  got=$(applied)
  expect_eq "$got" "$REF_APPLIED" "rep $rep (seed $seed, kill at ${delay_ms} ms): applied versions equal the clean run's"
  expect_sql "SELECT count(*) FROM (SELECT version_id FROM $VT WHERE is_applied GROUP BY 1 HAVING count(*) > 1) d" "0"
  schema_dump >"$TMP/rep.schema"
  if cmp -s "$TMP/ref.schema" "$TMP/rep.schema"; then pass; else
    fail "rep $rep (seed $seed, kill at ${delay_ms} ms): schema differs from the clean run's"
    diff "$TMP/ref.schema" "$TMP/rep.schema" | head -20 >&2
  fi
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
done
echo "kill -9 landed mid-run (0 < applied < $NMIG) in $midrun of $REPS repetitions"
# Otherwise the test proved nothing about crashes.
if [ "$REPS" -ge 10 ]; then
  if [ "$midrun" -ge 3 ]; then pass; else fail "kill -9 landed mid-run only $midrun times of $REPS"; fi
fi
finish
