#!/usr/bin/env bash
# up --dry-run prints exactly what would run, in order, with each unit's
# SQL, and touches nothing: a fresh database gets no state tables.
source "$(dirname "$0")/lib.sh"

goose_file() { mkdir -p "$1"; cat >"$1/$2"; }
D=$TMP/dry
goose_file "$D" 00001_first.sql <<'EOF2'
-- +goose Up
CREATE TABLE dry_a (id int);
INSERT INTO dry_a VALUES (1);
-- +goose Down
DROP TABLE dry_a;
EOF2
goose_file "$D" 00002_block.sql <<'EOF2'
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION dry_f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
-- +goose StatementEnd
-- +goose Down
DROP FUNCTION dry_f();
EOF2
goose_file "$D" 00003_concurrent.sql <<'EOF2'
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY dry_a_id ON dry_a (id);
-- +goose Down
DROP INDEX CONCURRENTLY dry_a_id;
EOF2

# ---------------------------------------------------------------- a fresh database
new_db
fp=$(db_fingerprint)
mm -d "$URL" --dir "$D" up --dry-run
expect_rc 0 "dry run on a fresh database"
expect_eq "$(db_fingerprint)" "$fp" "dry run changed the database"
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose%'" "0"
expect_sql "SELECT count(*) FROM pg_class WHERE relname LIKE 'dry%'" "0"
expect_out "CREATE TABLE dry_a (id int);"
expect_out "INSERT INTO dry_a VALUES (1);"
expect_out 'CREATE FUNCTION dry_f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;'
expect_out "CREATE INDEX CONCURRENTLY dry_a_id ON dry_a (id);"
expect_out "3 migrations would run; nothing was changed"
# in order: the units appear in the up order
order=$(printf '%s\n' "$OUT" | grep -n -e 'CREATE TABLE dry_a' -e 'INSERT INTO dry_a' -e 'CREATE FUNCTION dry_f' -e 'CREATE INDEX CONCURRENTLY' | cut -d: -f1 | tr '\n' ' ')
sorted=$(printf '%s\n' $order | sort -n | tr '\n' ' ')
expect_eq "$order" "$sorted" "units printed in order"
expect_eq "$(printf '%s\n' $order | wc -l)" "4" "four units printed"
# each migration gets a header line naming its file
expect_out "00001_first.sql"
expect_out "00003_concurrent.sql"

# ---------------------------------------------------------------- part-applied database, --to
mm -d "$URL" --dir "$D" up --to 1
expect_rc 0
fp=$(db_fingerprint)
mm -d "$URL" --dir "$D" up --dry-run --to 2
expect_rc 0
expect_out "dry_f"
expect_no_out "CREATE TABLE dry_a"
expect_no_out "CONCURRENTLY"
expect_out "1 migration would run; nothing was changed"
expect_eq "$(db_fingerprint)" "$fp" "dry run --to changed the database"
# the JSON mode prints nothing but stays valid
mm -d "$URL" --dir "$D" --json up --dry-run
expect_rc 0
printf '%s' "$OUT" | python3 -c 'import json,sys; json.load(sys.stdin)' && pass || fail "dry run --json is not JSON"
expect_eq "$(db_fingerprint)" "$fp" "dry run --json changed the database"
# nothing pending: nothing to print
mm -d "$URL" --dir "$D" up
expect_rc 0
mm -d "$URL" --dir "$D" up --dry-run
expect_rc 0
expect_out "nothing to do"

finish
