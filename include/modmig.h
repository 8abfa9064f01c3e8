/*
 * modmig.h - the public API of libmodmig, a PostgreSQL migration runner for
 * modular applications.
 *
 * Conventions (in the way of libpq and curl):
 * - Handles are opaque. Every constructor `modmig_x_new` (or a loader that
 *   returns a new handle) has a destructor `modmig_x_free`; the free functions
 *   accept NULL.
 * - Functions that can fail return a modmig_status and take a trailing
 *   `modmig_error **err`. On failure, if err is not NULL, *err receives a new
 *   error object that the caller owns and releases with modmig_error_free().
 *   On success *err is left untouched.
 * - Strings returned as `const char *` are borrowed from the handle they came
 *   from and live as long as it does. Strings returned as `char *` are owned by
 *   the caller and are released with modmig_free().
 * - The library never writes to stdout or stderr; it reports through the log
 *   callback set with modmig_db_set_log() or modmig_startup_options.log.
 * - Every enum value has an explicit number that never changes: new values are
 *   appended, never renumbered or reused (a client built against an older
 *   header keeps working). *_COUNT values are not part of that promise.
 * - Lists are read with one convention: modmig_x_count(), modmig_x_at(h, i)
 *   (NULL past the end) and modmig_x_free().
 *
 * Threads (in the way of libpq):
 * - The library keeps no global state; distinct handles may be used from
 *   distinct threads at the same time.
 * - A modmig_db is used by one thread at a time (like a PGconn), and so is
 *   each result, report, findings, checkup and history handle it produced
 *   while it is being read and freed.
 * - A modmig_source is read-only through `const modmig_source *`: every
 *   function that takes one only reads it, so any number of threads may share
 *   a source for those calls (status, version, history, list, sqlc, create).
 *   The one cache behind a const pointer, modmig_migration_sha256()'s first
 *   read of a file, is serialized inside the library.
 *   Loading a source reads the manifest and names the files but, to keep
 *   `status` on thousands of files fast, neither reads nor parses the files.
 *   The calls that read and parse what they are about to run take a
 *   non-const `modmig_source *` and fill the source as they go: up, down,
 *   redo, plan_write, stamp, verify and doctor, and modmig_source_parse(),
 *   which does it for every file at once. Do not share a source between
 *   threads during one of these calls; call modmig_source_parse() once
 *   before sharing it, and every later call only reads it.
 */
#ifndef MODMIG_H
#define MODMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MODMIG_VERSION_MAJOR/MINOR/PATCH and MODMIG_VERSION, from meson.build. */
#include "modmig_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * The library's version, e.g. "0.1.0": the one it was built as, which may
 * differ from MODMIG_VERSION when a client was compiled against another
 * header. Static; never NULL.
 */
const char *modmig_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

/*
 * One table of status codes. Each maps to a process exit code through
 * modmig_exit_code(): 0 success, 1 database or runtime failure, 2 bad input
 * (nothing was changed), 3 a check found a problem.
 */
typedef enum modmig_status {
	MODMIG_OK = 0,
	/* exit 2: bad input, nothing changed */
	MODMIG_E_USAGE = 1,     /* bad usage of a call or an option */
	MODMIG_E_MANIFEST = 2,  /* malformed modules.yaml */
	MODMIG_E_PARSE = 3,     /* malformed migration file */
	MODMIG_E_VERSION = 4,   /* bad file name, duplicate or out-of-range version */
	MODMIG_E_NOT_FOUND = 5, /* unknown module, version or file */
	MODMIG_E_REGISTRY = 6,  /* manifest disagrees with the database's module registry */
	MODMIG_E_REFUSED = 7,   /* refused: production guard, a dependent module, read-only
	                           server, a migration part-way, no Down section */
	/* exit 1: database or runtime failure */
	MODMIG_E_IO = 8,            /* a file could not be read or written */
	MODMIG_E_CONNECT = 9,       /* could not connect */
	MODMIG_E_SQL = 10,          /* a statement failed */
	MODMIG_E_LOCK_TIMEOUT = 11, /* the advisory lock was not granted in time */
	MODMIG_E_STATE = 12,        /* modmig's tables are missing or damaged */
	MODMIG_E_INCOMPLETE = 13,   /* a NO TRANSACTION migration failed part-way */
	MODMIG_E_NOMEM = 14,        /* out of memory */
	MODMIG_E_INTERNAL = 15,     /* a bug in modmig */
	/* exit 3: a check found a problem */
	MODMIG_E_CHECK = 16,         /* verify or doctor found problems */
	MODMIG_E_STALE = 17,         /* a generated file is out of date */
	MODMIG_E_OUT_OF_ORDER = 18,  /* out-of-order migration refused by strict */
	MODMIG_E_PLAN_MISMATCH = 19, /* database or files differ from a reviewed plan */
	MODMIG_E_PENDING = 20,       /* verify policy: migrations are pending */
	/* exit 1 */
	MODMIG_E_CANCELLED = 21, /* modmig_db_cancel() (a signal): rolled back and recorded */
	/* new codes are appended here; not a status, moves as codes are added */
	MODMIG_STATUS_COUNT = 22
} modmig_status;

/* The process exit code (0..3) for a status. */
int modmig_exit_code(modmig_status status);
/* A stable lowercase name for a status, e.g. "parse". Never NULL. */
const char *modmig_status_name(modmig_status status);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct modmig_error modmig_error;

/*
 * What to do about an error, a finding or a doctor item, machine-readable, so
 * that a client can offer it in its own words (the CLI prints a command line,
 * a service a button or a log line). The library's own texts say it in API
 * terms. Parameters: modmig_error_next_unit(), modmig_error_next_version(),
 * modmig_error_module().
 */
typedef enum modmig_next_step {
	MODMIG_NEXT_NONE = 0,         /* nothing the library can name; the hint may say more */
	MODMIG_NEXT_RUN_UP = 1,       /* apply what is pending: modmig_up() (without a resume mode
	                                 when the error is MODMIG_E_USAGE) */
	MODMIG_NEXT_RESUME = 2,       /* fix the cause, then modmig_up() with MODMIG_RESUME_CONTINUE
	                                 (continues at next_unit) or MODMIG_RESUME_RESTART */
	MODMIG_NEXT_CREATE_STATE = 3, /* modmig_up() creates modmig's missing tables */
	MODMIG_NEXT_RUN_VERIFY = 4,   /* modmig_verify() says more */
	MODMIG_NEXT_WRITE_PLAN = 5,   /* write a (new) reviewed plan: modmig_plan_write() */
	MODMIG_NEXT_LIST = 6,         /* pick a module or version the source has */
	MODMIG_NEXT_CREATE_MIGRATION = 7,    /* add the file with modmig_create_migration() in
	                                        modmig_error_module()'s range */
	MODMIG_NEXT_USE_MANIFEST = 8,        /* load the source from a manifest on disk */
	MODMIG_NEXT_RENUMBER = 9,            /* give the migration a version above next_version,
	                                        or run up without strict */
	MODMIG_NEXT_RAISE_LOCK_TIMEOUT = 10, /* let the other session finish and run up again,
	                                        or raise the lock timeout */
	MODMIG_NEXT_RAISE_STATEMENT_TIMEOUT = 11, /* make it faster or raise the statement
	                                             timeout */
	MODMIG_NEXT_GRANT = 12,          /* grant the role what it lacks (the text gives the SQL) */
	MODMIG_NEXT_CHECK_UNIT = 13,     /* unit next_unit may have taken effect: make sure it
	                                    can run again, then modmig_up() with
	                                    MODMIG_RESUME_CONTINUE (runs it again) or
	                                    MODMIG_RESUME_RESTART */
	MODMIG_NEXT_FINISH_PARTWAY = 14, /* a NO TRANSACTION migration (modmig_error_version())
	                                    stands part-way: finish it with modmig_up() and a
	                                    resume mode first */
	MODMIG_NEXT_MARK_ONLY = 15,      /* no Down section: add one, or undo the effects by
	                                    hand and roll back with mark_only */
	MODMIG_NEXT_WRITABLE = 16,       /* connect to a writable server: the primary, or a
	                                    user or database without
	                                    default_transaction_read_only */
	MODMIG_NEXT_RAISE_MAX_FILE_SIZE = 17, /* split the file, or raise the size limit:
	                                         modmig_source_set_max_file_size() */
	MODMIG_NEXT_REPAIR = 18 /* record an operator's answer with modmig_repair(): the
	                           finding's kind (doctor: the item) says which action */
	                        /* new steps are appended here */
} modmig_next_step;

/* A stable lowercase name for a step, e.g. "resume". Never NULL. */
const char *modmig_next_step_name(modmig_next_step step);

void modmig_error_free(modmig_error *err);
modmig_status modmig_error_code(const modmig_error *err);
/* One line, lowercase, no final period. Never NULL. */
const char *modmig_error_message(const modmig_error *err);
/* What to do about it in API terms, or NULL. */
const char *modmig_error_hint(const modmig_error *err);
/* The next step, machine-readable (MODMIG_NEXT_NONE when there is none). */
modmig_next_step modmig_error_next_step(const modmig_error *err);
/*
 * The hint without its next step, or NULL: the facts that a client which
 * words the step itself shows with it, e.g. "unit 1 of 2 took effect".
 */
