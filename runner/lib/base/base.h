/*
 * base/base.h - the bottom layer of libmodmig: errors, strings and buffers,
 * JSON, files, hashing and the clock. Everything above includes it; it includes
 * only the public header. Not installed; the CLI uses include/modmig.h only.
 */
#ifndef MODMIG_BASE_H
#define MODMIG_BASE_H

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
	/* what to do, machine-readable, and its parameters (mm_next) */
	modmig_next_step next;
	char *next_reason;
	int next_unit;
	int64_t next_version;
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
/*
 * Set the next step of *err and its hint in API terms (fmt; never a command
 * line or a flag: clients word steps themselves). unit is the step's unit
 * parameter (0 when none). No-op when err or *err is NULL.
 */
void mm_next(modmig_error **err, modmig_next_step step, int unit, const char *fmt, ...)
        MM_PRINTF(4, 5);
/* The facts behind the next step, for clients that word the step themselves. */
void mm_next_reason(modmig_error **err, const char *fmt, ...) MM_PRINTF(2, 3);
/* Attach a migration to *err (no-op when err or *err is NULL). */
void mm_error_set_migration(modmig_error **err, int64_t version, const char *module);
/* Set a string field, replacing any previous value (NULL clears). */
void mm_error_set_field(char **field, const char *value);

/* ---- memory and strings (util.c) ---------------------------------------- */

/* Abort-free allocation helpers: return NULL on OOM like malloc. */
char *mm_strdup(const char *s);
char *mm_strndup(const char *s, size_t n);
char *mm_printf(const char *fmt, ...) MM_PRINTF(1, 2);
/* mm_printf() of a va_list (ap is used up, as by vsnprintf). */
char *mm_vprintf(const char *fmt, va_list ap) MM_PRINTF(1, 0);

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

/*
 * The offset of the first byte of text that does not begin a well-formed
 * UTF-8 character (a truncated sequence points at its lead byte), or len
 * when all of it is UTF-8.
 */
size_t mm_utf8_invalid(const char *text, size_t len);

/*
 * Read a whole regular file, name relative to dir_fd (AT_FDCWD for the
 * current directory), of at most max bytes (0: MODMIG_MAX_FILE_SIZE_DEFAULT,
 * 16 MiB: far above any hand-written migration, far below what would exhaust
 * memory). A larger file, or one that is not a regular file (a FIFO, a
 * device), is refused with MODMIG_E_PARSE at display:1 before it is read.
 * display names it in messages. *out is NUL-terminated and owned by the
 * caller; len may be NULL.
 */
modmig_status mm_read_file_at(int dir_fd, const char *name, const char *display, uint64_t max,
                              char **out, size_t *len, modmig_error **err);
/* mm_read_file_at() of path with the default limit. */
modmig_status mm_read_file(const char *path, char **out, size_t *len, modmig_error **err);

/* SHA-256 of data as 64 lowercase hex digits plus NUL (OpenSSL EVP). */
void mm_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * Binary search over an array sorted ascending by an int64_t member at
 * key_offset in each element of size bytes: the index of the first element
 * whose key is >= key (count when none); the first > key with upper set.
 * Every sorted list of versions in modmig is searched with this.
 */
size_t mm_bound_i64(const void *base, size_t count, size_t size, size_t key_offset, int64_t key,
                    bool upper);
/* The element whose key equals key, or NULL (same arguments as mm_bound_i64). */
const void *mm_find_i64(const void *base, size_t count, size_t size, size_t key_offset,
                        int64_t key);
#define MM_FIND(arr, count, member, key)                                                           \
	mm_find_i64((arr), (count), sizeof(*(arr)), offsetof(__typeof__(*(arr)), member), (key))

/* Milliseconds from a monotonic clock. */
double mm_now_ms(void);

#endif /* MODMIG_BASE_H */
