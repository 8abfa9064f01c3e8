/*
 * source/migration.c - one migration: reading and hashing its file on first
 * use, parsing it, and the accessors of migrations, modules and sources.
 */
#include "source/source.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ------------------------------------------------------------- */

modmig_status mm_migration_load(modmig_migration *m, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char *bytes = NULL;
	size_t size = 0;

	if (m->loaded)
		goto cleanup;
	rc = mm_read_file_at(AT_FDCWD, m->file, m->file, m->max_size, &bytes, &size, err);
	if (rc != MODMIG_OK) {
		mm_error_set_migration(err, m->version, m->module ? m->module->name : NULL);
		goto cleanup;
	}
	m->bytes = bytes;
	m->size = size;
	m->owns_bytes = true;
	mm_sha256_hex(m->bytes, m->size, m->sha256);
	m->loaded = true;
cleanup:
	return rc;
}

modmig_status mm_source_load(modmig_source *src, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t i;

	for (i = 0; i < src->migration_count && rc == MODMIG_OK; i++)
		rc = mm_migration_load(&src->migrations[i], err);
	return rc;
}

modmig_status mm_migration_parse(modmig_migration *m, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;

	if (m->parsed_ok)
		goto cleanup;
	if ((rc = mm_migration_load(m, err)) != MODMIG_OK)
		goto cleanup;
	rc = mm_parse(m->file, m->bytes ? m->bytes : "", m->size, &m->parsed, err);
	if (rc != MODMIG_OK) {
		mm_error_set_migration(err, m->version, m->module ? m->module->name : NULL);
		goto cleanup;
	}
	m->parsed_ok = true;
cleanup:
	return rc;
}

modmig_status modmig_source_parse(modmig_source *src, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t i;

	for (i = 0; i < src->migration_count; i++)
		if ((rc = mm_migration_parse(&src->migrations[i], err)) != MODMIG_OK)
			break;
	return rc;
}

modmig_status modmig_source_parse_each(modmig_source *src, modmig_error_fn fn, void *userdata)
{
	modmig_status rc = MODMIG_OK, st;
	size_t i;

	for (i = 0; i < src->migration_count; i++) {
		modmig_error *e = NULL;

		st = mm_migration_parse(&src->migrations[i], &e);
		if (st == MODMIG_OK)
			continue;
		if (rc == MODMIG_OK)
			rc = st;
		if (fn && e)
			fn(userdata, e);
		modmig_error_free(e);
		if (st == MODMIG_E_NOMEM)
			break;
	}
	return rc;
}

modmig_status modmig_migration_parse_file(const char *path, modmig_migration **out,
                                          modmig_error **err)
{
	return modmig_migration_parse_file_limit(path, 0, out, err);
}

modmig_status modmig_migration_parse_file_limit(const char *path, uint64_t max_file_size,
                                                modmig_migration **out, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_migration *m = NULL;
	const char *base = strrchr(path, '/');
	const char *name_start = NULL;
	char *bytes = NULL;
	size_t size = 0;
	size_t base_len;

	*out = NULL;
	base = base ? base + 1 : path;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->file = mm_strdup(path))) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	rc = mm_read_file_at(AT_FDCWD, path, path, max_file_size, &bytes, &size, err);
	if (rc != MODMIG_OK)
		goto cleanup;
	m->bytes = bytes;
	m->size = size;
	m->owns_bytes = true;
	m->loaded = true;
	mm_sha256_hex(m->bytes, m->size, m->sha256);
	base_len = strlen(base);
	if (mm_version_from_filename(base, &m->version, &name_start)) {
		m->name = mm_strndup(name_start, base_len - (size_t)(name_start - base) - 4);
	} else {
		m->version = 0;
		m->name = mm_strndup(base, mm_ends_with(base, ".sql") ? base_len - 4 : base_len);
	}
	if (!m->name) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if ((rc = mm_migration_parse(m, err)) != MODMIG_OK)
		goto cleanup;
	*out = m;
	m = NULL;