const char *modmig_error_next_reason(const modmig_error *err);
/* For MODMIG_NEXT_RESUME: the 1-based unit to continue at; else 0. */
int modmig_error_next_unit(const modmig_error *err);
/* For MODMIG_NEXT_RENUMBER: the version to go above; else 0. */
int64_t modmig_error_next_version(const modmig_error *err);
/* Server-side details, or NULL when the error did not come from the server. */
const char *modmig_error_sqlstate(const modmig_error *err);
const char *modmig_error_detail(const modmig_error *err);
const char *modmig_error_context(const modmig_error *err);
/* Where: file (or NULL), 1-based line and column (0 when unknown). */
const char *modmig_error_file(const modmig_error *err);
int modmig_error_line(const modmig_error *err);
int modmig_error_column(const modmig_error *err);
/* The migration the error belongs to: version (0 if none) and module (or NULL). */
int64_t modmig_error_version(const modmig_error *err);
const char *modmig_error_module(const modmig_error *err);

/* Flags for modmig_error_format(). */
enum {
	MODMIG_FORMAT_COLOR = 1 /* ANSI color for the word "error" */
	                        /* new flags are appended here */
};

/*
 * The error as the command line prints it, lines ending in '\n':
 *     file:line:column: error: message      ("modmig: error: message" without a file)
 *       hint: ...                           (multi-line text stays under its label)
 *       migration: 02001 identity
 *       SQLSTATE 42P01
 *       detail: ...
 *       context: ...
 * The hint is the library's, in API terms: a client that words next steps
 * itself (the CLI does) formats the other lines and its own hint with
 * modmig_error_format_hint(). NULL only when out of memory; caller frees
 * with modmig_free().
 */
char *modmig_error_format(const modmig_error *err, unsigned flags);
/* modmig_error_format() with hint in place of the library's (NULL: no hint line). */
char *modmig_error_format_hint(const modmig_error *err, unsigned flags, const char *hint);

/* Release memory that the library handed over as `char *`. */
void modmig_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Migration sources                                                        */
/* ------------------------------------------------------------------------ */

/*
 * One file compiled into a binary by modmig-embed. `path` is relative to the
 * modules directory: "modules.yaml" or "<module>/migrations/<file>.sql".
 */
typedef struct modmig_embedded_file {
	const char *path;
	const unsigned char *data;
	size_t size;
	const char *sha256; /* lowercase hex of data */
} modmig_embedded_file;

typedef struct modmig_source modmig_source;
typedef struct modmig_module modmig_module;
typedef struct modmig_migration modmig_migration;

typedef enum modmig_direction { MODMIG_UP = 0, MODMIG_DOWN = 1 } modmig_direction;

/* A source from embedded files (one of them must be "modules.yaml"). */
modmig_status modmig_source_new_embedded(const modmig_embedded_file *files, size_t count,
                                         modmig_source **out, modmig_error **err);
/* A source from a manifest on disk; migrations live beside it in <module>/migrations. */
modmig_status modmig_source_new_manifest(const char *manifest_path, modmig_source **out,
                                         modmig_error **err);
/*
 * A plain goose directory: no manifest, no ranges, goose's version parsing.
 * version_table may be NULL for "goose_db_version".
 */
modmig_status modmig_source_new_dir(const char *dir, const char *version_table, modmig_source **out,
                                    modmig_error **err);
void modmig_source_free(modmig_source *src);

/*
 * Migration files on disk must be regular files (a symbolic link to one is
 * fine) of at most this many bytes; anything else is refused with
 * MODMIG_E_PARSE naming the file, before it is read. Files are read on first
 * use, so this may be set any time after loading. 0 restores the default,
 * MODMIG_MAX_FILE_SIZE_DEFAULT (16 MiB). Embedded files have no limit: they
 * are in memory already.
 */
#define MODMIG_MAX_FILE_SIZE_DEFAULT ((uint64_t)16 << 20)
void modmig_source_set_max_file_size(modmig_source *src, uint64_t max_file_size);

/*
 * Loading a source reads the manifest (or lists the directory) and checks
 * names and versions; files on disk are read and parsed only when needed.
 * This reads, hashes and parses every migration (the first error is
 * returned); afterwards the source is complete and only read (see Threads).
 * The unit accessors below return 0/NULL and modmig_migration_sha256() ""
 * for a migration not read yet; modmig_up() and friends read and parse what
 * they are about to run themselves.
 */
modmig_status modmig_source_parse(modmig_source *src, modmig_error **err);
/*
 * modmig_source_parse() that goes on past a bad file, for a report of every
 * problem at once: fn gets each file's error, borrowed for the call. Returns
 * MODMIG_OK when every file parsed, else the status of the first error.
 */
typedef void (*modmig_error_fn)(void *userdata, const modmig_error *err);
modmig_status modmig_source_parse_each(modmig_source *src, modmig_error_fn fn, void *userdata);

/* Possibly schema-qualified, as written in the manifest. */
const char *modmig_source_version_table(const modmig_source *src);
/* true for --dir sources (no modules). */
bool modmig_source_is_dir(const modmig_source *src);
/* The manifest's path, or the directory for --dir sources, or "(embedded)". */
const char *modmig_source_origin(const modmig_source *src);

size_t modmig_source_module_count(const modmig_source *src);
const modmig_module *modmig_source_module_at(const modmig_source *src, size_t index);
const modmig_module *modmig_source_find_module(const modmig_source *src, const char *name);
const char *modmig_module_name(const modmig_module *module);
const char *modmig_module_schema(const modmig_module *module); /* NULL if none */
size_t modmig_module_index(const modmig_module *module);
int64_t modmig_module_first_version(const modmig_module *module);
int64_t modmig_module_last_version(const modmig_module *module);
size_t modmig_module_depends_count(const modmig_module *module);
const char *modmig_module_depends_at(const modmig_module *module, size_t index);

/* Migrations in ascending version order. */
size_t modmig_source_migration_count(const modmig_source *src);
const modmig_migration *modmig_source_migration_at(const modmig_source *src, size_t index);
const modmig_migration *modmig_source_find(const modmig_source *src, int64_t version);

/*
 * Parse one file outside any source (for `inspect`). The version comes from
 * the file name when it has one, else 0. Free with modmig_migration_free().
 */
modmig_status modmig_migration_parse_file(const char *path, modmig_migration **out,
                                          modmig_error **err);
/* The same with a size limit other than the default (0: the default). */
modmig_status modmig_migration_parse_file_limit(const char *path, uint64_t max_file_size,
                                                modmig_migration **out, modmig_error **err);
/* Only for migrations returned by modmig_migration_parse_file(). */
void modmig_migration_free(modmig_migration *migration);

int64_t modmig_migration_version(const modmig_migration *m);
/* The part of the file name after "<version>_" without ".sql". */
const char *modmig_migration_name(const modmig_migration *m);
/* The display path, e.g. "modules/identity/migrations/02001_identity_init.sql". */
const char *modmig_migration_file(const modmig_migration *m);
const modmig_module *modmig_migration_module(const modmig_migration *m); /* NULL in --dir mode */
/*
 * Lowercase hex; a file on disk is read and hashed on first use ("" if
 * unreadable). The one read-only call that fills a cache: it is serialized
 * inside, so threads sharing a source may call it (see Threads).
 */
const char *modmig_migration_sha256(const modmig_migration *m);
bool modmig_migration_no_transaction(const modmig_migration *m);
bool modmig_migration_has_down(const modmig_migration *m);
size_t modmig_migration_unit_count(const modmig_migration *m, modmig_direction dir);
/* Exactly the text sent to the server for that unit. */
const char *modmig_migration_unit_sql(const modmig_migration *m, modmig_direction dir, size_t i);
/* 1-based line in the file where the unit starts. */
int modmig_migration_unit_line(const modmig_migration *m, modmig_direction dir, size_t i);
/* 1-based column of the unit's first character. */
int modmig_migration_unit_column(const modmig_migration *m, modmig_direction dir, size_t i);
/*
 * false when PostgreSQL's grammar (the bundled one) could not parse the
 * statement and only its lexer split it: syntax newer than the grammar, or a
 * typo the server will refuse. true otherwise (StatementBegin blocks are
 * sent as they stand and count as true).
 */
bool modmig_migration_unit_parsed(const modmig_migration *m, modmig_direction dir, size_t i);
/*
 * What a parsed file holds that is accepted but not sent as written, such as
 * a BEGIN that opens a section of a transactional migration (modmig runs it
 * in one transaction already): one line each, in file order. *line and
 * *column (1-based, in the file) and *dir (the section) may be NULL.
 * NULL past the end, and for a migration not parsed yet.
 */
size_t modmig_migration_warning_count(const modmig_migration *m);
const char *modmig_migration_warning_at(const modmig_migration *m, size_t index, int *line,
                                        int *column, modmig_direction *dir);
/* Per-file timeouts from `-- modmig lock_timeout=5s` headers, or NULL. */
const char *modmig_migration_lock_timeout(const modmig_migration *m);
const char *modmig_migration_statement_timeout(const modmig_migration *m);

