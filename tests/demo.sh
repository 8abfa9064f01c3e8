#!/usr/bin/env bash
# The modmig demo: `make demo` runs it under tests/pgtmp.sh, which starts a
# throwaway PostgreSQL and sets DATABASE_URL.
#
#   tests/demo.sh BUILD_DIR
#
# It walks through what modmig does for a modular application, on the bundled
# modules: check the files, apply them to an empty database, show the state,
# let a new migration arrive in an early module after later ones are applied,
# lint a new migration and fix the lock hazard it finds,
# roll back one module, re-apply, and watch a broken migration being rolled
# back with its file:line error.
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
modmig=$build/modmig
modules_app=$build/modules
[ -x "$modmig" ] && [ -x "$modules_app" ] || { echo "demo: $modmig is not built (run make build)" >&2; exit 1; }
[ -n "${DATABASE_URL:-}" ] || { echo "demo: DATABASE_URL is not set; run it as: tests/pgtmp.sh -- tests/demo.sh $1" >&2; exit 1; }
cd "$root"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/modmig-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$'\e[1m' D=$'\e[2m' R=$'\e[0m'; else B="" D="" R=""; fi
step=0
heading() { step=$((step + 1)); printf '\n%s== %d. %s%s\n' "$B" "$step" "$*" "$R"; }
say() { printf '%s%s%s\n' "$D" "$*" "$R"; }
# print a command as one would type it, with $DATABASE_URL and $TMP abbreviated
show() {
  local line="" a
  for a in "$@"; do
    a=${a//"$DATABASE_URL"/\$DATABASE_URL}
    a=${a//"$tmp"/\$TMP}
    case $a in *[\ \'\(\)\;\*\&\<\>\$]*) a="\"$a\"" ;; esac
    line+="${line:+ }$a"
  done
  printf '%s$ %s%s\n' "$B" "$line" "$R"
}
# show and run a command; it must succeed
run() { show "$@"; "$@"; }
# show and run a command that is expected to fail; show its exit code
run_failing() {
  local rc=0
  show "$@"
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then echo "demo: this command was expected to fail but succeeded" >&2; exit 1; fi
  say "(exit code $rc, as expected)"
}
# modmig and the example application's own binary, as a user would type them
modmig() { "$modmig" "$@"; }
modules() { "$modules_app" "$@"; }

psql -qX -d "$DATABASE_URL" -c "CREATE DATABASE modmig_demo" >/dev/null
if [ -n "${PGHOST:-}" ] && [ -n "${PGPORT:-}" ]; then
  export DATABASE_URL="postgresql://${PGUSER:-postgres}@/modmig_demo?host=$PGHOST&port=$PGPORT"
else
  echo "demo: run it under tests/pgtmp.sh (PGHOST and PGPORT are not set)" >&2; exit 1
fi
dbq() { psql -qAtX -d "$DATABASE_URL" -c "$1"; }

say "modmig migrates a modular application: every module owns a directory of SQL"
say "migrations and a fixed range of versions (module i owns (i+1)*1000+1 .. +999)."
say "The example application's own binary, modules, has them compiled in and offers"
say "the whole modmig command line (modmig_cli_main); modmig itself reads them from disk"
say "(-m, or ./modules/modules.yaml)."
say "Database: a throwaway PostgreSQL $(dbq 'SHOW server_version'), empty database modmig_demo."

heading "Check every migration file, without a database"
run modules validate
say "lint checks them against the modules: schemas, depends_on and lock hazards"
say "(the bundled ones carry justified '-- modmig:nolint' comments where a hazard is accepted):"
run modules lint

heading "The global sequence: all modules merged by version"
run modules list

heading "Apply everything to the empty database"
run modules up

heading "Status: every migration and its state"
run modmig status
say "goose's table is there too, so goose and sqlc keep working:"
run psql -X "$DATABASE_URL" -c "SELECT version_id, is_applied FROM goose_db_version ORDER BY id DESC LIMIT 3"

heading "A new migration arrives in an early module (allow-missing)"
cp -r modules "$tmp/modules"
last_identity=$(ls "$tmp/modules/identity/migrations" | sort | tail -n 1)
v=$((10#${last_identity%%_*} + 1))
new_file=$tmp/modules/identity/migrations/$(printf '%05d' "$v")_identity_display_names.sql
cat >"$new_file" <<'EOF'
-- +goose Up
CREATE TABLE identity.display_names (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (name <> '')
);

-- +goose Down
DROP TABLE identity.display_names;
EOF
say "We work on a copy of modules/ in \$TMP ($tmp)."
say "A teammate adds $(basename "$new_file") to identity."
say "Its version $v is lower than versions of later modules that are already applied:"
run cat "$new_file"
run modmig -m "$tmp/modules/modules.yaml" status --module identity
say "modmig applies missing migrations first, then new ones:"
run modmig -m "$tmp/modules/modules.yaml" up

heading "Lint catches a lock hazard before it ships"
idx_file=$tmp/modules/identity/migrations/$(printf '%05d' $((v + 1)))_identity_display_names_idx.sql
cat >"$idx_file" <<'EOF'
-- +goose Up
CREATE INDEX display_names_name ON identity.display_names (name);

-- +goose Down
DROP INDEX identity.display_names_name;
EOF
say "The teammate indexes display_names, which by now holds production data:"
run cat "$idx_file"
run_failing modmig -m "$tmp/modules/modules.yaml" lint "$idx_file"
say "The hint says how: build the index CONCURRENTLY, outside a transaction."
cat >"$idx_file" <<'EOF'
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY display_names_name ON identity.display_names (name);

-- +goose Down
DROP INDEX CONCURRENTLY identity.display_names_name;
EOF
run cat "$idx_file"
run modmig -m "$tmp/modules/modules.yaml" lint "$idx_file"
run modmig -m "$tmp/modules/modules.yaml" up

heading "Roll back one module's most recent migration"
say "depends_on is enforced: billing cannot go back while stripe, which depends on it,"
say "has migrations applied after billing's:"
run_failing modmig -m "$tmp/modules/modules.yaml" down --module billing
say "stripe depends on nothing applied after it, so it can:"
run modmig -m "$tmp/modules/modules.yaml" down --module stripe
run modmig -m "$tmp/modules/modules.yaml" status --module stripe

heading "Apply again"
run modmig -m "$tmp/modules/modules.yaml" up
run modmig -m "$tmp/modules/modules.yaml" version

heading "A broken migration is rolled back as a whole"
bad_file=$tmp/modules/billing/migrations/$(printf '%05d' $((10#$(ls "$tmp/modules/billing/migrations" | sort | tail -n 1 | cut -d_ -f1) + 1)))_billing_credit_notes.sql
cat >"$bad_file" <<'EOF'
-- +goose Up
CREATE TABLE billing.credit_notes (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    amount numeric(12, 2) NOT NULL
);
INSERT INTO billing.credit_notes (amount) VALUES (10.00);
UPDATE billing.credit_note SET amount = 0;

-- +goose Down
DROP TABLE billing.credit_notes;
EOF
say "$(basename "$bad_file") has a typo on line 7 (credit_note instead of credit_notes):"
run cat -n "$bad_file"
before=$(modmig -m "$tmp/modules/modules.yaml" status)
run_failing modmig -m "$tmp/modules/modules.yaml" up
say "The table created on line 2 is gone too: the migration ran in one transaction."
run psql -X "$DATABASE_URL" -c "SELECT to_regclass('billing.credit_notes') AS credit_notes"
after=$(modmig -m "$tmp/modules/modules.yaml" status)
run modmig -m "$tmp/modules/modules.yaml" status --module billing
if [ "$(grep -v credit_notes <<<"$before")" != "$(grep -v credit_notes <<<"$after")" ]; then
  echo "demo: status changed after the failed migration" >&2; exit 1
fi
say "Status is unchanged: the broken migration is still not applied, and nothing of it is left."
say "Fix the typo on line 7, and the same up applies it:"
run sed -i 's/UPDATE billing.credit_note SET/UPDATE billing.credit_notes SET/' "$bad_file"
run modmig -m "$tmp/modules/modules.yaml" up
run psql -X "$DATABASE_URL" -c "SELECT amount FROM billing.credit_notes"

heading "Done"
say "Try it yourself: build/modmig --help, or the README's tour of the CLI."
