/*
 * source.c - migration sources: the manifest with its module directories on
 * disk, the same compiled into a binary, or a plain goose directory.
 *
 * Loading reads and hashes every file but parses no SQL: status and verify on
 * thousands of files only need versions and checksums. Units are parsed on
 * first use (mm_migration_parse).
 */
#include "source/source.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODULE_MAX_MIGRATIONS 999
#define EMBEDDED_ORIGIN       "(embedded)"
#define EMBEDDED_PREFIX       "modules/"

/* A growing list of migrations while a source loads. */
typedef struct migration_list {
	modmig_migration *items;
	size_t count;
	size_t cap;
} migration_list;

void mm_migration_release(modmig_migration *m)
{
	free(m->name);
	free(m->file);
	if (m->owns_bytes)
		free((char *)m->bytes);
	if (m->parsed_ok)
		mm_parsed_clear(&m->parsed);
	memset(m, 0, sizeof(*m));
}

static modmig_migration *list_push(migration_list *list)
{
	modmig_migration *items;
	size_t cap;

	if (list->count == list->cap) {
		cap = list->cap ? list->cap * 2 : 64;
		items = realloc(list->items, cap * sizeof(*items));
		if (!items)
			return NULL;
		list->items = items;
		list->cap = cap;
	}
	memset(&list->items[list->count], 0, sizeof(list->items[0]));
	return &list->items[list->count++];
}

