#!/usr/bin/env bash
# Failures: migration k of n fails (atomicity, file:line:col, SQLSTATE), a
# failing NO TRANSACTION migration is recorded as failed, a failing
# StatementBegin block, search_path in the connection string, a table name
# with quotes and semicolons, unreachable databases and bad credentials.
source "$(dirname "$0")/lib.sh"

goose_file() { # DIR NAME (body from stdin)
  mkdir -p "$1"; cat >"$1/$2"
}

# ---------------------------------------------------------------- k of n
N=5 K=3
D=$TMP/kofn
for i in $(seq 1 $N); do
  if [ "$i" = "$K" ]; then
    goose_file "$D" "0000${i}_step_${i}.sql" <<EOF
-- +goose Up
CREATE TABLE step_${i} (id int PRIMARY KEY);
INSERT INTO step_${i} VALUES (1);
INSERT INTO no_such_table_k VALUES (1);
CREATE TABLE step_${i}_after (id int);

-- +goose Down
DROP TABLE step_${i};
EOF
  else
    goose_file "$D" "0000${i}_step_${i}.sql" <<EOF
-- +goose Up
CREATE TABLE step_${i} (id int PRIMARY KEY);
INSERT INTO step_${i} VALUES ($i);

-- +goose Down
DROP TABLE step_${i};
EOF
  fi
done
new_db
mm -d "$URL" --dir "$D" up
expect_rc 1 "migration $K of $N fails"
expect_eq "$(applied_versions)" "$(seq 1 $((K - 1)))" "exactly k-1 applied"
expect_eq "$(history_versions applied)" "$(seq 1 $((K - 1)))" "history: k-1 applied"
expect_sql "SELECT to_regclass('step_$K') IS NULL AND to_regclass('step_${K}_after') IS NULL" "t"
expect_sql "SELECT to_regclass('step_$((K + 1))') IS NULL AND to_regclass('step_$N') IS NULL" "t"
expect_sql "SELECT to_regclass('step_$((K - 1))') IS NOT NULL" "t"
# line 4, column 13 is where no_such_table_k stands in the file
expect_err "0000${K}_step_${K}.sql:4:13"
expect_err "42P01"
expect_err "no_such_table_k"
mm -d "$URL" --dir "$D" status
expect_rc 0
line=$(printf '%s\n' "$OUT" | grep "step_$K" | head -n 1)
if [[ "$line" == *pending* ]]; then pass; else fail "status of the failed migration: [$line]"; fi
# fix the file: up continues from k
sed -i 's/^INSERT INTO no_such_table_k.*$/SELECT 1;/' "$D/0000${K}_step_${K}.sql"
mm -d "$URL" --dir "$D" up
expect_rc 0 "up after fixing the file"
expect_eq "$(applied_versions)" "$(seq 1 $N)" "all applied after the fix"

# ---------------------------------------------------------------- NO TRANSACTION failure
D=$TMP/notx
goose_file "$D" 00001_base.sql <<'EOF'
-- +goose Up
CREATE TABLE nt_base (id int);
-- +goose Down
DROP TABLE nt_base;
EOF
goose_file "$D" 00002_concurrent.sql <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE nt_first (id int);
CREATE INDEX CONCURRENTLY nt_bad_idx ON nt_no_such_table (id);
CREATE TABLE nt_third (id int);

-- +goose Down
DROP TABLE IF EXISTS nt_third;
DROP TABLE IF EXISTS nt_first;
EOF
new_db
mm -d "$URL" --dir "$D" up
expect_rc 1 "failing NO TRANSACTION migration"
expect_err "00002_concurrent.sql:4:"
expect_err "42P01"
expect_eq "$(applied_versions)" "1" "the NO TRANSACTION migration is not in the version table"
expect_eq "$(history_versions applied)" "1" "history: not recorded as applied"
expect_eq "$(history_versions failed)" "2" "history: recorded as failed"
expect_sql "SELECT to_regclass('nt_first') IS NOT NULL AND to_regclass('nt_third') IS NULL" "t"
mm -d "$URL" --dir "$D" status
expect_rc 0
line=$(printf '%s\n' "$OUT" | grep "concurrent" | head -n 1)
if [[ "$line" == *fail* ]]; then pass; else fail "status of the failed NO TRANSACTION migration: [$line]"; fi

# ---------------------------------------------------------------- StatementBegin failure
D=$TMP/block
goose_file "$D" 00001_block.sql <<'EOF'
-- +goose Up
CREATE TABLE sb_before (id int);
-- +goose StatementBegin
CREATE TABLE sb_a (id int);
CREATE TABLE sb_b (id int);
INSERT INTO sb_no_such VALUES (1);
-- +goose StatementEnd
CREATE TABLE sb_after (id int);
-- +goose Down
DROP TABLE sb_before;
EOF
new_db
fp=$(schema_fingerprint)
mm -d "$URL" --dir "$D" up
expect_rc 1 "failing StatementBegin block"
expect_err "00001_block.sql:"
expect_sql "SELECT count(*) FROM pg_class WHERE relname LIKE 'sb\_%'" "0"
expect_eq "$(applied_versions)" "" "nothing applied"

