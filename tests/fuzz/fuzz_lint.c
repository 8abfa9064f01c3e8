/*
 * fuzz_lint.c - libFuzzer target for modmig_lint: the input is one migration
 * of module billing in a fixed manifest (schemas, depends_on and a lint:
 * section that turns every rule on), linted the way `modmig lint` does. Run
 * over the parser's corpus (tests/fuzz/corpus/parse). Lint must never crash,
 * leak or report a finding without a rule, a message and a place.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modmig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char manifest[] = "lint:\n"
                               "  prefer-bigint: error\n"
                               "  prefer-identity: warning\n"
                               "  prefer-text: warning\n"
                               "  prefer-timestamptz: warning\n"
                               "modules:\n"
                               "  - name: db\n"
                               "  - name: identity\n"
                               "    schema: identity\n"
                               "  - name: organization\n"
                               "    schema: organization\n"
                               "    depends_on: [identity]\n"
                               "  - name: billing\n"
                               "    schema: billing\n"
                               "    depends_on: [organization]\n"
                               "  - name: audit\n"
                               "    schema: audit\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	modmig_embedded_file files[2];
	modmig_source *src = NULL;
	modmig_findings *f = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	unsigned char *copy;
	size_t i;

	/* an exact-size copy, so that ASan catches a read past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	files[0] = (modmig_embedded_file){"modules.yaml", (const unsigned char *)manifest,
	                                  sizeof(manifest) - 1, ""};
	files[1] = (modmig_embedded_file){"billing/migrations/04001_fuzz.sql", copy, size, ""};
	st = modmig_source_new_embedded(files, 2, &src, &err);
	if (st != MODMIG_OK)
		abort(); /* the manifest is fixed and good; files are read lazily */
	st = modmig_lint(src, NULL, &f, &err);
	if (st == MODMIG_OK || st == MODMIG_E_CHECK) {
		for (i = 0; i < modmig_findings_count(f); i++) {
			const modmig_finding *x = modmig_findings_at(f, i);

			if (!x->rule || !x->message || !x->file || x->line < 1 || x->column < 1 ||
			    x->kind != MODMIG_FINDING_LINT)
				abort();
		}
		/* exit 3 exactly when some finding is an error */
		for (i = 0; i < modmig_findings_count(f); i++)
			if (modmig_findings_at(f, i)->severity == MODMIG_SEVERITY_ERROR)
				break;
		if ((st == MODMIG_E_CHECK) != (i < modmig_findings_count(f)))
			abort();
	} else if (st != MODMIG_E_PARSE && st != MODMIG_E_NOMEM) {
		abort(); /* lint fails only where validate does */
	}
	modmig_findings_free(f);
	modmig_error_free(err);
	modmig_source_free(src);
	free(copy);
	return 0;
}
