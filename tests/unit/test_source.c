/* test_source.c - sources on disk, embedded and --dir: versions, order, create. */
/* nftw() for removing the temporary trees. */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/source.h"

static const char template_sql[] = "-- +goose Up\n"
                                   "-- +goose StatementBegin\n"
                                   "SELECT 'up SQL query';\n"
                                   "-- +goose StatementEnd\n"
                                   "\n"
                                   "-- +goose Down\n"
                                   "-- +goose StatementBegin\n"
                                   "SELECT 'down SQL query';\n"
                                   "-- +goose StatementEnd\n";

static const char simple_sql[] = "-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n";

static const char three_modules[] = "modules:\n"
                                    "  - name: db\n"
                                    "  - name: identity\n"
                                    "    schema: identity\n"
                                    "    depends_on: [db]\n"
                                    "  - name: billing\n"
                                    "    schema: billing\n";

typedef struct tree {
	char root[64]; /* a short mkdtemp path keeps every joined path well under PATH_MAX */
	char manifest[PATH_MAX];
} tree;

static void write_file(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];
	char *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		assert_true(mkdir(path, 0777) == 0 || errno == EEXIST);
		*p = '/';
	}
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int tree_setup(void **state)
{
	tree *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->root, sizeof(t->root), "/tmp/modmig-test-XXXXXX");
	if (!mkdtemp(t->root))
		return -1;
	snprintf(t->manifest, sizeof(t->manifest), "%s/modules.yaml", t->root);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	tree *t = *state;

	nftw(t->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* Load a manifest source that must fail; return its error for inspection. */
static modmig_error *load_error(const tree *t, modmig_status expect)
{
	modmig_source *src = NULL;
	modmig_error *err = NULL;

	assert_int_equal(modmig_source_new_manifest(t->manifest, &src, &err), expect);
	assert_null(src);
	assert_non_null(err);
	assert_int_equal(modmig_error_code(err), expect);
	return err;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!haystack || !strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack ? haystack : "(null)", needle);
}

static void test_merged_order(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	const modmig_migration *m;
	char expect_file[PATH_MAX];
	char sha[65];
	static const int64_t order[] = {1001, 1002, 2001, 2002, 3001};
	size_t i;

	write_file(t->root, "modules.yaml", three_modules);
	write_file(t->root, "identity/migrations/02001_identity_init.sql", template_sql);
	write_file(t->root, "db/migrations/01002_extensions.sql", simple_sql);
	write_file(t->root, "db/migrations/1001_db_init.sql", simple_sql);
	write_file(t->root, "billing/migrations/03001_billing_init.sql", simple_sql);
	write_file(t->root, "identity/migrations/2002_emails.sql", simple_sql);
	write_file(t->root, "identity/migrations/README.md", "not a migration\n");
	write_file(t->root, "identity/migrations/02003_draft.sql.bak", "junk\n");

	assert_int_equal(modmig_source_new_manifest(t->manifest, &src, &err), MODMIG_OK);
	assert_null(err);
	assert_false(modmig_source_is_dir(src));
	assert_string_equal(modmig_source_origin(src), t->manifest);
	assert_string_equal(modmig_source_version_table(src), "goose_db_version");
	assert_int_equal(modmig_source_module_count(src), 3);
	assert_string_equal(modmig_module_name(modmig_source_module_at(src, 1)), "identity");
	assert_null(modmig_source_module_at(src, 3));
	assert_int_equal(modmig_module_depends_count(modmig_source_find_module(src, "identity")),
	                 1);
	assert_string_equal(modmig_module_depends_at(modmig_source_find_module(src, "identity"), 0),
	                    "db");
	assert_null(modmig_source_find_module(src, "nope"));
	assert_int_equal(modmig_module_first_version(modmig_source_find_module(src, "billing")),
	                 3001);
	assert_int_equal(modmig_module_last_version(modmig_source_find_module(src, "billing")),
	                 3999);

	assert_int_equal(modmig_source_migration_count(src), 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(modmig_migration_version(modmig_source_migration_at(src, i)),
		                 order[i]);
	assert_null(modmig_source_migration_at(src, 5));

	m = modmig_source_find(src, 2001);
	assert_non_null(m);
	assert_string_equal(modmig_migration_name(m), "identity_init");
	assert_string_equal(modmig_module_name(modmig_migration_module(m)), "identity");
	snprintf(expect_file, sizeof(expect_file), "%s/identity/migrations/02001_identity_init.sql",
	         t->root);
	assert_string_equal(modmig_migration_file(m), expect_file);
	mm_sha256_hex(template_sql, strlen(template_sql), sha);
	assert_string_equal(modmig_migration_sha256(m), sha);
	assert_null(modmig_source_find(src, 2003));
	assert_null(modmig_source_find(src, 0));
	assert_int_equal(modmig_migration_version(modmig_source_find(src, 1001)), 1001);
	assert_int_equal(modmig_migration_version(modmig_source_find(src, 3001)), 3001);

	/* Loading parses nothing; parsing fills in the units. */
	assert_int_equal(modmig_migration_unit_count(m, MODMIG_UP), 0);
	assert_null(modmig_migration_unit_sql(m, MODMIG_UP, 0));
	assert_false(modmig_migration_has_down(m));
	assert_int_equal(modmig_source_parse(src, &err), MODMIG_OK);
	assert_int_equal(modmig_migration_unit_count(m, MODMIG_UP), 1);
	assert_int_equal(modmig_migration_unit_count(m, MODMIG_DOWN), 1);
	assert_true(modmig_migration_has_down(m));
	assert_false(modmig_migration_no_transaction(m));
	assert_non_null(modmig_migration_unit_sql(m, MODMIG_UP, 0));
	assert_int_equal(modmig_migration_unit_line(m, MODMIG_UP, 0), 3);
	assert_null(modmig_migration_lock_timeout(m));
	assert_null(modmig_migration_statement_timeout(m));
	modmig_source_free(src);
}

static void test_relative_display_paths(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	char cwd[PATH_MAX];

	write_file(t->root, "modules/modules.yaml", three_modules);
	write_file(t->root, "modules/identity/migrations/02001_identity_init.sql", simple_sql);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(t->root), 0);
	assert_int_equal(modmig_source_new_manifest("modules/modules.yaml", &src, &err), MODMIG_OK);
	assert_string_equal(modmig_migration_file(modmig_source_migration_at(src, 0)),
	                    "modules/identity/migrations/02001_identity_init.sql");
	modmig_source_free(src);
	assert_int_equal(chdir(t->root), 0);
	assert_int_equal(chdir("modules"), 0);
	assert_int_equal(modmig_source_new_manifest("modules.yaml", &src, &err), MODMIG_OK);
	assert_string_equal(modmig_migration_file(modmig_source_migration_at(src, 0)),
	                    "identity/migrations/02001_identity_init.sql");
	modmig_source_free(src);
	assert_int_equal(chdir(cwd), 0);
}

