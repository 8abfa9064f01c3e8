#!/usr/bin/env python3
"""Generate malformed migration files and manifests by mutating valid ones.

    tests/mutate.py OUTDIR [--seed N] [--files N] [--trees N]

Every mutation is one that DESIGN.md §2/§3 names as an error, so each mutant
is malformed by construction. The valid originals are written too, so a test
can check that they pass (otherwise the mutants prove nothing):

    OUTDIR/valid/files/*.sql        valid single files (for `inspect`)
    OUTDIR/valid/tree/modules.yaml  a valid manifest tree (for `-m ... validate`)
    OUTDIR/files/NNN_MUTATION/VVVVV_name.sql
    OUTDIR/trees/NNN_MUTATION/modules.yaml (+ <module>/migrations/*.sql)
    OUTDIR/index.tsv   id, kind (file|tree), mutation, target (the file for
                       `inspect`, or the manifest for `-m`), blame (the base
                       names of which one must appear in the error as
                       NAME:LINE, separated by |), line (the exact line the
                       error must name, or empty when more than one line is
                       defensible)
"""
import os
import random
import sys

# ---------------------------------------------------------------- originals

TEMPLATES = {
    "items": """-- A migration with a comment header; semicolons; in comments are fine
-- +goose Up
CREATE TABLE items (
    id bigint PRIMARY KEY,
    name text NOT NULL
);
CREATE INDEX items_name ON items (name);
-- +goose StatementBegin
CREATE FUNCTION items_count() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM items);
END;
$$;
-- +goose StatementEnd
INSERT INTO items VALUES (1, 'a;b');

-- +goose Down
DROP FUNCTION items_count();
DROP TABLE items;
""",
    "concurrent": """-- +goose NO TRANSACTION

-- +goose Up
CREATE INDEX CONCURRENTLY items_lower ON items (lower(name));
-- +goose Down
DROP INDEX CONCURRENTLY items_lower;
""",
    "price": """-- +goose Up
ALTER TABLE items ADD COLUMN price numeric;
UPDATE items SET price = 0;
COMMENT ON COLUMN items.price IS 'in cents; never null';
""",
    "touch": """-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $body$
BEGIN NEW.updated_at := now(); RETURN NEW; END;
$body$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TABLE things (id int, updated_at timestamptz);
-- +goose Down
-- +goose StatementBegin
DROP TABLE things;
DROP FUNCTION touch();
-- +goose StatementEnd
""",
    "tags": """-- +goose Up
/* a block comment; with a semicolon */
CREATE TYPE tag_kind AS ENUM ('a', 'b');
CREATE TABLE tags (id int, kind tag_kind, note text DEFAULT E'it''s;\\n');
-- +goose Down
DROP TABLE tags;
DROP TYPE tag_kind;
""",
}

MANIFEST = """# a valid manifest
version_table: goose_db_version
modules:
  - name: core
  - name: accounts
    schema: accounts
    depends_on: [core]
  - name: shop
    schema: shop
    depends_on: [core, accounts]
"""

TREE_FILES = {
    "core/migrations/01001_core_init.sql":
        "-- +goose Up\nCREATE TABLE core_settings (k text PRIMARY KEY, v text);\n"
        "-- +goose Down\nDROP TABLE core_settings;\n",
    "core/migrations/01002_core_more.sql":
        "-- +goose Up\nINSERT INTO core_settings VALUES ('a', 'b;c');\n"
        "-- +goose Down\nDELETE FROM core_settings;\n",
    "accounts/migrations/02001_accounts_init.sql":
        "-- +goose Up\nCREATE SCHEMA IF NOT EXISTS accounts;\n"
        "CREATE TABLE accounts.users (id int PRIMARY KEY, email text);\n"
        "-- +goose StatementBegin\n"
        "CREATE FUNCTION accounts.n() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n"
        "-- +goose StatementEnd\n"
        "-- +goose Down\nDROP SCHEMA accounts CASCADE;\n",
    "shop/migrations/03001_shop_init.sql":
        "-- +goose Up\nCREATE SCHEMA IF NOT EXISTS shop;\n"
        "CREATE TABLE shop.orders (id int PRIMARY KEY, user_id int REFERENCES accounts.users);\n"
        "-- +goose Down\nDROP SCHEMA shop CASCADE;\n",
}

