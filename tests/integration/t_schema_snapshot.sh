#!/usr/bin/env bash
# modmig schema: every object kind of DESIGN §12 is created, snapshotted and
# found with its attributes (asserted with a JSON parser); modmig's own state
# objects, system schemas and extension members are left out; --schema and
# --module narrow the scope; the JSON is stable and reads back (--against).
source "$(dirname "$0")/lib.sh"

new_db
sql "CREATE ROLE schema_reader" 2>/dev/null || true
sql "
CREATE EXTENSION pgcrypto;
CREATE SCHEMA shop;
COMMENT ON SCHEMA shop IS 'the shop';
GRANT USAGE ON SCHEMA shop TO schema_reader;
CREATE TYPE shop.status AS ENUM ('new', 'paid', 'shipped');
CREATE DOMAIN shop.price AS numeric(10,2) NOT NULL DEFAULT 0 CONSTRAINT price_positive CHECK (VALUE >= 0);
CREATE TYPE shop.pair AS (a integer, b text);
CREATE TYPE shop.span AS RANGE (subtype = integer);
CREATE SEQUENCE shop.tickets START 100 INCREMENT 5;
CREATE TABLE shop.customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE,
  name text COLLATE \"C\", created_at timestamptz NOT NULL DEFAULT now(),
  email_lower text GENERATED ALWAYS AS (lower(email)) STORED);
COMMENT ON TABLE shop.customers IS 'who buys';
COMMENT ON COLUMN shop.customers.email IS 'primary contact';
CREATE TABLE shop.orders (id serial, customer_id bigint REFERENCES shop.customers(id),
  status shop.status NOT NULL DEFAULT 'new', total shop.price, placed_on date,
  CONSTRAINT orders_total_check CHECK (total < 100000), PRIMARY KEY (id, placed_on)) PARTITION BY RANGE (placed_on);
CREATE TABLE shop.orders_2024 PARTITION OF shop.orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX orders_status_idx ON shop.orders (status) WHERE status <> 'shipped';
CREATE VIEW shop.open_orders AS SELECT id, status FROM shop.orders WHERE status = 'new';
CREATE MATERIALIZED VIEW shop.order_counts AS SELECT status, count(*) AS n FROM shop.orders GROUP BY status;
CREATE FUNCTION shop.touch(p integer, q text DEFAULT 'x') RETURNS integer LANGUAGE sql AS 'SELECT p + 1';
CREATE PROCEDURE shop.archive(days integer) LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION shop.stamp() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER customers_stamp BEFORE UPDATE ON shop.customers FOR EACH ROW EXECUTE FUNCTION shop.stamp();
ALTER TABLE shop.customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON shop.customers FOR SELECT TO schema_reader USING (email = current_user);
GRANT SELECT ON shop.customers TO schema_reader;
GRANT SELECT (placed_on) ON shop.orders TO schema_reader;
REVOKE EXECUTE ON FUNCTION shop.touch(integer, text) FROM PUBLIC;
CREATE STATISTICS shop.orders_stats (dependencies) ON status, customer_id FROM shop.orders;
CREATE SCHEMA other;
CREATE TABLE other.t (x int);
" >/dev/null || { echo "cannot create the objects" >&2; exit 1; }

# modmig's own tables appear, and must stay out of the snapshot
mkdir -p "$TMP/one"
printf -- '-- +goose Up\nSELECT 1;\n' >"$TMP/one/00001_nothing.sql"
mm -d "$URL" --dir "$TMP/one" up
expect_rc 0 "up"
expect_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'goose_db_version%'" "4"
mm -d "$URL" --dir "$TMP/one" --json schema
expect_rc 0 "schema --json"
printf '%s' "$OUT" >"$TMP/snap.json"