/* Module schemas in manifest order, then public, e.g. "identity, billing, public". */
char *modmig_app_search_path(const modmig_source *src);

/* The text of sqlc_schemas.sql for this source. Caller frees with modmig_free(). */
char *modmig_sqlc_schemas(const modmig_source *src);

/*
 * Write the next migration file of a module (manifest sources on disk only).
 * *out_path receives the new file's path (caller frees with modmig_free()).
 */
modmig_status modmig_create_migration(const modmig_source *src, const char *module,
                                      const char *name, char **out_path, modmig_error **err);

/*
 * Write a new file into a --dir source's directory as `goose create NAME sql`
 * does: named by the current UTC time, YYYYMMDDhhmmss_NAME.sql, or with
 * sequential by the highest sequential version + 1 (1 when none), at least
 * five digits, e.g. 00004_NAME.sql; goose's SQL template. NAME must be what
 * goose's snake_case leaves unchanged: lowercase letters and digits, single
 * underscores between them (MODMIG_E_USAGE otherwise). A version the
 * directory already has is refused (MODMIG_E_VERSION). *out_path receives
 * the new file's path (caller frees with modmig_free()).
 */
modmig_status modmig_create_dir_migration(const modmig_source *src, const char *name,
                                          bool sequential, char **out_path, modmig_error **err);

/* One file renamed by modmig_fix_dir(); borrowed for the callback. */
typedef struct modmig_rename {
	const char *from;
	const char *to;
	int64_t from_version;
	int64_t to_version;
} modmig_rename;
typedef void (*modmig_rename_fn)(void *userdata, const modmig_rename *rename);

/*
 * `goose fix` for a --dir source: give every timestamped file (in version
 * order) the next sequential version after the highest sequential one,
 * e.g. 20240105093000_x.sql becomes 00004_x.sql. Every rename is checked
 * first (no target exists, the directory is writable); a rename that fails
 * anyway undoes those before it, so the directory is never left half
 * renumbered. fn (may be NULL) gets each rename, once all are done; with
 * dry_run nothing is renamed and fn gets what would be. A manifest or
 * embedded source is refused (MODMIG_E_USAGE): module versions are fixed by
 * their range.
 */
modmig_status modmig_fix_dir(const modmig_source *src, bool dry_run, modmig_rename_fn fn,
                             void *userdata, modmig_error **err);

/* ------------------------------------------------------------------------ */
/* Logging                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum modmig_log_level {
	MODMIG_LOG_DEBUG = 0,
	MODMIG_LOG_INFO = 1,
	MODMIG_LOG_WARN = 2,
	MODMIG_LOG_ERROR = 3
} modmig_log_level;

typedef enum modmig_event_kind {
	MODMIG_EVENT_MESSAGE = 0,      /* free text */
	MODMIG_EVENT_APPLIED = 1,      /* a migration was applied */
	MODMIG_EVENT_ROLLED_BACK = 2,  /* a migration was rolled back */
	MODMIG_EVENT_FAILED = 3,       /* a migration failed */
	MODMIG_EVENT_STAMPED = 4,      /* marked applied without running */
	MODMIG_EVENT_LOCK_WAIT = 5,    /* waiting for another migrator's lock */
	MODMIG_EVENT_OUT_OF_ORDER = 6, /* within-module out-of-order arrival */
	/*
	 * a dry run: a unit that would run (sql, unit, unit_count, line), or a
	 * migration that would be recorded without running anything (sql NULL:
	 * stamp, down's mark_only)
	 */
	MODMIG_EVENT_DRY_RUN = 7,
	MODMIG_EVENT_STARTED = 8, /* a migration starts to run */
	/*
	 * a migration is still running (from about 2 s on, about once a second):
	 * unit, unit_count, line, duration_ms so far, phase and percent
	 */
	MODMIG_EVENT_PROGRESS = 9,
	/*
	 * modmig_repair() recorded a history event (in a dry run: would record
	 * it); migration is the version's file, or NULL
	 */
	MODMIG_EVENT_REPAIRED = 10
} modmig_event_kind;

/* Everything in an event is borrowed for the duration of the callback. */
typedef struct modmig_event {
	modmig_event_kind kind;
	modmig_log_level level;
	const char *message;               /* one line, never NULL */
	const modmig_migration *migration; /* or NULL */
	modmig_direction direction;
	double duration_ms; /* for APPLIED/ROLLED_BACK/FAILED */
	const char *sql;    /* for DRY_RUN: the unit's text */
	/*
	 * For DRY_RUN: the unit (1-based) of unit_count, and its line in the file.
	 * For PROGRESS: the unit running (1-based) of unit_count, and the line in
	 * the file of the statement running. unit is 0 when not known: a
	 * transactional migration of several units goes to the server as one
	 * query string, whose results come back only when it ends. For CREATE
	 * INDEX and REINDEX, the server's phase (pg_stat_progress_create_index,
	 * read over a second connection) or NULL, and its percent done, < 0 when
	 * unknown.
	 */
	int unit;
	int unit_count;
	int line;
	const char *phase;
	double percent;
} modmig_event;

typedef void (*modmig_log_fn)(void *userdata, const modmig_event *event);

/* ------------------------------------------------------------------------ */
/* Database                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct modmig_db modmig_db;

/*
 * Connect. conninfo may be a URL or key=value string; when NULL or empty,
 * DATABASE_URL is used, then libpq's environment (PGHOST, ...). Any
 * search_path in `options` is removed first, so migrations run with the
 * server's default search path.
 */
modmig_status modmig_db_connect(const char *conninfo, modmig_db **out, modmig_error **err);
void modmig_db_free(modmig_db *db);
void modmig_db_set_log(modmig_db *db, modmig_log_fn fn, void *userdata);
/* Longest wait for the migration lock in milliseconds; < 0 waits forever (default). */
void modmig_db_set_lock_timeout(modmig_db *db, int timeout_ms);

/*
 * How migrators take turns. Whichever is used, each migration's transaction
 * also takes a transaction-level advisory lock and re-checks the version
 * (the fence), so no migration is ever applied twice.
 */
typedef enum modmig_lock_mode {
	/* a session advisory lock (default): for direct and session-pooled connections */
	MODMIG_LOCK_SESSION = 0,
	/*
	 * a lease row in the version table's "_lock" table, renewed by every
	 * migration and taken over when it expires: for poolers in transaction
	 * mode (PgBouncer pool_mode=transaction), where a session lock is held by
	 * whichever backend took it and means nothing to the next transaction
	 */
	MODMIG_LOCK_TABLE = 1
} modmig_lock_mode;

void modmig_db_set_lock_mode(modmig_db *db, modmig_lock_mode mode);
/* The connection described with the password redacted, e.g. "postgres://app:xxxxx@host/db". */
const char *modmig_db_display(const modmig_db *db);
/* The search_path that was removed from options, or NULL. */
const char *modmig_db_stripped_search_path(const modmig_db *db);
/*
 * The passwords written in a connection string, as offsets into conninfo:
 * the PASSWORD of a URL's user:PASSWORD@ and each password=VALUE (a URL
 * query parameter or a key=value pair, quoted or not); fn is called once for
 * each, in order. What the library redacts from its messages, and what a
 * command line can blank in its own argv so that ps does not show it.
 */
typedef void (*modmig_span_fn)(void *userdata, size_t offset, size_t length);
void modmig_conninfo_passwords(const char *conninfo, modmig_span_fn fn, void *userdata);
/* PostgreSQL's server_version_num. */
int modmig_db_server_version(const modmig_db *db);
/*
 * Cancel what db is running, for an interrupted command. Safe to call from a
 * signal handler or from another thread while modmig_up() and friends run:
 * it only sets a flag and sends PostgreSQL's cancel request (PQcancel, with a
 * cancel object prepared when the connection was made). The running
 * statement is cancelled and the server rolls its transaction back; the
 * running call then records what happened in the history (for a NO
 * TRANSACTION migration, which units took effect), starts nothing new,
 * releases the lock and returns MODMIG_E_CANCELLED. Returns MODMIG_OK when
 * the request was sent (or nothing was running), MODMIG_E_CONNECT when it
 * could not be. Once called, every later run on db is refused: connect again.
 * Never call it during or after modmig_db_free() of the same db.
 */
modmig_status modmig_db_cancel(modmig_db *db);
/*
 * Why db refuses to change anything, or NULL when it is writable: a hot
 * standby (in recovery) or default_transaction_read_only=on, as the server
 * reported them when the connection was made (no round trip). up, down,
 * redo, reset and stamp refuse with MODMIG_E_REFUSED before anything runs.
 */
const char *modmig_db_read_only(const modmig_db *db);

/* ------------------------------------------------------------------------ */
/* Status                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum modmig_state {
	MODMIG_STATE_APPLIED = 0,
	MODMIG_STATE_PENDING = 1, /* not applied, above the highest applied version */
	MODMIG_STATE_MISSING = 2, /* not applied, below the highest applied version */
	MODMIG_STATE_NO_FILE = 3, /* applied, but no file has that version */
	MODMIG_STATE_FAILED = 4   /* a NO TRANSACTION migration failed part-way */
} modmig_state;

