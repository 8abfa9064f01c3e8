/*
 * cmd_lint.c - modmig lint [FILE...] [--since REV] [--json | --sarif FILE]
 * [--rules]: the library's lint over the chosen migrations, printed as
 * compiler-style lines, JSON or SARIF 2.1.0. --since asks git which files are
 * new or changed since a revision; git runs here, in the CLI, never in the
 * library, which knows nothing of version control.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct lint_args {
	const char *since;
	const char *sarif;
	bool rules;
	char **files;
	int file_count;
} lint_args;

/* ---- git ------------------------------------------------------------------ */

/*
 * Run git with argv (NULL-terminated) in dir and return its stdout, or NULL
 * when it could not run or failed (its stderr goes to ours, so the operator
 * sees why). No shell: the revision is passed as one argument.
 */
static char *run_git(const char *dir, char *const argv[], size_t *len)
{
	char *out = NULL;
	size_t cap = 0;
	int fds[2];
	int status = 0;
	pid_t pid;

	*len = 0;
	if (pipe(fds) != 0)
		return NULL;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		if (chdir(dir) != 0)
			_exit(127);
		execvp("git", argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n;

		if (*len + 4096 + 1 > cap) {
			char *grown = realloc(out, cap ? cap * 2 : 8192);

			if (!grown)
				break;
			out = grown;
			cap = cap ? cap * 2 : 8192;
		}
		n = read(fds[0], out + *len, cap - *len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(out);
		return NULL;
	}
	out[*len] = '\0';
	return out;
}

/* The directory that holds the migrations: the manifest's, or --dir's; NULL when embedded. */
static char *source_dir(const modmig_source *src)
{
	const char *origin = modmig_source_origin(src);
	char *copy;
	char *slash;

	if (modmig_source_is_dir(src))
		return strdup(origin);
	if (!strcmp(origin, "(embedded)"))
		return NULL;
	copy = strdup(origin);
	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash)
		strcpy(copy, ".");
	else if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	return copy;
}

/* Whether path (its real path) is among the NUL-separated git paths under top. */
static bool in_git_list(const char *real, const char *top, const char *list, size_t len)
{
	size_t pos = 0;
	size_t top_len = strlen(top);

	if (strncmp(real, top, top_len) != 0 || real[top_len] != '/')
		return false;
	while (pos < len) {
		const char *p = list + pos;
		size_t n = strlen(p);

		if (n && !strcmp(p, real + top_len + 1))
			return true;
		pos += n + 1;
	}
	return false;
}

/* ---- selection ------------------------------------------------------------ */

typedef struct selection {
	const modmig_migration **items;
	size_t count;
	bool all;
} selection;

static bool same_file(const char *arg, const char *file)
{
	char a[PATH_MAX];
	char b[PATH_MAX];

	if (!strcmp(arg, file))
		return true;
	return realpath(arg, a) && realpath(file, b) && !strcmp(a, b);
}

/* FILE arguments: each must be one of the source's migrations. */
static int select_files(const cli_context *ctx, const modmig_source *src, const lint_args *a,
                        selection *sel)
{
	size_t count = modmig_source_migration_count(src);
	int i;

	for (i = 0; i < a->file_count; i++) {
		const modmig_migration *found = NULL;

		for (size_t k = 0; k < count && !found; k++)
			if (same_file(a->files[i],
			              modmig_migration_file(modmig_source_migration_at(src, k))))
				found = modmig_source_migration_at(src, k);
		if (!found)
			return cli_report(ctx, MODMIG_E_NOT_FOUND, a->files[i],
			                  "name a migration file of the manifest or directory, as "
			                  "'modmig list' prints them",
			                  "not a migration of %s", modmig_source_origin(src));
		sel->items[sel->count++] = found;
	}
	return CLI_EXIT_OK;
}

