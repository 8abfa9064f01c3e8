/*
 * create.c - new migration files and goose's renumbering: the next file of a
 * module's range (manifest sources), `goose create` and `goose fix` for a
 * plain goose directory (--dir sources).
 */
#include "source/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * goose's template for `goose create NAME sql` as goose v3 wrote it up to
 * v3.26 (v3.27 dropped the StatementBegin/End lines; both parse the same).
 */
static const char migration_template[] = "-- +goose Up\n"
                                         "-- +goose StatementBegin\n"
                                         "SELECT 'up SQL query';\n"
                                         "-- +goose StatementEnd\n"
                                         "\n"
                                         "-- +goose Down\n"
                                         "-- +goose StatementBegin\n"
                                         "SELECT 'down SQL query';\n"
                                         "-- +goose StatementEnd\n";

/* The longest NAME of a new file: its whole name stays under NAME_MAX (255). */
#define NAME_LENGTH_MAX 200

static bool is_migration_name(const char *s)
{
	size_t i;

	if (!*s)
		return false;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return i <= NAME_LENGTH_MAX;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * goose's snakeCase (helpers.go) over ASCII: letters and digits lowercased,
 * each run of other characters after one becomes one '_' (two or more in a
 * row are dropped), a trailing '_' is kept only after a single delimiter.
 * NULL for a byte outside ASCII (goose would keep non-ASCII letters).
 */
static char *goose_snake_case(const char *s)
{
	enum { IDLE, FIRST, ALNUM, DELIMITER } state = IDLE;
	size_t n = strlen(s), len = 0;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = is_alnum(c);

		if ((unsigned char)c >= 0x80) {
			free(out);
			return NULL;
		}
		if (state == IDLE)
			state = alnum ? FIRST : IDLE;
		else if (state == FIRST)
			state = alnum ? ALNUM : DELIMITER;
		else if (state == ALNUM)
			state = alnum ? ALNUM : DELIMITER;
		else
			state = alnum ? FIRST : IDLE;
		if (state == FIRST || state == ALNUM)
			out[len++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		else if (state == DELIMITER)
			out[len++] = '_';
	}
	if (state == IDLE && len > 0 && out[len - 1] == '_')
		len--;
	out[len] = '\0';
	return out;
}

/* NAME as goose would write it unchanged, else MODMIG_E_USAGE with the form it would take. */
static modmig_status check_goose_name(const char *name, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	char *snake = name ? goose_snake_case(name) : NULL;

	if (name && snake && !strcmp(snake, name) && is_migration_name(name))
		goto cleanup;
	rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "bad migration name '%s'", name ? name : "");
	if (snake && *snake && strlen(snake) <= NAME_LENGTH_MAX)
		mm_hint(err,
		        "use lowercase letters and digits with single underscores between them, "
		        "as goose would write it: %s",
		        snake);
	else
		mm_hint(err, "use lowercase letters and digits with single underscores between "
		             "them, at most 200 bytes, e.g. add_user_email");
cleanup:
	free(snake);
	return rc;
}

static modmig_status make_dir(const char *path, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;

	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		rc = mm_fail(err, MODMIG_E_IO, path, 0, 0, "cannot create directory %s: %s", path,
		             strerror(errno));
	return rc;
}

static modmig_status write_all(int fd, const char *path, const char *data, size_t len,
                               modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mm_fail(err, MODMIG_E_IO, path, 0, 0, "cannot write %s: %s", path,
			             strerror(errno));
			break;
		}
		data += n;
		len -= (size_t)n;
	}
	return rc;
}

/* The template into a file that must not exist yet; no file is left on failure. */
static modmig_status write_new_file(const char *path, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

	if (fd < 0 && errno == EEXIST) {
		rc = mm_fail(err, MODMIG_E_VERSION, path, 0, 0, "%s already exists", path);
		mm_hint(err, "the file appeared after the migrations were read; run create again");
		goto cleanup;
	}
	if (fd < 0) {
		rc = mm_fail(err, MODMIG_E_IO, path, 0, 0, "cannot create %s: %s", path,
		             strerror(errno));
		goto cleanup;
	}
	rc = write_all(fd, path, migration_template, strlen(migration_template), err);
	if (close(fd) != 0 && rc == MODMIG_OK)
		rc = mm_fail(err, MODMIG_E_IO, path, 0, 0, "cannot write %s: %s", path,
		             strerror(errno));
	if (rc != MODMIG_OK)
		unlink(path);
cleanup:
	return rc;
}

