#!/usr/bin/env bash
# modmig lint, the command: text output with hints, --json, SARIF 2.1.0's
# required fields, FILE and --since selection (a temporary git repository),
# configuration errors with file:line:column, exit codes, and the expected
# findings of every migration set of the tests (no surprise findings).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

findings='import json,sys; d=json.load(sys.stdin); print("\n".join("%s:%d:%d %s %s"%(f["file"],f["line"],f["column"],f["severity"],f["rule"]) for f in d["findings"]))'

# ---- the issue's example: three findings a new module author understands ----
app=$TMP/app
mkdir -p "$app/db/migrations" "$app/identity/migrations" "$app/billing/migrations"
cat >"$app/modules.yaml" <<'YAML'
modules:
  - name: db
  - name: identity
    schema: identity
    depends_on: [db]
  - name: billing
    schema: billing
    depends_on: [db]
YAML
printf -- '-- +goose Up\nCREATE TABLE identity.persons (id bigint PRIMARY KEY);\n' \
  >"$app/identity/migrations/02001_identity_init.sql"
cat >"$app/billing/migrations/03001_billing_init.sql" <<'SQL'
-- +goose Up
CREATE TABLE billing.billing_accounts (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id bigint NOT NULL REFERENCES identity.persons (id)
);
CREATE TABLE credits (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    amount bigint NOT NULL
);

-- +goose Down
DROP TABLE credits;
DROP TABLE billing.billing_accounts;
SQL
cd "$app"
mm -m modules.yaml lint
expect_rc 3 "lint exits 3 on error findings"
want="billing/migrations/03001_billing_init.sql:2:14: error: table-repeats-schema: table billing.billing_accounts repeats its schema in its name
  hint: call it billing.accounts: the schema is the namespace (sqlc then generates names like billing.Account, not billing.BillingAccount)
billing/migrations/03001_billing_init.sql:4:42: error: undeclared-dependency: module billing refers to identity.persons, but does not depend on module identity
  hint: add identity to module billing's depends_on in the manifest, or remove the reference
billing/migrations/03001_billing_init.sql:6:14: error: require-schema: table credits is created without a schema, so it lands in public (migrations run with the server's default search_path)
  hint: write billing.credits: module billing owns schema billing
3 errors, 0 warnings in 2 migrations"
expect_eq "$OUT" "$want" "the three findings of the example, with hints"
expect_eq "$ERR" "" "lint findings go to stdout"

mm -m modules.yaml validate
expect_rc 0 "validate stays lint-free"

mm -m modules.yaml lint --json
expect_rc 3 "lint --json exits 3 too"
got=$(printf '%s' "$OUT" | python3 -c "$findings" 2>&1)
expect_eq "$got" "billing/migrations/03001_billing_init.sql:2:14 error table-repeats-schema
billing/migrations/03001_billing_init.sql:4:42 error undeclared-dependency
billing/migrations/03001_billing_init.sql:6:14 error require-schema" "lint --json findings"
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); f=d["findings"][1]; print(d["migrations"], d["errors"], d["warnings"], f["module"], f["version"], f["hint"] is not None, f["message"])' 2>&1)
expect_eq "$got" "2 3 0 billing 3001 True module billing refers to identity.persons, but does not depend on module identity" "lint --json counts and fields"