static void list_free(migration_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		mm_migration_release(&list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* root joined with rel; "." stays out of display paths. */
char *mm_join_path(const char *root, const char *rel)
{
	size_t n;

	if (!root || !strcmp(root, "."))
		return mm_strdup(rel);
	n = strlen(root);
	if (n > 0 && root[n - 1] == '/')
		return mm_printf("%s%s", root, rel);
	return mm_printf("%s/%s", root, rel);
}

/*
 * Errors about a whole file (its name, its version) point at its first line,
 * so that every error names file:line as editors and CI annotations expect.
 */
static modmig_status bad_name(const char *file, const char *base, bool dir_mode, modmig_error **err)
{
	modmig_status rc;

	rc = mm_fail(err, MODMIG_E_VERSION, file, 1, 0,
	             "bad migration file name '%s': expected <version>_<name>.sql", base);
	if (dir_mode)
		mm_hint(err,
		        "name it like 00001_create_users.sql or 20230101120000_create_users.sql");
	else
		mm_hint(err, "name it like 02001_identity_init.sql, with the version in the "
		             "module's range");
	return rc;
}

/*
 * Fill m from a file name: version and name by the rules of the mode (goose's
 * in --dir mode, <digits>_<text>.sql otherwise). display becomes m->file.
 */
static modmig_status name_migration(modmig_migration *m, const char *base, char *display,
                                    bool dir_mode, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const char *sep = strchr(base, '_');
	size_t stem = strlen(base) - strlen(".sql");
	int64_t version = 0;

	m->file = display;
	if (!sep || !mm_parse_version(base, (size_t)(sep - base), dir_mode, &version) ||
	    version < 1 || (!dir_mode && (size_t)(sep - base) + 1 >= stem)) {
		rc = bad_name(display, base, dir_mode, err);
		goto cleanup;
	}
	m->version = version;
	m->name = mm_strndup(sep + 1, stem - (size_t)(sep - base) - 1);
	if (!m->name)
		rc = mm_fail(err, MODMIG_E_NOMEM, display, 0, 0, "out of memory");
cleanup:
	return rc;
}

static modmig_status check_range(const modmig_migration *m, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const modmig_module *mod = m->module;

	if (m->version >= mod->first_version && m->version <= mod->last_version)
		goto cleanup;
	rc = mm_fail(err, MODMIG_E_VERSION, m->file, 1, 0,
	             "version %lld is outside module %s's range %lld..%lld", (long long)m->version,
	             mod->name, (long long)mod->first_version, (long long)mod->last_version);
	mm_next(err, MODMIG_NEXT_CREATE_MIGRATION, 0,
	        "module %s owns versions %lld through %lld; create its migrations with "
	        "create_migration, which numbers them",
	        mod->name, (long long)mod->first_version, (long long)mod->last_version);
	mm_next_reason(err, "module %s owns versions %lld through %lld", mod->name,
	               (long long)mod->first_version, (long long)mod->last_version);
	mm_error_set_migration(err, 0, mod->name);
cleanup:
	return rc;
}

/* The 0-based module position whose range holds version, or -1 for none. */
static long position_of(int64_t version)
{
	return version % 1000 == 0 ? -1 : (long)(version / 1000) - 1;
}

/*
 * A module inserted in the middle of the manifest (or a reorder) shifts the
 * range of every module after it up by one or more positions, and each of
 * their files falls below it. When every file of m's module is numbered for
 * one earlier position, that is what happened: say so, with the module and
 * both positions, before any "outside its range" message about one file.
 * It takes two files or more: a module's only file numbered one range too
 * low is as likely a slip, and the file's own message names it exactly.
 * A file numbered above its range is an author's slip, reported as such.
 */
static modmig_status check_moved(const modmig_source *src, const migration_list *list,
                                 const modmig_migration *m, modmig_error **err)
{
	const modmig_module *mod = m->module, *there;
	long pos = position_of(m->version);
	size_t i, files = 0;

	if (pos < 0 || (size_t)pos >= mod->index)
		return MODMIG_OK;
	for (i = 0; i < list->count; i++) {
		if (list->items[i].module != mod)
			continue;
		if (position_of(list->items[i].version) != pos)
			return MODMIG_OK;
		files++;
	}
	/* one file can be a slip of its author as well as a move: name the file */
	if (files < 2)
		return MODMIG_OK;
	there = &src->manifest.modules[pos];
	mm_fail(err, MODMIG_E_VERSION, src->manifest.file, mod->line, mod->column,
	        "module %s is at position %zu in the manifest, but its migrations are numbered "
	        "for position %ld (%lld..%lld), where module %s is now: a module was inserted "
	        "before it, or the modules were reordered",
	        mod->name, mod->index + 1, pos + 1, (long long)(pos + 1) * 1000 + 1,
	        (long long)(pos + 1) * 1000 + 999, there->name);
	mm_hint(err,
	        "move module %s back to where it was, or to the end of the manifest: a "
	        "module's position fixes its version range forever",
	        there->name);
	mm_error_set_migration(err, 0, mod->name);
	return MODMIG_E_VERSION;
}

static modmig_status too_many(const modmig_module *mod, const char *file, size_t count,
                              modmig_error **err)
{
	modmig_status rc;

	rc = mm_fail(err, MODMIG_E_VERSION, file, 1, 0,
	             "module %s has %zu migrations, more than the %d its version range holds",
	             mod->name, count, MODULE_MAX_MIGRATIONS);
	mm_hint(err, "squash old migrations of %s into fewer files", mod->name);
	return rc;
}

static int compare_migrations(const void *a, const void *b)
{
	const modmig_migration *x = a;
	const modmig_migration *y = b;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->file, y->file);
}

/* Sort, reject duplicates, and hand the list to src. */
static modmig_status finish_list(modmig_source *src, migration_list *list, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const modmig_migration *a;
	const modmig_migration *b;
	size_t i;

	if (list->count > 1)
		qsort(list->items, list->count, sizeof(list->items[0]), compare_migrations);
	/* a moved module first: its every file is out of range, for one reason */
	for (i = 0; i < list->count && rc == MODMIG_OK; i++)
		if (list->items[i].module)
			rc = check_moved(src, list, &list->items[i], err);
	for (i = 0; i < list->count && rc == MODMIG_OK; i++)
		if (list->items[i].module)
			rc = check_range(&list->items[i], err);
	if (rc != MODMIG_OK)
		goto cleanup;
	for (i = 1; i < list->count; i++) {
		a = &list->items[i - 1];
		b = &list->items[i];
		if (a->version != b->version)
			continue;
		rc = mm_fail(err, MODMIG_E_VERSION, b->file, 1, 0,
		             "duplicate version %lld: %s and %s", (long long)b->version, a->file,
		             b->file);
		mm_hint(err, "leading zeros do not make a different version; renumber one of "
		             "them");
		goto cleanup;
	}
	src->migrations = list->items;
	src->migration_count = list->count;
	/* the array is final now: each migration can find its writable self */
	for (i = 0; i < src->migration_count; i++)
		src->migrations[i].source = src;
	memset(list, 0, sizeof(*list));
cleanup:
	return rc;
}

static modmig_source *source_alloc(void)
{
	return calloc(1, sizeof(modmig_source));
}

const modmig_module *mm_manifest_module_by_name(const mm_manifest *man, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < man->module_count; i++)
		if (strlen(man->modules[i].name) == n && !memcmp(man->modules[i].name, name, n))
			return &man->modules[i];
	return NULL;
}

/* ---- embedded ------------------------------------------------------------ */

