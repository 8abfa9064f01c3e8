/*
 * modmig-embed - turn a modules directory into a C source file at build time.
 *
 *   modmig-embed --modules DIR --symbol NAME --output FILE [--depfile FILE]
 *
 * The output defines NAME_files[] (modmig_embedded_file, see modmig.h) and
 * NAME_count with DIR/modules.yaml followed by every
 * DIR/<module>/migrations/<file>.sql, sorted by path so that the same tree always
 * gives the same bytes. Each file is a byte array rather than a string literal:
 * string literals have a length limit in ISO C and need escaping that is easy
 * to get wrong, and a byte array keeps embedded NULs and CRLFs exact.
 *
 * The SHA-256 comes from OpenSSL's EVP API, the same implementation the library
 * uses, so the embedded hash and a hash of the file on disk always agree.
 *
 * It runs on the build machine only (native: true) and links nothing but
 * libcrypto, so it does not use the library's helpers.
 */
/* Native targets do not get the project's arguments, so ask for POSIX here. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "modmig-embed"
/* "0x2d," is 5 characters; 18 of them after a tab keep lines under 100. */
#define BYTES_PER_LINE 18

typedef struct strlist {
	char **items;
	size_t count;
	size_t cap;
} strlist;

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void errorf(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static char *join_path(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (!p)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

/* Takes ownership of s, also on failure. */
static bool strlist_push(strlist *l, char *s)
{
	if (!s)
		return false;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **items = realloc(l->items, cap * sizeof(*items));

		if (!items) {
			free(s);
			return false;
		}
		l->items = items;
		l->cap = cap;
	}
	l->items[l->count++] = s;
	return true;
}

static void strlist_free(strlist *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static bool valid_symbol(const char *s)
{
	if (!*s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (; *s; s++) {
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	}
	return true;
}

/*
 * Read the names in dir (without "." and ".."), sorted. Hidden entries are
 * skipped like a shell glob would, so editor lock files such as .#x.sql never
 * end up in a binary.
 */
static int list_dir(const char *dir, strlist *out)
{
	DIR *d = NULL;
	struct dirent *e;
	int rc = -1;

	d = opendir(dir);
	if (!d) {
		errorf("cannot read directory %s: %s", dir, strerror(errno));
		goto cleanup;
	}
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e)
			break;
		if (e->d_name[0] == '.')
			continue;
		if (!strlist_push(out, strdup(e->d_name))) {
			errorf("out of memory while reading %s", dir);
			goto cleanup;
		}
	}
	if (errno != 0) {
		errorf("cannot read directory %s: %s", dir, strerror(errno));
		goto cleanup;
	}
	qsort(out->items, out->count, sizeof(*out->items), cmp_str);
	rc = 0;
cleanup:
	if (d)
		closedir(d);
	return rc;
}

/*
 * Fill files with paths relative to modules_dir (modules.yaml first, then the
 * migrations sorted) and deps with every file and directory whose change must
 * re-run the generator.
 */
static int collect(const char *modules_dir, strlist *files, strlist *deps)
{
	strlist entries = {0}, sqls = {0};
	char *manifest = NULL, *module_dir = NULL, *mig_dir = NULL;
	struct stat st;
	size_t first_migration;
	int rc = -1;

	if (stat(modules_dir, &st) != 0) {
		errorf("cannot read directory %s: %s", modules_dir, strerror(errno));
		goto cleanup;
	}
	if (!S_ISDIR(st.st_mode)) {
		errorf("cannot read directory %s: not a directory", modules_dir);
		goto cleanup;
	}
	manifest = join_path(modules_dir, "modules.yaml");
	if (!manifest)
		goto nomem;
	if (stat(manifest, &st) != 0 || !S_ISREG(st.st_mode)) {
		errorf("missing manifest %s", manifest);
		goto cleanup;
	}
	if (!strlist_push(files, strdup("modules.yaml")) ||
	    !strlist_push(deps, strdup(modules_dir)))
		goto nomem;
	first_migration = files->count;
	if (list_dir(modules_dir, &entries) != 0)
		goto cleanup;
	for (size_t i = 0; i < entries.count; i++) {
		free(module_dir);
		free(mig_dir);
		mig_dir = NULL;
		module_dir = join_path(modules_dir, entries.items[i]);
		if (!module_dir)
			goto nomem;
		if (!is_dir(module_dir))
			continue;
		/* A module dir without migrations/ still matters: creating the folder
		 * later changes the module dir's mtime. */
		if (!strlist_push(deps, strdup(module_dir)))
			goto nomem;
		mig_dir = join_path(module_dir, "migrations");
		if (!mig_dir)
			goto nomem;
		if (!is_dir(mig_dir))
			continue;
		if (!strlist_push(deps, strdup(mig_dir)))
			goto nomem;
		strlist_free(&sqls);
		if (list_dir(mig_dir, &sqls) != 0)
			goto cleanup;
		for (size_t j = 0; j < sqls.count; j++) {
			char *full;
			size_t len;
			char *rel;

			if (!has_suffix(sqls.items[j], ".sql"))
				continue;
			full = join_path(mig_dir, sqls.items[j]);
			if (!full)
				goto nomem;
			if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
				free(full);
				continue;
			}
			if (!strlist_push(deps, full))
				goto nomem;
			len = strlen(entries.items[i]) + strlen("/migrations/") +
			      strlen(sqls.items[j]) + 1;
			rel = malloc(len);
			if (!rel)
				goto nomem;
			snprintf(rel, len, "%s/migrations/%s", entries.items[i], sqls.items[j]);
			if (!strlist_push(files, rel))
				goto nomem;
		}
	}
	/* Directory order and module order both differ from byte order of the
	 * whole path, which is what makes the output reproducible. */
	qsort(files->items + first_migration, files->count - first_migration, sizeof(*files->items),
	      cmp_str);
	if (!strlist_push(deps, strdup(manifest)))
		goto nomem;
	rc = 0;
	goto cleanup;
nomem:
	errorf("out of memory while scanning %s", modules_dir);
cleanup:
	strlist_free(&entries);
	strlist_free(&sqls);
	free(manifest);
	free(module_dir);
	free(mig_dir);
	return rc;
}

