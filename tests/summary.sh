#!/usr/bin/env bash
# Print "N passed, N failed" from meson's test logs (one JSON object per test).
#
#   tests/summary.sh BUILD [VERSION...]
#
# make test writes one log per server version (meson-logs/testlog-pgV.json).
# With versions, one line per version ("PostgreSQL V: ..."; a version without
# a log, e.g. its server could not be installed, counts as one failure), then
# the total. Without, every testlog-pg*.json there is (or testlog.json).
# The last line is the total; exit 1 if anything failed or nothing ran.
set -uo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
python3 - "$build/meson-logs" "$@" <<'PY'
import glob, json, os, re, sys
logdir, versions = sys.argv[1], sys.argv[2:]
if versions:
    runs = [(v, os.path.join(logdir, f"testlog-pg{v}.json")) for v in versions]
else:
    found = sorted(glob.glob(os.path.join(logdir, "testlog-pg*.json")),
                   key=lambda p: int(re.sub(r"\D", "", os.path.basename(p)) or 0))
    runs = [(re.sub(r"^testlog-pg|\.json$", "", os.path.basename(p)), p) for p in found]
    if not runs:
        runs = [(None, os.path.join(logdir, "testlog.json"))]
total = [0, 0, 0]
for version, path in runs:
    p = f = s = 0
    try:
        lines = open(path).read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
        else:
            f += 1
    if p == 0 and f == 0:
        f = 1  # a run that executed nothing is a failure
    total = [total[0] + p, total[1] + f, total[2] + s]
    if version is not None:
        print(f"PostgreSQL {version}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
suffix = f", {total[2]} skipped" if total[2] else ""
print(f"{total[0]} passed, {total[1]} failed{suffix}")
sys.exit(1 if total[1] else 0)
PY
