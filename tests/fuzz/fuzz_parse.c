/* fuzz_parse.c - libFuzzer target for the migration parser (mm_parse). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int env_ready;
	mm_parsed parsed;
	modmig_error *err = NULL;
	modmig_status rc;
	char *copy;
	size_t i;

	/* give ENVSUB sections a known variable as well as unset ones */
	if (!env_ready) {
		setenv("MODMIG_FUZZ", "fuzz_value", 1);
		env_ready = 1;
	}
	/* an exact-size copy, so that ASan catches a read past len: no NUL is promised */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	rc = mm_parse("fuzz.sql", copy, size, &parsed, &err);
	if (rc == MODMIG_OK) {
		if (err)
			abort();
		for (i = 0; i < parsed.up.count; i++)
			if (!parsed.up.units[i].sql || parsed.up.units[i].line < 1)
				abort();
		for (i = 0; i < parsed.down.count; i++)
			if (!parsed.down.units[i].sql || parsed.down.units[i].line < 1)
				abort();
		mm_parsed_clear(&parsed);
	} else if (rc == MODMIG_E_PARSE) {
		if (!err || err->line < 1 || !err->file)
			abort(); /* every parse error names file:line */
	} else if (rc != MODMIG_E_NOMEM) {
		abort(); /* an internal error means libpg_query surprised the parser */
	}
	modmig_error_free(err);
	free(copy);
	return 0;
}