modmig_status modmig_create_migration(const modmig_source *src, const char *module,
                                      const char *name, char **out_path, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const modmig_module *mod;
	int64_t next = 0;
	char *module_dir = NULL;
	char *dir = NULL;
	char *path = NULL;
	size_t i;

	*out_path = NULL;
	if (src->dir_mode || !src->root) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
		             "create writes into a modules directory on disk");
		/* the path is the bundled application's manifest, the usual one to write to */
		mm_next(err, MODMIG_NEXT_USE_MANIFEST, 0,
		        "load the source from its manifest on disk (-m modules/modules.yaml "
		        "on the command line) to create %s in module %s",
		        name ? name : "NAME", module ? module : "MODULE");
		goto cleanup;
	}
	mod = module ? modmig_source_find_module(src, module) : NULL;
	if (!mod) {
		rc = mm_fail(err, MODMIG_E_NOT_FOUND, src->manifest.file, 0, 0,
		             "unknown module '%s'", module ? module : "");
		mm_next(err, MODMIG_NEXT_LIST, 0,
		        "the source lists its modules; new modules go at the end of %s",
		        src->manifest.file);
		mm_next_reason(err, "new modules go at the end of %s", src->manifest.file);
		goto cleanup;
	}
	if (!name || !is_migration_name(name)) {
		rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0, "bad migration name '%s'",
		             name ? name : "");
		mm_hint(err, "use lowercase letters, digits and underscores, e.g. add_user_email");
		goto cleanup;
	}
	next = mod->first_version;
	for (i = 0; i < src->migration_count; i++)
		if (src->migrations[i].module == mod && src->migrations[i].version >= next)
			next = src->migrations[i].version + 1;
	if (next > mod->last_version) {
		rc = mm_fail(err, MODMIG_E_VERSION, NULL, 0, 0,
		             "module %s's version range %lld..%lld is full", mod->name,
		             (long long)mod->first_version, (long long)mod->last_version);
		mm_hint(err, "squash old migrations of %s to free versions", mod->name);
		goto cleanup;
	}
	/* A manifest in the working directory gives paths without "./". */
	module_dir = mm_join_path(src->root, mod->name);
	dir = module_dir ? mm_printf("%s/migrations", module_dir) : NULL;
	path = dir ? mm_printf("%s/%05lld_%s.sql", dir, (long long)next, name) : NULL;
	if (!path) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if ((rc = make_dir(module_dir, err)) != MODMIG_OK ||
	    (rc = make_dir(dir, err)) != MODMIG_OK || (rc = write_new_file(path, err)) != MODMIG_OK)
		goto cleanup;
	*out_path = path;
	path = NULL;
cleanup:
	free(module_dir);
	free(dir);
	free(path);
	return rc;
}

/* ---- a plain goose directory (--dir) --------------------------------------- */

static modmig_status refuse_manifest(const char *what, modmig_error **err)
{
	modmig_status rc = mm_fail(err, MODMIG_E_USAGE, NULL, 0, 0,
	                           "%s works on a plain goose directory (--dir) on disk", what);

	mm_hint(err, "a module's versions are fixed by its range: create the next one with "
	             "modmig_create_migration()");
	return rc;
}

/* goose: the highest sequential version + 1, or 1 (timestamps do not count). */
static int64_t next_sequential(const modmig_source *src)
{
	int64_t next = 1;

	for (size_t i = 0; i < src->migration_count; i++)
		if (mm_version_kind_of(src->migrations[i].version) == MM_VERSION_SEQUENTIAL &&
		    src->migrations[i].version >= next)
			next = src->migrations[i].version + 1;
	return next;
}

static const modmig_migration *find_version(const modmig_source *src, int64_t version)
{
	for (size_t i = 0; i < src->migration_count; i++)
		if (src->migrations[i].version == version)
			return &src->migrations[i];
	return NULL;
}

modmig_status modmig_create_dir_migration(const modmig_source *src, const char *name,
                                          bool sequential, char **out_path, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	const modmig_migration *taken;
	char version[32];
	char *base = NULL;
	char *path = NULL;
	int64_t v;

	*out_path = NULL;
	if (!src->dir_mode || !src->root) {
		rc = refuse_manifest("create NAME", err);
		goto cleanup;
	}
	if ((rc = check_goose_name(name, err)) != MODMIG_OK)
		goto cleanup;
	if (sequential) {
		v = next_sequential(src);
		snprintf(version, sizeof(version), "%05lld", (long long)v);
	} else {
		time_t now = time(NULL);
		struct tm tm;

		if (!gmtime_r(&now, &tm) ||
		    strftime(version, sizeof(version), "%Y%m%d%H%M%S", &tm) != 14) {
			rc = mm_fail(err, MODMIG_E_INTERNAL, NULL, 0, 0, "cannot read the clock");
			goto cleanup;
		}
		mm_parse_version(version, 14, false, &v);
	}
	if ((taken = find_version(src, v)) != NULL) {
		rc = mm_fail(err, MODMIG_E_VERSION, taken->file, 0, 0,
		             "version %s is taken: %s has it", version, taken->file);
		mm_hint(err, "run create again in a second, or pass -s for the next sequential "
		             "version");
		goto cleanup;
	}
	base = mm_printf("%s_%s.sql", version, name);
	path = base ? mm_join_path(src->root, base) : NULL;
	if (!path) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	if ((rc = write_new_file(path, err)) != MODMIG_OK)
		goto cleanup;
	*out_path = path;
	path = NULL;
cleanup:
	free(base);
	free(path);
	return rc;
}