static void test_duplicate_leading_zero(void **state)
{
	tree *t = *state;
	modmig_error *err;

	write_file(t->root, "modules.yaml", three_modules);
	write_file(t->root, "identity/migrations/2001_a.sql", simple_sql);
	write_file(t->root, "identity/migrations/02001_b.sql", simple_sql);
	err = load_error(t, MODMIG_E_VERSION);
	assert_contains(modmig_error_message(err), "duplicate version 2001");
	assert_contains(modmig_error_message(err), "02001_b.sql");
	assert_contains(modmig_error_message(err), "2001_a.sql");
	assert_contains(modmig_error_file(err), "identity/migrations/");
	assert_non_null(modmig_error_hint(err));
	modmig_error_free(err);
}

static void test_out_of_range(void **state)
{
	tree *t = *state;
	modmig_error *err;

	write_file(t->root, "modules.yaml", three_modules);
	write_file(t->root, "identity/migrations/03001_wrong_module.sql", simple_sql);
	err = load_error(t, MODMIG_E_VERSION);
	assert_contains(modmig_error_message(err), "version 3001 is outside module identity's "
	                                           "range 2001..2999");
	assert_contains(modmig_error_file(err), "identity/migrations/03001_wrong_module.sql");
	modmig_error_free(err);
}

static void test_range_edges(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;

	write_file(t->root, "modules.yaml", three_modules);
	write_file(t->root, "db/migrations/01999_last.sql", simple_sql);
	write_file(t->root, "db/migrations/01001_first.sql", simple_sql);
	assert_int_equal(modmig_source_new_manifest(t->manifest, &src, &err), MODMIG_OK);
	assert_int_equal(modmig_source_migration_count(src), 2);
	modmig_source_free(src);

	write_file(t->root, "db/migrations/01000_below.sql", simple_sql);
	err = load_error(t, MODMIG_E_VERSION);
	assert_contains(modmig_error_message(err), "outside module db's range 1001..1999");
	modmig_error_free(err);
}

static void test_too_many(void **state)
{
	tree *t = *state;
	modmig_error *err;
	char rel[64];
	int v;

	write_file(t->root, "modules.yaml", three_modules);
	for (v = 1001; v <= 1999; v++) {
		snprintf(rel, sizeof(rel), "db/migrations/%05d_m.sql", v);
		write_file(t->root, rel, simple_sql);
	}
	write_file(t->root, "db/migrations/1001_again.sql", simple_sql);
	err = load_error(t, MODMIG_E_VERSION);
	assert_contains(modmig_error_message(err), "module db has 1000 migrations, more than the "
	                                           "999");
	modmig_error_free(err);
}

