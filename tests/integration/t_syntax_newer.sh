#!/usr/bin/env bash
# Newer syntax (issue 13 item 5): migrations written with PostgreSQL 16-18
# DDL that the bundled libpg_query (PostgreSQL 15's grammar) cannot parse,
# in tests/fixtures/newer_syntax:
#   virtual generated columns (18), NOT ENFORCED constraints (18), temporal
#   WITHOUT OVERLAPS keys (18, with btree_gist), MERGE ... RETURNING (17, also
#   inside WITH) and JSON_TABLE in a view (17).
# validate accepts them; inspect splits every file into exactly the units in
# expect/ (the lexer fallback: no statement merged, split or cut); an 18
# server applies them, the objects exist with the new properties, and
# reset + up gives the same schema again. Runs on PostgreSQL 18 (re-runs
# itself there when the suite's server is older).
MODMIG_TEST_MIN_VERSION=18
source "$(dirname "$0")/lib.sh"

FX=$ROOT/tests/fixtures/newer_syntax
MAN=$FX/modules.yaml

# ---------------------------------------------------------------- offline
mm -m "$MAN" validate
expect_rc 0 "validate accepts the newer syntax"
expect_out "5 migrations in 2 modules"

# lint names exactly the statements that only the lexer could split, each as
# unparsed-statement (a warning: lint cannot check what it cannot parse)
mm -m "$MAN" lint
expect_rc 0 "lint: unparsed statements are warnings"
got=$(grep -oE '[0-9]{5}_[a-z_]+\.sql:[0-9]+:[0-9]+: warning: unparsed-statement' <<<"$OUT" | sed 's/: warning.*//')
want="02001_bookings_rooms.sql:12:1
02001_bookings_rooms.sql:22:1
02002_bookings_reservations.sql:5:1
02002_bookings_reservations.sql:13:1
02003_bookings_room_stats.sql:10:1
02003_bookings_room_stats.sql:17:1
02004_bookings_imported_rooms.sql:9:1"
expect_eq "$got" "$want" "lint: the statements PostgreSQL 15's grammar cannot parse"
expect_no_out "01001_db_extensions"

# validate -v says the same: each of these statements, and no other, is a
# warning with file:line:column (not an error: the server may accept them)
mm -m "$MAN" -v validate
expect_rc 0 "validate -v: unparsed statements are warnings"
got=$(grep -oE '[0-9]{5}_[a-z_]+\.sql:[0-9]+:[0-9]+: warning: statement not parsed by PostgreSQL.s grammar' <<<"$ERR" | sed 's/: warning.*//')
expect_eq "$got" "$want" "validate -v: the statements PostgreSQL 15's grammar cannot parse"
# inspect says it per unit, in text and in --json
mm inspect "$FX/bookings/migrations/02004_bookings_imported_rooms.sql"
expect_out "line 9 (not parsed by PostgreSQL's grammar, only split by its lexer)"
mm --json inspect "$FX/bookings/migrations/02004_bookings_imported_rooms.sql"
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(str(u["line"]) for u in json.load(sys.stdin)["up"] if not u["parsed"]))')" \
  "9" "inspect --json: parsed is false for the unit at line 9 only"

