/*
 * base/file.c - reading files, SHA-256 and the monotonic clock: the few calls
 * into the operating system and OpenSSL that every layer above shares.
 */
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

modmig_status mm_read_file(const char *path, char **out, size_t *len, modmig_error **err)
{
	modmig_status rc = MODMIG_OK;
	FILE *f = NULL;
	mm_buf b;
	char chunk[65536];
	size_t n;

	mm_buf_init(&b);
	f = fopen(path, "rb");
	if (!f) {
		rc = mm_fail(err, errno == ENOENT ? MODMIG_E_NOT_FOUND : MODMIG_E_IO, path, 0, 0,
		             "cannot read %s: %s", path, strerror(errno));
		goto cleanup;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mm_buf_append(&b, chunk, n);
	if (ferror(f)) {
		rc = mm_fail(err, MODMIG_E_IO, path, 0, 0, "cannot read %s: %s", path,
		             strerror(errno));
		goto cleanup;
	}
	if (len)
		*len = b.len;
	*out = mm_buf_take(&b);
	if (!*out)
		rc = mm_fail(err, MODMIG_E_NOMEM, path, 0, 0, "out of memory reading %s", path);
cleanup:
	if (f)
		fclose(f);
	mm_buf_free(&b);
	return rc;
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