/* --since REV: keep the selected migrations that git says are new or changed. */
static int select_since(const cli_context *ctx, const modmig_source *src, const char *rev,
                        selection *sel)
{
	char *dir = source_dir(src);
	char *top = NULL;
	char *diff = NULL;
	char *untracked = NULL;
	size_t top_len = 0;
	size_t diff_len = 0;
	size_t untracked_len = 0;
	size_t kept = 0;
	int rc = CLI_EXIT_OK;
	char *top_argv[] = {"git", "rev-parse", "--show-toplevel", NULL};
	char *diff_argv[] = {"git",          "diff",      "--name-only", "-z",
	                     "--no-renames", (char *)rev, "--",          NULL};
	char *new_argv[] = {"git", "ls-files", "-z", "--others", "--exclude-standard", NULL};

	if (!dir) {
		rc = cli_usage_error(ctx,
		                     "option '--since' needs migrations on disk (-m or --dir), "
		                     "in a git repository");
		goto cleanup;
	}
	if (rev[0] == '-') {
		rc = cli_usage_error(ctx, "invalid revision '%s' for '--since'", rev);
		goto cleanup;
	}
	top = run_git(dir, top_argv, &top_len);
	while (top && top_len && (top[top_len - 1] == '\n' || top[top_len - 1] == '\r'))
		top[--top_len] = '\0';
	if (top)
		diff = run_git(dir, diff_argv, &diff_len);
	if (diff)
		untracked = run_git(dir, new_argv, &untracked_len);
	if (!top || !diff || !untracked) {
		rc = cli_report(ctx, MODMIG_E_USAGE, NULL,
		                "run it inside a git repository, with a revision git knows (a "
		                "branch, tag or commit)",
		                "git could not list the files changed since '%s' in %s", rev, dir);
		goto cleanup;
	}
	for (size_t i = 0; i < sel->count; i++) {
		char real[PATH_MAX];

		if (!realpath(modmig_migration_file(sel->items[i]), real))
			continue;
		if (in_git_list(real, top, diff, diff_len) ||
		    in_git_list(real, top, untracked, untracked_len))
			sel->items[kept++] = sel->items[i];
	}
	sel->count = kept;
cleanup:
	free(dir);
	free(top);
	free(diff);
	free(untracked);
	return rc;
}

/* ---- output --------------------------------------------------------------- */

static const char *severity_word(modmig_severity s)
{
	return s == MODMIG_SEVERITY_ERROR ? "error" : "warning";
}

static void print_text(const cli_context *ctx, const modmig_findings *f, size_t linted)
{
	size_t errors = 0;
	size_t warnings = 0;

	for (size_t i = 0; i < modmig_findings_count(f); i++) {
		const modmig_finding *x = modmig_findings_at(f, i);
		bool error = x->severity == MODMIG_SEVERITY_ERROR;

		error ? errors++ : warnings++;
		printf("%s:%d:%d: %s%s%s: %s: %s\n", x->file, x->line, x->column,
		       cli_color_on(ctx, false, error ? CLI_RED : CLI_YELLOW),
		       severity_word(x->severity), cli_color_off(ctx, false), x->rule, x->message);
		if (x->hint)
			printf("  hint: %s\n", x->hint);
	}
	if (errors + warnings == 0)
		printf("ok: %zu migration%s, no findings\n", linted, linted == 1 ? "" : "s");
	else
		printf("%zu error%s, %zu warning%s in %zu migration%s\n", errors,
		       errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s", linted,
		       linted == 1 ? "" : "s");
}