modmig_status modmig_source_new_embedded(const modmig_embedded_file *files, size_t count,
                                         modmig_source **out, modmig_error **err)
{
	static const char migrations_dir[] = "/migrations/";
	modmig_status rc = MODMIG_OK;
	migration_list list = {0};
	modmig_source *src = NULL;
	const modmig_embedded_file *manifest = NULL;
	const modmig_module *mod;
	modmig_migration *m;
	size_t *counts = NULL;
	const char *path;
	const char *slash;
	const char *base;
	size_t i;

	*out = NULL;
	for (i = 0; i < count; i++)
		if (files[i].path && !strcmp(files[i].path, "modules.yaml"))
			manifest = &files[i];
	if (!manifest) {
		rc = mm_fail(err, MODMIG_E_MANIFEST, EMBEDDED_PREFIX "modules.yaml", 0, 0,
		             "the embedded files have no modules.yaml");
		mm_hint(err, "generate them with modmig-embed from the modules directory");
		goto cleanup;
	}
	src = source_alloc();
	if (!src || !(src->origin = mm_strdup(EMBEDDED_ORIGIN))) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = mm_manifest_parse(EMBEDDED_PREFIX "modules.yaml", (const char *)manifest->data,
	                       manifest->size, &src->manifest, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	counts = calloc(src->manifest.module_count, sizeof(*counts));
	if (!counts) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	for (i = 0; i < count; i++) {
		path = files[i].path;
		if (!path || !mm_ends_with(path, ".sql"))
			continue;
		slash = strchr(path, '/');
		if (!slash || strncmp(slash, migrations_dir, strlen(migrations_dir)) != 0)
			continue;
		base = slash + strlen(migrations_dir);
		if (strchr(base, '/'))
			continue;
		if (!(m = list_push(&list))) {
			rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
			goto cleanup;
		}
		m->bytes = (const char *)files[i].data;
		m->size = files[i].size;
		rc = name_migration(m, base, mm_printf(EMBEDDED_PREFIX "%s", path), false, err);
		if (!m->file)
			rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		if (rc != MODMIG_OK)
			goto cleanup;
		mod = mm_manifest_module_by_name(&src->manifest, path, (size_t)(slash - path));
		if (!mod) {
			rc = mm_fail(err, MODMIG_E_VERSION, m->file, 1, 0,
			             "%s belongs to module '%.*s', which is not in the manifest",
			             m->file, (int)(slash - path), path);
			mm_hint(err, "add the module at the end of modules.yaml or move the file");
			goto cleanup;
		}
		m->module = mod;
		if (++counts[mod->index] > MODULE_MAX_MIGRATIONS) {
			rc = too_many(mod, m->file, counts[mod->index], err);
			goto cleanup;
		}
		if (files[i].sha256 && strlen(files[i].sha256) == 64)
			memcpy(m->sha256, files[i].sha256, 65);
		else
			mm_sha256_hex(m->bytes, m->size, m->sha256);
		m->loaded = true;
	}
	if ((rc = finish_list(src, &list, err)) != MODMIG_OK)
		goto cleanup;
	*out = src;
	src = NULL;
cleanup:
	free(counts);
	list_free(&list);
	modmig_source_free(src);
	return rc;
}

/* ---- disk ---------------------------------------------------------------- */

/*
 * Read every *.sql file of one directory into list. Other files are ignored,
 * as goose does. mod is NULL in --dir mode. A missing directory is no error
 * when missing_ok (a module without migrations yet).
 */
static modmig_status read_directory(const char *dir, const char *display_dir,
                                    const modmig_module *mod, bool missing_ok, migration_list *list,
                                    modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	DIR *d = NULL;
	struct dirent *entry;
	modmig_migration *m;
	size_t count = 0;

	d = opendir(dir);
	if (!d) {
		if (missing_ok && (errno == ENOENT || errno == ENOTDIR))
			goto cleanup;
		int e = errno;

		rc = mm_fail(err, e == ENOENT ? MODMIG_E_NOT_FOUND : MODMIG_E_IO, dir, 0, 0,
		             "cannot open directory %s: %s", dir, strerror(e));
		mm_hint(err, e == ENOENT || e == ENOTDIR
		                     ? "check the directory given with --dir, or that each module "
		                       "of the manifest has its NAME/migrations folder beside it"
		                     : "modmig needs to read and list that directory: check its "
		                       "permissions");
		goto cleanup;
	}
	while ((entry = readdir(d)) != NULL) {
		if (entry->d_name[0] == '.' || !mm_ends_with(entry->d_name, ".sql"))
			continue;
		if (entry->d_type == DT_DIR)
			continue;
		if (!(m = list_push(list))) {
			rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
			goto cleanup;
		}
		m->module = mod;
		rc = name_migration(m, entry->d_name, mm_join_path(display_dir, entry->d_name),
		                    mod == NULL, err);
		if (!m->file)
			rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		if (rc != MODMIG_OK)
			goto cleanup;
		if (mod && ++count > MODULE_MAX_MIGRATIONS) {
			rc = too_many(mod, m->file, count, err);
			goto cleanup;
		}
	}
cleanup:
	if (d)
		closedir(d);
	return rc;
}

static bool has_sql_file(const char *dir, char **first)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	bool found = false;

	if (!d)
		return false;
	while (!found && (entry = readdir(d)) != NULL) {
		if (entry->d_name[0] != '.' && mm_ends_with(entry->d_name, ".sql")) {
			found = true;
			*first = mm_strdup(entry->d_name);
		}
	}
	closedir(d);
	return found;
}

