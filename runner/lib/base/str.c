/* base/str.c - strings, growable buffers, JSON string escaping and sorted-array search. */
#include "base/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *mm_strdup(const char *s)
{
	return s ? mm_strndup(s, strlen(s)) : NULL;
}

char *mm_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mm_vprintf(const char *fmt, va_list ap)
{
	va_list copy;
	char *out;
	int n;

	/* measured on a copy: ap is read again to write */
	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0 || !(out = malloc((size_t)n + 1)))
		return NULL;
	vsnprintf(out, (size_t)n + 1, fmt, ap);
	return out;
}

char *mm_printf(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	out = mm_vprintf(fmt, ap);
	va_end(ap);
	return out;
}

void mm_buf_init(mm_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void mm_buf_free(mm_buf *b)
{
	free(b->data);
	mm_buf_init(b);
}

static bool buf_reserve(mm_buf *b, size_t extra)
{
	size_t want;
	char *p;

	if (b->oom)
		return false;
	if (b->len + extra + 1 <= b->cap)
		return true;
	want = b->cap ? b->cap : 64;
	while (want < b->len + extra + 1)
		want *= 2;
	p = realloc(b->data, want);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = want;
	return true;
}

bool mm_buf_append(mm_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return false;
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool mm_buf_puts(mm_buf *b, const char *s)
{
	return mm_buf_append(b, s, strlen(s));
}

bool mm_buf_printf(mm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n))
		return false;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return true;
}

bool mm_buf_json_string(mm_buf *b, const char *s)
{
	const unsigned char *p;

	mm_buf_append(b, "\"", 1);
	for (p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"':
			mm_buf_append(b, "\\\"", 2);
			break;
		case '\\':
			mm_buf_append(b, "\\\\", 2);
			break;
		case '\n':
			mm_buf_append(b, "\\n", 2);
			break;
		case '\r':
			mm_buf_append(b, "\\r", 2);
			break;
		case '\t':
			mm_buf_append(b, "\\t", 2);
			break;
		default:
			if (*p < 0x20)
				mm_buf_printf(b, "\\u%04x", *p);
			else
				mm_buf_append(b, (const char *)p, 1);
		}
	}
	return mm_buf_append(b, "\"", 1);
}

char *mm_buf_take(mm_buf *b)
{
	char *p;

	if (b->oom) {
		mm_buf_free(b);
		return NULL;
	}
	if (!b->data && !mm_buf_append(b, "", 0))
		return NULL;
	p = b->data;
	mm_buf_init(b);
	return p;
}

size_t mm_bound_i64(const void *base, size_t count, size_t size, size_t key_offset, int64_t key,
                    bool upper)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t k;

		memcpy(&k, (const char *)base + mid * size + key_offset, sizeof(k));
		if (k < key || (upper && k == key))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const void *mm_find_i64(const void *base, size_t count, size_t size, size_t key_offset, int64_t key)
{
	size_t i = mm_bound_i64(base, count, size, key_offset, key, false);
	int64_t k;

	if (i == count)
		return NULL;
	memcpy(&k, (const char *)base + i * size + key_offset, sizeof(k));
	return k == key ? (const char *)base + i * size : NULL;
}

/*
 * Unicode's well-formed UTF-8 (table 3-7), which is also what PostgreSQL
 * accepts (pg_utf8_islegal): no overlong forms, no surrogates, nothing above
 * U+10FFFF. ASCII runs are skipped a byte at a time, the common case.
 */
size_t mm_utf8_invalid(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return i;
		}
		for (k = 1; k <= n; k++) {
			if (i + k >= len)
				return i;
			if (s[i + k] < lo || s[i + k] > hi)
				return i;
			lo = 0x80;
			hi = 0xbf;
		}
		i += n + 1;
	}
	return len;
}