const char *modmig_state_name(modmig_state state); /* "applied", "pending", ... */

typedef struct modmig_report_row {
	int64_t version;
	const char *module; /* NULL in --dir mode or when unknown */
	const char *name;   /* NULL for NO_FILE rows */
	const char *file;   /* NULL for NO_FILE rows */
	modmig_state state;
	const char *applied_at;            /* "YYYY-MM-DD HH:MM:SS" or NULL */
	const modmig_migration *migration; /* NULL for NO_FILE rows */
} modmig_report_row;

typedef struct modmig_report modmig_report;

/* Every migration and applied version, ascending. Read in one query; reads no file. */
modmig_status modmig_db_status(modmig_db *db, const modmig_source *src, modmig_report **out,
                               modmig_error **err);
size_t modmig_report_count(const modmig_report *report);
const modmig_report_row *modmig_report_at(const modmig_report *report, size_t index);
int64_t modmig_report_current_version(const modmig_report *report);
/*
 * Why the report cannot be trusted for running anything, or NULL: the
 * module registry disagrees with the manifest (also sent to the log as a
 * warning). Status reports it; up, down and the like refuse.
 */
const char *modmig_report_warning(const modmig_report *report);
void modmig_report_free(modmig_report *report);

/* The highest applied version (0 when none). */
modmig_status modmig_db_version(modmig_db *db, const modmig_source *src, int64_t *version,
                                modmig_error **err);

/* ------------------------------------------------------------------------ */
/* Running migrations                                                       */
/* ------------------------------------------------------------------------ */

/* What up does about a NO TRANSACTION migration that failed part-way. */
typedef enum modmig_resume_mode {
	MODMIG_RESUME_NONE = 0,     /* refuse to run while one is failed (the default) */
	MODMIG_RESUME_CONTINUE = 1, /* continue it at the first unit not known to be done */
	MODMIG_RESUME_RESTART = 2   /* run it again from unit 1 */
} modmig_resume_mode;

typedef struct modmig_up_options {
	int64_t to;         /* apply up to and including this version; 0 = all */
	bool by_one;        /* apply only the next migration */
	const char *module; /* only this module's migrations, or NULL */
	bool strict;        /* out-of-order within a module is an error */
	/*
	 * Report what would run (MODMIG_EVENT_DRY_RUN, every unit in order) and
	 * change nothing: no state tables, no registry, history or lease row.
	 * Not refused on a read-only server; not refused in production.
	 */
	bool dry_run;
	const char *plan_file;         /* apply exactly this reviewed plan, or NULL */
	modmig_resume_mode resume;     /* a failed NO TRANSACTION migration: resume or restart */
	const char *lock_timeout;      /* per-migration lock_timeout, e.g. "5s", or NULL */
	const char *statement_timeout; /* per-migration statement_timeout, or NULL */
	/*
	 * The production rule, one for the CLI and modmig_startup(): in
	 * production, up applies only a reviewed plan (plan_file), or anything
	 * when allow_unreviewed is set; otherwise pending migrations are refused
	 * with MODMIG_E_REFUSED and MODMIG_NEXT_WRITE_PLAN, nothing changed.
	 * Nothing pending and dry runs are always fine.
	 */
	bool production;
	bool allow_unreviewed;
} modmig_up_options;

typedef struct modmig_down_options {
	int64_t to;         /* roll back while the last applied version is above this; -1 = one */
	const char *module; /* only this module's most recent migration(s), or NULL */
	bool all;           /* roll back everything (reset) */
	/*
	 * Report what would run (MODMIG_EVENT_DRY_RUN: every unit of each Down
	 * section, in the order they would be sent; with mark_only, one event per
	 * migration, sql NULL) and change nothing: no state tables, no registry,
	 * history or lease row, and the session lock released at the end. Not
	 * refused on a read-only server. What would be refused is refused the
	 * same way (a NO TRANSACTION migration part-way, a module with
	 * dependents, a missing Down section).
	 */
	bool dry_run;
	const char *lock_timeout;
	const char *statement_timeout;
	/*
	 * Drop only the record (version row deleted, "marked_rolled_back" in the
	 * history) without running the Down section: for a migration that has
	 * none, whose effects were undone by hand. Without it, rolling back a
	 * migration that has no Down section is refused (MODMIG_E_REFUSED).
	 */
	bool mark_only;
} modmig_down_options;

void modmig_up_options_init(modmig_up_options *opts);
/*
 * Check up's options against each other (modmig_up() and modmig_plan_write()
 * do it too): MODMIG_E_USAGE for a plan_file with selection options or an
 * unknown resume mode. Lets a client report a usage error before it opens
 * anything.
 */
modmig_status modmig_up_options_check(const modmig_up_options *opts, modmig_error **err);
void modmig_down_options_init(modmig_down_options *opts);

typedef struct modmig_result_row {
	int64_t version;
	const char *module; /* or NULL */
	const char *file;
	modmig_direction direction;
	double duration_ms;
} modmig_result_row;

typedef struct modmig_result modmig_result;

size_t modmig_result_count(const modmig_result *result);
/*
 * The highest applied version once the command was over (0 when none), as
 * known without another query; -1 when the command failed before reading
 * the database's state.
 */
int64_t modmig_result_version(const modmig_result *result);
const modmig_result_row *modmig_result_at(const modmig_result *result, size_t index);
void modmig_result_free(modmig_result *result);

/*
 * Apply pending and missing migrations (missing first, then new, each in
 * ascending version order), one transaction per migration, under the
 * advisory lock. *out (may be NULL) receives what was done, also on failure.
 */
modmig_status modmig_up(modmig_db *db, modmig_source *src, const modmig_up_options *opts,
                        modmig_result **out, modmig_error **err);
/* Roll back by apply order, most recent first. */
modmig_status modmig_down(modmig_db *db, modmig_source *src, const modmig_down_options *opts,
                          modmig_result **out, modmig_error **err);
/* Roll back the most recently applied migration and apply it again. */
modmig_status modmig_redo(modmig_db *db, modmig_source *src, modmig_result **out,
                          modmig_error **err);
/*
 * modmig_redo() with options: opts' lock_timeout, statement_timeout and
 * dry_run apply to both steps; to, module and all are not used. opts may
 * be NULL.
 */
modmig_status modmig_redo_with(modmig_db *db, modmig_source *src, const modmig_down_options *opts,
                               modmig_result **out, modmig_error **err);

/* ------------------------------------------------------------------------ */
/* Integrity and operations                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Finding kinds, one row each: X(NAME, number, "name", severity, "what it means").
 * Numbers are explicit and append-only; MODMIG_FINDING_KIND_COUNT is one past
 * the highest. Severity is MODMIG_SEVERITY_ERROR (verify exits 3) or
 * MODMIG_SEVERITY_WARNING. Adding a kind is one row here plus the check that
 * reports it (runner/README.md).
 */
typedef enum modmig_severity {
	MODMIG_SEVERITY_ERROR = 0,
	MODMIG_SEVERITY_WARNING = 1
} modmig_severity;

/* clang-format off */
#define MODMIG_FINDING_KINDS(X)                                                                    \
	X(CHANGED,      0, "changed",      MODMIG_SEVERITY_ERROR,                                  \
	  "an applied file's SHA-256 differs from the history")                                   \
	X(NO_FILE,      1, "no_file",      MODMIG_SEVERITY_ERROR, "an applied version has no file") \
	X(PENDING,      2, "pending",      MODMIG_SEVERITY_ERROR,                                  \
	  "not applied, above the highest applied version")                                       \
	X(MISSING,      3, "missing",      MODMIG_SEVERITY_ERROR,                                  \
	  "not applied, below the highest applied version")                                       \
	X(OUT_OF_ORDER, 4, "out_of_order", MODMIG_SEVERITY_ERROR,                                  \
	  "applied out of order within its module")                                               \
	X(FAILED,       5, "failed",       MODMIG_SEVERITY_ERROR,                                  \
	  "a NO TRANSACTION migration failed part-way")                                           \
	X(REGISTRY,     6, "registry",     MODMIG_SEVERITY_ERROR,                                  \
	  "the module registry disagrees with the manifest")                                      \
	X(TAMPERED,     7, "tampered",     MODMIG_SEVERITY_ERROR,                                  \
	  "the history's append-only trigger is missing")                                         \
	X(STATE,        8, "state",        MODMIG_SEVERITY_ERROR, "modmig's tables are missing")   \
	X(LINT,         9, "lint",         MODMIG_SEVERITY_ERROR,                                  \
	  "a lint rule found a hazard in a migration (rule names which)")                         \
	X(UNVERIFIED,  10, "unverified",   MODMIG_SEVERITY_WARNING,                                \
	  "an applied version has no recorded SHA-256 (adopted): its file cannot be checked")     \
	X(DUPLICATE,   11, "duplicate",    MODMIG_SEVERITY_ERROR,                                  \
	  "a version was applied more than once without a rollback between")                     \
	X(HISTORY_MISMATCH, 12, "history_mismatch", MODMIG_SEVERITY_ERROR,                         \
	  "the version table and the history disagree on whether a version is applied")
/* clang-format on */