/* m's path with its version prefix (up to the first '_' of the file name) replaced. */
static char *renamed_path(const modmig_migration *m, int64_t version)
{
	const char *slash = strrchr(m->file, '/');
	const char *base = slash ? slash + 1 : m->file;
	const char *rest = strchr(base, '_');

	return mm_printf("%.*s%05lld%s", (int)(base - m->file), m->file, (long long)version,
	                 rest ? rest : "");
}

/* Every target free and the directory writable, before the first rename. */
static modmig_status check_renames(const modmig_source *src, const modmig_rename *renames,
                                   size_t count, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	struct stat st;

	if (count > 0 && access(src->root, W_OK | X_OK) != 0) {
		rc = mm_fail(err, MODMIG_E_IO, src->root, 0, 0, "cannot rename files in %s: %s",
		             src->root, strerror(errno));
		mm_hint(err, "nothing was renamed; make the directory writable");
		goto cleanup;
	}
	for (size_t i = 0; i < count; i++) {
		if (lstat(renames[i].to, &st) == 0 || errno != ENOENT) {
			rc = mm_fail(err, MODMIG_E_VERSION, renames[i].to, 0, 0,
			             "cannot rename %s: %s already exists", renames[i].from,
			             renames[i].to);
			mm_hint(err, "nothing was renamed; move %s out of the directory",
			        renames[i].to);
			goto cleanup;
		}
	}
cleanup:
	return rc;
}

/* Rename all, or on a failure undo those done and report it. */
static modmig_status apply_renames(const modmig_rename *renames, size_t count, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	size_t done;
	int saved;

	for (done = 0; done < count; done++)
		if (rename(renames[done].from, renames[done].to) != 0)
			break;
	if (done == count)
		goto cleanup;
	saved = errno;
	rc = mm_fail(err, MODMIG_E_IO, renames[done].from, 0, 0, "cannot rename %s to %s: %s",
	             renames[done].from, renames[done].to, strerror(saved));
	while (done-- > 0)
		if (rename(renames[done].to, renames[done].from) != 0) {
			mm_hint(err, "renamed part-way: %s could not be renamed back to %s",
			        renames[done].to, renames[done].from);
			goto cleanup;
		}
	mm_hint(err, "nothing was renamed; fix the cause and run fix again");
cleanup:
	return rc;
}

modmig_status modmig_fix_dir(const modmig_source *src, bool dry_run, modmig_rename_fn fn,
                             void *userdata, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	modmig_rename *renames = NULL;
	int64_t next;
	size_t count = 0;

	if (!src->dir_mode || !src->root) {
		rc = refuse_manifest("fix", err);
		goto cleanup;
	}
	next = next_sequential(src);
	renames = calloc(src->migration_count ? src->migration_count : 1, sizeof(*renames));
	if (!renames) {
		rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
		goto cleanup;
	}
	/* migrations are in version order: timestamps keep their order */
	for (size_t i = 0; i < src->migration_count; i++) {
		const modmig_migration *m = &src->migrations[i];
		modmig_rename *r = &renames[count];

		if (mm_version_kind_of(m->version) != MM_VERSION_TIMESTAMP)
			continue;
		r->from = m->file;
		r->from_version = m->version;
		r->to_version = next++;
		if (!(r->to = renamed_path(m, r->to_version))) {
			rc = mm_fail(err, MODMIG_E_NOMEM, NULL, 0, 0, "out of memory");
			goto cleanup;
		}
		count++;
	}
	if ((rc = check_renames(src, renames, count, err)) != MODMIG_OK)
		goto cleanup;
	if (!dry_run && (rc = apply_renames(renames, count, err)) != MODMIG_OK)
		goto cleanup;
	for (size_t i = 0; fn && i < count; i++)
		fn(userdata, &renames[i]);
cleanup:
	for (size_t i = 0; renames && i < count; i++)
		free((char *)renames[i].to);
	free(renames);
	return rc;
}