static void print_json(const modmig_findings *f, size_t linted)
{
	size_t errors = 0;
	size_t n = modmig_findings_count(f);

	for (size_t i = 0; i < n; i++)
		errors += modmig_findings_at(f, i)->severity == MODMIG_SEVERITY_ERROR;
	printf("{\"migrations\":%zu,\"errors\":%zu,\"warnings\":%zu,\"findings\":[", linted, errors,
	       n - errors);
	for (size_t i = 0; i < n; i++) {
		const modmig_finding *x = modmig_findings_at(f, i);

		fputs(i ? ",{\"rule\":" : "{\"rule\":", stdout);
		cli_json_string(stdout, x->rule);
		fputs(",\"severity\":", stdout);
		cli_json_string(stdout, severity_word(x->severity));
		fputs(",\"file\":", stdout);
		cli_json_string(stdout, x->file);
		printf(",\"line\":%d,\"column\":%d,\"version\":%" PRId64 ",\"module\":", x->line,
		       x->column, x->version);
		cli_json_string(stdout, x->module);
		fputs(",\"message\":", stdout);
		cli_json_string(stdout, x->message);
		fputs(",\"hint\":", stdout);
		cli_json_string(stdout, x->hint);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

/*
 * A path as a SARIF uri: relative paths stay relative references (to the
 * directory lint ran in), absolute ones become file:// URIs; percent-encode
 * what a URI may not hold.
 */
static void sarif_uri(FILE *out, const char *path)
{
	const unsigned char *p = (const unsigned char *)path;
	char buf[4096];
	size_t n = 0;

	if (*p == '/')
		n = (size_t)snprintf(buf, sizeof(buf), "file://"); /* an absolute path */
	for (; *p && n + 4 < sizeof(buf); p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p))
			buf[n++] = (char)*p;
		else
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%%%02X", *p);
	}
	buf[n] = '\0';
	cli_json_string(out, buf);
}

static const char *sarif_level(const modmig_lint_rule *r)
{
	if (!r->enabled)
		return "none";
	return r->severity == MODMIG_SEVERITY_ERROR ? "error" : "warning";
}

static void write_sarif(FILE *out, const modmig_findings *f)
{
	fputs("{\"$schema\":\"https://json.schemastore.org/"
	      "sarif-2.1.0.json\",\"version\":\"2.1.0\","
	      "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"modmig\",\"version\":",
	      out);
	cli_json_string(out, modmig_version());
	fputs(",\"rules\":[", out);
	for (size_t i = 0; modmig_lint_rule_at(i); i++) {
		const modmig_lint_rule *r = modmig_lint_rule_at(i);

		fputs(i ? ",{\"id\":" : "{\"id\":", out);
		cli_json_string(out, r->name);
		fputs(",\"shortDescription\":{\"text\":", out);
		cli_json_string(out, r->summary);
		fprintf(out, "},\"defaultConfiguration\":{\"level\":\"%s\"}}", sarif_level(r));
	}
	fputs("]}},\"results\":[", out);
	for (size_t i = 0; i < modmig_findings_count(f); i++) {
		const modmig_finding *x = modmig_findings_at(f, i);
		const modmig_lint_rule *r = modmig_lint_rule_find(x->rule);
		char *text = x->hint ? malloc(strlen(x->message) + strlen(x->hint) + 16) : NULL;

		if (text)
			sprintf(text, "%s; hint: %s", x->message, x->hint);
		fputs(i ? ",{\"ruleId\":" : "{\"ruleId\":", out);
		cli_json_string(out, x->rule);
		fprintf(out, ",\"ruleIndex\":%d,\"level\":\"%s\",\"message\":{\"text\":",
		        r ? (int)r->id : 0, severity_word(x->severity));
		cli_json_string(out, text ? text : x->message);
		fputs("},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":",
		      out);
		sarif_uri(out, x->file);
		fputc('}', out);
		if (x->line > 0)
			fprintf(out, ",\"region\":{\"startLine\":%d,\"startColumn\":%d}", x->line,
			        x->column > 0 ? x->column : 1);
		fputs("}}]}", out);
		free(text);
	}
	fputs("]}]}\n", out);
}

/*
 * --rules: every rule of MODMIG_LINT_RULES with its default severity ("off"
 * when it is not on by default) and what it finds; with --json
 * [{"rule","severity","enabled","summary"}].
 */
static void print_rules(const cli_context *ctx)
{
	if (ctx->json)
		fputc('[', stdout);
	for (size_t i = 0; modmig_lint_rule_at(i); i++) {
		const modmig_lint_rule *r = modmig_lint_rule_at(i);

		if (!ctx->json) {
			printf("%-32s %-8s %s\n", r->name,
			       r->enabled ? severity_word(r->severity) : "off", r->summary);
			continue;
		}
		fputs(i ? ",{\"rule\":" : "{\"rule\":", stdout);
		cli_json_string(stdout, r->name);
		fputs(",\"severity\":", stdout);
		cli_json_string(stdout, severity_word(r->severity));
		printf(",\"enabled\":%s,\"summary\":", r->enabled ? "true" : "false");
		cli_json_string(stdout, r->summary);
		fputc('}', stdout);
	}
	if (ctx->json)
		fputs("]\n", stdout);
}

