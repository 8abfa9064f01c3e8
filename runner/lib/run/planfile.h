/*
 * planfile.h - reviewed plans (planfile.c) and the pieces of `up` they share
 * with run.c. A plan file is a line format that people read and review:
 *
 *   modmig-plan 1
 *   version_table goose_db_version
 *   state <sha256 of the database state>
 *   option to 2003                     (optional: the up options it was written with)
 *   apply <version> <module|-> <sha256> <file>
 *   end <number of apply lines>
 *
 * Blank lines and lines starting with '#' are comments.
 */
#ifndef MODMIG_PLANFILE_H
#define MODMIG_PLANFILE_H

#include "run/run.h"

typedef struct mm_planfile_step {
	int64_t version;
	char *module; /* NULL for "-" */
	char sha256[65];
	char *file;
	int line; /* where it stands in the plan file */
} mm_planfile_step;

typedef struct mm_planfile {
	char *path;
	char *version_table;
	char state[65];
	int64_t to;
	char *module;
	bool by_one;
	bool strict;
	modmig_resume_mode mode;
	mm_planfile_step *steps;
	size_t count;
} mm_planfile;

/* Read and check the syntax of a plan file; errors name file:line (exit 2). */
modmig_status mm_planfile_read(const char *path, mm_planfile *out, modmig_error **err);
void mm_planfile_clear(mm_planfile *pf);

/* The up options the plan was written with (to, module, by_one, strict, resume). */
void mm_planfile_up_options(const mm_planfile *pf, modmig_up_options *opts);

/*
 * Compare the plan with what `up` would do now (plan, computed from s->state
 * under the lock with the plan's options). MODMIG_E_PLAN_MISMATCH names what
 * differs. *done is set when the database differs only because exactly this
 * plan was applied already (a second replica starting with the same plan).
 */
modmig_status mm_planfile_check(const mm_planfile *pf, modmig_source *src, const mm_session *s,
                                const mm_plan *plan, bool *done, modmig_error **err);

/* SHA-256 over the applied versions (ids, times), latest events and registry. */
bool mm_state_fingerprint(const mm_names *n, const mm_state *st, char out[65]);

#endif /* MODMIG_PLANFILE_H */
