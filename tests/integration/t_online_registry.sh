#!/usr/bin/env bash
# The module registry (DESIGN §5): a manifest that inserts a module in the
# middle or renames one is refused before anything runs; appending a module
# at the end is accepted.
source "$(dirname "$0")/lib.sh"

copy_modules
M=(-m "$MODS/modules.yaml")
ALL=$(file_versions "$MODS"/*/migrations)
ID_NEXT=$(($(file_versions "$MODS/identity/migrations" | tail -n 1) + 1))

new_db
mm -d "$URL" "${M[@]}" up
expect_rc 0 "initial up"
expect_eq "$(applied_versions)" "$ALL" "initial up applies everything"

# A pending (missing) migration: if a refused manifest ran anything, this would apply.
add_migration identity "$ID_NEXT" registry_probe \
  "CREATE TABLE identity.registry_probe (id int);" "DROP TABLE identity.registry_probe;"
good_manifest=$(cat "$MODS/modules.yaml")
save_tree() { rm -rf "$TMP/saved"; cp -r "$MODS" "$TMP/saved"; }
restore_tree() { rm -rf "$MODS"; cp -r "$TMP/saved" "$MODS"; }
save_tree

# Insert a manifest entry before the line "  - name: $1" (python keeps it exact).
insert_module_before() { # BEFORE NEW
  python3 - "$MODS/modules.yaml" "$1" "$2" <<'EOF'
import sys
path, before, new = sys.argv[1:]
lines = open(path).read().split("\n")
i = next(i for i, l in enumerate(lines) if l.strip() == "- name: " + before)
lines[i:i] = ["  - name: " + new, "    schema: " + new, "    depends_on: [db]"]
open(path, "w").write("\n".join(lines))
EOF
}
module_names() { awk '/^  - name:/ {print $3}' "$MODS/modules.yaml"; }

# ---------------------------------------------------------------- insert in the middle
# newmod goes to index 3, where billing was; every later module moves up one
# position, and a careless author renumbers their files to match the new ranges.
insert_module_before billing newmod
mkdir -p "$MODS/newmod/migrations"
printf -- '-- +goose Up\nCREATE SCHEMA newmod;\n-- +goose Down\nDROP SCHEMA newmod;\n' \
  >"$MODS/newmod/migrations/04001_newmod_init.sql"
idx=0
for m in $(module_names); do
  if [ "$idx" -gt 3 ] && [ -d "$MODS/$m/migrations" ]; then
    for f in "$MODS/$m/migrations"/*.sql; do
      [ -e "$f" ] || continue
      b=$(basename "$f"); v=$((10#${b%%_*})); rest=${b#*_}
      mv "$f" "$MODS/$m/migrations/$(printf '%05d' $((v + 1000)))_$rest"
    done
  fi
  idx=$((idx + 1))
done
# The new manifest is valid on its own: the refusal must come from the registry.
mm "${M[@]}" validate
expect_rc 0 "the shifted manifest is valid offline"

fp=$(schema_fingerprint)
hist=$(history_versions applied | wc -l)
mm -d "$URL" "${M[@]}" up
expect_rc 2 "inserting a module in the middle is refused"
expect_err "billing"
if { grep -qw '3' <<<"$ERR" && grep -qw '4' <<<"$ERR"; } || { grep -qw '4' <<<"$ERR" && grep -qw '5' <<<"$ERR"; }; then
  pass; else fail "the message does not name both positions of billing"; fi
expect_eq "$(schema_fingerprint)" "$fp" "refused insert changed nothing"
expect_eq "$(history_versions applied | wc -l)" "$hist" "refused insert wrote no history"
expect_sql "SELECT to_regclass('identity.registry_probe') IS NULL AND to_regnamespace('newmod') IS NULL" "t"
# status, the operator's first command, shows the table with the disagreement
# as a warning; version answers too
mm -d "$URL" "${M[@]}" status
expect_rc 0
expect_out "VERSION"
expect_out "applied"
expect_err "warning: module billing is at position 5"
expect_err "refuse until it is fixed"
mm -d "$URL" "${M[@]}" --json status
expect_rc 0
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["migrations"]) > 20, "position" in d["warning"])')" "True True" "status --json lists the migrations and carries the warning"
mm -d "$URL" "${M[@]}" version
expect_rc 0
expect_err "warning:"
expect_eq "$(schema_fingerprint)" "$fp" "status changed nothing"

# ---------------------------------------------------------------- insert, files left as they were
# The usual mistake: the new module is inserted and nothing is renumbered.
# That is found offline, first, as an insertion: the module that moved and
# both positions, at its line in the manifest (not "outside its range").
restore_tree
insert_module_before billing newmod
mkdir -p "$MODS/newmod/migrations"
printf -- '-- +goose Up\nCREATE SCHEMA newmod;\n-- +goose Down\nDROP SCHEMA newmod;\n' \
  >"$MODS/newmod/migrations/04001_newmod_init.sql"
for args in validate "-d $URL up" "-d $URL status"; do
  # shellcheck disable=SC2086
  mm "${M[@]}" $args
  expect_rc 2
  expect_err "modules.yaml:$(grep -n '^  - name: billing$' "$MODS/modules.yaml" | cut -d: -f1):"
  expect_err "module billing is at position 5 in the manifest, but its migrations are numbered for position 4 (4001..4999), where module newmod is now: a module was inserted before it"
  expect_no_err "outside module"
done
expect_eq "$(schema_fingerprint)" "$fp" "refused insert changed nothing"

# ---------------------------------------------------------------- rename
restore_tree
sed -i 's/^  - name: billing$/  - name: invoicing/; s/\bbilling\]/invoicing]/; s/\[billing,/[invoicing,/; s/ billing,/ invoicing,/' \
  "$MODS/modules.yaml"
mv "$MODS/billing" "$MODS/invoicing"
mm "${M[@]}" validate
expect_rc 0 "the renamed manifest is valid offline"
mm -d "$URL" "${M[@]}" up
expect_rc 2 "renaming a module is refused"
expect_err "billing"
expect_err "invoicing"
expect_eq "$(schema_fingerprint)" "$fp" "refused rename changed nothing"
mm -d "$URL" "${M[@]}" status
expect_rc 0
expect_err "warning:"
expect_err "billing"
expect_sql "SELECT to_regclass('identity.registry_probe') IS NULL" "t"

# ---------------------------------------------------------------- removing one in the middle
restore_tree
python3 - "$MODS/modules.yaml" <<'EOF'
import sys
p = sys.argv[1]
out, skip = [], False
for l in open(p).read().split("\n"):
    if l.startswith("  - name: "):
        skip = l.strip() == "- name: cooperative"
    elif not l.startswith("    "):
        skip = False
    if not skip:
        out.append(l)
open(p, "w").write("\n".join(out))
EOF
grep -q cooperative "$MODS/modules.yaml" && fail "could not remove cooperative from the manifest"
mm -d "$URL" "${M[@]}" up
if [ "$RC" = 0 ]; then fail "removing a module in the middle was accepted"; else pass; fi
expect_eq "$(schema_fingerprint)" "$fp" "refused removal changed nothing"

# ---------------------------------------------------------------- append at the end
restore_tree
n=$(module_names | wc -l)
first=$(((n + 1) * 1000 + 1))
printf '%s\n  - name: appended\n    schema: appended\n    depends_on: [db]\n' "$good_manifest" \
  >"$MODS/modules.yaml"
mkdir -p "$MODS/appended/migrations"
printf -- '-- +goose Up\nCREATE SCHEMA appended;\nCREATE TABLE appended.t (id int);\n-- +goose Down\nDROP TABLE appended.t;\nDROP SCHEMA appended;\n' \
  >"$MODS/appended/migrations/${first}_appended_init.sql"
mm -d "$URL" "${M[@]}" up
expect_rc 0 "appending a module at the end is accepted"
expect_eq "$(applied_versions)" "$(printf '%s\n' $ALL "$ID_NEXT" "$first" | sort -n)" "appended module applied"
expect_sql "SELECT to_regclass('appended.t') IS NOT NULL AND to_regclass('identity.registry_probe') IS NOT NULL" "t"
mm -d "$URL" "${M[@]}" status
expect_rc 0 "status with the appended module"
expect_out "appended"
# and the original manifest (without the appended module) still works for the others
mm -d "$URL" "${M[@]}" down --module appended
expect_rc 0
expect_sql "SELECT to_regnamespace('appended') IS NULL" "t"

finish