# ---- SARIF 2.1.0 -----------------------------------------------------------------
mm -m modules.yaml lint --sarif "$TMP/out.sarif"
expect_rc 3 "lint --sarif exits 3"
expect_out "3 errors, 0 warnings in 2 migrations"
got=$(python3 - "$TMP/out.sarif" <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.1.0", d["version"]
assert d["$schema"].endswith("sarif-2.1.0.json"), d["$schema"]
run = d["runs"][0]
driver = run["tool"]["driver"]
assert driver["name"] == "modmig"
ids = [r["id"] for r in driver["rules"]]
assert "require-schema" in ids and "prefer-bigint" in ids and len(ids) == len(set(ids)) == 25, ids
for r in driver["rules"]:
    assert r["shortDescription"]["text"] and r["defaultConfiguration"]["level"] in ("error", "warning", "none")
out = []
for res in run["results"]:
    assert res["level"] in ("error", "warning")
    assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
    assert res["message"]["text"]
    loc = res["locations"][0]["physicalLocation"]
    out.append("%s %s %s:%d:%d" % (res["ruleId"], res["level"], loc["artifactLocation"]["uri"],
                                  loc["region"]["startLine"], loc["region"]["startColumn"]))
print("\n".join(out))
PY
)
expect_eq "$got" "table-repeats-schema error billing/migrations/03001_billing_init.sql:2:14
undeclared-dependency error billing/migrations/03001_billing_init.sql:4:42
require-schema error billing/migrations/03001_billing_init.sql:6:14" "SARIF required fields and results"
mm -m modules.yaml lint --sarif - 
expect_rc 3 "lint --sarif - writes SARIF only"
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"][0]["results"]))' 2>&1)
expect_eq "$got" "3" "lint --sarif - on stdout"
mm -m modules.yaml lint --sarif "$TMP/help.sarif" --help
expect_rc 0 "lint --help"
expect_out "usage: modmig [GLOBAL OPTIONS] lint"
[ ! -e "$TMP/help.sarif" ] && pass || fail "lint --help after --sarif FILE wrote FILE: it must only print help"
mm -m modules.yaml --json lint --sarif "$TMP/x.sarif"
expect_rc 2 "--json with --sarif is a usage error"
expect_err "choose one of --json and --sarif"

# ---- FILE arguments ------------------------------------------------------------------
mm -m modules.yaml lint identity/migrations/02001_identity_init.sql
expect_rc 0 "lint of one clean file"
expect_eq "$OUT" "ok: 1 migration, no findings" "lint FILE"
mm -m modules.yaml lint "$app/billing/migrations/03001_billing_init.sql"
expect_rc 3 "lint FILE by absolute path"
expect_out "3 errors, 0 warnings in 1 migration"
mm -m modules.yaml lint nosuch.sql
expect_rc 2 "lint of a file that is no migration"
expect_err "nosuch.sql: error: not a migration of modules.yaml"

# ---- exit codes: warnings alone exit 0; severities from the manifest ----------------
sed -i '1i lint:\n  table-repeats-schema: warning\n  require-schema: warning\n  undeclared-dependency: off' modules.yaml
mm -m modules.yaml lint
expect_rc 0 "warnings only: exit 0"
expect_eq "$(printf '%s\n' "$OUT" | tail -n 1)" "0 errors, 2 warnings in 2 migrations" "configured severities"
expect_out "billing/migrations/03001_billing_init.sql:2:14: warning: table-repeats-schema:"
expect_no_out "undeclared-dependency"

# ---- configuration errors name file:line:column -----------------------------------
cp modules.yaml modules.good
printf 'lint:\n  require-schemas: error\nmodules:\n  - name: db\n' >modules.yaml
mm -m modules.yaml lint
expect_rc 2 "an unknown rule in lint: is a manifest error"
expect_err "modules.yaml:2:3: error: unknown lint rule 'require-schemas'"
expect_err "hint: run 'modmig lint --rules' for the rules"
mm -m modules.yaml validate
expect_rc 2 "validate checks the lint: section like every other key"
expect_err "modules.yaml:2:3: error: unknown lint rule 'require-schemas'"
printf 'modules:\n  - name: db\nlint:\n  drop-table: sometimes\n' >modules.yaml
mm -m modules.yaml lint
expect_rc 2 "a bad severity"
expect_err "modules.yaml:4:15: error: a lint rule's severity must be error, warning or off"
printf 'modules:\n  - name: db\nlint: off\n' >modules.yaml
mm -m modules.yaml lint
expect_rc 2 "lint must be a mapping"
expect_err "modules.yaml:3:7: error: lint must be a mapping of rule names to severities, not a scalar"
mv modules.good modules.yaml

# ---- --since on a temporary git repository --------------------------------------------
git init -q . && git config user.email t@example.com && git config user.name test
git add -A && git commit -qm base && git tag base
printf -- '-- +goose Up\nCREATE TABLE identity.sessions (id bigint PRIMARY KEY);\n' \
  >identity/migrations/02002_identity_sessions.sql
git add -A && git commit -qm sessions
printf -- '-- +goose Up\nCREATE TABLE identity.identity_tokens (id bigint);\n' \
  >identity/migrations/02003_identity_tokens.sql
mm -m modules.yaml lint --since base --json
expect_rc 0 "--since: only new files, both clean of errors"
got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["migrations"], [f["rule"]+"@"+f["file"] for f in d["findings"]])' 2>&1)
expect_eq "$got" "2 ['table-repeats-schema@identity/migrations/02003_identity_tokens.sql']" \
  "--since base: the committed and the untracked new file, not billing's old findings"
