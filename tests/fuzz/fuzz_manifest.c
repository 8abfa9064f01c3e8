/* fuzz_manifest.c - libFuzzer target: any bytes through the manifest reader. */
#include <stddef.h>
#include <stdint.h>

#include "source/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mm_manifest manifest;
	modmig_error *err = NULL;
	modmig_status rc;

	rc = mm_manifest_parse("modules.yaml", (const char *)data, size, &manifest, &err);
	/* Success and failure must agree with the error object and the output. */
	if (rc == MODMIG_OK && (err || manifest.module_count == 0))
		__builtin_trap();
	if (rc != MODMIG_OK && (!err || manifest.modules))
		__builtin_trap();
	mm_manifest_clear(&manifest);
	modmig_error_free(err);
	return 0;
}