/* A module directory with migrations that the manifest does not list is a mistake. */
static modmig_status check_stray_modules(const modmig_source *src, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	DIR *d = NULL;
	struct dirent *entry;
	char *dir = NULL;
	char *first = NULL;
	char *display = NULL;

	d = opendir(src->root);
	if (!d)
		goto cleanup;
	while ((entry = readdir(d)) != NULL) {
		if (entry->d_name[0] == '.' ||
		    mm_manifest_module_by_name(&src->manifest, entry->d_name,
		                               strlen(entry->d_name)))
			continue;
		if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN &&
		    entry->d_type != DT_LNK)
			continue;
		free(dir);
		dir = mm_printf("%s/%s/migrations", src->root, entry->d_name);
		if (!dir) {
			rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
			goto cleanup;
		}
		if (!has_sql_file(dir, &first))
			continue;
		display = mm_printf("%s/migrations/%s", entry->d_name, first ? first : "");
		free(dir);
		dir = display ? mm_join_path(src->root, display) : NULL;
		rc = mm_fail(err, MODMIG_E_VERSION, dir ? dir : entry->d_name, first ? 1 : 0, 0,
		             "%s belongs to module '%s', which is not in the manifest",
		             dir ? dir : entry->d_name, entry->d_name);
		mm_hint(err, "add the module at the end of %s or move the files",
		        src->manifest.file);
		goto cleanup;
	}
cleanup:
	if (d)
		closedir(d);
	free(dir);
	free(first);
	free(display);
	return rc;
}

