/*
 * test_embed.c - the generated embedded_modules.c against the tree it came
 * from. Linked with the build's real generated file rather than a fixture, so
 * it catches a generator that drops, reorders or mangles files.
 *
 * Runs with the source root as working directory (workdir in meson).
 */
#include "modmig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <glob.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const modmig_embedded_file modmig_bundled_files[];
extern const size_t modmig_bundled_count;

static unsigned char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto cleanup;
	/* +1 so an empty file still yields a non-NULL buffer. */
	buf = malloc((size_t)len + 1);
	if (!buf)
		goto cleanup;
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
		goto cleanup;
	}
	*size = (size_t)len;
cleanup:
	fclose(f);
	return buf;
}

/* An independent hash of the disk bytes, through OpenSSL's streaming API. */
static void sha256_hex(const unsigned char *data, size_t size, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, data, size), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &len), 1);
	EVP_MD_CTX_free(ctx);
	assert_int_equal(len, 32);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_every_file_matches_disk(void **state)
{
	(void)state;
	assert_true(modmig_bundled_count > 1);
	for (size_t i = 0; i < modmig_bundled_count; i++) {
		const modmig_embedded_file *f = &modmig_bundled_files[i];
		char path[4096];
		char hex[65];
		unsigned char *disk;
		size_t size = 0;

		snprintf(path, sizeof(path), "modules/%s", f->path);
		disk = slurp(path, &size);
		if (!disk)
			fail_msg("embedded %s has no file on disk", f->path);
		assert_int_equal(f->size, size);
		assert_memory_equal(f->data, disk, size);
		sha256_hex(disk, size, hex);
		assert_string_equal(f->sha256, hex);
		free(disk);
	}
}

static void test_manifest_first_and_paths_sorted(void **state)
{
	(void)state;
	assert_string_equal(modmig_bundled_files[0].path, "modules.yaml");
	for (size_t i = 2; i < modmig_bundled_count; i++)
		assert_true(strcmp(modmig_bundled_files[i - 1].path, modmig_bundled_files[i].path) <
		            0);
	for (size_t i = 1; i < modmig_bundled_count; i++)
		assert_non_null(strstr(modmig_bundled_files[i].path, "/migrations/"));
}

static void test_count_matches_tree(void **state)
{
	glob_t g;

	(void)state;
	assert_int_equal(glob("modules/*/migrations/*.sql", 0, NULL, &g), 0);
	assert_int_equal(modmig_bundled_count, g.gl_pathc + 1);
	/* Every file on disk is embedded, not just the right number of them. */
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *rel = g.gl_pathv[i] + strlen("modules/");
		bool found = false;

		for (size_t j = 0; j < modmig_bundled_count && !found; j++)
			found = strcmp(modmig_bundled_files[j].path, rel) == 0;
		if (!found)
			fail_msg("%s is not embedded", g.gl_pathv[i]);
	}
	globfree(&g);
}

/* The embedded set must be usable as a source: the manifest parses and every
 * migration lands in its module's range. */
static void test_embedded_source_loads(void **state)
{
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	modmig_status rc;

	(void)state;
	rc = modmig_source_new_embedded(modmig_bundled_files, modmig_bundled_count, &src, &err);
	if (rc != MODMIG_OK)
		fail_msg("embedded source: %s", modmig_error_message(err));
	assert_int_equal(modmig_source_module_count(src), 10);
	assert_int_equal(modmig_source_migration_count(src), modmig_bundled_count - 1);
	modmig_source_free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_file_matches_disk),
	        cmocka_unit_test(test_manifest_first_and_paths_sorted),
	        cmocka_unit_test(test_count_matches_tree),
	        cmocka_unit_test(test_embedded_source_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
