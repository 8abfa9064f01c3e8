/*
 * test_db.c - the db layer's pure parts: where a server version stands, and
 * where a connection string holds its passwords.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "db/db.h"

/* doctor fails below 13, says "untested" above 18, and accepts 13 through 18 */
static void test_pg_support(void **state)
{
	(void)state;
	assert_int_equal(mm_pg_support_of(90624), MM_PG_TOO_OLD);
	assert_int_equal(mm_pg_support_of(120022), MM_PG_TOO_OLD);
	assert_int_equal(mm_pg_support_of(129999), MM_PG_TOO_OLD);
	assert_int_equal(mm_pg_support_of(130000), MM_PG_SUPPORTED);
	assert_int_equal(mm_pg_support_of(150018), MM_PG_SUPPORTED);
	assert_int_equal(mm_pg_support_of(180004), MM_PG_SUPPORTED);
	assert_int_equal(mm_pg_support_of(189999), MM_PG_SUPPORTED);
	assert_int_equal(mm_pg_support_of(190000), MM_PG_UNTESTED);
}

/* The passwords modmig_conninfo_passwords() finds in conninfo, joined by '|'. */
typedef struct found {
	const char *conninfo;
	char text[200];
} found;

static void add_span(void *userdata, size_t offset, size_t length)
{
	found *f = userdata;

	if (f->text[0])
		strcat(f->text, "|");
	strncat(f->text, f->conninfo + offset, length);
}

static const char *passwords(const char *conninfo)
{
	static found f;

	memset(&f, 0, sizeof(f));
	f.conninfo = conninfo;
	modmig_conninfo_passwords(conninfo, add_span, &f);
	return f.text;
}

/* a URL's user:PASSWORD@ and every password=VALUE, quoted or not; nothing else */
static void test_conninfo_passwords(void **state)
{
	(void)state;
	assert_string_equal(passwords("postgresql://app:s3cret@db1:5432/app"), "s3cret");
	assert_string_equal(passwords("postgresql://app@db1/app?password=p%40ss&sslmode=off"),
	                    "p%40ss");
	assert_string_equal(passwords("host=db1 password = 'it\\'s a secret' user=app"),
	                    "it\\'s a secret");
	assert_string_equal(passwords("password=one dbname=app password=two"), "one|two");
	assert_string_equal(passwords("postgresql://app:@db1/app"), "");
	assert_string_equal(passwords("host=db1 user=app"), "");
	assert_string_equal(passwords("passwordless=yes"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pg_support),
	        cmocka_unit_test(test_conninfo_passwords),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
