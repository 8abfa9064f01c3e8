/*
 * db/errors.h - what errors.c lends db.c while connecting: the passwords to
 * redact, the first line of a libpq message (redacted) and the receiver of
 * server notices. Private to the db folder; the layers above use db/db.h.
 */
#ifndef MODMIG_DB_ERRORS_H
#define MODMIG_DB_ERRORS_H

#include "db/db.h"

/* What a password becomes in every message and in modmig_db_display(). */
#define MM_DB_REDACTED "xxxxx"

/*
 * Remember every password the connection may use, to redact it from
 * messages: the parsed one (opts, NULL when the string did not parse), the
 * one as it stands in the raw text (libpq may quote a string it cannot
 * parse) and PGPASSWORD.
 */
void mm_db_collect_secrets(modmig_db *db, const char *conninfo, const PQconninfoOption *opts);

/* The first line of a libpq message, trimmed and redacted; NULL when out of memory. */
char *mm_db_first_line(const modmig_db *db, const char *msg);

/* The notice receiver every connection gets (PQsetNoticeReceiver, arg = db). */
void mm_db_on_notice(void *arg, const PGresult *res);

#endif /* MODMIG_DB_ERRORS_H */