typedef enum modmig_finding_kind {
#define MODMIG_X_(name, number, text, severity, doc) MODMIG_FINDING_##name = number,
	MODMIG_FINDING_KINDS(MODMIG_X_)
#undef MODMIG_X_
	        MODMIG_FINDING_KIND_COUNT = 13
} modmig_finding_kind;

/* "changed", "no_file", "pending", ... ("unknown" out of range) */
const char *modmig_finding_kind_name(modmig_finding_kind kind);

/* Everything borrowed from the findings handle. */
typedef struct modmig_finding {
	modmig_finding_kind kind;
	int64_t version;          /* 0 when the finding is not about one migration */
	const char *module;       /* or NULL */
	const char *file;         /* or NULL */
	const char *message;      /* one line, never NULL */
	modmig_severity severity; /* the kind's default, or a rule's configured one */
	int line;                 /* 1-based position in file, 0 when not about one place */
	int column;
	const char *rule;      /* the rule that found it (lint), or NULL */
	const char *hint;      /* how to fix it, one line, or NULL */
	modmig_next_step next; /* what to do, machine-readable (MODMIG_NEXT_NONE: none) */
	const char *reason;    /* message without its next step (== message when none) */
} modmig_finding;

typedef struct modmig_findings modmig_findings;

/*
 * Check the database against the files without changing anything. Returns
 * MODMIG_OK when clean or when *out holds only warnings (unverified),
 * MODMIG_E_CHECK when it holds an error-severity finding (*out is set in
 * both cases), another status on failure.
 */
modmig_status modmig_verify(modmig_db *db, modmig_source *src, modmig_findings **out,
                            modmig_error **err);
size_t modmig_findings_count(const modmig_findings *findings);
const modmig_finding *modmig_findings_at(const modmig_findings *findings, size_t index);
void modmig_findings_free(modmig_findings *findings);

/* ------------------------------------------------------------------------ */
/* Lint: hazards found in migrations before they ship                       */
/* ------------------------------------------------------------------------ */

/*
 * Lint rules, one row each:
 *   X(ID, number, "name", default severity, on by default, walker, "what it finds")
 * The name is stable (configuration, suppressions, SARIF and JSON use it);
 * numbers are explicit and append-only. walker names the function that checks
 * one statement inside the library (runner/lib/check/lint/<name>.c defines
 * mm_lint_<walker>); clients ignore it. Adding a rule is one row here plus
 * its file (runner/README.md, "A lint rule").
 */
/* clang-format off */
#define MODMIG_LINT_RULES(X)                                                                       \
	X(REQUIRE_SCHEMA, 0, "require-schema", MODMIG_SEVERITY_ERROR, true, require_schema,         \
	  "an object created, altered or dropped by a module with a schema is not schema-qualified") \
	X(FOREIGN_SCHEMA, 1, "foreign-schema", MODMIG_SEVERITY_ERROR, true, foreign_schema,         \
	  "a module creates, alters or drops an object in another module's schema")               \
	X(UNDECLARED_DEPENDENCY, 2, "undeclared-dependency", MODMIG_SEVERITY_ERROR, true,           \
	  undeclared_dependency,                                                                  \
	  "a statement refers to a module's schema that depends_on does not reach")               \
	X(TABLE_REPEATS_SCHEMA, 3, "table-repeats-schema", MODMIG_SEVERITY_ERROR, true,             \
	  table_repeats_schema, "a table's name repeats its schema: billing.billing_accounts")     \
	X(TRANSACTION_CONTROL, 4, "transaction-control", MODMIG_SEVERITY_ERROR, true,               \
	  transaction_control,                                                                    \
	  "BEGIN, COMMIT, ROLLBACK or PREPARE TRANSACTION in a transactional migration")          \
	X(REQUIRE_CONCURRENT_INDEX, 5, "require-concurrent-index", MODMIG_SEVERITY_ERROR, true,     \
	  require_concurrent_index,                                                               \
	  "CREATE or DROP INDEX without CONCURRENTLY on an existing table")                       \
	X(CONCURRENT_INDEX_IN_TRANSACTION, 6, "concurrent-index-in-transaction",                    \
	  MODMIG_SEVERITY_ERROR, true, concurrent_index_in_transaction,                            \
	  "CONCURRENTLY inside a transaction block, which PostgreSQL refuses")                     \
	X(ADD_FOREIGN_KEY_NOT_VALID, 7, "add-foreign-key-not-valid", MODMIG_SEVERITY_ERROR, true,   \
	  add_foreign_key_not_valid,                                                              \
	  "a foreign key added to an existing table without NOT VALID")                           \
	X(ADD_CHECK_NOT_VALID, 8, "add-check-not-valid", MODMIG_SEVERITY_ERROR, true,               \
	  add_check_not_valid, "a CHECK constraint added to an existing table without NOT VALID") \
	X(SET_NOT_NULL, 9, "set-not-null", MODMIG_SEVERITY_ERROR, true, set_not_null,               \
	  "SET NOT NULL on an existing table scans it under an ACCESS EXCLUSIVE lock")            \
	X(ADD_UNIQUE_CONSTRAINT, 10, "add-unique-constraint", MODMIG_SEVERITY_ERROR, true,          \
	  add_unique_constraint,                                                                  \
	  "a UNIQUE or PRIMARY KEY constraint that builds its index under the table's lock")      \
	X(CHANGE_COLUMN_TYPE, 11, "change-column-type", MODMIG_SEVERITY_ERROR, true,                \
	  change_column_type, "a column's type changed on an existing table (a rewrite)")         \
	X(VOLATILE_DEFAULT, 12, "volatile-default", MODMIG_SEVERITY_ERROR, true, volatile_default,  \
	  "a column added with a volatile default, a serial, identity or stored generated "       \
	  "value rewrites the table")                                                             \
	X(REQUIRE_LOCK_TIMEOUT, 13, "require-lock-timeout", MODMIG_SEVERITY_ERROR, true,            \
	  require_lock_timeout,                                                                   \
	  "an ACCESS EXCLUSIVE lock on an existing table without a lock_timeout")                 \
	X(DROP_TABLE, 14, "drop-table", MODMIG_SEVERITY_ERROR, true, drop_table,                    \
	  "an existing table is dropped")                                                         \
	X(DROP_COLUMN, 15, "drop-column", MODMIG_SEVERITY_ERROR, true, drop_column,                 \
	  "a column of an existing table is dropped")                                             \
	X(RENAME_TABLE, 16, "rename-table", MODMIG_SEVERITY_ERROR, true, rename_table,              \
	  "an existing table is renamed")                                                         \
	X(RENAME_COLUMN, 17, "rename-column", MODMIG_SEVERITY_ERROR, true, rename_column,           \
	  "a column of an existing table is renamed")                                             \
	X(TRUNCATE, 18, "truncate", MODMIG_SEVERITY_ERROR, true, truncate,                          \
	  "an existing table is truncated")                                                       \
	X(PREFER_BIGINT, 19, "prefer-bigint", MODMIG_SEVERITY_WARNING, false, prefer_bigint,        \
	  "an integer or smallint column, which can run out")                                    \
	X(PREFER_IDENTITY, 20, "prefer-identity", MODMIG_SEVERITY_WARNING, false, prefer_identity,  \
	  "a serial column instead of an identity column")                                        \
	X(PREFER_TEXT, 21, "prefer-text", MODMIG_SEVERITY_WARNING, false, prefer_text,              \
	  "a varchar(n) or char(n) column instead of text with a CHECK")                          \
	X(PREFER_TIMESTAMPTZ, 22, "prefer-timestamptz", MODMIG_SEVERITY_WARNING, false,             \
	  prefer_timestamptz, "a timestamp without time zone column")                             \
	X(UNPARSED_STATEMENT, 23, "unparsed-statement", MODMIG_SEVERITY_WARNING, true,              \
	  unparsed_statement,                                                                     \
	  "a statement that PostgreSQL's grammar (15) cannot parse, only its lexer split")        \
	X(BAD_SUPPRESSION, 24, "bad-suppression", MODMIG_SEVERITY_ERROR, true, bad_suppression,     \
	  "a modmig:nolint comment without a reason, or naming an unknown rule")
/* clang-format on */

typedef enum modmig_lint_rule_id {
#define MODMIG_X_(id, number, text, sev, on, fn, doc) MODMIG_LINT_##id = number,
	MODMIG_LINT_RULES(MODMIG_X_)
#undef MODMIG_X_
	        MODMIG_LINT_RULE_COUNT = 25
} modmig_lint_rule_id;

/* One rule as the library defines it (static; never freed). */
typedef struct modmig_lint_rule {
	modmig_lint_rule_id id;
	const char *name;         /* "require-schema" */
	modmig_severity severity; /* its default */
	bool enabled;             /* on by default (the type rules are off) */
	const char *summary;      /* what it finds, one line */
} modmig_lint_rule;

/* The rule of that number, or NULL. */
const modmig_lint_rule *modmig_lint_rule_at(size_t index);
/* The rule called name, or NULL. */
const modmig_lint_rule *modmig_lint_rule_find(const char *name);

