/*
 * test_create.c - goose's create and fix for --dir sources: which versions
 * are timestamps, which names goose writes unchanged, and a fix that fails
 * part-way undoes what it renamed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/source.h"

static char root[64];

static void touch(const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("-- +goose Up\nSELECT 1;\n", f);
	fclose(f);
}

static bool exists(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	return stat(path, &st) == 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/mm_create_XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* Go's time.Parse("20060102150405", ...) decides, as goose's fix does. */
static void test_version_kinds(void **state)
{
	(void)state;
	assert_int_equal(mm_version_kind_of(20240105093000), MM_VERSION_TIMESTAMP);
	assert_int_equal(mm_version_kind_of(20240229235959), MM_VERSION_TIMESTAMP); /* leap */
	assert_int_equal(mm_version_kind_of(19700101000001), MM_VERSION_TIMESTAMP);
	assert_int_equal(mm_version_kind_of(19700101000000), MM_VERSION_EPOCH);
	assert_int_equal(mm_version_kind_of(1), MM_VERSION_SEQUENTIAL);
	assert_int_equal(mm_version_kind_of(99999), MM_VERSION_SEQUENTIAL);
	assert_int_equal(mm_version_kind_of(2024010509300), MM_VERSION_SEQUENTIAL);   /* 13 */
	assert_int_equal(mm_version_kind_of(202401050930000), MM_VERSION_SEQUENTIAL); /* 15 */
	assert_int_equal(mm_version_kind_of(20230229120000), MM_VERSION_SEQUENTIAL);  /* no 29th */
	assert_int_equal(mm_version_kind_of(21000229120000), MM_VERSION_SEQUENTIAL);  /* 2100 */
	assert_int_equal(mm_version_kind_of(20240431120000), MM_VERSION_SEQUENTIAL);
	assert_int_equal(mm_version_kind_of(20241301120000), MM_VERSION_SEQUENTIAL);
	assert_int_equal(mm_version_kind_of(20240105243000), MM_VERSION_SEQUENTIAL);
	assert_int_equal(mm_version_kind_of(20240105096000), MM_VERSION_SEQUENTIAL);
	assert_int_equal(mm_version_kind_of(20240105093060), MM_VERSION_SEQUENTIAL);
	assert_int_equal(mm_version_kind_of(19691231235959), MM_VERSION_SEQUENTIAL); /* < 1970 */
}

/* A name is taken when goose's snake_case leaves it as it is. */
static void test_names(void **state)
{
	static const char *const good[] = {"add_users", "a1", "x_", "v2_add_index", "123"};
	static const char *const bad[] = {"AddUsers", "add-users", "add__users",  "_x", "",
	                                  "a b",      "../x",      "caf\xc3\xa9", "x__"};
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	char *path = NULL;

	(void)state;
	assert_int_equal(modmig_source_new_dir(root, NULL, &src, &err), MODMIG_OK);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(modmig_create_dir_migration(src, good[i], true, &path, &err),
		                 MODMIG_OK);
		assert_non_null(strstr(path, good[i]));
		unlink(path);
		modmig_free(path);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(modmig_create_dir_migration(src, bad[i], true, &path, &err),
		                 MODMIG_E_USAGE);
		assert_null(path);
		modmig_error_free(err);
		err = NULL;
	}
	modmig_source_free(src);
}

/* A rename that fails after others succeeded undoes them: nothing half-done. */
static void test_fix_undoes(void **state)
{
	modmig_source manifest;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	char gone[256];

	(void)state;
	touch("00001_a.sql");
	touch("20240105093000_b.sql");
	touch("20240106093000_c.sql");
	assert_int_equal(modmig_source_new_dir(root, NULL, &src, &err), MODMIG_OK);
	/* c vanishes after the directory was read: its rename fails, b's is undone */
	snprintf(gone, sizeof(gone), "%s/20240106093000_c.sql", root);
	assert_int_equal(unlink(gone), 0);
	assert_int_equal(modmig_fix_dir(src, false, NULL, NULL, &err), MODMIG_E_IO);
	assert_non_null(strstr(modmig_error_hint(err), "nothing was renamed"));
	assert_true(exists("20240105093000_b.sql"));
	assert_false(exists("00002_b.sql"));
	modmig_error_free(err);
	modmig_source_free(src);

	/* a source that is no goose directory (a manifest's) is refused */
	memset(&manifest, 0, sizeof(manifest));
	err = NULL;
	assert_int_equal(modmig_fix_dir(&manifest, true, NULL, NULL, &err), MODMIG_E_USAGE);
	assert_non_null(strstr(modmig_error_message(err), "plain goose directory"));
	modmig_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_version_kinds),
	        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fix_undoes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
