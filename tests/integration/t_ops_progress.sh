#!/usr/bin/env bash
# Progress: a line when a migration starts; while one runs longer than about
# two seconds, where it is (unit k/n and the line of the statement, or the
# units of one transaction), the time so far, and for CREATE INDEX
# CONCURRENTLY the server's phase from pg_stat_progress_create_index. In a
# log (stdout not a terminal) a plain line; on a terminal one line rewritten
# with \r.
source "$(dirname "$0")/lib.sh"

D=$TMP/dir
mkdir -p "$D"
printf -- '-- +goose Up\nCREATE TABLE fast (id int);\n-- +goose Down\nDROP TABLE fast;\n' >"$D/00001_fast.sql"
printf -- '-- +goose Up\n-- a single unit: its line is known\nSELECT pg_sleep(3);\n-- +goose Down\nSELECT 1;\n' >"$D/00002_sleepy.sql"
printf -- '-- +goose NO TRANSACTION\n-- +goose Up\nCREATE TABLE t3 (id int);\n\nSELECT pg_sleep(3);\n-- +goose Down\nDROP TABLE t3;\n' >"$D/00003_notx.sql"
printf -- '-- +goose Up\nCREATE TABLE t4 (id int);\nSELECT pg_sleep(3);\n-- +goose Down\nDROP TABLE t4;\n' >"$D/00004_two_units.sql"

new_db
mm -d "$URL" --dir "$D" --no-color up
expect_rc 0 "up"
# every migration: a start line, then its result; progress only for the slow ones
expect_eq "$(printf '%s\n' "$OUT" | sed -E 's/\(([0-9.]+) ms\)/(MS)/; s/ in [0-9.]+ ms$/ in MS/; s/, [0-9]+ s$/, N s/')" "applying    00001  -  fast
applied     00001  -  fast       (MS)
applying    00002  -  sleepy
running     00002  -  sleepy     unit 1/1 (line 3), N s
applied     00002  -  sleepy     (MS)
applying    00003  -  notx
running     00003  -  notx       unit 2/2 (line 5), N s
applied     00003  -  notx       (MS)
applying    00004  -  two_units
running     00004  -  two_units  2 units in one transaction, N s
applied     00004  -  two_units  (MS)
4 migrations applied in MS" "up in a log: start lines and one progress line per slow migration" 
# the first report comes at about two seconds
secs=$(printf '%s\n' "$OUT" | sed -n 's/^running     00002 .*, \([0-9]*\) s$/\1/p')
[ "${secs:-0}" -ge 2 ] && [ "${secs:-0}" -le 3 ] && pass || fail "first progress after about 2 s, got '$secs'"

# -q and --json: no start or progress lines
mm -d "$URL" --dir "$D" -q down --to 2
expect_rc 0
expect_eq "$(printf '%s\n' "$OUT" | sed -E 's/ in [0-9.]+ ms$//')" "2 migrations rolled back" "down -q: only the summary, no start lines"
mm -d "$URL" --dir "$D" --json up
expect_rc 0
printf '%s' "$OUT" | python3 -c 'import json,sys; json.load(sys.stdin)' && pass || fail "up --json stays one document: $OUT"

# on a terminal: one line rewritten in place (script(1) gives modmig a tty)
if command -v script >/dev/null; then
	new_db
	script -qec "'$MODMIG' -d '$URL' --dir '$D' --no-color up --to 2" /dev/null >"$TMP/tty.out" 2>&1
	tr -d '\n' <"$TMP/tty.out" | tr '\r' '\n' | sed 's/\x1b\[K//g' >"$TMP/tty.lines"
	grep -q '^running     00002  -  sleepy     unit 1/1 (line 3), 2 s$' "$TMP/tty.lines" && pass ||
		fail "terminal: a live line with unit and line: $(cat -A "$TMP/tty.out")"
	grep -q '^applied     00002  -  sleepy     (' "$TMP/tty.lines" && pass || fail "terminal: the result replaces the live line"
	[ "$(grep -c $'\n' "$TMP/tty.out")" -le 3 ] && pass || fail "terminal: no line per report: $(cat -A "$TMP/tty.out")"
fi

# CREATE INDEX CONCURRENTLY on a table big enough to take more than two seconds:
# the phase comes from pg_stat_progress_create_index over a second connection
new_db
sql "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 3000000) g"
C=$TMP/cic
mkdir -p "$C"
printf -- '-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY big_h ON big (h);\n-- +goose Down\nDROP INDEX CONCURRENTLY big_h;\n' >"$C/00001_big_h.sql"
# a slow build for sure: little memory for the sort
sql "ALTER DATABASE \"$DB\" SET maintenance_work_mem = '1MB'"
mm -d "$URL" --dir "$C" --no-color up
expect_rc 0 "up with CREATE INDEX CONCURRENTLY"
line=$(printf '%s\n' "$OUT" | grep '^running     00001' | head -n 1)
[[ "$line" =~ ^running\ +00001\ +-\ +big_h\ +unit\ 1/1\ \(line\ 3\),\ [0-9]+\ s,\ (building\ index|waiting\ for|initializing)[^0-9]*([0-9]+%)?$ ]] &&
	pass || fail "CIC progress line with the server's phase: [$line] in [$OUT]"
expect_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'modmig progress' AND datname = current_database()" "0"

finish