typedef struct modmig_lint_options {
	/* only these migrations of the source (NULL: every migration) */
	const modmig_migration *const *migrations;
	size_t migration_count;
	/*
	 * A lock_timeout that every migration runs with (the operator's
	 * --lock-timeout), or NULL; require-lock-timeout then has nothing to say.
	 */
	const char *lock_timeout;
} modmig_lint_options;

void modmig_lint_options_init(modmig_lint_options *opts);

/*
 * Lint migrations from their parse trees: module boundaries (the manifest's
 * schemas and depends_on), lock hazards on existing tables, destructive
 * changes, column types and statements the grammar cannot parse. Severities
 * come from the rules and the manifest's `lint:` section; `-- modmig:nolint
 * RULE[,RULE] reason` comments suppress findings. Findings (kind
 * MODMIG_FINDING_LINT, with rule, file:line:column and hint) are ordered by
 * version, then line and column. Returns MODMIG_OK when no finding is an
 * error, MODMIG_E_CHECK when one is (*out is set in both cases), another
 * status when a file cannot be read or parsed.
 */
modmig_status modmig_lint(modmig_source *src, const modmig_lint_options *opts,
                          modmig_findings **out, modmig_error **err);

/* One doctor item; everything borrowed from the checkup handle. */
typedef struct modmig_check {
	const char *name; /* e.g. "connection", "server version", "lock" */
	bool ok;
	const char *detail;    /* what was found, one line, password redacted */
	const char *fix;       /* one-line fix when !ok, else NULL; in API terms */
	modmig_next_step next; /* the fix, machine-readable (MODMIG_NEXT_NONE when ok) */
} modmig_check;

typedef struct modmig_checkup modmig_checkup;

/*
 * Diagnose configuration, connection, server, state tables, lock, pending
 * migrations, verify findings and privileges over db, like every other call.
 * db may be NULL when the caller could not connect: the checkup then holds
 * the items that need no server (configuration) and the caller reports its
 * connection error as a failed item of its own (the CLI prints it as the
 * "connection" item), so a failed connection stays the caller's error, told
 * in the caller's terms. Returns MODMIG_OK when healthy, MODMIG_E_CHECK when
 * an item failed (*out is set in both cases).
 */
modmig_status modmig_doctor(modmig_db *db, modmig_source *src, modmig_checkup **out,
                            modmig_error **err);
size_t modmig_checkup_count(const modmig_checkup *checkup);
const modmig_check *modmig_checkup_at(const modmig_checkup *checkup, size_t index);
void modmig_checkup_free(modmig_checkup *checkup);

/*
 * History events, one row each: X(NAME, number, "name", flags, "what happened").
 * The name is what the history table stores in its event column. Numbers are
 * explicit and append-only; MODMIG_HISTORY_EVENT_COUNT is one past the highest.
 * Flags say what an event means for the version it names:
 *   MODMIG_HISTORY_F_APPLIES   the version is applied with the recorded SHA-256
 *   MODMIG_HISTORY_F_UNAPPLIES the version is no longer applied
 *   MODMIG_HISTORY_F_PARTWAY   a NO TRANSACTION migration stands part-way: it
 *                              failed or was interrupted, or is being run again
 *   MODMIG_HISTORY_F_REPAIR    an operator's acknowledgement (modmig repair)
 *   MODMIG_HISTORY_F_UNIT_DONE the unit in failed_unit took effect: the first
 *                              unit not known to be done is the next one
 *   MODMIG_HISTORY_F_UNIT_RUNNING the unit in failed_unit was running when
 *                              the record ends: it may have taken effect
 * For the part-way events, failed_unit is the unit the event is about
 * (1-based), so the latest event alone says where a NO TRANSACTION migration
 * stands: without F_UNIT_DONE, that unit is the first not known to be done.
 * Adding an event is one row here plus the code that records it.
 */
enum {
	MODMIG_HISTORY_F_APPLIES = 1,
	MODMIG_HISTORY_F_UNAPPLIES = 2,
	MODMIG_HISTORY_F_PARTWAY = 4,
	MODMIG_HISTORY_F_REPAIR = 8,
	MODMIG_HISTORY_F_UNIT_DONE = 16,
	MODMIG_HISTORY_F_UNIT_RUNNING = 32
};

/* clang-format off */
#define MODMIG_HISTORY_EVENTS(X)                                                                   \
	X(APPLIED,         1, "applied",         MODMIG_HISTORY_F_APPLIES,                         \
	  "a migration's Up committed")                                                           \
	X(ROLLED_BACK,     2, "rolled_back",     MODMIG_HISTORY_F_UNAPPLIES,                       \
	  "a migration's Down committed")                                                         \
	X(FAILED,          3, "failed",          MODMIG_HISTORY_F_PARTWAY,                         \
	  "a NO TRANSACTION migration's Up failed part-way at unit failed_unit")                  \
	X(ROLLBACK_FAILED, 4, "rollback_failed", 0, "a migration's Down failed")                    \
	X(STAMPED,         5, "stamped",         MODMIG_HISTORY_F_APPLIES,                         \
	  "marked applied without running (adoption)")                                            \
	X(RESUMED,         6, "resumed",         MODMIG_HISTORY_F_PARTWAY,                         \
	  "a failed NO TRANSACTION migration continues at its failed unit")                       \
	X(RESTARTED,       7, "restarted",       MODMIG_HISTORY_F_PARTWAY,                         \
	  "a failed NO TRANSACTION migration runs again from unit 1")                             \
	X(UNIT_STARTED,    8, "unit_started",                                                      \
	  MODMIG_HISTORY_F_PARTWAY | MODMIG_HISTORY_F_UNIT_RUNNING,                               \
	  "NO TRANSACTION unit failed_unit is about to run")                                      \
	X(UNIT_DONE,       9, "unit_done",                                                         \
	  MODMIG_HISTORY_F_PARTWAY | MODMIG_HISTORY_F_UNIT_DONE,                                  \
	  "NO TRANSACTION unit failed_unit took effect")                                          \
	X(INTERRUPTED,    10, "interrupted",     0,                                                \
	  "a migration was cancelled at unit failed_unit and rolled back: nothing of it remains")  \
	X(ACKNOWLEDGED,   11, "acknowledged",    MODMIG_HISTORY_F_REPAIR,                          \
	  "an out-of-order migration was acknowledged")                                           \
	X(CHECKSUM_ACCEPTED, 12, "checksum_accepted", MODMIG_HISTORY_F_REPAIR,                     \
	  "a changed file's new SHA-256 was accepted, with a reason")                             \
	X(CHECKSUM_RECORDED, 13, "checksum_recorded", MODMIG_HISTORY_F_REPAIR,                     \
	  "an adopted row got its file's SHA-256")                                                \
	X(TRIGGERS_RECREATED, 14, "triggers_recreated", MODMIG_HISTORY_F_REPAIR,                   \
	  "the history's append-only triggers were recreated")                                    \
	X(REGISTRY_CLEARED, 15, "registry_cleared", MODMIG_HISTORY_F_REPAIR,                       \
	  "a module registry that nothing was applied under was cleared")                         \
	X(MARKED_ROLLED_BACK, 16, "marked_rolled_back", MODMIG_HISTORY_F_UNAPPLIES,                \
	  "the record of a migration was removed without running its Down")                       \
	X(FAILED_ATOMIC,  17, "failed_atomic",   0,                                                \
	  "a transactional migration failed at unit failed_unit and was rolled back")             \
	X(INTERRUPTED_PARTWAY, 18, "interrupted_partway", MODMIG_HISTORY_F_PARTWAY,                \
	  "a NO TRANSACTION migration was cancelled; unit failed_unit did not take effect")
/* clang-format on */

typedef enum modmig_history_event {
	MODMIG_HISTORY_UNKNOWN = 0, /* a name this version of modmig does not know */
#define MODMIG_X_(name, number, text, flags, doc) MODMIG_HISTORY_##name = number,
	MODMIG_HISTORY_EVENTS(MODMIG_X_)
#undef MODMIG_X_
	        MODMIG_HISTORY_EVENT_COUNT = 19
} modmig_history_event;

/* The stored name of an event ("applied", ...), or NULL for an unknown value. */
const char *modmig_history_event_name(modmig_history_event event);
/* The event stored under name, or MODMIG_HISTORY_UNKNOWN. */
modmig_history_event modmig_history_event_from_name(const char *name);
/* Its MODMIG_HISTORY_F_* flags (0 for unknown events). */
unsigned modmig_history_event_flags(modmig_history_event event);

/* One history event; everything borrowed from the history handle. */
typedef struct modmig_history_row {
	int64_t id;
	const char *event;         /* the stored name: applied, rolled_back, ... */
	modmig_history_event kind; /* its enum value, MODMIG_HISTORY_UNKNOWN if unknown */
	int64_t version;
	const char *module; /* or NULL */
	const char *file;   /* or NULL */
	const char *sha256; /* or NULL */
	double duration_ms;
	const char *db_user;
	const char *client_host;
	const char *at;    /* "YYYY-MM-DD HH:MM:SS+TZ" */
	int failed_unit;   /* the unit the event is about (1-based), 0 when none */
	const char *error; /* or NULL */
} modmig_history_row;

typedef struct modmig_history modmig_history;

/* The append-only history, oldest first; module may be NULL for all. */
modmig_status modmig_db_history(modmig_db *db, const modmig_source *src, const char *module,
                                modmig_history **out, modmig_error **err);
