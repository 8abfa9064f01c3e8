/*
 * source/source.h - the source layer: the manifest, migration files and their
 * parsed form, and sources (a manifest tree, a goose directory or embedded
 * files). Uses base only.
 */
#ifndef MODMIG_SOURCE_H
#define MODMIG_SOURCE_H

#include "base/base.h"

/* ---- parsed migration files (parse.c) ----------------------------------- */

typedef struct mm_unit {
	char *sql; /* exactly the text sent to the server (CR of CRLF removed) */
	size_t len;
	int line;   /* 1-based line in the file where the unit's text starts */
	int column; /* 1-based column of its first character */
	/* split by the lexer only: the grammar cannot parse it (newer syntax or a typo) */
	bool unparsed;
} mm_unit;

typedef struct mm_section {
	mm_unit *units;
	size_t count;
} mm_section;

/* Something accepted but not sent as written, e.g. a redundant BEGIN. */
typedef struct mm_parse_warning {
	modmig_direction dir; /* the section it is in */
	int line;
	int column;
	char *message;
} mm_parse_warning;

typedef struct mm_parsed {
	bool no_transaction;
	bool has_down;
	mm_section up;
	mm_section down;
	mm_parse_warning *warnings; /* in file order */
	size_t warning_count;
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

/* A lint rule's severity as the manifest's lint: section sets it. */
typedef enum mm_lint_level {
	MM_LINT_LEVEL_DEFAULT = 0, /* not configured: the rule's own */
	MM_LINT_LEVEL_ERROR,
	MM_LINT_LEVEL_WARNING,
	MM_LINT_LEVEL_OFF,
} mm_lint_level;

typedef struct mm_manifest {
	char *file;          /* display path of the manifest */
	char *version_table; /* default "goose_db_version" */
	modmig_module *modules;
	size_t module_count;
	unsigned char lint[MODMIG_LINT_RULE_COUNT]; /* mm_lint_level per rule */
} mm_manifest;

/* Parse modules.yaml with libyaml's event API. Errors carry file:line:column. */
modmig_status mm_manifest_parse(const char *file, const char *text, size_t len, mm_manifest *out,
                                modmig_error **err);
void mm_manifest_clear(mm_manifest *m);

/* ---- migrations and sources (source.c) ---------------------------------- */

struct modmig_migration {
	int64_t version;
	char *name;                  /* after "<version>_", without ".sql" */
	char *file;                  /* display path */
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
	uint64_t max_size; /* the largest file read from disk; 0: MODMIG_MAX_FILE_SIZE_DEFAULT */
	bool owns_bytes;
	bool loaded;
	bool parsed_ok;
	mm_parsed parsed;
	/* the source whose array holds this migration (NULL for a lone file) */
	modmig_source *source;
};

/* Read and hash m's file unless already done (a no-op for embedded files). */
modmig_status mm_migration_load(modmig_migration *m, modmig_error **err);
/* Load every migration of src: for commands that compare checksums. */
modmig_status mm_source_load(modmig_source *src, modmig_error **err);
/* Load, then parse m's bytes into m->parsed unless already done. */
modmig_status mm_migration_parse(modmig_migration *m, modmig_error **err);

struct modmig_source {
	mm_manifest manifest; /* empty in --dir mode, except version_table */
	bool dir_mode;
	char *origin;                 /* manifest path, directory, or "(embedded)" */
	char *root;                   /* the modules directory on disk, or NULL when embedded */
	modmig_migration *migrations; /* ascending version */
	size_t migration_count;
};

/*
 * goose's version parsing of a file name "<digits>_<text>.sql": returns false
 * when the name does not have that form. *name_start points at <text>.
 */
bool mm_version_from_filename(const char *filename, int64_t *version, const char **name_start);

/* The module named name (NULL name: *out NULL); errors for --dir sources and unknown names. */
modmig_status mm_source_module_arg(const modmig_source *src, const char *name,
                                   const modmig_module **out, modmig_error **err);

/* The module whose version range holds version, or NULL (also in --dir mode). */
const modmig_module *mm_source_module_of(const modmig_source *src, int64_t version);
/*
 * Whether module needs other: other is module itself or a module it depends
 * on, directly or through others (DESIGN §2). Both must come from one manifest.
 */
bool mm_module_needs(const modmig_module *module, const modmig_module *other);

/* Free what m owns (its name, file, bytes and parsed units), not m itself. */
void mm_migration_release(modmig_migration *m);
/* The module of the manifest named by the n bytes of name, or NULL. */
const modmig_module *mm_manifest_module_by_name(const mm_manifest *man, const char *name, size_t n);

/* ---- naming rules (names.c) --------------------------------------------- */

/* PostgreSQL's longest identifier (NAMEDATALEN - 1). */
#define IDENTIFIER_MAX 63

bool mm_ends_with(const char *s, const char *suffix);
/*
 * Digits (at least one, at most what fits int64) in s[0..n). sign allows the
 * leading '+' that goose's strconv.ParseInt accepts.
 */
bool mm_parse_version(const char *s, size_t n, bool sign, int64_t *version);
/*
 * goose's two kinds of versions (migrate.go, timestamped() and versioned()):
 * a version whose decimal digits read as a UTC time YYYYMMDDhhmmss after
 * 1970-01-01 00:00:00 is a timestamp; one that does not read as a time, or
 * reads as one before 1970, is sequential; 19700101000000 itself is neither.
 */
typedef enum mm_version_kind {
	MM_VERSION_SEQUENTIAL,
	MM_VERSION_TIMESTAMP,
	MM_VERSION_EPOCH,
} mm_version_kind;
mm_version_kind mm_version_kind_of(int64_t version);
/* root/rel as sources name their files: rel alone when root is NULL or ".". */
char *mm_join_path(const char *root, const char *rel);
/* [a-z][a-z0-9_]* of at most IDENTIFIER_MAX bytes */
bool mm_is_module_name(const char *s);
/* One unquoted SQL identifier part of n bytes. */
bool mm_is_identifier_part(const char *s, size_t n);
/* table or schema.table, each an unquoted identifier part */
bool mm_is_table_name(const char *s);

/*
 * A table name as configured (version_table, --table), read by SQL's rules
 * with PostgreSQL's own parser: one or two identifiers, quoted parts keeping
 * case and dots, unquoted ones folded to lower case. *schema is NULL when
 * unqualified. Both are the raw names, as the catalog spells them.
 */
modmig_status mm_parse_table_name(const char *written, char **schema, char **table,
                                  modmig_error **err);

#endif /* MODMIG_SOURCE_H */