cleanup:
	modmig_migration_free(m);
	return rc;
}

void modmig_migration_free(modmig_migration *migration)
{
	if (!migration)
		return;
	mm_migration_release(migration);
	free(migration);
}

/* ---- accessors ----------------------------------------------------------- */

const char *modmig_source_version_table(const modmig_source *src)
{
	return src->manifest.version_table;
}
bool modmig_source_is_dir(const modmig_source *src)
{
	return src->dir_mode;
}
const char *modmig_source_origin(const modmig_source *src)
{
	return src->origin;
}

size_t modmig_source_module_count(const modmig_source *src)
{
	return src->manifest.module_count;
}

const modmig_module *modmig_source_module_at(const modmig_source *src, size_t index)
{
	return index < src->manifest.module_count ? &src->manifest.modules[index] : NULL;
}

const modmig_module *modmig_source_find_module(const modmig_source *src, const char *name)
{
	return name ? mm_manifest_module_by_name(&src->manifest, name, strlen(name)) : NULL;
}

const char *modmig_module_name(const modmig_module *module)
{
	return module->name;
}
const char *modmig_module_schema(const modmig_module *module)
{
	return module->schema;
}
size_t modmig_module_index(const modmig_module *module)
{
	return module->index;
}
int64_t modmig_module_first_version(const modmig_module *module)
{
	return module->first_version;
}
int64_t modmig_module_last_version(const modmig_module *module)
{
	return module->last_version;
}
size_t modmig_module_depends_count(const modmig_module *module)
{
	return module->depends_count;
}

const char *modmig_module_depends_at(const modmig_module *module, size_t index)
{
	return index < module->depends_count ? module->depends_on[index] : NULL;
}

size_t modmig_source_migration_count(const modmig_source *src)
{
	return src->migration_count;
}

const modmig_migration *modmig_source_migration_at(const modmig_source *src, size_t index)
{
	return index < src->migration_count ? &src->migrations[index] : NULL;
}

const modmig_migration *modmig_source_find(const modmig_source *src, int64_t version)
{
	return MM_FIND(src->migrations, src->migration_count, version, version);
}

int64_t modmig_migration_version(const modmig_migration *m)
{
	return m->version;
}
const char *modmig_migration_name(const modmig_migration *m)
{
	return m->name;
}
const char *modmig_migration_file(const modmig_migration *m)
{
	return m->file;
}
const modmig_module *modmig_migration_module(const modmig_migration *m)
{
	return m->module;
}
const char *modmig_migration_sha256(const modmig_migration *m)
{
	/*
	 * The one read-only call that fills a cache (documented in Threads): a
	 * file on disk is read and hashed on first use. The writable migration is
	 * reached through the source that owns it, not by casting away const, and
	 * the fill is serialized so that threads sharing a source may call this.
	 * An unreadable file has no checksum: "".
	 */
	static pthread_mutex_t lazy = PTHREAD_MUTEX_INITIALIZER;
	const char *out = "";

	pthread_mutex_lock(&lazy);
	if (m->loaded)
		out = m->sha256;
	else if (m->source && mm_migration_load(&m->source->migrations[m - m->source->migrations],
	                                        NULL) == MODMIG_OK)
		out = m->sha256;
	pthread_mutex_unlock(&lazy);
	return out;
}

bool modmig_migration_no_transaction(const modmig_migration *m)
{
	return m->parsed_ok && m->parsed.no_transaction;
}

bool modmig_migration_has_down(const modmig_migration *m)
{
	return m->parsed_ok && m->parsed.has_down;
}

static const mm_section *section(const modmig_migration *m, modmig_direction dir)
{
	if (!m->parsed_ok)
		return NULL;
	return dir == MODMIG_DOWN ? &m->parsed.down : &m->parsed.up;
}