static void test_bad_names(void **state)
{
	static const char *const names[] = {
	        "02001.sql",   "identity_init.sql", "02001_.sql", "+2001_plus.sql",
	        "2x001_a.sql", "_2001_a.sql",       "0_zero.sql", "99999999999999999999_big.sql"};
	tree *t = *state;
	modmig_error *err;
	char rel[128];
	char other[PATH_MAX];
	size_t i;

	write_file(t->root, "modules.yaml", three_modules);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(rel, sizeof(rel), "identity/migrations/%s", names[i]);
		write_file(t->root, rel, simple_sql);
		err = load_error(t, MODMIG_E_VERSION);
		assert_contains(modmig_error_message(err), "bad migration file name");
		assert_contains(modmig_error_message(err), names[i]);
		assert_contains(modmig_error_file(err), rel);
		modmig_error_free(err);
		snprintf(other, sizeof(other), "%s/%s", t->root, rel);
		assert_int_equal(unlink(other), 0);
	}
}

static void test_stray_module_directory(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err;

	write_file(t->root, "modules.yaml", three_modules);
	write_file(t->root, "ghost/README.md", "no migrations dir: fine\n");
	assert_int_equal(modmig_source_new_manifest(t->manifest, &src, &err), MODMIG_OK);
	modmig_source_free(src);

	write_file(t->root, "ghost/migrations/09001_boo.sql", simple_sql);
	err = load_error(t, MODMIG_E_VERSION);
	assert_contains(modmig_error_message(err), "module 'ghost', which is not in the manifest");
	assert_contains(modmig_error_file(err), "ghost/migrations/09001_boo.sql");
	modmig_error_free(err);
}

static void test_manifest_errors_pass_through(void **state)
{
	tree *t = *state;
	modmig_error *err;

	write_file(t->root, "modules.yaml", "modules:\n  - name: db\n    colour: red\n");
	err = load_error(t, MODMIG_E_MANIFEST);
	assert_string_equal(modmig_error_file(err), t->manifest);
	assert_int_equal(modmig_error_line(err), 3);
	assert_int_equal(modmig_error_column(err), 5);
	modmig_error_free(err);

	assert_int_equal(unlink(t->manifest), 0);
	err = load_error(t, MODMIG_E_NOT_FOUND);
	modmig_error_free(err);
}

static void test_dir_mode(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	const modmig_migration *m;

	write_file(t->root, "20230101120000_add_index.sql", simple_sql);
	write_file(t->root, "1_init.sql", simple_sql);
	write_file(t->root, "00002_users.sql", simple_sql);
	write_file(t->root, "3_.sql", simple_sql);
	write_file(t->root, "notes.txt", "ignored\n");
	write_file(t->root, "helper.go", "package x\n");

	assert_int_equal(modmig_source_new_dir(t->root, NULL, &src, &err), MODMIG_OK);
	assert_null(err);
	assert_true(modmig_source_is_dir(src));
	assert_string_equal(modmig_source_origin(src), t->root);
	assert_string_equal(modmig_source_version_table(src), "goose_db_version");
	assert_int_equal(modmig_source_module_count(src), 0);
	assert_int_equal(modmig_source_migration_count(src), 4);
	assert_int_equal(modmig_migration_version(modmig_source_migration_at(src, 0)), 1);
	assert_int_equal(modmig_migration_version(modmig_source_migration_at(src, 1)), 2);
	assert_int_equal(modmig_migration_version(modmig_source_migration_at(src, 2)), 3);
	m = modmig_source_migration_at(src, 3);
	assert_int_equal(modmig_migration_version(m), INT64_C(20230101120000));
	assert_string_equal(modmig_migration_name(m), "add_index");
	assert_null(modmig_migration_module(m));
	assert_string_equal(modmig_migration_name(modmig_source_migration_at(src, 2)), "");
	modmig_source_free(src);

	assert_int_equal(modmig_source_new_dir(t->root, "ops.versions", &src, &err), MODMIG_OK);
	assert_string_equal(modmig_source_version_table(src), "ops.versions");
	modmig_source_free(src);

	/* goose reads "+4" with strconv.ParseInt, so a leading plus is a version. */
	write_file(t->root, "+4_plus.sql", simple_sql);
	assert_int_equal(modmig_source_new_dir(t->root, NULL, &src, &err), MODMIG_OK);
	assert_int_equal(modmig_migration_version(modmig_source_migration_at(src, 3)), 4);
	modmig_source_free(src);
}

/*
 * Loading reads no file contents: a file is read and hashed on first use, so
 * status on thousands of files stays cheap. A file that vanished by then is
 * an error naming it, never an empty migration.
 */
