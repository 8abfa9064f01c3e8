/*
 * check/check.h - the check layer: verify, doctor and lint report findings of
 * one type (MODMIG_FINDING_KINDS). Uses run and everything below.
 */
#ifndef MODMIG_CHECK_H
#define MODMIG_CHECK_H

#include "run/run.h"

/*
 * The findings handle behind modmig_findings. Every string an item points at
 * is owned by it (module, file, message, reason when it differs from message,
 * hint) except rule, which is a rule's static name; modmig_findings_free()
 * releases them all.
 */
struct modmig_findings {
	modmig_finding *items;
	size_t count;
	size_t cap;
	bool oom;
};

/* Room for one more item, zeroed, or NULL (and oom set) when out of memory. */
modmig_finding *mm_findings_push(modmig_findings *f);

#endif /* MODMIG_CHECK_H */