size_t modmig_migration_unit_count(const modmig_migration *m, modmig_direction dir)
{
	const mm_section *s = section(m, dir);

	return s ? s->count : 0;
}

const char *modmig_migration_unit_sql(const modmig_migration *m, modmig_direction dir, size_t i)
{
	const mm_section *s = section(m, dir);

	return s && i < s->count ? s->units[i].sql : NULL;
}

int modmig_migration_unit_line(const modmig_migration *m, modmig_direction dir, size_t i)
{
	const mm_section *s = section(m, dir);

	return s && i < s->count ? s->units[i].line : 0;
}

int modmig_migration_unit_column(const modmig_migration *m, modmig_direction dir, size_t i)
{
	const mm_section *s = section(m, dir);

	return s && i < s->count ? s->units[i].column : 0;
}

bool modmig_migration_unit_parsed(const modmig_migration *m, modmig_direction dir, size_t i)
{
	const mm_section *s = section(m, dir);

	return !(s && i < s->count && s->units[i].unparsed);
}

const char *modmig_migration_lock_timeout(const modmig_migration *m)
{
	return m->parsed_ok ? m->parsed.lock_timeout : NULL;
}

const char *modmig_migration_statement_timeout(const modmig_migration *m)
{
	return m->parsed_ok ? m->parsed.statement_timeout : NULL;
}

size_t modmig_migration_warning_count(const modmig_migration *m)
{
	return m->parsed_ok ? m->parsed.warning_count : 0;
}

const char *modmig_migration_warning_at(const modmig_migration *m, size_t index, int *line,
                                        int *column, modmig_direction *dir)
{
	const mm_parse_warning *w;

	if (!m->parsed_ok || index >= m->parsed.warning_count)
		return NULL;
	w = &m->parsed.warnings[index];
	if (line)
		*line = w->line;
	if (column)
		*column = w->column;
	if (dir)
		*dir = w->dir;
	return w->message;
}

/* A module named by the caller (NULL name: *out NULL); errors for --dir sources and unknown names.
 */
modmig_status mm_source_module_arg(const modmig_source *src, const char *name,
                                   const modmig_module **out, modmig_error **err)
{
	*out = NULL;
	if (!name)
		return MODMIG_OK;
	if (modmig_source_is_dir(src)) {
		mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		        "module %s was named, but a goose directory has no modules", name);
		mm_next(err, MODMIG_NEXT_USE_MANIFEST, 0,
		        "name no module, or load the migrations from a manifest");
		return MODMIG_E_USAGE;
	}
	*out = modmig_source_find_module(src, name);
	if (!*out) {
		mm_fail(err, MODMIG_E_NOT_FOUND, modmig_source_origin(src), 0, 0,
		        "unknown module %s", name);
		mm_hint(err, "use a module name from %s", modmig_source_origin(src));
		return MODMIG_E_NOT_FOUND;
	}
	return MODMIG_OK;
}

/*
 * A manifest's modules are one array in manifest order, so module[-index] is
 * its first; depends_on names earlier modules only (the manifest parser
 * refuses anything else), so the walk goes strictly down and ends.
 */
bool mm_module_needs(const modmig_module *module, const modmig_module *other)
{
	const modmig_module *first;
	size_t d, j;

	if (!module || !other)
		return false;
	if (module == other)
		return true;
	if (other->index >= module->index)
		return false;
	first = module - module->index;
	for (d = 0; d < module->depends_count; d++)
		for (j = 0; j < module->index; j++)
			if (strcmp(first[j].name, module->depends_on[d]) == 0 &&
			    mm_module_needs(&first[j], other))
				return true;
	return false;
}

const modmig_module *mm_source_module_of(const modmig_source *src, int64_t version)
{
	size_t i;

	for (i = 0; i < src->manifest.module_count; i++) {
		const modmig_module *m = &src->manifest.modules[i];

		if (version >= m->first_version && version <= m->last_version)
			return m;
	}
	return NULL;
}
