#!/usr/bin/env bash
# Files modmig must not read, and text it must not garble (DESIGN §3 file
# rules and rule 8, §6 client_encoding; issue 9 findings 8 and 9):
# - a FIFO in a module's directory is refused (exit 2, file:1) by validate and
#   up at once, instead of hanging with the lock held; nothing is created;
# - files are read before the lock: a bad file is refused while another
#   migrator holds the lock, without waiting for it;
# - a symbolic link to /dev/zero is refused; one to a regular file is read;
# - a file over the size limit is refused, and accepted with --max-file-size;
# - client_encoding is UTF8 whatever PGCLIENTENCODING, the URL or PGOPTIONS
#   say: 'é' is stored as U+00E9, never as mojibake;
# - invalid UTF-8 is exit 2 at file:line:column, by validate and up; a UTF-8
#   byte order mark is accepted.
source "$(dirname "$0")/lib.sh"

M=$TMP/modules/modules.yaml
fresh_db() {
  new_db
  before=$(schema_fingerprint)
}
untouched() { # what
  expect_sql "SELECT to_regclass('goose_db_version') IS NULL" "t"
  expect_sql "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('public', 'information_schema')" "0"
  expect_eq "$(schema_fingerprint)" "$before" "database changed by $1"
}
# mm under a timeout: a hang is a failure (exit 124), never a stuck suite
mmt() {
  LAST_CMD="timeout 10 modmig $*"
  timeout 10 "$MODMIG" "$@" >"$TMP/.out" 2>"$TMP/.err"
  RC=$?
  OUT=$(cat "$TMP/.out"); ERR=$(cat "$TMP/.err")
}

# ---------------------------------------------------------------- a FIFO
copy_modules
fifo=$MODS/identity/migrations/02009_fifo.sql
mkfifo "$fifo"
mmt -m "$M" validate
expect_rc 2 "validate with a FIFO"
expect_err "$fifo:1: error: not a regular file (a FIFO)"
fresh_db
mmt -d "$URL" -m "$M" up
expect_rc 2 "up with a FIFO"
expect_err "$fifo:1: error: not a regular file (a FIFO)"
untouched "up with a FIFO"
# status reads no file (it stays fast on thousands), so the FIFO does not stop it
mmt -d "$URL" -m "$M" status
expect_rc 0 "status with a FIFO"
expect_out "fifo"
rm -f "$fifo"