# kind|schema|parent|name|attribute=value for every object; asserted one by one
python3 - "$TMP/snap.json" >"$TMP/flat" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "modmig-schema 1", d["format"]
for o in d["objects"]:
    assert list(o) == sorted(o), o
    assert list(o["attributes"]) == sorted(o["attributes"]), o
    base = "|".join([o["kind"], o["schema"], o.get("parent", "-"), o["name"]])
    print(base)
    for k, v in o["attributes"].items():
        print(base + "|" + k + "=" + v.replace("\n", "\\n"))
EOF
has() {
  if grep -qxF -- "$1" "$TMP/flat"; then pass; else fail "snapshot lacks: $1"; fi
}
has_like() {
  if grep -qE -- "$1" "$TMP/flat"; then pass; else fail "snapshot lacks a line like: $1"; fi
}
lacks_like() {
  if grep -qE -- "$1" "$TMP/flat"; then fail "snapshot unexpectedly has: $1 ($(grep -E -- "$1" "$TMP/flat" | head -3))"; else pass; fi
}

has "schema|shop|-|shop|comment=the shop"
has "schema|shop|-|shop|owner=$PGUSER"
has_like "^schema\|shop\|-\|shop\|grants=.*schema_reader: USAGE"
has "extension|public|-|pgcrypto"
has "enum|shop|-|status|labels='new', 'paid', 'shipped'"
has "domain|shop|-|price|base_type=numeric(10,2)"
has "domain|shop|-|price|not_null=true"
has "domain|shop|-|price|default=0"
has "constraint|shop|price|price_positive|definition=CHECK ((VALUE >= (0)::numeric))"
has "composite type|shop|-|pair|attributes=a integer, b text"
has "range type|shop|-|span|subtype=integer"
has "sequence|shop|-|tickets|start=100"
has "sequence|shop|-|tickets|increment=5"
has "sequence|shop|-|orders_id_seq|owned_by=shop.orders.id"
has "table|shop|-|customers|comment=who buys"
has "table|shop|-|customers|row_security=enabled"
has "table|shop|-|customers|grants=schema_reader: SELECT"
has "column|shop|customers|id|identity=always"
has "column|shop|customers|id|type=bigint"
has "column|shop|customers|id|position=1"
has "column|shop|customers|email|not_null=true"
has "column|shop|customers|email|comment=primary contact"
has "column|shop|customers|name|collation=\"C\""
has "column|shop|customers|created_at|default=now()"
has "column|shop|customers|email_lower|generated=stored: lower(email)"
has "column|shop|orders|placed_on|grants=schema_reader: SELECT"
has "column|shop|orders|status|type=shop.status"
has "table|shop|-|orders|partition_key=RANGE (placed_on)"
has "table|shop|-|orders_2024|partition_of=shop.orders"
has "table|shop|-|orders_2024|partition_bound=FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
has "constraint|shop|customers|customers_pkey|definition=PRIMARY KEY (id)"
has "constraint|shop|customers|customers_email_key|definition=UNIQUE (email)"
has "constraint|shop|orders|orders_customer_id_fkey|definition=FOREIGN KEY (customer_id) REFERENCES shop.customers(id)"
has_like "^constraint\\|shop\\|orders\\|orders_total_check\\|definition=CHECK \\(\\(\\(?total"
has "index|shop|orders|orders_status_idx|definition=CREATE INDEX orders_status_idx ON ONLY shop.orders USING btree (status) WHERE (status <> 'shipped'::shop.status)"
has_like "^index\|shop\|orders_2024\|orders_2024_status_idx\|definition=CREATE INDEX"
has_like "^view\|shop\|-\|open_orders\|definition= SELECT (orders\.)?id,"
has_like "^materialized view\|shop\|-\|order_counts\|definition= SELECT (orders\.)?status,"
has_like "^function\|shop\|-\|touch\(p integer, q text\)\|definition=CREATE OR REPLACE FUNCTION shop.touch"
has "function|shop|-|touch(p integer, q text)|grants=revoked from PUBLIC: EXECUTE"
has_like "^procedure\|shop\|-\|archive\(IN days integer\)\|definition=CREATE OR REPLACE PROCEDURE"
has "trigger|shop|customers|customers_stamp|definition=CREATE TRIGGER customers_stamp BEFORE UPDATE ON shop.customers FOR EACH ROW EXECUTE FUNCTION shop.stamp()"
has "policy|shop|customers|own_rows|command=SELECT"
has "policy|shop|customers|own_rows|roles=schema_reader"
has "policy|shop|customers|own_rows|using=(email = CURRENT_USER)"
has_like "^statistics\|shop\|-\|orders_stats\|definition=CREATE STATISTICS shop.orders_stats \(dependencies\) ON (status, customer_id|customer_id, status) FROM shop.orders"
has "table|other|-|t"