static int read_file(const char *path, unsigned char **data, size_t *size)
{
	FILE *f = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;

	f = fopen(path, "rb");
	if (!f) {
		errorf("cannot open %s: %s", path, strerror(errno));
		goto cleanup;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			unsigned char *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				errorf("out of memory while reading %s", path);
				goto cleanup;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		errorf("cannot read %s: %s", path, strerror(errno));
		goto cleanup;
	}
	*data = buf;
	*size = len;
	buf = NULL;
	rc = 0;
cleanup:
	if (f)
		fclose(f);
	free(buf);
	return rc;
}

static int sha256_hex(const unsigned char *data, size_t size, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char digits[] = "0123456789abcdef";

	if (EVP_Digest(data, size, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[64] = '\0';
	return 0;
}

/*
 * A C string literal for s. Octal escapes cannot swallow a following digit the
 * way \x escapes swallow hex letters, and '?' is escaped because -std=c11
 * turns on trigraphs.
 */
static void put_c_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == '?')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\%03o", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* Make syntax as ninja reads it: spaces and '#' escaped, '$' doubled. */
static void put_make_path(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == ' ' || *s == '#')
			fputc('\\', out);
		else if (*s == '$')
			fputc('$', out);
		fputc(*s, out);
	}
}

static int write_source(FILE *out, const char *modules_dir, const char *symbol,
                        const strlist *files)
{
	unsigned char *data = NULL;
	size_t *sizes = NULL;
	char(*hashes)[65] = NULL;
	char *full = NULL;
	int rc = -1;

	sizes = calloc(files->count, sizeof(*sizes));
	hashes = calloc(files->count, sizeof(*hashes));
	if (!sizes || !hashes) {
		errorf("out of memory while writing %s", symbol);
		goto cleanup;
	}
	fprintf(out,
	        "/* Code generated by modmig-embed from the modules directory. DO NOT EDIT. */\n"
	        "#include \"modmig.h\"\n\n"
	        "extern const modmig_embedded_file %s_files[];\n"
	        "extern const size_t %s_count;\n",
	        symbol, symbol);
	for (size_t i = 0; i < files->count; i++) {
		size_t size = 0;

		free(full);
		free(data);
		data = NULL;
		full = join_path(modules_dir, files->items[i]);
		if (!full) {
			errorf("out of memory while writing %s", symbol);
			goto cleanup;
		}
		if (read_file(full, &data, &size) != 0)
			goto cleanup;
		if (sha256_hex(data, size, hashes[i]) != 0) {
			errorf("cannot hash %s", full);
			goto cleanup;
		}
		sizes[i] = size;
		fprintf(out, "\n/* ");
		/* The path goes into a comment; a "*" "/" in a file name would end it. */
		for (const char *p = files->items[i]; *p; p++)
			fputc(*p == '*' && p[1] == '/' ? '_' : *p, out);
		fprintf(out, " */\nstatic const unsigned char %s_data_%zu[] = {", symbol, i);
		/* ISO C forbids an empty initializer; the size field stays 0. */
		if (size == 0)
			fprintf(out, "0");
		for (size_t j = 0; j < size; j++) {
			if (j % BYTES_PER_LINE == 0)
				fputs("\n\t", out);
			fprintf(out, "0x%02x,", data[j]);
		}
		fprintf(out, "\n};\n");
	}
	fprintf(out, "\nconst modmig_embedded_file %s_files[] = {\n", symbol);
	for (size_t i = 0; i < files->count; i++) {
		fputs("\t{", out);
		put_c_string(out, files->items[i]);
		/* The hash goes on its own line to keep the table under 100 columns. */
		fprintf(out, ", %s_data_%zu, %zu,\n\t \"%s\"},\n", symbol, i, sizes[i], hashes[i]);
	}
	fprintf(out, "};\nconst size_t %s_count = %zu;\n", symbol, files->count);
	rc = 0;
cleanup:
	free(full);
	free(data);
	free(sizes);
	free(hashes);
	return rc;
}

