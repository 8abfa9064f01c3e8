/*
 * internal.h - shared types and helpers of libmodmig. Not installed; the CLI
 * must not include it (it uses include/modmig.h only).
 */
#ifndef MODMIG_INTERNAL_H
#define MODMIG_INTERNAL_H

#include "modmig.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MM_PRINTF(fmt, args)
#endif

/* ---- errors (error.c) --------------------------------------------------- */

struct modmig_error {
	modmig_status code;
	char *message;
	char *hint;
	char *sqlstate;
	char *detail;
	char *context;
	char *file;
	int line;
	int column;
	int64_t version;
	char *module;
};

/*
 * Record an error in *err (when err is not NULL and *err is NULL; the first
 * error wins) and return code, so callers can write
 *     rc = mm_fail(err, MODMIG_E_PARSE, file, line, 0, "unclosed block");
 * file may be NULL; line/column 0 mean unknown.
 */
modmig_status mm_fail(modmig_error **err, modmig_status code, const char *file, int line,
		      int column, const char *fmt, ...) MM_PRINTF(6, 7);
/* Set the hint of *err (no-op when err or *err is NULL). */
void mm_hint(modmig_error **err, const char *fmt, ...) MM_PRINTF(2, 3);
/* Attach a migration to *err (no-op when err or *err is NULL). */
void mm_error_set_migration(modmig_error **err, int64_t version, const char *module);
/* Set a string field, replacing any previous value (NULL clears). */
void mm_error_set_field(char **field, const char *value);

/* ---- memory and strings (util.c) ---------------------------------------- */

/* Abort-free allocation helpers: return NULL on OOM like malloc. */
char *mm_strdup(const char *s);
char *mm_strndup(const char *s, size_t n);
char *mm_printf(const char *fmt, ...) MM_PRINTF(1, 2);

/* A growable byte buffer, always NUL-terminated when data != NULL. */
typedef struct mm_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* set once an append failed; later appends are ignored */
} mm_buf;

void mm_buf_init(mm_buf *b);
void mm_buf_free(mm_buf *b);
bool mm_buf_append(mm_buf *b, const char *s, size_t n);
bool mm_buf_puts(mm_buf *b, const char *s);
bool mm_buf_printf(mm_buf *b, const char *fmt, ...) MM_PRINTF(2, 3);
/* Append s as a JSON string literal, quotes included. */
bool mm_buf_json_string(mm_buf *b, const char *s);
/* Take ownership of the contents (never NULL unless OOM); b is reset. */
char *mm_buf_take(mm_buf *b);

/* Read a whole file. *out is NUL-terminated and owned by the caller. */
modmig_status mm_read_file(const char *path, char **out, size_t *len, modmig_error **err);

/* SHA-256 of data as 64 lowercase hex digits plus NUL (OpenSSL EVP). */
void mm_sha256_hex(const void *data, size_t len, char out[65]);

/* Milliseconds from a monotonic clock. */
double mm_now_ms(void);

/* ---- parsed migration files (parse.c) ----------------------------------- */

typedef struct mm_unit {
	char *sql;  /* exactly the text sent to the server (CR of CRLF removed) */
	size_t len;
	int line;   /* 1-based line in the file where the unit's text starts */
	int column; /* 1-based column of its first character */
} mm_unit;

typedef struct mm_section {
	mm_unit *units;
	size_t count;
} mm_section;

typedef struct mm_parsed {
	bool no_transaction;
	bool has_down;
	mm_section up;
	mm_section down;
	char *lock_timeout;      /* from "-- modmig lock_timeout=..." or NULL */
	char *statement_timeout; /* from "-- modmig statement_timeout=..." or NULL */
} mm_parsed;

/*
 * Parse one goose-format migration. file is used in messages only. text need
 * not be NUL-terminated. On failure out is left empty and *err names file:line.
 */
modmig_status mm_parse(const char *file, const char *text, size_t len, mm_parsed *out,
		       modmig_error **err);
void mm_parsed_clear(mm_parsed *p);

/* ---- the manifest (manifest.c) ------------------------------------------ */

struct modmig_module {
	char *name;
	char *schema; /* NULL if none */
	char **depends_on;
	size_t depends_count;
	size_t index;
	int64_t first_version; /* (index+1)*1000 + 1 */
	int64_t last_version;  /* (index+1)*1000 + 999 */
	int line;              /* where the module entry starts in the manifest */
	int column;
};

typedef struct mm_manifest {
	char *file;          /* display path of the manifest */
	char *version_table; /* default "goose_db_version" */
	modmig_module *modules;
	size_t module_count;
} mm_manifest;

/* Parse modules.yaml with libyaml's event API. Errors carry file:line:column. */
modmig_status mm_manifest_parse(const char *file, const char *text, size_t len,
				mm_manifest *out, modmig_error **err);
void mm_manifest_clear(mm_manifest *m);

/* ---- migrations and sources (source.c) ---------------------------------- */

struct modmig_migration {
	int64_t version;
	char *name;        /* after "<version>_", without ".sql" */
	char *file;        /* display path */
	const modmig_module *module; /* NULL in --dir mode */
	char sha256[65];
	/*
	 * The file's bytes: borrowed from the embedded array, or owned (owns_bytes)
	 * when read from disk. Files on disk are read, hashed and parsed only when
	 * first needed (mm_migration_load, mm_migration_parse), so that status
	 * on ten thousand files costs one readdir per directory, not 10 000 reads.
	 * sha256 is valid once loaded is true.
	 */
	const char *bytes;
	size_t size;
	bool owns_bytes;
	bool loaded;
	bool parsed_ok;
	mm_parsed parsed;
};

/* Read and hash m's file unless already done (a no-op for embedded files). */
modmig_status mm_migration_load(modmig_migration *m, modmig_error **err);
/* Load every migration of src: for commands that compare checksums. */
modmig_status mm_source_load(const modmig_source *src, modmig_error **err);
/* Load, then parse m's bytes into m->parsed unless already done. */
modmig_status mm_migration_parse(modmig_migration *m, modmig_error **err);

struct modmig_source {
	mm_manifest manifest; /* empty in --dir mode, except version_table */
	bool dir_mode;
	char *origin;         /* manifest path, directory, or "(embedded)" */
	char *root;           /* the modules directory on disk, or NULL when embedded */
	modmig_migration *migrations; /* ascending version */
	size_t migration_count;
};

/*
 * goose's version parsing of a file name "<digits>_<text>.sql": returns false
 * when the name does not have that form. *name_start points at <text>.
 */
bool mm_version_from_filename(const char *filename, int64_t *version, const char **name_start);

#endif /* MODMIG_INTERNAL_H */
