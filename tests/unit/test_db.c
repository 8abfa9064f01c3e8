/* test_db.c - the db layer's pure parts: where a server version stands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pg_support),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