static int write_depfile(FILE *out, const char *output, const strlist *deps)
{
	put_make_path(out, output);
	fputc(':', out);
	for (size_t i = 0; i < deps->count; i++) {
		fputs(" \\\n ", out);
		put_make_path(out, deps->items[i]);
	}
	fputc('\n', out);
	return 0;
}

typedef struct job {
	const char *modules_dir;
	const char *symbol;
	const char *output;
	const strlist *files;
	const strlist *deps;
} job;

/*
 * Write path through a temporary file in the same directory and rename it, so
 * an interrupted build never leaves a half-written file that ninja would take
 * as up to date.
 */
static int write_atomic(const char *path, int (*fill)(FILE *, const job *), const job *j)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd = -1;
	int rc = -1;
	size_t len = strlen(path) + sizeof(".tmpXXXXXX");

	tmp = malloc(len);
	if (!tmp) {
		errorf("out of memory while writing %s", path);
		goto cleanup;
	}
	snprintf(tmp, len, "%s.tmpXXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		errorf("cannot write %s: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	/* mkstemp creates 0600; a generated source should be readable like any other. */
	if (fchmod(fd, 0644) != 0) {
		errorf("cannot set permissions of %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	f = fdopen(fd, "w");
	if (!f) {
		errorf("cannot write %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (fill(f, j) != 0)
		goto cleanup;
	if (fflush(f) != 0 || ferror(f)) {
		errorf("cannot write %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (fclose(f) != 0) {
		f = NULL;
		errorf("cannot write %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		errorf("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rc != 0 && tmp)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int fill_source(FILE *f, const job *j)
{
	return write_source(f, j->modules_dir, j->symbol, j->files);
}

static int fill_depfile(FILE *f, const job *j)
{
	return write_depfile(f, j->output, j->deps);
}

static void usage(FILE *f)
{
	fputs("usage: " PROG " --modules DIR --symbol NAME --output FILE [--depfile FILE]\n", f);
}

int main(int argc, char **argv)
{
	const char *modules_dir = NULL, *symbol = NULL, *output = NULL, *depfile = NULL;
	strlist files = {0}, deps = {0};
	job j;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		const char **slot = NULL;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			rc = 0;
			goto cleanup;
		} else if (strcmp(argv[i], "--modules") == 0) {
			slot = &modules_dir;
		} else if (strcmp(argv[i], "--symbol") == 0) {
			slot = &symbol;
		} else if (strcmp(argv[i], "--output") == 0) {
			slot = &output;
		} else if (strcmp(argv[i], "--depfile") == 0) {
			slot = &depfile;
		} else {
			errorf("unknown argument %s", argv[i]);
			usage(stderr);
			goto cleanup;
		}
		if (i + 1 >= argc) {
			errorf("%s needs a value", argv[i]);
			goto cleanup;
		}
		*slot = argv[++i];
	}
	if (!modules_dir || !symbol || !output) {
		usage(stderr);
		goto cleanup;
	}
	if (!valid_symbol(symbol)) {
		errorf("symbol %s is not a C identifier", symbol);
		goto cleanup;
	}
	if (collect(modules_dir, &files, &deps) != 0)
		goto cleanup;
	j = (job){modules_dir, symbol, output, &files, &deps};
	if (write_atomic(output, fill_source, &j) != 0)
		goto cleanup;
	if (depfile && write_atomic(depfile, fill_depfile, &j) != 0)
		goto cleanup;
	rc = 0;
cleanup:
	strlist_free(&files);
	strlist_free(&deps);
	return rc;
}