static void test_contents_load_on_first_use(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	const modmig_migration *first, *second;
	char want[65], path[PATH_MAX];

	write_file(t->root, "00001_a.sql", simple_sql);
	write_file(t->root, "00002_b.sql", template_sql);
	assert_int_equal(modmig_source_new_dir(t->root, NULL, &src, &err), MODMIG_OK);
	first = modmig_source_migration_at(src, 0);
	second = modmig_source_migration_at(src, 1);
	assert_false(first->loaded);
	assert_false(second->loaded);

	mm_sha256_hex(simple_sql, strlen(simple_sql), want);
	assert_string_equal(modmig_migration_sha256(first), want);
	assert_true(first->loaded);
	assert_false(second->loaded);

	snprintf(path, sizeof(path), "%s/00002_b.sql", t->root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(modmig_source_parse(src, &err), MODMIG_E_NOT_FOUND);
	assert_non_null(err);
	assert_string_equal(modmig_error_file(err), path);
	assert_int_equal(modmig_error_version(err), 2);
	assert_int_equal(modmig_migration_unit_count(first, MODMIG_UP), 1);
	assert_string_equal(modmig_migration_sha256(second), "");
	modmig_error_free(err);
	modmig_source_free(src);
}

/* modmig_source_parse() must fail with exactly this error at path:1. */
static void parse_refuses(modmig_source *src, const char *path, const char *message)
{
	modmig_error *err = NULL;

	/* today's failure was a hang: a FIFO waited for a writer forever */
	alarm(10);
	assert_int_equal(modmig_source_parse(src, &err), MODMIG_E_PARSE);
	alarm(0);
	assert_non_null(err);
	assert_string_equal(modmig_error_file(err), path);
	assert_int_equal(modmig_error_line(err), 1);
	assert_string_equal(modmig_error_message(err), message);
	assert_non_null(modmig_error_hint(err));
	assert_string_equal(modmig_migration_sha256(modmig_source_find(src, 2)), "");
	modmig_error_free(err);
}

/*
 * DESIGN §3: only regular files are read. A FIFO hung validate and up (up
 * holding the lock); a link to /dev/zero was read until memory ran out. A
 * symbolic link to a regular file is fine: real projects share files so.
 */
static void test_only_regular_files(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	char path[PATH_MAX], target[PATH_MAX], want[65];

	write_file(t->root, "g/00001_a.sql", simple_sql);
	snprintf(path, sizeof(path), "%s/g/00002_b.sql", t->root);
	snprintf(target, sizeof(target), "%s/g", t->root);

	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(modmig_source_new_dir(target, NULL, &src, &err), MODMIG_OK);
	parse_refuses(src, path, "not a regular file (a FIFO)");
	modmig_source_free(src);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(symlink("/dev/zero", path), 0);
	assert_int_equal(modmig_source_new_dir(target, NULL, &src, &err), MODMIG_OK);
	parse_refuses(src, path, "not a regular file (a character device)");
	modmig_source_free(src);
	assert_int_equal(unlink(path), 0);

	/* a link to a regular file outside the directory is read through */
	write_file(t->root, "shared/b.sql", template_sql);
	snprintf(target, sizeof(target), "%s/shared/b.sql", t->root);
	assert_int_equal(symlink(target, path), 0);
	snprintf(target, sizeof(target), "%s/g", t->root);
	assert_int_equal(modmig_source_new_dir(target, NULL, &src, &err), MODMIG_OK);
	assert_int_equal(modmig_source_parse(src, &err), MODMIG_OK);
	mm_sha256_hex(template_sql, strlen(template_sql), want);
	assert_string_equal(modmig_migration_sha256(modmig_source_find(src, 2)), want);
	assert_int_equal(modmig_migration_unit_count(modmig_source_find(src, 2), MODMIG_UP), 1);
	modmig_source_free(src);

	/* the manifest is read the same way */
	snprintf(path, sizeof(path), "%s/fifo.yaml", t->root);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(modmig_source_new_manifest(path, &src, &err), MODMIG_E_PARSE);
	alarm(0);
	assert_null(src);
	assert_string_equal(modmig_error_message(err), "not a regular file (a FIFO)");
	assert_int_equal(modmig_error_line(err), 1);
	modmig_error_free(err);
}

/*
 * A file over the size limit (16 MiB unless raised) is refused before it is
 * read; raising the limit on the source, or for one file, accepts it.
 */
static void test_size_limit(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_migration *m = NULL;
	modmig_error *err = NULL;
	char path[PATH_MAX], dir[PATH_MAX], *big;
	size_t size = strlen(simple_sql);
	FILE *f;

	write_file(t->root, "g/00001_a.sql", "-- +goose Up\n");
	write_file(t->root, "g/00002_b.sql", simple_sql);
	snprintf(dir, sizeof(dir), "%s/g", t->root);
	snprintf(path, sizeof(path), "%s/g/00002_b.sql", t->root);

	assert_int_equal(modmig_source_new_dir(dir, NULL, &src, &err), MODMIG_OK);
	modmig_source_set_max_file_size(src, size - 1);
	parse_refuses(src, path, "file is 48 bytes, over the size limit of 47 bytes");
	/* exactly at the limit is fine, and a limit set after a failure still applies */
	modmig_source_set_max_file_size(src, size);
	assert_int_equal(modmig_source_parse(src, &err), MODMIG_OK);
	modmig_source_free(src);

	assert_int_equal(modmig_migration_parse_file_limit(path, 10, &m, &err), MODMIG_E_PARSE);
	assert_null(m);
	assert_string_equal(modmig_error_message(err),
	                    "file is 48 bytes, over the size limit of 10 bytes");
	/* a library hint names no flag: the next step lets each client word it */
	assert_int_equal(modmig_error_next_step(err), MODMIG_NEXT_RAISE_MAX_FILE_SIZE);
	assert_null(strstr(modmig_error_hint(err), "--"));
	modmig_error_free(err);
	err = NULL;
	assert_int_equal(modmig_migration_parse_file_limit(path, 48, &m, &err), MODMIG_OK);
	modmig_migration_free(m);

	/* the default: 16 MiB and one byte is too much, 0 restores it */
	big = malloc((16u << 20) + 1);
	assert_non_null(big);
	memset(big, ' ', (16u << 20) + 1);
	memcpy(big, simple_sql, size);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, (16u << 20) + 1, f), (16u << 20) + 1);
	fclose(f);
	free(big);
	assert_int_equal(modmig_source_new_dir(dir, NULL, &src, &err), MODMIG_OK);
	parse_refuses(src, path, "file is 16777217 bytes, over the size limit of 16 MiB");
	modmig_source_set_max_file_size(src, 17u << 20);
	assert_int_equal(modmig_source_parse(src, &err), MODMIG_OK);
	modmig_source_set_max_file_size(src, 0);
	modmig_source_free(src);
	assert_int_equal(modmig_migration_parse_file(path, &m, &err), MODMIG_E_PARSE);
	assert_string_equal(modmig_error_message(err),
	                    "file is 16777217 bytes, over the size limit of 16 MiB");
	modmig_error_free(err);
}