WORDS = ["Up", "Down", "StatementBegin", "StatementEnd", "NO TRANSACTION", "ENVSUB ON", "ENVSUB OFF"]


def annotation(line):
    """The annotation word of a valid annotation line, or None."""
    if not line.startswith("--"):
        return None
    rest = line[2:].lstrip(" \t")
    if not rest.startswith("+goose"):
        return None
    word = rest[len("+goose"):].strip(" \t")
    for w in WORDS:
        if word.lower() == w.lower():
            return w
    return None


def analyse(lines):
    """Per line: its annotation (or None) and whether it lies inside a block."""
    ann, inblock = [], []
    depth = False
    for line in lines:
        a = annotation(line)
        ann.append(a)
        if a == "StatementBegin":
            inblock.append(True)
            depth = True
        elif a == "StatementEnd":
            inblock.append(True)
            depth = False
        else:
            inblock.append(depth)
    return ann, inblock


def boundaries(lines, ann, inblock, after_up=True):
    """Indices i where a new line may be inserted before lines[i] between
    statements, outside blocks (after Up when after_up)."""
    up = ann.index("Up")
    out = []
    for i in range(up + 1 if after_up else 0, len(lines) + 1):
        prev = lines[i - 1] if i > 0 else ""
        if i > 0 and inblock[i - 1] and ann[i - 1] != "StatementEnd":
            continue
        if i > 0 and not (prev.rstrip().endswith(";") or ann[i - 1] is not None
                          or prev.strip() == "" or prev.lstrip().startswith("--")):
            continue
        out.append(i)
    return out


# ----------------------------------------------------------- file mutations
# Each takes (rng, lines) and returns (new_lines, exact_line or None) or None
# when it does not apply to this original.

def m_delete_up(rng, lines):
    ann, _ = analyse(lines)
    i = ann.index("Up")
    return lines[:i] + lines[i + 1:], None


def m_duplicate_up(rng, lines):
    ann, inb = analyse(lines)
    cands = [i for i in boundaries(lines, ann, inb) if i > ann.index("Up") + 1]
    if not cands:
        return None
    i = rng.choice(cands)
    return lines[:i] + ["-- +goose Up"] + lines[i:], i + 1


def m_duplicate_down(rng, lines):
    ann, inb = analyse(lines)
    if "Down" not in ann:
        return None
    d = ann.index("Down")
    cands = [i for i in boundaries(lines, ann, inb) if i > d]
    if not cands:
        return None
    i = rng.choice(cands)
    return lines[:i] + ["-- +goose Down"] + lines[i:], i + 1


def m_down_before_up(rng, lines):
    ann, _ = analyse(lines)
    i = rng.randint(0, ann.index("Up"))
    return lines[:i] + ["-- +goose Down"] + lines[i:], None


def m_swap_up_down(rng, lines):
    ann, _ = analyse(lines)
    if "Down" not in ann:
        return None
    u, d = ann.index("Up"), ann.index("Down")
    out = list(lines)
    out[u], out[d] = out[d], out[u]
    return out, None


def pick_annotation(rng, lines):
    ann, _ = analyse(lines)
    idx = [i for i, a in enumerate(ann) if a]
    i = rng.choice(idx)
    # An error at a StatementEnd line may also be reported as the block left
    # unclosed (at its StatementBegin): no exact line then.
    return i, (i + 1 if ann[i] != "StatementEnd" else None)


