/*
 * suggest.c - "did you mean": the closest of a set of names to a mistyped
 * one, by edit distance (Damerau's optimal string alignment, so that a
 * swapped pair such as "stauts" costs one edit, like one wrong letter).
 * Commands, options and modules all come from their tables, so a new row is
 * suggested without a word here.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Names longer than this are not compared: no command or option is near it. */
#define SUGGEST_MAX_LEN 64

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* The optimal string alignment distance of a and b, both at most SUGGEST_MAX_LEN. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	/* three rows: the one two back is needed for a transposition */
	size_t rows[3][SUGGEST_MAX_LEN + 1];

	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = rows[i % 3], *up = rows[(i - 1) % 3], *up2 = rows[(i + 1) % 3];

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;

			cur[j] = min3(up[j] + 1, cur[j - 1] + 1, up[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    up2[j - 2] + 1 < cur[j])
				cur[j] = up2[j - 2] + 1;
		}
	}
	return rows[la % 3][lb];
}

void cli_suggest_init(cli_suggest *s, const char *word)
{
	s->word = word;
	s->best = NULL;
	s->best_distance = 0;
}

void cli_suggest_add(cli_suggest *s, const char *candidate)
{
	size_t lw = strlen(s->word), lc = strlen(candidate), d, limit;

	if (lw == 0 || lw > SUGGEST_MAX_LEN || lc > SUGGEST_MAX_LEN ||
	    strcmp(s->word, candidate) == 0)
		return;
	/*
	 * A third of the longer name, at least one and at most three edits:
	 * "stat" finds "status" and "lst" finds "list", while a short word
	 * such as "x" is near nothing rather than near every short name.
	 */
	limit = (lw > lc ? lw : lc) / 3;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	d = distance(s->word, lw, candidate, lc);
	/* the first of equally near names wins: the tables' order is deliberate */
	if (d <= limit && (!s->best || d < s->best_distance)) {
		s->best = candidate;
		s->best_distance = d;
	}
}

const char *cli_suggest_command(const char *word)
{
	cli_suggest s;
	const cli_command *c;

	cli_suggest_init(&s, word);
	for (size_t i = 0; (c = cli_command_at(i)) != NULL; i++)
		cli_suggest_add(&s, c->name);
	cli_suggest_add(&s, "help");
	return s.best;
}