# left out: modmig's state, extension members, system schemas, backing objects
lacks_like "goose_db_version"
lacks_like "_guard\\("
lacks_like "\|digest\("          # pgcrypto's functions
lacks_like "^[a-z ]+\|(pg_catalog|information_schema|pg_toast)\|"
lacks_like "^index\|shop\|customers\|customers_pkey"   # described by its constraint
lacks_like "^sequence\|shop\|-\|customers_id_seq"       # an identity's sequence
KINDS=$(cut -d'|' -f1 "$TMP/flat" | sort -u | tr '\n' ',')
expect_eq "$KINDS" "column,composite type,constraint,domain,enum,extension,function,index,materialized view,policy,procedure,range type,schema,sequence,statistics,table,trigger,view," "object kinds found"

# stable: the same database gives byte-identical JSON
mm -d "$URL" --dir "$TMP/one" --json schema
expect_eq "$OUT" "$(cat "$TMP/snap.json")" "a second snapshot"

# scope: --schema and --module
mm -d "$URL" --dir "$TMP/one" --json schema --schema other
expect_rc 0 "schema --schema other"
expect_eq "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(sorted({o["schema"] for o in json.load(sys.stdin)["objects"]}))')" "['other']" "--schema other"
mm -d "$URL" schema --module nosuch
expect_rc 2 "--module nosuch"
mm -d "$URL" schema --module db
expect_rc 2 "--module db has no schema"
expect_err "module db has no schema of its own"

# text: grouped by schema, columns in column order
mm -d "$URL" --dir "$TMP/one" schema --schema shop
expect_rc 0 "schema (text)"
expect_out "schema shop"
expect_out "  table customers"
expect_out "    column id: bigint not null identity always"
expect_eq "$(printf '%s\n' "$OUT" | grep -A1 '    column id: bigint not null identity always' | tail -1)" "    column email: text not null" "column order"
expect_out "    constraint price_positive: CHECK ((VALUE >= (0)::numeric))"

# -o FILE.json writes the snapshot; drift --against it finds nothing, then a change
mm -d "$URL" --dir "$TMP/one" schema -o "$TMP/saved.json"
expect_rc 0 "schema -o"
expect_eq "$(cat "$TMP/saved.json")" "$(cat "$TMP/snap.json")" "-o FILE.json holds the JSON snapshot"
mm -d "$URL" --dir "$TMP/one" drift --against "$TMP/saved.json"
expect_rc 0 "drift --against an identical snapshot"
expect_out "ok: no drift"
sql "ALTER TABLE shop.customers ALTER COLUMN name TYPE varchar(80)"
mm -d "$URL" --dir "$TMP/one" drift --against "$TMP/saved.json"
expect_rc 3 "drift --against after a change"
expect_out "table shop.customers: column name: type is character varying(80) in the database, text in $TMP/saved.json"
echo '{"format": "other"}' >"$TMP/bad.json"
mm -d "$URL" --dir "$TMP/one" drift --against "$TMP/bad.json"
expect_rc 2 "drift --against a file that is not a snapshot"
expect_err "not a modmig schema snapshot"
mm -d "$URL" --dir "$TMP/one" drift --against "$TMP/none.json"
expect_rc 1 "drift --against a missing file"

finish