def m_indent(rng, lines):
    i, exact = pick_annotation(rng, lines)
    out = list(lines)
    out[i] = rng.choice([" ", "\t", "  ", "    "]) + out[i]
    return out, exact


def m_trailing_text(rng, lines):
    i, exact = pick_annotation(rng, lines)
    out = list(lines)
    out[i] = out[i] + rng.choice([" now", " -- note", " x", " please", "!", " ;"])
    return out, exact


def m_unknown_word(rng, lines):
    i, exact = pick_annotation(rng, lines)
    out = list(lines)
    word = rng.choice(["Upp", "Dwn", "StatementStart", "Sideways", "NOTRANSACTION",
                       "NO_TRANSACTION", "ENVSUB", "ENVSUB MAYBE", "Up Down", "Begin", "End"])
    out[i] = "-- +goose " + word
    return out, exact


def m_insert_unknown(rng, lines):
    ann, inb = analyse(lines)
    i = rng.choice(boundaries(lines, ann, inb))
    word = rng.choice(["Wibble", "Migrate", "Statement", "Upgrade", "TRANSACTION"])
    return lines[:i] + ["-- +goose " + word] + lines[i:], i + 1


def m_double_space(rng, lines):
    ann, _ = analyse(lines)
    if "NO TRANSACTION" not in ann:
        return None
    i = ann.index("NO TRANSACTION")
    out = list(lines)
    out[i] = "-- +goose NO  TRANSACTION"
    return out, i + 1


def m_garble_prefix(rng, lines):
    i, exact = pick_annotation(rng, lines)
    ann, _ = analyse(lines)
    word = ann[i]
    out = list(lines)
    out[i] = rng.choice(["-- +goosey ", "--- +goose ", "-- +goose: ", "-- ++goose ", "-- +goose_"]) + word
    return out, exact


def m_unterminated(rng, lines):
    ann, inb = analyse(lines)
    cands = []
    for i, line in enumerate(lines):
        if ann[i] or inb[i] or not line.rstrip().endswith(";") or line.lstrip().startswith("--"):
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() == "":
            j += 1
        if j == len(lines) or ann[j] == "Down":
            cands.append(i)
    if not cands:
        return None
    i = rng.choice(cands)
    out = list(lines)
    out[i] = out[i].rstrip()[:-1]
    return out, None


def m_unclosed_literal(rng, lines):
    tail = rng.choice(["SELECT 'never closed;", "SELECT $$never closed;", "SELECT 1 /* never closed;",
                       "SELECT $tag$ never closed $$;", 'SELECT "never closed;'])
    return lines + [tail], None


def m_unclosed_block(rng, lines):
    ann, _ = analyse(lines)
    idx = [i for i, a in enumerate(ann) if a == "StatementEnd"]
    if idx:
        i = rng.choice(idx)
        return lines[:i] + lines[i + 1:], None
    return lines + ["-- +goose StatementBegin", "SELECT 1;"], None


def m_nested_block(rng, lines):
    ann, _ = analyse(lines)
    begins = [i for i, a in enumerate(ann) if a == "StatementBegin"]
    if not begins:
        return None
    b = rng.choice(begins)
    e = ann.index("StatementEnd", b)
    i = rng.randint(b + 1, e)
    return lines[:i] + ["-- +goose StatementBegin"] + lines[i:], None


def m_stray_end(rng, lines):
    ann, inb = analyse(lines)
    i = rng.choice(boundaries(lines, ann, inb))
    return lines[:i] + ["-- +goose StatementEnd"] + lines[i:], i + 1


def m_empty_block(rng, lines):
    """An empty block with a statement right after it, which goose would drop
    (DESIGN §3 rule 3): the error names that line. Inserted at one drawn
    boundary, as before the rule changed, so a seed gives the same corpus."""
    ann, inb = analyse(lines)
    i = rng.choice(boundaries(lines, ann, inb))
    block = ["-- +goose StatementBegin", "-- +goose StatementEnd", "SELECT 1;"]
    return lines[:i] + block + lines[i:], i + 3