/* ---- the command ---------------------------------------------------------- */

/* One of lint's options into the lint_args at data. */
static int take_option(cli_context *ctx, int c, const char *value, void *data)
{
	lint_args *a = data;

	(void)ctx;
	if (c == CLI_OPT_SINCE)
		a->since = value;
	else if (c == CLI_OPT_SARIF)
		a->sarif = value;
	else if (c == CLI_OPT_RULES)
		a->rules = true;
	else
		return 0;
	return 1;
}

/* *stop: the command ends now with the returned code (after --help, or a usage error). */
static int parse_args(cli_context *ctx, const cli_command *cmd, int argc, char **argv, lint_args *a,
                      bool *stop)
{
	int rc;

	/* any number of files: none means every migration of the source */
	if (!cli_parse_options_args(ctx, cmd, argc, argv, take_option, a, 0, INT_MAX, NULL,
	                            &a->files, &a->file_count, &rc)) {
		*stop = true;
		return rc;
	}
	if (a->sarif && ctx->json) {
		*stop = true;
		return cli_usage_error(ctx, "choose one of --json and --sarif");
	}
	return CLI_EXIT_OK;
}

int cli_cmd_lint(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_lint_options opts;
	modmig_source *src = NULL;
	modmig_findings *findings = NULL;
	modmig_error *err = NULL;
	selection sel = {0};
	lint_args a = {0};
	modmig_status st;
	FILE *sarif = NULL;
	bool stop = false;
	int rc;

	rc = parse_args(ctx, cmd, argc, argv, &a, &stop);
	if (stop || rc != CLI_EXIT_OK)
		goto cleanup;
	if (a.rules) {
		print_rules(ctx);
		goto cleanup;
	}
	if ((rc = cli_open_source(ctx, &src)) != CLI_EXIT_OK)
		goto cleanup;
	sel.items = calloc(modmig_source_migration_count(src) + (size_t)a.file_count + 1,
	                   sizeof(*sel.items));
	if (!sel.items) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	if (a.file_count) {
		if ((rc = select_files(ctx, src, &a, &sel)) != CLI_EXIT_OK)
			goto cleanup;
	} else {
		for (size_t i = 0; i < modmig_source_migration_count(src); i++)
			sel.items[sel.count++] = modmig_source_migration_at(src, i);
	}
	if (a.since && (rc = select_since(ctx, src, a.since, &sel)) != CLI_EXIT_OK)
		goto cleanup;
	modmig_lint_options_init(&opts);
	opts.migrations = sel.items;
	opts.migration_count = sel.count;
	opts.lock_timeout = ctx->lock_timeout_ms >= 0 ? "--lock-timeout" : NULL;
	st = modmig_lint(src, &opts, &findings, &err);
	if (st != MODMIG_OK && st != MODMIG_E_CHECK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (a.sarif) {
		sarif = strcmp(a.sarif, "-") ? fopen(a.sarif, "w") : stdout;
		if (!sarif) {
			rc = cli_report(ctx, MODMIG_E_IO, a.sarif,
			                "check that the directory exists and is writable",
			                "cannot write the SARIF file");
			goto cleanup;
		}
		write_sarif(sarif, findings);
		if (sarif != stdout && fclose(sarif) != 0) {
			rc = cli_report(ctx, MODMIG_E_IO, a.sarif, NULL,
			                "cannot write the SARIF file");
			goto cleanup;
		}
	}
	if (ctx->json)
		print_json(findings, sel.count);
	else if (!a.sarif || strcmp(a.sarif, "-") != 0)
		print_text(ctx, findings, sel.count);
	rc = modmig_exit_code(st);
cleanup:
	free(sel.items);
	modmig_findings_free(findings);
	modmig_error_free(err);
	modmig_source_free(src);
	return rc;
}