# file -> "UP_UNITS DOWN_UNITS": counted by hand from the files
declare -A UNITS=(
  [01001_db_extensions]="1 1"
  [02001_bookings_rooms]="5 3"
  [02002_bookings_reservations]="3 2"
  [02003_bookings_room_stats]="4 2"
  [02004_bookings_imported_rooms]="3 2"
)
for f in "$FX"/*/migrations/*.sql; do
  name=$(basename "$f" .sql)
  mm inspect "$f" --json
  expect_rc 0 "inspect $name"
  printf '%s' "$OUT" >"$TMP/$name.json"
  got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["up"]), len(d["down"]))' "$TMP/$name.json")
  expect_eq "$got" "${UNITS[$name]}" "$name: number of up and down units"
  # every unit exactly as reviewed in expect/ (text boundaries and lines)
  if python3 - "$TMP/$name.json" "$FX/expect/$name.json" <<'PY'; then pass; else fail "$name: units differ from expect/$name.json"; fi
import json, sys
got, want = (json.load(open(p)) for p in sys.argv[1:3])
for sec in ("up", "down"):  # "parsed" is checked on its own above
    for u in got[sec]:
        u.pop("parsed", None)
ok = got == want
for sec in ("up", "down"):
    for i, (g, w) in enumerate(zip(got[sec], want[sec])):
        if g != w:
            print(f"  {sec}[{i}]: got line {g['line']} {g['sql']!r}\n  want line {w['line']} {w['sql']!r}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
  # each unit ends with its ';' and the up units together hold every
  # statement of the section (nothing lost between units)
  expect_eq "$(python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1])); src = open(sys.argv[2]).read()
units = d["up"] + d["down"]
bad = [u["line"] for u in units if not u["sql"].rstrip().endswith(";")]
code = re.sub(r"(?m)^--.*$", "", src)
strip = lambda s: re.sub(r"\s+", "", s)
print("ok" if not bad and strip(code) == strip("".join(u["sql"] for u in units)) else f"bad {bad}")' "$TMP/$name.json" "$f")" \
    "ok" "$name: the units are the file's statements, each ending with ';'"
done

# The statements that need the newer grammar are single units, whole.
unit_with() { python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(1 for u in d["up"] if sys.argv[2] in u["sql"] and u["sql"].rstrip().endswith(sys.argv[3])))' "$TMP/$1.json" "$2" "$3"; }
expect_eq "$(unit_with 02001_bookings_rooms 'area_m2  numeric GENERATED ALWAYS AS (width_m * length_m) VIRTUAL' 'NOT ENFORCED
);')" 1 "virtual generated column: one CREATE TABLE"
expect_eq "$(unit_with 02002_bookings_reservations 'during WITHOUT OVERLAPS),' 'NOT ENFORCED
);')" 1 "WITHOUT OVERLAPS: one CREATE TABLE"
expect_eq "$(unit_with 02003_bookings_room_stats 'MERGE INTO bookings.room_stats s' 'RETURNING merge_action(), s.room_id;')" 1 "MERGE ... RETURNING: one unit"
expect_eq "$(unit_with 02003_bookings_room_stats 'WITH changed AS (' 'FROM changed;')" 1 "MERGE ... RETURNING in WITH: one unit"
expect_eq "$(unit_with 02004_bookings_imported_rooms "JSON_TABLE(i.payload, '\$.rooms[*]' COLUMNS (" "AS jt;")" 1 "JSON_TABLE view: one unit"

# ---------------------------------------------------------------- on PostgreSQL 18
expect_eq "$(pg_major)" "18" "the server is PostgreSQL 18"
new_db
mm -d "$URL" -m "$MAN" up
expect_rc 0 "up applies the newer syntax"
expect_out "5 migrations applied"
expect_sql "SELECT attgenerated FROM pg_attribute WHERE attrelid = 'bookings.rooms'::regclass AND attname IN ('area_m2', 'label') ORDER BY attname" "v
v"
expect_sql "SELECT string_agg(area_m2::text || ' ' || label, ', ' ORDER BY id) FROM bookings.rooms" \
  "27.0000 Blue; the big one; 4.50x6.00, 12.0000 Red; 3.00x4.00"
expect_sql "SELECT string_agg(conname || '=' || conenforced, ',' ORDER BY conname) FROM pg_constraint
            WHERE conname IN ('rooms_name_short', 'rooms_positive', 'reservations_guest_fkey', 'reservations_room_id_fkey')" \
  "reservations_guest_fkey=false,reservations_room_id_fkey=true,rooms_name_short=false,rooms_positive=false"
# NOT ENFORCED means not checked: a guest that does not exist and a long name go in
expect_sql "SELECT count(*) FROM bookings.reservations WHERE guest_id = 42" "2"
run psql -qX -v ON_ERROR_STOP=1 -d "$DB" -c "INSERT INTO bookings.rooms (name, width_m, length_m) VALUES (repeat('x', 100), -1, 1)"
expect_rc 0 "NOT ENFORCED checks are not enforced"
expect_sql "SELECT string_agg(conname || ':' || contype::text || ':' || conperiod, ',' ORDER BY conname) FROM pg_constraint
            WHERE conperiod" "cleanings_room_id_during_key:u:true,reservations_pkey:p:true"
expect_sql "SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'" "1"
run psql -qX -v ON_ERROR_STOP=1 -d "$DB" -c "INSERT INTO bookings.reservations (room_id, during)
  VALUES (1, tstzrange('2025-01-04', '2025-01-06'))"
expect_rc 1 "an overlapping reservation is refused by the WITHOUT OVERLAPS key"
expect_err "conflicting key value violates exclusion constraint \"reservations_pkey\""
expect_sql "SELECT string_agg(room_id || '=' || reservations, ',' ORDER BY room_id) FROM bookings.room_stats" "1=1,2=1"
expect_sql "SELECT string_agg(room_id || ':' || action, ',' ORDER BY room_id) FROM bookings.room_stats_log" "1:UPDATE"
expect_sql "SELECT string_agg(ord || ':' || name || ':' || width_m || ':' || note, ',' ORDER BY ord) FROM bookings.imported_rooms" \
  "1:Green:2.5:none; really,2:Gold;:3:x"
expect_sql "SELECT pg_get_viewdef('bookings.imported_rooms') LIKE '%JSON_TABLE(%'" "t"
mm -d "$URL" -m "$MAN" verify
expect_rc 0 "verify after up"

sql "DELETE FROM bookings.rooms WHERE width_m < 0"
A1=$(schema_dump)
mm -d "$URL" -m "$MAN" reset
expect_rc 0 "reset rolls the newer syntax back"
expect_sql "SELECT count(*) FROM pg_namespace WHERE nspname = 'bookings'" "0"
mm -d "$URL" -m "$MAN" up
expect_rc 0 "up again"
A2=$(schema_dump)
expect_eq "$(md5sum <<<"$A2")" "$(md5sum <<<"$A1")" "the same schema before and after reset"
[ "$A1" = "$A2" ] || diff <(echo "$A1") <(echo "$A2") | head -n 20 >&2

finish