def m_sql_before_up(rng, lines):
    ann, _ = analyse(lines)
    i = rng.randint(0, ann.index("Up"))
    stmt = rng.choice(["SELECT 1;", "CREATE TABLE early (id int);", "SET search_path = x;", "BEGIN;"])
    return lines[:i] + [stmt] + lines[i:], i + 1


def m_envsub_unset(rng, lines):
    ann, inb = analyse(lines)
    up = ann.index("Up")
    i = rng.choice(boundaries(lines, ann, inb))
    var = "MODMIG_MUTANT_UNSET_%d" % rng.randint(1000, 9999)
    ref = rng.choice(["${%s}" % var, "$%s" % var])
    out = lines[:i] + ["SELECT '%s';" % ref] + lines[i:]
    return out[:up] + ["-- +goose ENVSUB ON"] + out[up:], None


def m_crlf_indent(rng, lines):
    out, exact = m_indent(rng, lines)
    return [l + "\r" for l in out], exact


FILE_MUTATIONS = [
    ("delete_up", m_delete_up), ("duplicate_up", m_duplicate_up),
    ("duplicate_down", m_duplicate_down), ("down_before_up", m_down_before_up),
    ("swap_up_down", m_swap_up_down), ("indent", m_indent),
    ("trailing_text", m_trailing_text), ("unknown_word", m_unknown_word),
    ("insert_unknown", m_insert_unknown), ("double_space", m_double_space),
    ("garble_prefix", m_garble_prefix), ("unterminated", m_unterminated),
    ("unclosed_literal", m_unclosed_literal), ("unclosed_block", m_unclosed_block),
    ("nested_block", m_nested_block), ("stray_end", m_stray_end),
    ("empty_block", m_empty_block), ("sql_before_up", m_sql_before_up),
    ("envsub_unset", m_envsub_unset), ("crlf_indent", m_crlf_indent),
]


def mutate_file(rng, text, names=None):
    """(mutation, new_text, exact_line) for a random applicable mutation."""
    lines = text.rstrip("\n").split("\n")
    muts = [m for m in FILE_MUTATIONS if names is None or m[0] in names]
    for _ in range(100):
        name, fn = rng.choice(muts)
        r = fn(rng, lines)
        if r is None:
            continue
        new, exact = r
        if new != lines:
            return name, "\n".join(new) + "\n", exact
    raise RuntimeError("no mutation applies")


# ---------------------------------------------------------- tree mutations
# Each returns (manifest_text, files dict, blame names, exact line or None).

def mlines():
    return MANIFEST.rstrip("\n").split("\n")


def t_unknown_top_key(rng, files):
    ls = mlines()
    i = rng.choice([1, 2])  # before or after version_table
    key = rng.choice(["colour: blue", "versions_table: x", "module: []", "strict: true"])
    ls.insert(i, key)
    return ls, files, ["modules.yaml"], i + 1


def t_unknown_module_key(rng, files):
    ls = mlines()
    i = rng.choice([5, 6, 8, 9, 10])  # after a module's first line
    ls.insert(i, "    " + rng.choice(["owner: team-a", "range: 5", "dependson: [core]", "Schema: x"]))
    return ls, files, ["modules.yaml"], i + 1


def t_forward_depends(rng, files):
    ls = mlines()
    if rng.random() < 0.5:
        ls.insert(4, "    depends_on: [" + rng.choice(["accounts", "shop"]) + "]")
    else:
        ls[6] = "    depends_on: [core, shop]"
    return ls, files, ["modules.yaml"], None


def t_unknown_depends(rng, files):
    ls = mlines()
    ls[9] = "    depends_on: [core, " + rng.choice(["nosuch", "account", "Core"]) + "]"
    return ls, files, ["modules.yaml"], None