static void test_dir_mode_errors(void **state)
{
	static const char *const bad[] = {"nounderscore.sql", "v1_init.sql", "0_zero.sql",
	                                  "-5_negative.sql", "99999999999999999999_overflow.sql"};
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(t->root, bad[i], simple_sql);
		err = NULL;
		assert_int_equal(modmig_source_new_dir(t->root, NULL, &src, &err),
		                 MODMIG_E_VERSION);
		assert_null(src);
		assert_contains(modmig_error_message(err), bad[i]);
		modmig_error_free(err);
		snprintf(path, sizeof(path), "%s/%s", t->root, bad[i]);
		assert_int_equal(unlink(path), 0);
	}

	write_file(t->root, "1_a.sql", simple_sql);
	write_file(t->root, "001_b.sql", simple_sql);
	err = NULL;
	assert_int_equal(modmig_source_new_dir(t->root, NULL, &src, &err), MODMIG_E_VERSION);
	assert_contains(modmig_error_message(err), "duplicate version 1");
	modmig_error_free(err);

	err = NULL;
	assert_int_equal(modmig_source_new_dir("/nonexistent/modmig", NULL, &src, &err),
	                 MODMIG_E_NOT_FOUND);
	modmig_error_free(err);

	err = NULL;
	assert_int_equal(modmig_source_new_dir(t->root, "a.b.c", &src, &err), MODMIG_E_USAGE);
	modmig_error_free(err);
}

