#!/usr/bin/env bash
# Print "N passed, N failed" from meson's test log (one JSON object per test).
set -uo pipefail
log=${1:-build}/meson-logs/testlog.json
python3 - "$log" <<'PY'
import json, sys
passed = failed = skipped = 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
if failed == 0 and passed == 0:
    failed = 1  # a run that executed nothing is a failure
suffix = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{suffix}")
sys.exit(1 if failed else 0)
PY
