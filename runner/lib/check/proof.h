/*
 * check/proof.h - what the checks of `modmig test` (proof.c, proof_order.c)
 * share with the report they fill (proof_report.c).
 */
#ifndef MODMIG_CHECK_PROOF_H
#define MODMIG_CHECK_PROOF_H

#include "run/run.h"
#include "schema/schema.h"

struct modmig_test_report {
	modmig_test_case *cases;
	size_t count, cap;
	bool oom;
};

/* One run of the checks on one shadow database. */
typedef struct mm_proof_ctx {
	modmig_shadow *sh;
	modmig_source *src;
	modmig_test_options opts;
	modmig_schema_options scope; /* every schema; the version table left out */
	modmig_test_report *report;
	modmig_test_report *deferred; /* ownership cases, reported after allow_missing */
	int64_t *versions;            /* every migration's version, ascending */
	size_t count;
	modmig_schema *all; /* the schema of every migration in version order */
} mm_proof_ctx;

/* A case being decided: the public case plus what building it needs. */
typedef struct mm_proof_case {
	modmig_test_case c;
	double started;
	bool oom;
} mm_proof_case;

/* Start a case about migration m (NULL: about no one migration). */
void mm_proof_case_init(mm_proof_case *pc, modmig_test_check check, const modmig_migration *m);
/* Forget a case not finished (a no-op after mm_proof_finish). */
void mm_proof_discard(mm_proof_case *pc);
void mm_proof_subject(mm_proof_case *pc, const char *subject);
/* Append a detail line (taken over; NULL means out of memory). */
void mm_proof_detail(mm_proof_case *pc, char *line);
/* Each difference of d as a detail line, the sides named a_label and b_label. */
void mm_proof_diff(mm_proof_case *pc, const modmig_schema_diff *d, const char *a_label,
                   const char *b_label);
/* The error's lines (location, message, SQLSTATE, detail, context) as details. */
void mm_proof_error(mm_proof_case *pc, const modmig_error *e);
/*
 * Decide the case and hand it to the report (and the callback). false only
 * when out of memory (the report says so).
 */
bool mm_proof_finish(mm_proof_ctx *t, mm_proof_case *pc, modmig_test_outcome outcome,
                     const char *fmt, ...) MM_PRINTF(4, 5);

/* Empty the shadow, then apply these versions in this order. */
modmig_status mm_proof_build(mm_proof_ctx *t, const int64_t *versions, size_t count,
                             modmig_error **err);
/* Snapshot the shadow. */
modmig_status mm_proof_snapshot(mm_proof_ctx *t, modmig_schema **out, modmig_error **err);
/*
 * Whether an error from applying migrations is a finding about a migration
 * (it names one and the shadow was not interrupted) rather than a reason
 * to stop.
 */
bool mm_proof_is_finding(const mm_proof_ctx *t, const modmig_error *e);

/* The allow-missing orders (proof_order.c). */
modmig_status mm_proof_allow_missing(mm_proof_ctx *t, modmig_error **err);

#endif /* MODMIG_CHECK_PROOF_H */