def t_self_depends(rng, files):
    ls = mlines()
    if rng.random() < 0.5:
        ls[6] = "    depends_on: [accounts]"
    else:
        ls[9] = "    depends_on: [core, shop]"
    return ls, files, ["modules.yaml"], None


def t_bad_name(rng, files):
    ls = mlines()
    bad = rng.choice(["Accounts", "9lives", "my-mod", "acc ounts", "_acc", "ac.counts", "ÄccÖunts"])
    ls[4] = "  - name: \"%s\"" % bad
    files = {k.replace("accounts/", bad + "/", 1) if k.startswith("accounts/") else k: v
             for k, v in files.items()}
    return ls, files, ["modules.yaml"], None


def t_dup_name(rng, files):
    ls = mlines()
    ls[7] = "  - name: " + rng.choice(["core", "accounts"])
    return ls, files, ["modules.yaml"], None


def t_broken_yaml(rng, files):
    ls = mlines()
    kind = rng.randrange(7)
    if kind == 0:
        ls[6] = "    depends_on: [core"
    elif kind == 1:
        ls[7] = "  - name: \"shop"
    elif kind == 2:
        ls[5] = "\tschema: accounts"
    elif kind == 3:
        ls[4] = "  - name: accounts: yes"
    elif kind == 4:
        ls[7] = "  - name: *undefined_alias"
    elif kind == 5:
        ls[2] = "modules: ["
    else:
        ls[9] = "    depends_on: [core, accounts]]"
    return ls, files, ["modules.yaml"], None


def t_bad_type(rng, files):
    ls = mlines()
    kind = rng.randrange(6)
    if kind == 0:
        ls = ls[:2] + ["modules: 5"]
    elif kind == 1:
        ls = ls[:2] + ["modules: {core: 1}"]
    elif kind == 2:
        ls[3] = "  - name: [core]"
    elif kind == 3:
        ls[6] = "    depends_on: {core: 1}"
    elif kind == 4:
        ls[1] = "version_table: [a, b]"
    else:
        ls[5] = "    schema: {x: 1}"
    return ls, files, ["modules.yaml"], None


def t_missing_name(rng, files):
    ls = mlines()
    del ls[7]                     # "  - name: shop"
    ls[7] = "  - schema: shop"    # the entry now has no name
    files = {k: v for k, v in files.items() if not k.startswith("shop/")}
    return ls, files, ["modules.yaml"], None


def rename(files, old, new):
    files = dict(files)
    files[new] = files.pop(old)
    return files


def t_bad_filename(rng, files):
    old = "accounts/migrations/02001_accounts_init.sql"
    base = rng.choice(["2001-accounts_init.sql", "accounts_init.sql", "02001accounts.sql",
                       "x02001_accounts_init.sql", "_02001_accounts.sql", "0x7d1_accounts.sql"])
    return mlines(), rename(files, old, "accounts/migrations/" + base), [base], None


def t_out_of_range(rng, files):
    if rng.random() < 0.5:
        old = "core/migrations/01002_core_more.sql"
        base = rng.choice(["02000_core_more.sql", "01000_core_more.sql", "00999_core_more.sql",
                           "02500_core_more.sql", "00000_core_more.sql"])
        new = "core/migrations/" + base
    else:
        old = "accounts/migrations/02001_accounts_init.sql"
        base = rng.choice(["02000_accounts_init.sql", "03001_accounts_init.sql", "01500_accounts_init.sql",
                           "99999_accounts_init.sql"])
        new = "accounts/migrations/" + base
    return mlines(), rename(files, old, new), [base], None


def t_dup_version(rng, files):
    files = dict(files)
    if rng.random() < 0.5:
        base = rng.choice(["1001_core_again.sql", "001001_core_again.sql", "01001_core_again.sql"])
        files["core/migrations/" + base] = files["core/migrations/01002_core_more.sql"]
        return mlines(), files, [base, "01001_core_init.sql"], None
    base = rng.choice(["2001_accounts_again.sql", "02001_accounts_again.sql"])
    files["accounts/migrations/" + base] = "-- +goose Up\nSELECT 1;\n"
    return mlines(), files, [base, "02001_accounts_init.sql"], None