# ---------------------------------------------------------------- read before the lock
# One migrator holds the lock while its migration sleeps; another, whose
# files include a bad one, is refused at once instead of waiting for the lock.
copy_modules
mkdir -p "$TMP/slow"
printf -- '-- +goose Up\nSELECT pg_sleep(8);\n' >"$TMP/slow/00001_slow.sql"
cp -r "$TMP/slow" "$TMP/bad"
printf -- '-- +goose Up\nSELECT 1;\n' >"$TMP/bad/00002_ok.sql"
mkfifo "$TMP/bad/00003_fifo.sql"
fresh_db
"$MODMIG" -d "$URL" --dir "$TMP/slow" up >"$TMP/slow.out" 2>&1 &
slow_pid=$!
for _ in $(seq 1 50); do # until the slow migration runs, holding the lock
  [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(8)%' AND pid <> pg_backend_pid() AND datname = current_database()")" = 1 ] && break
  sleep 0.1
done
mmt -d "$URL" --dir "$TMP/bad" up
expect_rc 2 "up with a FIFO while another migrator holds the lock"
expect_err "$TMP/bad/00003_fifo.sql:1: error: not a regular file (a FIFO)"
if kill -0 "$slow_pid" 2>/dev/null; then pass; else fail "the bad run waited for the lock: the slow run had finished"; fi
wait "$slow_pid"
expect_eq "$?" "0" "the slow run"
expect_eq "$(applied_versions)" "1" "only the slow migration applied"

# ---------------------------------------------------------------- symbolic links
copy_modules
zero=$MODS/db/migrations/01009_zero.sql
ln -s /dev/zero "$zero"
mmt -m "$M" validate
expect_rc 2 "validate with a link to /dev/zero"
expect_err "$zero:1: error: not a regular file (a character device)"
fresh_db
mmt -d "$URL" -m "$M" up
expect_rc 2 "up with a link to /dev/zero"
expect_err "$zero:1: error: not a regular file (a character device)"
untouched "up with a link to /dev/zero"
rm -f "$zero"
# a link to a regular file elsewhere is read through, as goose does
printf -- '-- +goose Up\nCREATE TABLE linked (id int);\n-- +goose Down\nDROP TABLE linked;\n' >"$TMP/shared.sql"
ln -s "$TMP/shared.sql" "$MODS/db/migrations/01009_linked.sql"
fresh_db
mmt -d "$URL" -m "$M" up
expect_rc 0 "up with a link to a regular file"
expect_sql "SELECT to_regclass('linked') IS NOT NULL" "t"

# ---------------------------------------------------------------- the size limit
copy_modules
big=$MODS/db/migrations/01009_big.sql
{ printf -- '-- +goose Up\nCREATE TABLE big (id int);\n'; head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' '-'; printf '\n'; } >"$big"
size=$(stat -c %s "$big")
mmt -m "$M" validate
expect_rc 2 "validate with a file over 16 MiB"
expect_err "$big:1: error: file is $size bytes, over the size limit of 16 MiB"
expect_err "hint: split it into smaller migrations, or raise --max-file-size (e.g. --max-file-size 64MiB)"
fresh_db
mmt -d "$URL" -m "$M" up
expect_rc 2 "up with a file over 16 MiB"
expect_err "$big:1: error: file is $size bytes, over the size limit of 16 MiB"
untouched "up with a file over 16 MiB"
mmt -m "$M" --max-file-size 32MiB validate
expect_rc 0 "validate --max-file-size 32MiB"
mmt -m "$M" --max-file-size 1M validate
expect_rc 2 "validate --max-file-size 1M"
expect_err "$big:1: error: file is $size bytes, over the size limit of 1 MiB"
mmt inspect --max-file-size 20M "$big"
expect_rc 0 "inspect --max-file-size 20M"
mmt inspect "$big"
expect_rc 2 "inspect over the default limit"
mmt -m "$M" --max-file-size 12x validate
expect_rc 2 "a bad --max-file-size"
expect_err "invalid value '12x' for '--max-file-size'"
mmt -d "$URL" -m "$M" up --max-file-size 32MiB
expect_rc 0 "up --max-file-size 32MiB"
expect_sql "SELECT to_regclass('big') IS NOT NULL" "t"

# ---------------------------------------------------------------- client_encoding
mkdir -p "$TMP/enc"
printf -- '-- +goose Up\nCREATE TABLE enc (s text);\nINSERT INTO enc VALUES (%s);\n' "'é'" >"$TMP/enc/00001_enc.sql"
# every way libpq could be told another encoding: the environment, the URL, options
for how in env url options; do
  fresh_db
  case $how in
  env) PGCLIENTENCODING=LATIN1 mmt -d "$URL" --dir "$TMP/enc" up ;;
  url) mmt -d "$URL&client_encoding=LATIN1" --dir "$TMP/enc" up ;;
  options) PGOPTIONS='-c client_encoding=LATIN1' mmt -d "$URL" --dir "$TMP/enc" up ;;
  esac
  expect_rc 0 "up with client_encoding LATIN1 from $how"
  expect_sql "SELECT s = U&'\00E9', length(s), octet_length(s) FROM enc" "t|1|2"
done

# ---------------------------------------------------------------- invalid UTF-8
mkdir -p "$TMP/latin1"
printf -- '-- +goose Up\nCREATE TABLE latin1 (s text);\nINSERT INTO latin1 VALUES (%s);\n' "$(printf "'caf\xe9'")" >"$TMP/latin1/00001_latin1.sql"
mmt --dir "$TMP/latin1" validate
expect_rc 2 "validate with invalid UTF-8"
expect_err "$TMP/latin1/00001_latin1.sql:3:32: error: invalid UTF-8 (byte 0xe9)"
fresh_db
mmt -d "$URL" --dir "$TMP/latin1" up
expect_rc 2 "up with invalid UTF-8"
expect_err "$TMP/latin1/00001_latin1.sql:3:32: error: invalid UTF-8 (byte 0xe9)"
untouched "up with invalid UTF-8"
# the same text in UTF-8, behind a byte order mark, is fine
printf '\xef\xbb\xbf-- +goose Up\nCREATE TABLE bom (s text);\nINSERT INTO bom VALUES (%s);\n' "'café'" >"$TMP/latin1/00001_latin1.sql"
fresh_db
mmt -d "$URL" --dir "$TMP/latin1" up
expect_rc 0 "up with a byte order mark"
expect_sql "SELECT s = 'caf' || U&'\00E9' FROM bom" "t"

finish