expect_out '"severity":"warning"'
mm -m modules.yaml lint --since HEAD
expect_rc 0 "--since HEAD: only the untracked file"
expect_out "in 1 migration"
git add -A && git commit -qm tokens
mm -m modules.yaml lint --since HEAD
expect_eq "$OUT" "ok: 0 migrations, no findings" "--since HEAD with nothing changed"
echo '-- touched' >>billing/migrations/03001_billing_init.sql
mm -m modules.yaml lint --since HEAD
expect_rc 0 "--since HEAD: a changed file is linted (its findings are warnings here)"
expect_out "in 1 migration"
expect_out "03001_billing_init.sql:2:14: warning: table-repeats-schema"
mm -m modules.yaml lint --since no-such-rev
expect_rc 2 "--since with an unknown revision"
expect_err "git could not list the files changed since 'no-such-rev'"
mm -m modules.yaml lint --since --oops
expect_rc 2 "a revision starting with - is refused, not passed to git as an option"
rm -rf .git
mm -m modules.yaml lint --since HEAD
expect_rc 2 "--since outside a git repository"
expect_err "git could not list the files changed since 'HEAD'"
cd "$ROOT"

# ---- every migration set of the tests: exactly the expected findings ---------------
mm lint
expect_rc 0 "the bundled application lints clean"
count=$("$MODMIG" list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_eq "$OUT" "ok: $count migrations, no findings" "bundled modules: no findings"
mm -m modules/modules.yaml lint
expect_rc 0 "the modules on disk lint clean"

mm --dir tests/fixtures/goose_app lint --json
expect_rc 3 "the goose application has hazards"
got=$(printf '%s' "$OUT" | python3 -c "$findings" 2>&1)
expect_eq "$got" "$(cat tests/fixtures/lint/goose_app.expected)" "goose_app: the expected findings, no others"
mm --dir tests/fixtures/goose_app --lock-timeout 5s lint --json
got=$(printf '%s' "$OUT" | python3 -c "$findings" 2>&1)
expect_eq "$got" "$(grep -v require-lock-timeout tests/fixtures/lint/goose_app.expected)" \
  "--lock-timeout is the configuration's lock_timeout"

mm -m tests/fixtures/newer_syntax/modules.yaml lint --json
expect_rc 0 "newer syntax: warnings only"
got=$(printf '%s' "$OUT" | python3 -c "$findings" 2>&1)
expect_eq "$got" "$(cat tests/fixtures/lint/newer_syntax.expected)" "newer_syntax: unparsed statements"

for tree in tests/fixtures/trees/*/; do
  mm -m "$tree/modules.yaml" lint
  expect_rc 2 "lint refuses $(basename "$tree") like validate"
  expect_err "$(cat "$tree/expect")"
done

# bad files: lint refuses exactly what validate refuses, with the same first error
mkdir -p "$TMP/bad"
for f in tests/fixtures/bad_sql/*.sql; do
  rm -f "$TMP/bad"/*.sql; cp "$f" "$TMP/bad/00001_bad.sql"
  mm --dir "$TMP/bad" validate; v_rc=$RC; v_err=$ERR
  mm --dir "$TMP/bad" lint
  if [ "$v_rc" = 0 ]; then
    [ "$RC" = 0 ] || [ "$RC" = 3 ] && pass || fail "lint of $(basename "$f") exits $RC where validate accepts it"
  else
    expect_rc "$v_rc" "lint refuses $(basename "$f") like validate"
    # validate goes on to report every problem; lint stops at the file's first, the same
    expect_eq "$(head -n 1 <<<"$ERR")" "$(head -n 1 <<<"$v_err")" "lint's error for $(basename "$f") is validate's"
  fi
done

mm lint --rules
expect_rc 0 "lint --rules"
expect_eq "$(printf '%s\n' "$OUT" | wc -l)" "25" "one line per rule"
expect_out "prefer-bigint                    off      "
mm --json lint --rules
expect_rc 0 "lint --rules --json"
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r), sum(x["enabled"] for x in r), [x for x in r if x["rule"] == "prefer-bigint"][0]["severity"])')" \
  "25 21 warning" "lint --rules --json: one object per rule, the enabled ones and each severity"

finish