/* Which events modmig_db_history_select() reads; zero for everything. */
typedef struct modmig_history_options {
	const char *module; /* only this module's events; NULL: all */
	/*
	 * only events at or after this time: a date ("2026-11-01") or an ISO 8601
	 * timestamp ("2026-11-01T12:00:00Z"), read by the server (without a zone,
	 * in the session's); NULL: all. A time the server cannot read is
	 * MODMIG_E_USAGE.
	 */
	const char *since;
	int64_t version; /* only this version's events; 0: all */
	size_t limit;    /* only the last `limit` events selected (still oldest first); 0: all */
} modmig_history_options;

/* The selected events of the history, oldest first (opts NULL: all). */
modmig_status modmig_db_history_select(modmig_db *db, const modmig_source *src,
                                       const modmig_history_options *opts, modmig_history **out,
                                       modmig_error **err);
size_t modmig_history_count(const modmig_history *history);
const modmig_history_row *modmig_history_at(const modmig_history *history, size_t index);
void modmig_history_free(modmig_history *history);

/*
 * Mark every unapplied migration with version <= version (of module only,
 * when module is not NULL) as applied without running it; each is recorded
 * in the history as "stamped". For adopting a database whose schema exists.
 */
modmig_status modmig_stamp(modmig_db *db, modmig_source *src, int64_t version, const char *module,
                           modmig_result **out, modmig_error **err);

typedef struct modmig_stamp_options {
	int64_t version;    /* stamp every unapplied migration up to this version */
	const char *module; /* only this module's migrations, or NULL */
	/*
	 * Report each migration that would be stamped (MODMIG_EVENT_DRY_RUN, sql
	 * NULL, in version order) and record nothing: no state tables, no
	 * registry, version or history row. Not refused on a read-only server.
	 */
	bool dry_run;
} modmig_stamp_options;

void modmig_stamp_options_init(modmig_stamp_options *opts);
/* modmig_stamp() with options (opts NULL: MODMIG_E_USAGE). */
modmig_status modmig_stamp_with(modmig_db *db, modmig_source *src, const modmig_stamp_options *opts,
                                modmig_result **out, modmig_error **err);

/* What modmig_repair() records (each its own history event). */
typedef enum modmig_repair_action {
	/* an out-of-order migration is acknowledged: verify stops reporting it */
	MODMIG_REPAIR_ACKNOWLEDGE = 0,
	/* a changed file's new SHA-256 is accepted (reason required): verify compares with it */
	MODMIG_REPAIR_ACCEPT_CHECKSUM = 1,
	/*
	 * adopted versions (applied, with a file, but without a recorded SHA-256:
	 * verify's "unverified") get their file's SHA-256 recorded, one
	 * checksum_recorded event each: version, or every such version when 0.
	 * A version that has a recorded SHA-256 is refused (MODMIG_E_USAGE): a
	 * changed file's checksum is accepted with a reason, never recorded
	 */
	MODMIG_REPAIR_RECORD_CHECKSUMS = 2,
	/*
	 * the history's append-only triggers and their function are created again
	 * from the history's DDL (verify's "tampered"); one triggers_recreated
	 * event. Nothing happens when every trigger is in place and enabled
	 */
	MODMIG_REPAIR_RECREATE_TRIGGERS = 3,
	/*
	 * module registry rows that disagree with the manifest (verify's
	 * "registry": a module renamed, removed or moved) are deleted, with the
	 * rows registered after them, so that the registry is the manifest's
	 * first modules again and up registers the rest; one registry_cleared
	 * event per row. Refused (MODMIG_E_REFUSED, nothing changed) when any
	 * version in a row's range is in the version table or was applied, even
	 * part-way, according to the history. Needs a manifest
	 */
	MODMIG_REPAIR_CLEAR_REGISTRY = 4
} modmig_repair_action;

typedef struct modmig_repair_options {
	modmig_repair_action action;
	int64_t version;    /* an applied version that has its file; 0 with RECORD_CHECKSUMS: all */
	const char *reason; /* recorded with the event; required to accept a checksum */
	/*
	 * say what would be recorded, one MODMIG_EVENT_REPAIRED event each (log
	 * callback), and change nothing: no missing table is created and, with
	 * the table lock, no lease is taken
	 */
	bool dry_run;
} modmig_repair_options;

void modmig_repair_options_init(modmig_repair_options *opts);
/*
 * An operator's explicit repair, in the way of Flyway's: under the migration
 * lock and in one transaction, the change and its history events (one per
 * version, trigger set or module row). Each event recorded, or that would be
 * recorded in a dry run, is told to the log callback as MODMIG_EVENT_REPAIRED
 * (migration set when it is about one version's file); when there is nothing
 * to repair, one MODMIG_EVENT_MESSAGE says so and nothing is recorded.
 * MODMIG_E_NOT_FOUND when the version is not applied or has no file,
 * MODMIG_E_USAGE for a bad action or a missing reason.
 */
modmig_status modmig_repair(modmig_db *db, modmig_source *src, const modmig_repair_options *opts,
                            modmig_error **err);

/*
 * Write a reviewed plan to path: the exact list of migrations `up` with opts
 * would apply, with their SHA-256, and the database's state fingerprint.
 * `modmig_up` with opts->plan_file applies exactly that list, or refuses with
 * MODMIG_E_PLAN_MISMATCH and changes nothing. *out (may be NULL) receives
 * the planned migrations (duration 0).
 */
modmig_status modmig_plan_write(modmig_db *db, modmig_source *src, const modmig_up_options *opts,
                                const char *path, modmig_result **out, modmig_error **err);

/* ------------------------------------------------------------------------ */
/* Schema: snapshots, differences, shadow databases and drift               */
/* ------------------------------------------------------------------------ */

/*
 * A snapshot of a database's schema read from the catalogs, every definition
 * in the server's own words (format_type, pg_get_expr, pg_get_*def). It is a
 * list of objects keyed by identity (kind, schema, parent, name; functions
 * carry their argument types in the name), independent of OIDs, attribute
 * numbers and creation order, in a stable order. modmig's own state objects
 * and the system schemas are left out, and so are the members of extensions.
 */
typedef struct modmig_schema modmig_schema;

/* One attribute of an object: "owner", "type", "definition", ... */
typedef struct modmig_schema_attribute {
	const char *name;
	const char *value; /* never NULL: an attribute that is not set is absent */
} modmig_schema_attribute;

/*
 * One object; everything borrowed from the snapshot. Top-level objects
 * (schema, extension, table, view, materialized view, sequence, function,
 * procedure, aggregate, enum, domain, composite type, range type, statistics,
 * foreign table) have parent_kind and parent NULL; columns, constraints,
 * indexes, triggers and policies name the table (or domain) they belong to.
 */
typedef struct modmig_schema_object {
	const char *kind;        /* "table", "column", ... */
	const char *schema;      /* the schema it lives in */
	const char *parent_kind; /* "table", "domain", ... or NULL */
	const char *parent;      /* the parent's name (same schema), or NULL */
	const char *name;        /* e.g. "invoices", "due_on", "touch(integer, text)" */
	const modmig_schema_attribute *attributes; /* sorted by name */
	size_t attribute_count;
} modmig_schema_object;

typedef struct modmig_schema_options {
	/* Only these schemas (names as stored); schema_count 0: every non-system schema. */
	const char *const *schemas;
	size_t schema_count;
	/*
	 * The version table (as in the manifest): it and the state objects named
	 * after it are left out. NULL means "goose_db_version".
	 */
	const char *version_table;
} modmig_schema_options;

void modmig_schema_options_init(modmig_schema_options *opts);

/* Read the schema of db's database (opts may be NULL for the defaults). */
modmig_status modmig_schema_read(modmig_db *db, const modmig_schema_options *opts,
                                 modmig_schema **out, modmig_error **err);
void modmig_schema_free(modmig_schema *schema);
size_t modmig_schema_count(const modmig_schema *schema);
const modmig_schema_object *modmig_schema_at(const modmig_schema *schema, size_t index);
/* The value of one attribute of obj, or NULL when it is not set. */
const char *modmig_schema_object_get(const modmig_schema_object *obj, const char *attribute);

/*
 * The stable JSON form: sorted objects, sorted keys, one object per line.
 * Caller frees with modmig_free().
 */
char *modmig_schema_to_json(const modmig_schema *schema);
/* Read what modmig_schema_to_json() wrote; origin names the text in errors. */
modmig_status modmig_schema_from_json(const char *text, const char *origin, modmig_schema **out,
                                      modmig_error **err);

typedef enum modmig_schema_change {
	MODMIG_SCHEMA_ADDED = 0,   /* only in b */
	MODMIG_SCHEMA_REMOVED = 1, /* only in a */
	MODMIG_SCHEMA_CHANGED = 2  /* in both, one attribute differs */
} modmig_schema_change;

/* One difference; everything borrowed from the diff handle. */
typedef struct modmig_schema_difference {
	modmig_schema_change change;
	const char *kind; /* the object's kind */
	const char *schema;
	const char *parent_kind; /* or NULL */
	const char *parent;      /* or NULL */
	const char *name;
	const char *attribute; /* CHANGED only, else NULL */
	const char *a_value;   /* CHANGED: the value in a, NULL when not set there */
	const char *b_value;   /* CHANGED: the value in b, NULL when not set there */
} modmig_schema_difference;

