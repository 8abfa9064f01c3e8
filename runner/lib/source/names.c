/*
 * source/names.c - the naming rules of sources: migration file names and
 * their versions (goose's parsing), module names and identifiers in the
 * manifest.
 */
#include "source/source.h"

#include <string.h>

bool mm_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/*
 * Digits (at least one, at most what fits int64) up to the first '_'. sign
 * allows the leading '+' that goose's strconv.ParseInt accepts.
 */
bool mm_parse_version(const char *s, size_t n, bool sign, int64_t *version)
{
	int64_t v = 0;
	size_t i = 0;

	if (sign && n > 0 && s[0] == '+')
		i = 1;
	if (i == n)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (INT64_MAX - (s[i] - '0')) / 10)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*version = v;
	return true;
}

bool mm_version_from_filename(const char *filename, int64_t *version, const char **name_start)
{
	const char *sep;
	int64_t v;

	if (!mm_ends_with(filename, ".sql"))
		return false;
	sep = strchr(filename, '_');
	if (!sep || !mm_parse_version(filename, (size_t)(sep - filename), false, &v) || v < 1)
		return false;
	*version = v;
	if (name_start)
		*name_start = sep + 1;
	return true;
}

static bool is_leap_year(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Go's time.Parse("20060102150405", "%d" of version): ranges checked, days per month too. */
mm_version_kind mm_version_kind_of(int64_t version)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t year = version / 10000000000, month = version / 100000000 % 100,
	        day = version / 1000000 % 100, hour = version / 10000 % 100,
	        minute = version / 100 % 100, second = version % 100;

	/* exactly 14 digits: a 4-digit year; "%d" writes no leading zero */
	if (version < 10000000000000 || version > 99999999999999)
		return MM_VERSION_SEQUENTIAL;
	if (month < 1 || month > 12 || day < 1 ||
	    day > days[month - 1] + (month == 2 && is_leap_year(year)) || hour > 23 ||
	    minute > 59 || second > 59)
		return MM_VERSION_SEQUENTIAL;
	if (year < 1970)
		return MM_VERSION_SEQUENTIAL;
	return version == 19700101000000 ? MM_VERSION_EPOCH : MM_VERSION_TIMESTAMP;
}

bool mm_is_module_name(const char *s)
{
	size_t i;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return i <= IDENTIFIER_MAX;
}

/* One unquoted SQL identifier part of n bytes. */
bool mm_is_identifier_part(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > IDENTIFIER_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '$'))
			return false;
	return true;
}

bool mm_is_table_name(const char *s)
{
	const char *dot = strchr(s, '.');

	if (!dot)
		return mm_is_identifier_part(s, strlen(s));
	return mm_is_identifier_part(s, (size_t)(dot - s)) &&
	       mm_is_identifier_part(dot + 1, strlen(dot + 1));
}
