#!/usr/bin/env bash
# Configure a meson build directory, or reconfigure it when the list of source
# and test files changed (meson.build finds them by name).
#   tests/configure.sh BUILD_DIR [MESON_OPTIONS...]
set -euo pipefail
build=$1; shift
cd "$(dirname "$0")/.."
list=$(ls runner/lib/*/*.c runner/cli/*.c tests/unit/test_*.c tests/integration/t_*.sh 2>/dev/null | md5sum | cut -d' ' -f1)
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$@" >/dev/null || meson setup "$build" "$@"
elif [ "$(cat "$build/.modmig-files" 2>/dev/null)" != "$list" ] || [ $# -gt 0 ]; then
  meson setup --reconfigure "$build" "$@" >/dev/null || meson setup --reconfigure "$build" "$@"
fi
echo "$list" > "$build/.modmig-files"