typedef struct modmig_schema_diff modmig_schema_diff;

/* Compare a with b object by object: one difference per object or attribute. */
modmig_status modmig_schema_diff_new(const modmig_schema *a, const modmig_schema *b,
                                     modmig_schema_diff **out, modmig_error **err);
size_t modmig_schema_diff_count(const modmig_schema_diff *diff);
const modmig_schema_difference *modmig_schema_diff_at(const modmig_schema_diff *diff, size_t index);
void modmig_schema_diff_free(modmig_schema_diff *diff);
/*
 * One line naming the object, the attribute and both values, with the sides
 * called a_label and b_label, e.g. "table billing.invoices: column due_on:
 * type is date in the database, timestamptz in the migrations". Caller frees
 * with modmig_free().
 */
char *modmig_schema_difference_text(const modmig_schema_difference *d, const char *a_label,
                                    const char *b_label);

/*
 * A shadow database: a scratch database where modmig builds the schema that
 * migrations produce. With dev_url, that database (which modmig may wipe) is
 * emptied first: every non-system schema and extension is dropped and public
 * is emptied. Without it, a uniquely named database modmig_shadow_<random> is
 * created on target's server (the role needs CREATEDB) and dropped again by
 * modmig_shadow_close().
 */
typedef struct modmig_shadow modmig_shadow;

modmig_status modmig_shadow_open(modmig_db *target, const char *dev_url, modmig_shadow **out,
                                 modmig_error **err);
/* The connection to the shadow database, owned by the shadow. */
modmig_db *modmig_shadow_db(modmig_shadow *shadow);
/* The temporary database's name, or NULL with a dev_url. */
const char *modmig_shadow_name(const modmig_shadow *shadow);
/*
 * Async-signal-safe: cancel the statements running on the shadow and its
 * target (PQcancel) and make every later step on the shadow fail, so that
 * the caller reaches modmig_shadow_close() soon. For SIGINT/SIGTERM handlers.
 */
void modmig_shadow_interrupt(modmig_shadow *shadow);
/* Disconnect and drop the temporary database (accepts NULL). */
modmig_status modmig_shadow_close(modmig_shadow *shadow, modmig_error **err);

/*
 * Drift: build on shadow the schema that db's applied migrations produce,
 * applied in the order the version table says they were applied, snapshot
 * both (opts as for modmig_schema_read; the version table comes from src)
 * and compare: a is the live database, b the migrations. Returns MODMIG_OK
 * when equal, MODMIG_E_CHECK when *out holds differences (set in both cases).
 */
modmig_status modmig_drift(modmig_db *db, modmig_source *src, modmig_shadow *shadow,
                           const modmig_schema_options *opts, modmig_schema_diff **out,
                           modmig_error **err);

/*
 * Test: prove migrations on a shadow database before they ship. The checks,
 * in the order they run, each a row: X(NAME, number, "name", "what it proves").
 */
/* clang-format off */
#define MODMIG_TEST_CHECKS(X)                                                                      \
	X(EMPTY,         0, "empty",         "everything applies to an empty database, then "      \
	  "verify and drift are clean")                                                           \
	X(ROUND_TRIP,    1, "round_trip",    "per migration: Down restores the schema before Up, " \
	  "and Up again gives the schema of the first Up")                                        \
	X(ALLOW_MISSING, 2, "allow_missing", "per module: its newest migration applied last "     \
	  "gives the schema of version order")                                                    \
	X(OWNERSHIP,     3, "ownership",     "per migration of a module with a schema: it "        \
	  "changes objects only in that schema")                                                  \
	X(UPGRADE,       4, "upgrade",       "the older migrations, then an upgrade to these, "    \
	  "give the schema of a fresh apply")
/* clang-format on */

typedef enum modmig_test_check {
#define MODMIG_X_(name, number, text, doc) MODMIG_TEST_##name = number,
	MODMIG_TEST_CHECKS(MODMIG_X_)
#undef MODMIG_X_
	        MODMIG_TEST_CHECK_COUNT = 5
} modmig_test_check;

/* "empty", "round_trip", ... ("unknown" out of range) */
const char *modmig_test_check_name(modmig_test_check check);

typedef enum modmig_test_outcome {
	MODMIG_TEST_PASSED = 0,
	MODMIG_TEST_FAILED = 1,
	MODMIG_TEST_WARNING = 2 /* worth knowing, not a failure (e.g. a migration without Down) */
} modmig_test_outcome;

/* "passed", "failed", "warning" */
const char *modmig_test_outcome_name(modmig_test_outcome outcome);

/* One case of one check; everything borrowed from the report. */
typedef struct modmig_test_case {
	modmig_test_check check;
	modmig_test_outcome outcome;
	const char *subject;   /* what was tested: "04001 billing_init", "module billing", ... */
	int64_t version;       /* the migration tested or at fault, 0 when none */
	const char *module;    /* its module, or NULL */
	const char *file;      /* its file, or NULL */
	int64_t other_version; /* allow_missing: the other migration of the pair that matters */
	const char *message;   /* one line, never NULL */
	const char *const *details; /* the differences or the error, one line each */
	size_t detail_count;
	double duration_ms;
} modmig_test_case;

/* Called as each case is decided (c is borrowed for the call). */
typedef void (*modmig_test_case_fn)(void *userdata, const modmig_test_case *c);

typedef struct modmig_test_options {
	/*
	 * The same migrations at an older revision, or NULL: the upgrade check
	 * applies these first, then upgrades to src as modmig_up() would.
	 */
	modmig_source *from;
	const char
	        *from_label; /* how messages name it, e.g. "v1.2" (NULL: "the older migrations") */
	modmig_test_case_fn on_case; /* may be NULL */
	void *userdata;
} modmig_test_options;

void modmig_test_options_init(modmig_test_options *opts);

typedef struct modmig_test_report modmig_test_report;

/*
 * Run every check on shadow (emptied between checks; src's migrations are
 * all read and parsed first). Returns MODMIG_OK when every case passed or
 * warned, MODMIG_E_CHECK when one failed (*out is set in both cases), another
 * status when the checks could not run (an interrupt, a lost connection).
 */
modmig_status modmig_test(modmig_shadow *shadow, modmig_source *src,
                          const modmig_test_options *opts, modmig_test_report **out,
                          modmig_error **err);
size_t modmig_test_report_count(const modmig_test_report *report);
const modmig_test_case *modmig_test_report_at(const modmig_test_report *report, size_t index);
/* The number of cases with this outcome. */
size_t modmig_test_report_tally(const modmig_test_report *report, modmig_test_outcome outcome);
void modmig_test_report_free(modmig_test_report *report);

/* ------------------------------------------------------------------------ */
/* Startup API: a service migrates itself                                   */
/* ------------------------------------------------------------------------ */

/*
 * What the environment variable MODMIG_ENV says, read alike by the CLI and
 * modmig_startup(): "production" or "prod" in any case is production; a
 * known other name (development, dev, staging, test, ...) is not; anything
 * else is not production either, and callers warn about it (a typo such as
 * "prodution" must not pass in silence).
 */
typedef enum modmig_environment {
	MODMIG_ENVIRONMENT_UNSET = 0,      /* unset or empty */
	MODMIG_ENVIRONMENT_PRODUCTION = 1, /* production, prod */
	MODMIG_ENVIRONMENT_OTHER = 2,      /* a known non-production name */
	MODMIG_ENVIRONMENT_UNKNOWN = 3     /* not a name modmig knows: not production */
} modmig_environment;

/* Classify a MODMIG_ENV value (NULL: unset). */
modmig_environment modmig_environment_of(const char *value);

typedef enum modmig_policy {
	MODMIG_POLICY_OFF = 0,   /* do nothing */
	MODMIG_POLICY_APPLY = 1, /* migrate, then continue */
	MODMIG_POLICY_VERIFY = 2 /* fail if anything is pending or modified */
} modmig_policy;

typedef struct modmig_startup_options {
	modmig_policy policy;
	const char *conninfo;              /* NULL: DATABASE_URL, then libpq env */
	const modmig_embedded_file *files; /* the service's embedded migrations */
	size_t file_count;
	modmig_log_fn log; /* may be NULL */
	void *log_userdata;
	int lock_timeout_ms;   /* < 0 waits forever */
	const char *plan_file; /* reviewed plan, or NULL */
	bool allow_unreviewed; /* production: apply without a plan */
	bool production;       /* also set by MODMIG_ENV=production, read by
	                          modmig_startup() */
} modmig_startup_options;

void modmig_startup_options_init(modmig_startup_options *opts);

/*
 * Connect, take the lock, and apply or verify according to the policy. Safe
 * to call from many replicas at once: exactly one applies each migration.
 * *out (may be NULL) receives what this process applied.
 */
modmig_status modmig_startup(const modmig_startup_options *opts, modmig_result **out,
                             modmig_error **err);

#ifdef __cplusplus
}
#endif

#endif /* MODMIG_H */