modmig_status modmig_source_new_manifest(const char *manifest_path, modmig_source **out,
                                         modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	migration_list list = {0};
	modmig_source *src = NULL;
	const modmig_module *mod;
	const char *slash;
	char *text = NULL;
	size_t len = 0;
	char *dir = NULL;
	char *display = NULL;
	size_t i;

	*out = NULL;
	src = source_alloc();
	if (!src || !(src->origin = mm_strdup(manifest_path))) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	slash = strrchr(manifest_path, '/');
	src->root = slash ? mm_strndup(manifest_path,
	                               (size_t)(slash - manifest_path) + (slash == manifest_path))
	                  : mm_strdup(".");
	if (!src->root) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if ((rc = mm_read_file(manifest_path, &text, &len, err)) != MODMIG_OK) {
		mm_next(err, MODMIG_NEXT_USE_MANIFEST, 0,
		        "give the path of an existing manifest, e.g. modules/modules.yaml");
		goto cleanup;
	}
	rc = mm_manifest_parse(manifest_path, text, len, &src->manifest, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	for (i = 0; i < src->manifest.module_count; i++) {
		mod = &src->manifest.modules[i];
		free(dir);
		free(display);
		display = mm_printf("%s/migrations", mod->name);
		dir = display ? mm_join_path(src->root, display) : NULL;
		if (!dir) {
			rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
			goto cleanup;
		}
		if ((rc = read_directory(dir, dir, mod, true, &list, err)) != MODMIG_OK)
			goto cleanup;
	}
	if ((rc = check_stray_modules(src, err)) != MODMIG_OK)
		goto cleanup;
	if ((rc = finish_list(src, &list, err)) != MODMIG_OK)
		goto cleanup;
	*out = src;
	src = NULL;
cleanup:
	free(text);
	free(dir);
	free(display);
	list_free(&list);
	modmig_source_free(src);
	return rc;
}

/*
 * The configured name read the way the server reads a table name, by
 * PostgreSQL's own grammar: "SELECT 1 FROM <name>" must parse into one
 * statement whose only table is a plain range variable. Quoted parts keep
 * their case and dots, unquoted ones fold to lower case; a catalog part, an
 * alias or anything after the name is refused.
 */
modmig_status mm_parse_table_name(const char *written, char **schema, char **table,
                                  modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char *sql = mm_printf("SELECT 1 FROM %s", written);
	PgQueryProtobufParseResult parsed = {0};
	PgQuery__ParseResult *tree = NULL;
	const PgQuery__SelectStmt *sel = NULL;
	const PgQuery__RangeVar *rv = NULL;

	*schema = *table = NULL;
	if (!sql)
		return mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
	parsed = pg_query_parse_protobuf(sql);
	if (!parsed.error)
		tree = pg_query__parse_result__unpack(NULL, parsed.parse_tree.len,
		                                      (const uint8_t *)parsed.parse_tree.data);
	if (tree && tree->n_stmts == 1 && tree->stmts[0]->stmt &&
	    tree->stmts[0]->stmt->node_case == PG_QUERY__NODE__NODE_SELECT_STMT)
		sel = tree->stmts[0]->stmt->select_stmt;
	/* exactly "SELECT 1 FROM rel": no WHERE, no second table, nothing else */
	if (sel && sel->n_from_clause == 1 && sel->n_target_list == 1 && !sel->where_clause &&
	    !sel->n_group_clause && !sel->having_clause && !sel->n_window_clause &&
	    !sel->n_sort_clause && !sel->limit_count && !sel->limit_offset &&
	    !sel->n_locking_clause && !sel->with_clause && !sel->into_clause &&
	    !sel->n_distinct_clause && sel->op == PG_QUERY__SET_OPERATION__SETOP_NONE &&
	    sel->from_clause[0]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
		rv = sel->from_clause[0]->range_var;
	if (!rv || !rv->inh || rv->alias || (rv->catalogname && *rv->catalogname) || !rv->relname ||
	    !*rv->relname) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "invalid version table name '%s': need table or schema.table, as "
		             "an SQL identifier (quote parts with double quotes to keep case, "
		             "dots or spaces)",
		             written);
		if (parsed.error && parsed.error->message)
			mm_hint(err, "the server's parser says: %s", parsed.error->message);
		goto cleanup;
	}
	*table = mm_strdup(rv->relname);
	if (rv->schemaname && *rv->schemaname)
		*schema = mm_strdup(rv->schemaname);
	if (!*table || (rv->schemaname && *rv->schemaname && !*schema))
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
cleanup:
	if (tree)
		pg_query__parse_result__free_unpacked(tree, NULL);
	pg_query_free_protobuf_parse_result(parsed);
	free(sql);
	if (rc != MODMIG_OK) {
		free(*schema);
		free(*table);
		*schema = *table = NULL;
	}
	return rc;
}

modmig_status modmig_source_new_dir(const char *dir, const char *version_table, modmig_source **out,
                                    modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	migration_list list = {0};
	modmig_source *src = NULL;

	*out = NULL;
	if (version_table) {
		char *schema = NULL, *table = NULL;

		rc = mm_parse_table_name(version_table, &schema, &table, err);
		free(schema);
		free(table);
		if (rc != MODMIG_OK)
			goto cleanup;
	}
	src = source_alloc();
	if (!src || !(src->origin = mm_strdup(dir)) || !(src->root = mm_strdup(dir)) ||
	    !(src->manifest.version_table =
	              mm_strdup(version_table ? version_table : "goose_db_version"))) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	src->dir_mode = true;
	if ((rc = read_directory(dir, dir, NULL, false, &list, err)) != MODMIG_OK)
		goto cleanup;
	if ((rc = finish_list(src, &list, err)) != MODMIG_OK)
		goto cleanup;
	*out = src;
	src = NULL;
cleanup:
	list_free(&list);
	modmig_source_free(src);
	return rc;
}

void modmig_source_set_max_file_size(modmig_source *src, uint64_t max_file_size)
{
	size_t i;

	/* files are read on first use, so a limit set after loading still holds */
	for (i = 0; i < src->migration_count; i++)
		src->migrations[i].max_size = max_file_size;
}

void modmig_source_free(modmig_source *src)
{
	size_t i;

	if (!src)
		return;
	for (i = 0; i < src->migration_count; i++)
		mm_migration_release(&src->migrations[i]);
	free(src->migrations);
	mm_manifest_clear(&src->manifest);
	free(src->origin);
	free(src->root);
	free(src);
}
