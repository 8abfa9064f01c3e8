/*
 * proof_report.c - the report of `modmig test` (modmig_test_report): cases
 * with their owned strings, the names of checks and outcomes, and how a
 * difference or an error becomes a case's detail lines. The checks
 * themselves are in proof.c.
 */
#include "check/proof.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *modmig_test_check_name(modmig_test_check check)
{
	switch (check) {
#define MODMIG_X_(name, number, text, doc)                                                         \
	case MODMIG_TEST_##name:                                                                   \
		return text;
		MODMIG_TEST_CHECKS(MODMIG_X_)
#undef MODMIG_X_
	default:
		return "unknown";
	}
}

const char *modmig_test_outcome_name(modmig_test_outcome outcome)
{
	return outcome == MODMIG_TEST_PASSED   ? "passed"
	       : outcome == MODMIG_TEST_FAILED ? "failed"
	                                       : "warning";
}

void modmig_test_options_init(modmig_test_options *opts)
{
	memset(opts, 0, sizeof(*opts));
}

size_t modmig_test_report_count(const modmig_test_report *r)
{
	return r ? r->count : 0;
}

const modmig_test_case *modmig_test_report_at(const modmig_test_report *r, size_t index)
{
	return r && index < r->count ? &r->cases[index] : NULL;
}

size_t modmig_test_report_tally(const modmig_test_report *r, modmig_test_outcome outcome)
{
	size_t n = 0;

	for (size_t i = 0; r && i < r->count; i++)
		n += r->cases[i].outcome == outcome;
	return n;
}

static void case_clear(modmig_test_case *c)
{
	free((char *)c->subject);
	free((char *)c->message);
	for (size_t i = 0; i < c->detail_count; i++)
		free((char *)c->details[i]);
	free((void *)c->details);
}

void modmig_test_report_free(modmig_test_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++)
		case_clear(&r->cases[i]);
	free(r->cases);
	free(r);
}

void mm_proof_case_init(mm_proof_case *pc, modmig_test_check check, const modmig_migration *m)
{
	memset(pc, 0, sizeof(*pc));
	pc->c.check = check;
	pc->c.outcome = MODMIG_TEST_PASSED;
	if (m) {
		pc->c.version = modmig_migration_version(m);
		pc->c.file = modmig_migration_file(m);
		if (modmig_migration_module(m))
			pc->c.module = modmig_module_name(modmig_migration_module(m));
		pc->c.subject =
		        mm_printf("%05lld %s", (long long)pc->c.version, modmig_migration_name(m));
		pc->oom |= !pc->c.subject;
	}
	pc->started = mm_now_ms();
}

void mm_proof_discard(mm_proof_case *pc)
{
	case_clear(&pc->c);
	memset(pc, 0, sizeof(*pc));
}

void mm_proof_subject(mm_proof_case *pc, const char *subject)
{
	free((char *)pc->c.subject);
	pc->c.subject = mm_strdup(subject);
	pc->oom |= !pc->c.subject;
}

void mm_proof_detail(mm_proof_case *pc, char *line)
{
	const char **p;

	if (!line) {
		pc->oom = true;
		return;
	}
	p = realloc((void *)pc->c.details, (pc->c.detail_count + 1) * sizeof(*p));
	if (!p) {
		free(line);
		pc->oom = true;
		return;
	}
	p[pc->c.detail_count++] = line;
	pc->c.details = p;
}

void mm_proof_diff(mm_proof_case *pc, const modmig_schema_diff *d, const char *a_label,
                   const char *b_label)
{
	for (size_t i = 0; i < modmig_schema_diff_count(d); i++)
		mm_proof_detail(pc, modmig_schema_difference_text(modmig_schema_diff_at(d, i),
		                                                  a_label, b_label));
}

/* The error's lines as the command line prints them, without a hint. */
void mm_proof_error(mm_proof_case *pc, const modmig_error *e)
{
	char *text = e ? modmig_error_format_hint(e, 0, NULL) : NULL;

	for (char *p = text; p && *p;) {
		size_t n = strcspn(p, "\n");
		size_t lead = strspn(p, " ");

		if (n > lead)
			mm_proof_detail(pc, mm_strndup(p + lead, n - lead));
		p += n + (p[n] == '\n');
	}
	if (e && !text)
		pc->oom = true;
	free(text);
}

bool mm_proof_finish(mm_proof_ctx *t, mm_proof_case *pc, modmig_test_outcome outcome,
                     const char *fmt, ...)
{
	/* ownership cases are decided during the round trip, reported after allow_missing */
	modmig_test_report *r =
	        pc->c.check == MODMIG_TEST_OWNERSHIP && t->deferred ? t->deferred : t->report;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = mm_vprintf(fmt, ap);
	va_end(ap);
	pc->c.message = msg;
	pc->c.outcome = outcome;
	pc->c.duration_ms = mm_now_ms() - pc->started;
	if (!msg || pc->oom || r->oom) {
		case_clear(&pc->c);
		r->oom = true;
		return false;
	}
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		modmig_test_case *p = realloc(r->cases, cap * sizeof(*p));

		if (!p) {
			case_clear(&pc->c);
			r->oom = true;
			return false;
		}
		r->cases = p;
		r->cap = cap;
	}
	r->cases[r->count++] = pc->c;
	memset(pc, 0, sizeof(*pc));
	if (t->opts.on_case && r == t->report)
		t->opts.on_case(t->opts.userdata, &r->cases[r->count - 1]);
	return true;
}