static const char fake_sha[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#define FILE_ENTRY(p, text, sha)                                                                   \
	{                                                                                          \
		p, (const unsigned char *)(text), sizeof(text) - 1, sha                            \
	}

static void test_embedded(void **state)
{
	static const char manifest[] = "version_table: app.goose_db_version\n"
	                               "modules:\n  - name: db\n  - name: identity\n";
	const modmig_embedded_file files[] = {
	        FILE_ENTRY("modules.yaml", manifest, NULL),
	        FILE_ENTRY("identity/migrations/02001_identity_init.sql", template_sql, fake_sha),
	        FILE_ENTRY("db/migrations/01001_db_init.sql", simple_sql, NULL),
	        FILE_ENTRY("db/README.md", "docs", NULL),
	};
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	const modmig_migration *m;
	char sha[65];

	(void)state;
	assert_int_equal(modmig_source_new_embedded(files, 4, &src, &err), MODMIG_OK);
	assert_string_equal(modmig_source_origin(src), "(embedded)");
	assert_string_equal(modmig_source_version_table(src), "app.goose_db_version");
	assert_int_equal(modmig_source_migration_count(src), 2);
	m = modmig_source_migration_at(src, 0);
	assert_int_equal(modmig_migration_version(m), 1001);
	assert_string_equal(modmig_migration_file(m), "modules/db/migrations/01001_db_init.sql");
	mm_sha256_hex(simple_sql, strlen(simple_sql), sha);
	assert_string_equal(modmig_migration_sha256(m), sha);
	m = modmig_source_migration_at(src, 1);
	assert_string_equal(modmig_migration_file(m),
	                    "modules/identity/migrations/02001_identity_init.sql");
	/* The generator's precomputed hash is trusted, not recomputed. */
	assert_string_equal(modmig_migration_sha256(m), fake_sha);
	assert_int_equal(modmig_migration_unit_count(m, MODMIG_UP), 0);
	assert_int_equal(modmig_source_parse(src, &err), MODMIG_OK);
	assert_int_equal(modmig_migration_unit_count(m, MODMIG_UP), 1);
	modmig_source_free(src);
}

static void test_embedded_errors(void **state)
{
	static const char manifest[] = "modules:\n  - name: db\n";
	const modmig_embedded_file stray[] = {
	        FILE_ENTRY("modules.yaml", manifest, NULL),
	        FILE_ENTRY("ghost/migrations/02001_x.sql", simple_sql, NULL),
	};
	const modmig_embedded_file bad_manifest[] = {
	        FILE_ENTRY("modules.yaml", "modules: []\n", NULL),
	};
	const modmig_embedded_file out_of_range[] = {
	        FILE_ENTRY("modules.yaml", manifest, NULL),
	        FILE_ENTRY("db/migrations/02001_x.sql", simple_sql, NULL),
	};
	modmig_source *src = NULL;
	modmig_error *err = NULL;

	(void)state;
	assert_int_equal(modmig_source_new_embedded(stray, 2, &src, &err), MODMIG_E_VERSION);
	assert_null(src);
	assert_string_equal(modmig_error_file(err), "modules/ghost/migrations/02001_x.sql");
	assert_contains(modmig_error_message(err), "not in the manifest");
	modmig_error_free(err);

	err = NULL;
	assert_int_equal(modmig_source_new_embedded(bad_manifest, 1, &src, &err),
	                 MODMIG_E_MANIFEST);
	assert_string_equal(modmig_error_file(err), "modules/modules.yaml");
	assert_int_equal(modmig_error_line(err), 1);
	modmig_error_free(err);

	err = NULL;
	assert_int_equal(modmig_source_new_embedded(out_of_range, 2, &src, &err), MODMIG_E_VERSION);
	assert_contains(modmig_error_message(err), "outside module db's range 1001..1999");
	modmig_error_free(err);

	err = NULL;
	assert_int_equal(modmig_source_new_embedded(out_of_range + 1, 1, &src, &err),
	                 MODMIG_E_MANIFEST);
	assert_contains(modmig_error_message(err), "no modules.yaml");
	modmig_error_free(err);
}

static void test_parse_errors_name_the_file(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;

	write_file(t->root, "modules.yaml", three_modules);
	write_file(t->root, "db/migrations/01001_ok.sql", simple_sql);
	write_file(t->root, "identity/migrations/02001_broken.sql", "SELECT 1;\n");
	assert_int_equal(modmig_source_new_manifest(t->manifest, &src, &err), MODMIG_OK);
	assert_int_equal(modmig_source_parse(src, &err), MODMIG_E_PARSE);
	assert_contains(modmig_error_file(err), "identity/migrations/02001_broken.sql");
	assert_int_equal(modmig_error_version(err), 2001);
	assert_string_equal(modmig_error_module(err), "identity");
	/* The good file before it was parsed, the broken one was not. */
	assert_int_equal(modmig_migration_unit_count(modmig_source_find(src, 1001), MODMIG_UP), 1);
	assert_int_equal(modmig_migration_unit_count(modmig_source_find(src, 2001), MODMIG_UP), 0);
	modmig_error_free(err);
	modmig_source_free(src);
}

static void test_parse_file(void **state)
{
	tree *t = *state;
	modmig_migration *m = NULL;
	modmig_error *err = NULL;
	char path[PATH_MAX];

	write_file(t->root, "02001_identity_init.sql", template_sql);
	snprintf(path, sizeof(path), "%s/02001_identity_init.sql", t->root);
	assert_int_equal(modmig_migration_parse_file(path, &m, &err), MODMIG_OK);
	assert_int_equal(modmig_migration_version(m), 2001);
	assert_string_equal(modmig_migration_name(m), "identity_init");
	assert_string_equal(modmig_migration_file(m), path);
	assert_null(modmig_migration_module(m));
	assert_int_equal(modmig_migration_unit_count(m, MODMIG_UP), 1);
	assert_int_equal(modmig_migration_unit_count(m, MODMIG_DOWN), 1);
	modmig_migration_free(m);

	write_file(t->root, "scratch.sql", simple_sql);
	snprintf(path, sizeof(path), "%s/scratch.sql", t->root);
	assert_int_equal(modmig_migration_parse_file(path, &m, &err), MODMIG_OK);
	assert_int_equal(modmig_migration_version(m), 0);
	assert_string_equal(modmig_migration_name(m), "scratch");
	modmig_migration_free(m);

	snprintf(path, sizeof(path), "%s/missing.sql", t->root);
	assert_int_equal(modmig_migration_parse_file(path, &m, &err), MODMIG_E_NOT_FOUND);
	assert_string_equal(modmig_error_file(err), path);
	assert_null(m);
	modmig_error_free(err);
	modmig_migration_free(NULL);
}

static void test_version_from_filename(void **state)
{
	int64_t v = 0;
	const char *name = NULL;

	(void)state;
	assert_true(mm_version_from_filename("02001_identity_init.sql", &v, &name));
	assert_int_equal(v, 2001);
	assert_string_equal(name, "identity_init.sql");
	assert_true(mm_version_from_filename("20230101120000_x.sql", &v, NULL));
	assert_int_equal(v, INT64_C(20230101120000));
	assert_false(mm_version_from_filename("2001_x.txt", &v, NULL));
	assert_false(mm_version_from_filename("x_2001.sql", &v, NULL));
	assert_false(mm_version_from_filename("0_x.sql", &v, NULL));
	assert_false(mm_version_from_filename("2001.sql", &v, NULL));
	assert_false(mm_version_from_filename("99999999999999999999_x.sql", &v, NULL));
	assert_true(mm_version_from_filename("9223372036854775807_x.sql", &v, NULL));
	assert_int_equal(v, INT64_MAX);
}

static const char schema_manifest[] = "modules:\n"
                                      "  - name: db\n"
                                      "  - name: identity\n"
                                      "    schema: identity\n"
                                      "  - name: billing\n"
                                      "    schema: Billing\n"
                                      "  - name: identity_extra\n"
                                      "    schema: identity\n"
                                      "  - name: users\n"
                                      "    schema: user\n"
                                      "  - name: shared\n"
                                      "    schema: public\n";

static void test_search_path_and_sqlc(void **state)
{
	const modmig_embedded_file files[] = {FILE_ENTRY("modules.yaml", schema_manifest, NULL)};
	const modmig_embedded_file plain[] = {
	        FILE_ENTRY("modules.yaml", "modules:\n  - name: db\n", NULL)};
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	char *text;

	(void)state;
	assert_int_equal(modmig_source_new_embedded(files, 1, &src, &err), MODMIG_OK);
	text = modmig_app_search_path(src);
	assert_string_equal(text, "identity, \"Billing\", user, public");
	modmig_free(text);
	text = modmig_sqlc_schemas(src);
	assert_contains(text, "generated by `modmig sqlc-schemas` from modules/modules.yaml");
	assert_contains(text, "DO NOT EDIT");
	assert_contains(text, "CREATE SCHEMA IF NOT EXISTS identity;\n"
	                      "CREATE SCHEMA IF NOT EXISTS \"Billing\";\n"
	                      "CREATE SCHEMA IF NOT EXISTS \"user\";\n");
	assert_null(strstr(strstr(text, "\"user\";\n") + 1, "CREATE"));
	modmig_free(text);
	modmig_source_free(src);

	assert_int_equal(modmig_source_new_embedded(plain, 1, &src, &err), MODMIG_OK);
	text = modmig_app_search_path(src);
	assert_string_equal(text, "public");
	modmig_free(text);
	text = modmig_sqlc_schemas(src);
	assert_null(strstr(text, "CREATE"));
	assert_int_equal(text[0], '-');
	modmig_free(text);
	modmig_source_free(src);
}

static char *slurp(const char *path)
{
	char *text = NULL;
	modmig_error *err = NULL;

	assert_int_equal(mm_read_file(path, &text, NULL, &err), MODMIG_OK);
	return text;
}

static void test_create(void **state)
{
	tree *t = *state;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	char *path = NULL;
	char *text;
	char expect[PATH_MAX];

	write_file(t->root, "modules.yaml", three_modules);
	write_file(t->root, "identity/migrations/02001_identity_init.sql", simple_sql);
	write_file(t->root, "identity/migrations/02002_emails.sql", simple_sql);
	write_file(t->root, "db/migrations/01999_last.sql", simple_sql);
	assert_int_equal(modmig_source_new_manifest(t->manifest, &src, &err), MODMIG_OK);

	assert_int_equal(modmig_create_migration(src, "identity", "add_phone_2", &path, &err),
	                 MODMIG_OK);
	snprintf(expect, sizeof(expect), "%s/identity/migrations/02003_add_phone_2.sql", t->root);
	assert_string_equal(path, expect);
	text = slurp(path);
	assert_string_equal(text, template_sql);
	free(text);
	modmig_free(path);

	/* A module without a directory starts at its first version. */
	assert_int_equal(modmig_create_migration(src, "billing", "billing_init", &path, &err),
	                 MODMIG_OK);
	snprintf(expect, sizeof(expect), "%s/billing/migrations/03001_billing_init.sql", t->root);
	assert_string_equal(path, expect);
	modmig_free(path);

	/* The source still says 02002 is the last: the file now exists, never overwrite it. */
	write_file(t->root, "identity/migrations/02003_add_phone_2.sql", "-- mine\n");
	assert_int_equal(modmig_create_migration(src, "identity", "add_phone_2", &path, &err),
	                 MODMIG_E_VERSION);
	assert_null(path);
	assert_contains(modmig_error_message(err), "exists");
	modmig_error_free(err);
	err = NULL;
	snprintf(expect, sizeof(expect), "%s/identity/migrations/02003_add_phone_2.sql", t->root);
	text = slurp(expect);
	assert_string_equal(text, "-- mine\n");
	free(text);

	assert_int_equal(modmig_create_migration(src, "db", "more", &path, &err), MODMIG_E_VERSION);
	assert_contains(modmig_error_message(err), "1001..1999 is full");
	modmig_error_free(err);
	err = NULL;

	assert_int_equal(modmig_create_migration(src, "nope", "x", &path, &err),
	                 MODMIG_E_NOT_FOUND);
	assert_contains(modmig_error_message(err), "unknown module 'nope'");
	modmig_error_free(err);
	err = NULL;

	assert_int_equal(modmig_create_migration(src, "identity", "Add-Phone", &path, &err),
	                 MODMIG_E_USAGE);
	modmig_error_free(err);
	err = NULL;
	assert_int_equal(modmig_create_migration(src, "identity", "", &path, &err), MODMIG_E_USAGE);
	modmig_error_free(err);
	err = NULL;
	modmig_source_free(src);

	assert_int_equal(modmig_source_new_dir(t->root, NULL, &src, &err), MODMIG_OK);
	assert_int_equal(modmig_create_migration(src, "identity", "x", &path, &err),
	                 MODMIG_E_USAGE);
	assert_non_null(modmig_error_hint(err));
	modmig_error_free(err);
	modmig_source_free(src);
}

static void test_create_embedded_refused(void **state)
{
	const modmig_embedded_file files[] = {
	        FILE_ENTRY("modules.yaml", "modules:\n  - name: db\n", NULL)};
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	char *path = NULL;

	(void)state;
	assert_int_equal(modmig_source_new_embedded(files, 1, &src, &err), MODMIG_OK);
	assert_int_equal(modmig_create_migration(src, "db", "x", &path, &err), MODMIG_E_USAGE);
	assert_contains(modmig_error_hint(err), "-m modules/modules.yaml");
	modmig_error_free(err);
	modmig_source_free(src);
}

#ifndef MODMIG_SOURCE_ROOT
#define MODMIG_SOURCE_ROOT "."
#endif

/* The CLI tests run these trees through `modmig validate`; check they hold what they claim. */
static void test_fixture_trees(void **state)
{
	const char *dir = MODMIG_SOURCE_ROOT "/tests/fixtures/trees";
	DIR *d = opendir(dir);
	struct dirent *entry;
	modmig_source *src;
	modmig_error *err;
	char path[PATH_MAX];
	char *expect;
	size_t count = 0;

	(void)state;
	assert_non_null(d);
	while ((entry = readdir(d)) != NULL) {
		if (entry->d_name[0] == '.' || entry->d_type != DT_DIR)
			continue;
		snprintf(path, sizeof(path), "%s/%s/expect", dir, entry->d_name);
		expect = slurp(path);
		expect[strcspn(expect, "\n")] = '\0';
		snprintf(path, sizeof(path), "%s/%s/modules.yaml", dir, entry->d_name);
		src = NULL;
		err = NULL;
		assert_int_equal(modmig_source_new_manifest(path, &src, &err), MODMIG_E_VERSION);
		assert_contains(modmig_error_message(err), expect);
		assert_non_null(modmig_error_file(err));
		modmig_error_free(err);
		free(expect);
		count++;
	}
	closedir(d);
	assert_true(count >= 3);
}

#define TREE_TEST(f) cmocka_unit_test_setup_teardown(f, tree_setup, tree_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        TREE_TEST(test_merged_order),
	        TREE_TEST(test_relative_display_paths),
	        TREE_TEST(test_duplicate_leading_zero),
	        TREE_TEST(test_out_of_range),
	        TREE_TEST(test_range_edges),
	        TREE_TEST(test_too_many),
	        TREE_TEST(test_bad_names),
	        TREE_TEST(test_stray_module_directory),
	        TREE_TEST(test_manifest_errors_pass_through),
	        TREE_TEST(test_dir_mode),
	        TREE_TEST(test_dir_mode_errors),
	        TREE_TEST(test_contents_load_on_first_use),
	        TREE_TEST(test_only_regular_files),
	        TREE_TEST(test_size_limit),
	        cmocka_unit_test(test_embedded),
	        cmocka_unit_test(test_embedded_errors),
	        TREE_TEST(test_parse_errors_name_the_file),
	        TREE_TEST(test_parse_file),
	        cmocka_unit_test(test_version_from_filename),
	        cmocka_unit_test(test_search_path_and_sqlc),
	        TREE_TEST(test_create),
	        cmocka_unit_test(test_create_embedded_refused),
	        cmocka_unit_test(test_fixture_trees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