# ---------------------------------------------------------------- search_path does not leak
D=$TMP/sp
goose_file "$D" 00001_unqualified.sql <<'EOF'
-- +goose Up
CREATE TABLE leak_check (id int);
CREATE TABLE leak_path AS SELECT current_setting('search_path') AS path;
-- +goose Down
DROP TABLE leak_path;
DROP TABLE leak_check;
EOF
new_db
sql "CREATE SCHEMA foo"
default_path=$(sql "SHOW search_path")
mm -d "$URL&options=-csearch_path%3Dfoo" --dir "$D" up
expect_rc 0 "up with search_path in the URL"
expect_sql "SELECT to_regclass('public.leak_check') IS NOT NULL AND to_regclass('foo.leak_check') IS NULL" "t"
expect_sql "SELECT path FROM public.leak_path" "$default_path"
mm -d "$URL&options=-csearch_path%3Dfoo" --dir "$D" reset
expect_rc 0
expect_sql "SELECT count(*) FROM pg_class WHERE relname LIKE 'leak\_%'" "0"
PGOPTIONS='-c search_path=foo' mm -d "$URL" --dir "$D" up
expect_rc 0 "up with PGOPTIONS search_path"
expect_sql "SELECT to_regclass('public.leak_check') IS NOT NULL AND to_regclass('foo.leak_check') IS NULL" "t"
expect_sql "SELECT path FROM public.leak_path" "$default_path"
mm -d "$URL" --dir "$D" reset
expect_rc 0
mm -d "host=$PGHOST port=$PGPORT dbname=$DB options='--search_path=foo -c work_mem=8MB'" --dir "$D" up
expect_rc 0 "up with --search_path in key=value options"
expect_sql "SELECT to_regclass('public.leak_check') IS NOT NULL AND to_regclass('foo.leak_check') IS NULL" "t"
expect_sql "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'foo'" "0"

# ---------------------------------------------------------------- a hostile table name
D=$TMP/weird
goose_file "$D" 00001_one.sql <<'EOF'
-- +goose Up
CREATE TABLE weird_one (id int);
-- +goose Down
DROP TABLE weird_one;
EOF
goose_file "$D" 00002_two.sql <<'EOF'
-- +goose Up
CREATE TABLE weird_two (id int);
-- +goose Down
DROP TABLE weird_two;
EOF
new_db
mm -d "$URL" --dir "$D" --table '"we;ird""name"' up
expect_rc 0 "--table with a quote and a semicolon, quoted by SQL's rules"
expect_sql "SELECT to_regclass('public.\"we;ird\"\"name\"') IS NOT NULL" "t"
expect_sql "SELECT to_regclass('public.goose_db_version') IS NULL" "t"
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY id) FROM \"we;ird\"\"name\"" "0 1 2"
expect_sql "SELECT count(*) FROM pg_class WHERE relname IN ('weird_one', 'weird_two')" "2"
mm -d "$URL" --dir "$D" --table '"we;ird""name"' status
expect_rc 0
expect_out "applied"
mm -d "$URL" --dir "$D" --table '"we;ird""name"' down
expect_rc 0
expect_sql "SELECT string_agg(version_id::text, ' ' ORDER BY id) FROM \"we;ird\"\"name\"" "0 1"
expect_sql "SELECT to_regclass('weird_two') IS NULL" "t"

# ---------------------------------------------------------------- unreachable and bad credentials
one_line_no_secret() { # what: the error on one line, then its hint
  local lines; lines=$(printf '%s\n' "$ERR" | grep -v '^  SQLSTATE ' | grep -c .)
  expect_eq "$lines" "2" "$1: the error and its hint (and the server's SQLSTATE) on stderr"
  expect_eq "$(printf '%s\n' "$ERR" | sed -n 2p | cut -c1-8)" "  hint: " "$1: a hint"
  expect_no_err "s3cretpw"
  expect_no_out "s3cretpw"
}
for cmd in up status down; do
  mm -d "postgresql://nobody:s3cretpw@127.0.0.1:1/x" --dir "$TMP/weird" $cmd
  expect_rc 1 "unreachable database ($cmd)"
  one_line_no_secret "unreachable ($cmd)"
done
mm -d "postgresql://nobody:s3cretpw@127.0.0.1:1/x" up
expect_rc 1 "unreachable database, embedded set"
one_line_no_secret "unreachable, embedded"
mm -d "host=127.0.0.1 port=1 user=nobody password=s3cretpw dbname=x" --dir "$TMP/weird" up
expect_rc 1 "unreachable database, key=value"
one_line_no_secret "unreachable key=value"
DATABASE_URL="postgresql://nobody:s3cretpw@127.0.0.1:1/x" mm --dir "$TMP/weird" status
expect_rc 1 "unreachable database via DATABASE_URL"
one_line_no_secret "unreachable DATABASE_URL"

new_db
fp=$(schema_fingerprint)
mm -d "postgresql://ghost_user:s3cretpw@/$DB?host=$PGHOST&port=$PGPORT" --dir "$TMP/weird" up
expect_rc 1 "bad credentials (unknown role)"
one_line_no_secret "bad credentials"
expect_err "ghost_user"
mm -d "postgresql://$PGUSER:s3cretpw@/no_such_db_x?host=$PGHOST&port=$PGPORT" --dir "$TMP/weird" up
expect_rc 1 "unknown database"
one_line_no_secret "unknown database"
expect_eq "$(schema_fingerprint)" "$fp" "nothing changed"

finish
