#!/usr/bin/env bash
# A service outside this tree builds against an installed modmig (DESIGN §8):
# `meson install` into a temporary root gives the headers, libmodmig,
# libmodmig-cli, modmig-embed and modmig.pc; a tiny service embeds its
# migrations with the installed modmig-embed, compiles with
# `pkg-config --cflags --libs modmig` alone, migrates itself at startup
# against the throwaway server (in production with nothing pending it gets
# the real version), and offers the CLI over the same migrations.
source "$(dirname "$0")/lib.sh"

BUILD=${MODMIG_BUILD_ROOT:-$ROOT/build}
DEST=$TMP/root
run meson install -C "$BUILD" --no-rebuild --destdir "$DEST"
expect_rc 0
PC=$(find "$DEST" -name modmig.pc | head -n 1)
PREFIX=$(sed -n 's/^prefix=//p' "$PC")
EMBED=$DEST$PREFIX/bin/modmig-embed
for f in "$PC" "$EMBED" "$DEST$PREFIX/include/modmig.h" "$DEST$PREFIX/include/modmig_cli.h" \
  "$(dirname "$PC")/../libmodmig.a" "$(dirname "$PC")/../libmodmig-cli.a"; do
  if [ -e "$f" ]; then pass; else fail "not installed: $f"; fi
done
pcflags() { PKG_CONFIG_PATH=$(dirname "$PC") pkg-config --define-variable=prefix="$DEST$PREFIX" "$@" modmig; }
run pcflags --modversion
expect_out "$("$MODMIG" --version | awk '{print $2}')"

# ---------------------------------------------------------------- the service, out of tree
SVC=$TMP/svc
mkdir -p "$SVC/migrations/core/migrations"
printf 'version_table: svc_version\nmodules:\n  - name: core\n    schema: core\n' >"$SVC/migrations/modules.yaml"
printf -- '-- +goose Up\nCREATE SCHEMA core;\nCREATE TABLE core.items (id bigint PRIMARY KEY);\n-- +goose Down\nDROP TABLE core.items;\nDROP SCHEMA core;\n' \
  >"$SVC/migrations/core/migrations/01001_core_init.sql"
cat >"$SVC/main.c" <<'C'
#include <modmig.h>
#include <modmig_cli.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const modmig_embedded_file svc_files[];
extern const size_t svc_count;

int main(int argc, char **argv)
{
	modmig_startup_options opts;
	modmig_result *result = NULL;
	modmig_error *err = NULL;

	if (argc > 1 && strcmp(argv[1], "migrate") == 0) {
		/* svc migrate status|up|...: the whole CLI over the embedded migrations */
		modmig_cli_config cfg = {svc_files, svc_count};

		return modmig_cli_main(argc - 1, argv + 1, &cfg);
	}
	modmig_startup_options_init(&opts);
	opts.policy = MODMIG_POLICY_APPLY;
	opts.files = svc_files;
	opts.file_count = svc_count;
	opts.allow_unreviewed = getenv("SVC_ALLOW") != NULL;
	if (modmig_startup(&opts, &result, &err) != MODMIG_OK) {
		char *text = modmig_error_format(err, 0);

		int code = modmig_exit_code(modmig_error_code(err));

		fputs(text ? text : "out of memory\n", stderr);
		modmig_free(text);
		modmig_error_free(err);
		modmig_result_free(result);
		return code;
	}
	printf("svc: %zu applied, at version %lld (modmig %s)\n", modmig_result_count(result),
	       (long long)modmig_result_version(result), modmig_version());
	modmig_result_free(result);
	return 0;
}
C
run "$EMBED" --modules "$SVC/migrations" --symbol svc --output "$SVC/svc_migrations.c"
expect_rc 0
# a sanitizer build's libraries need the sanitizer runtime at link time too
SAN=$(meson introspect "$BUILD" --buildoptions 2>/dev/null | python3 -c '
import json, sys
v = next((o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"), "none")
print("" if v in ("none", "") else "-fsanitize=" + v)')
[ -z "$SAN" ] && [ -n "${MODMIG_SANITIZED:-}" ] && SAN="-fsanitize=address,undefined"
run sh -c "cd '$SVC' && cc $SAN -o svc main.c svc_migrations.c \$(PKG_CONFIG_PATH='$(dirname "$PC")' pkg-config --define-variable=prefix='$DEST$PREFIX' --cflags --libs modmig)"
expect_rc 0

new_db
run env DATABASE_URL="$URL" MODMIG_ENV=production "$SVC/svc"
expect_rc 2
expect_err "refusing to apply 1 unreviewed migration in production"
run env DATABASE_URL="$URL" SVC_ALLOW=1 MODMIG_ENV=production "$SVC/svc"
expect_rc 0
expect_out "svc: 1 applied, at version 1001"
expect_sql "SELECT to_regclass('core.items') IS NOT NULL" "t"
run env DATABASE_URL="$URL" MODMIG_ENV=production "$SVC/svc"
expect_rc 0
expect_out "svc: 0 applied, at version 1001"
run env DATABASE_URL="$URL" "$SVC/svc" migrate status
expect_rc 0
expect_out "core_init"
finish