def t_file_parse(rng, files):
    files = dict(files)
    key = rng.choice(sorted(files))
    name, text, exact = mutate_file(rng, files[key])
    files[key] = text
    return mlines(), files, [key.rsplit("/", 1)[1]], exact


TREE_MUTATIONS = [
    ("unknown_top_key", t_unknown_top_key), ("unknown_module_key", t_unknown_module_key),
    ("forward_depends", t_forward_depends), ("unknown_depends", t_unknown_depends),
    ("self_depends", t_self_depends), ("bad_name", t_bad_name), ("dup_name", t_dup_name),
    ("broken_yaml", t_broken_yaml), ("bad_type", t_bad_type), ("missing_name", t_missing_name),
    ("bad_filename", t_bad_filename), ("out_of_range", t_out_of_range),
    ("dup_version", t_dup_version), ("file_parse", t_file_parse),
]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def write_tree(root, manifest_lines, files):
    write(os.path.join(root, "modules.yaml"), "\n".join(manifest_lines) + "\n")
    for rel, text in files.items():
        write(os.path.join(root, rel), text)
    for mod in ("core", "accounts", "shop"):
        os.makedirs(os.path.join(root, mod, "migrations"), exist_ok=True)


def main(argv):
    out = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else None
    seed, nfiles, ntrees = 20240605, 90, 60
    args = argv[2:]
    while args:
        opt, val = args[0], args[1]
        args = args[2:]
        if opt == "--seed":
            seed = int(val)
        elif opt == "--files":
            nfiles = int(val)
        elif opt == "--trees":
            ntrees = int(val)
        else:
            out = None
            break
    if not out:
        sys.stderr.write(__doc__)
        return 2
    rng = random.Random(seed)
    index = []
    for i, (name, text) in enumerate(sorted(TEMPLATES.items())):
        write(os.path.join(out, "valid/files/%05d_%s.sql" % (i + 1, name)), text)
    write_tree(os.path.join(out, "valid/tree"), mlines(), TREE_FILES)

    tnames = sorted(TEMPLATES)
    seen = set()
    n = 0
    for attempt in range(nfiles * 50):
        if n == nfiles:
            break
        # every mutation at least once, then at random
        only = [FILE_MUTATIONS[n][0]] if n < len(FILE_MUTATIONS) else None
        t = rng.choice(tnames)
        try:
            mut, text, exact = mutate_file(rng, TEMPLATES[t], only)
        except RuntimeError:
            continue
        if text in seen:
            continue
        seen.add(text)
        n += 1
        base = "%05d_%s.sql" % (n, t)
        path = os.path.join(out, "files", "%03d_%s" % (n, mut), base)
        write(path, text)
        index.append(("f%03d" % n, "file", mut, path, base, exact))

    n = 0
    for attempt in range(ntrees * 50):
        if n == ntrees:
            break
        name, fn = TREE_MUTATIONS[n % len(TREE_MUTATIONS)] if n < len(TREE_MUTATIONS) \
            else rng.choice(TREE_MUTATIONS)
        ls, files, blame, exact = fn(rng, dict(TREE_FILES))
        key = repr((ls, sorted(files.items())))
        if key in seen:
            continue
        seen.add(key)
        n += 1
        root = os.path.join(out, "trees", "%03d_%s" % (n, name))
        write_tree(root, ls, files)
        index.append(("t%03d" % n, "tree", name, os.path.join(root, "modules.yaml"),
                      "|".join(blame), exact))

    with open(os.path.join(out, "index.tsv"), "w") as f:
        for row in index:
            f.write("\t".join("" if v is None else str(v) for v in row) + "\n")
    print("%d mutants (%d files, %d trees), seed %d" % (len(index), nfiles, ntrees, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
