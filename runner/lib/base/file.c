/*
 * base/file.c - reading files, SHA-256 and the monotonic clock: the few calls
 * into the operating system and OpenSSL that every layer above shares.
 */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

/* What a file that is not a regular file is, for the message that refuses it. */
static const char *file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISDIR(mode))
		return "a directory";
	return "not a file";
}

static modmig_status not_regular(const char *display, mode_t mode, modmig_error **err)
{
	modmig_status rc;

	rc = mm_fail(err, MODMIG_E_PARSE, display, 1, 0, "not a regular file (%s)",
	             file_kind(mode));
	mm_hint(err, "modmig reads only regular files (a symbolic link to one is fine): replace "
	             "it, or move it out of the migrations directory");
	return rc;
}

/* A limit as people set it: "16 MiB" when it is a whole number of them. */
static void format_limit(uint64_t bytes, char out[48])
{
	if (bytes >= (1 << 20) && bytes % (1 << 20) == 0)
		snprintf(out, 48, "%llu MiB", (unsigned long long)(bytes >> 20));
	else if (bytes >= 1024 && bytes % 1024 == 0)
		snprintf(out, 48, "%llu KiB", (unsigned long long)(bytes >> 10));
	else
		snprintf(out, 48, "%llu bytes", (unsigned long long)bytes);
}

static modmig_status too_large(const char *display, uint64_t size, bool at_least, uint64_t max,
                               modmig_error **err)
{
	modmig_status rc;
	char limit[48];

	format_limit(max, limit);
	rc = mm_fail(err, MODMIG_E_PARSE, display, 1, 0,
	             "file is %s%llu bytes, over the size limit of %s", at_least ? "at least " : "",
	             (unsigned long long)size, limit);
	mm_next(err, MODMIG_NEXT_RAISE_MAX_FILE_SIZE, 0,
	        "split it into smaller migrations, or raise the source's maximum file size if "
	        "it is meant to be this large");
	return rc;
}

/*
 * The one way files are read. O_NONBLOCK makes opening a FIFO return at once
 * instead of waiting for a writer, so that fstat can refuse it; symbolic links
 * are followed (real projects link shared migrations) and their target is
 * what fstat checks. Only a regular file is read, up to the size fstat gave,
 * and never more than max bytes (a file that reports no size, as in procfs,
 * is read to its end).
 */
modmig_status mm_read_file_at(int dir_fd, const char *name, const char *display, uint64_t max,
                              char **out, size_t *len, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	struct stat st;
	char *data = NULL;
	size_t have = 0;
	size_t cap;
	ssize_t n;
	char *grown;
	int fd;

	*out = NULL;
	if (max == 0)
		max = MODMIG_MAX_FILE_SIZE_DEFAULT;
	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	/* a socket cannot be opened at all (ENXIO): say what it is instead */
	if (fd < 0 && errno == ENXIO && fstatat(dir_fd, name, &st, 0) == 0 &&
	    !S_ISREG(st.st_mode)) {
		rc = not_regular(display, st.st_mode, err);
		goto cleanup;
	}
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = mm_fail(err, errno == ENOENT ? MODMIG_E_NOT_FOUND : MODMIG_E_IO, display, 0, 0,
		             "cannot read %s: %s", display, strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = not_regular(display, st.st_mode, err);
		goto cleanup;
	}
	if (st.st_size > 0 && (uint64_t)st.st_size > max) {
		rc = too_large(display, (uint64_t)st.st_size, false, max, err);
		goto cleanup;
	}
	/* one read for a file whose size is known; room to see that it ended */
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	data = malloc(cap);
	if (!data) {
		rc = mm_fail(err, MODMIG_E_NOMEM, display, 0, 0, "out of memory reading %s",
		             display);
		goto cleanup;
	}
	for (;;) {
		/* a regular file is done at fstat's size: one read() for most files */
		if (st.st_size > 0 && have == (size_t)st.st_size)
			break;
		if (have + 1 >= cap) {
			grown = realloc(data, cap * 2);
			if (!grown) {
				rc = mm_fail(err, MODMIG_E_NOMEM, display, 0, 0,
				             "out of memory reading %s", display);
				goto cleanup;
			}
			data = grown;
			cap *= 2;
		}
		n = read(fd, data + have, cap - have - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mm_fail(err, MODMIG_E_IO, display, 0, 0, "cannot read %s: %s", display,
			             strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if ((uint64_t)have > max) {
			rc = too_large(display, (uint64_t)have, true, max, err);
			goto cleanup;
		}
	}
	data[have] = '\0';
	*out = data;
	if (len)
		*len = have;
	data = NULL;
cleanup:
	if (fd >= 0)
		close(fd);
	free(data);
	return rc;
}

modmig_status mm_read_file(const char *path, char **out, size_t *len, modmig_error **err)
{
	return mm_read_file_at(AT_FDCWD, path, path, 0, out, len, err);
}
void mm_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	unsigned int i;

	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL))
		md_len = 0;
	for (i = 0; i < md_len && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * i] = '\0';
}

double mm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}
