/*
 * cmd_test.c - `modmig test`: prove the migrations on a shadow database
 * (modmig_test) and print each case as it is decided, then a summary; or
 * one JSON document; and, with --junit, a JUnit XML file for CI. For
 * --from-ref the CLI, not the library, extracts the migrations as they were
 * at a git revision (git archive) into a temporary directory and loads them
 * as a second source: the library knows nothing of git.
 */
/* nftw() */
#define _XOPEN_SOURCE 700
#include "cli.h"

#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct test_args {
	const char *dev_url;
	const char *junit;
	const char *from_ref;
} test_args;

/* One of test's options into the test_args at data. */
static int take_option(cli_context *ctx, int c, const char *value, void *data)
{
	test_args *a = data;

	(void)ctx;
	if (c == CLI_OPT_DEV_URL)
		a->dev_url = value;
	else if (c == CLI_OPT_JUNIT)
		a->junit = value;
	else if (c == CLI_OPT_FROM_REF)
		a->from_ref = value;
	else
		return 0;
	return 1;
}

/* false when the command must end now with *exit_code */
static bool parse_args(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                       test_args *a, int *exit_code)
{
	memset(a, 0, sizeof(*a));
	return cli_parse_options(ctx, cmd, argc, argv, take_option, NULL, a, exit_code);
}

/* What test runs on the shadow: modmig_test()'s arguments and result. */
typedef struct test_call {
	modmig_source *src;
	const modmig_test_options *opts;
	modmig_test_report **report;
} test_call;

static modmig_status test_on(modmig_shadow *shadow, void *data, modmig_error **err)
{
	test_call *c = data;

	return modmig_test(shadow, c->src, c->opts, c->report, err);
}

/* ---- --from-ref: the migrations at a git revision ------------------------- */

/*
 * Run argv with stdin from /dev/null; its stdout into *out (NUL-terminated,
 * last newline removed) when out is not NULL, else to ours. stderr stays
 * the user's: git says itself what is wrong with a revision. Exit status.
 */
static int run(char *const argv[], char **out)
{
	int fd[2] = {-1, -1}, status = 0;
	pid_t pid;
	size_t len = 0, cap = 256;
	char *buf = NULL;
	ssize_t got;

	if (out && (pipe(fd) != 0 || !(buf = malloc(cap))))
		goto fail;
	fflush(stdout);
	if ((pid = fork()) < 0)
		goto fail;
	if (pid == 0) {
		if (out) {
			dup2(fd[1], STDOUT_FILENO);
			close(fd[0]);
			close(fd[1]);
		} else {
			dup2(STDERR_FILENO, STDOUT_FILENO); /* keep stdout for our own output */
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (out) {
		close(fd[1]);
		fd[1] = -1;
		while ((got = read(fd[0], buf + len, cap - len - 1)) > 0 ||
		       (got < 0 && errno == EINTR)) {
			char *p;

			if (got < 0)
				continue;
			len += (size_t)got;
			if (len + 1 < cap)
				continue;
			if (!(p = realloc(buf, cap *= 2)))
				break;
			buf = p;
		}
		close(fd[0]);
		buf[len] = '\0';
		if (len && buf[len - 1] == '\n')
			buf[len - 1] = '\0';
		*out = buf;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
fail:
	if (fd[0] >= 0)
		close(fd[0]);
	if (fd[1] >= 0)
		close(fd[1]);
	free(buf);
	return 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * Extract the directory the migrations live in (the manifest's, or --dir's)
 * as it was at rev into a new temporary directory *tmp, and load it.
 */
static int load_from_ref(cli_context *ctx, const modmig_source *src, const char *rev, char **tmp,
                         modmig_source **out)
{
	char origin[PATH_MAX], dir[PATH_MAX], *prefix = NULL, *top = NULL, *tree = NULL,
	                                      *tar = NULL, *path = NULL;
	const char *base = getenv("TMPDIR");
	modmig_error *err = NULL;
	modmig_status st;
	int rc;

	*out = NULL;
	*tmp = NULL;
	if (strcmp(modmig_source_origin(src), "(embedded)") == 0)
		return cli_report(
		        ctx, MODMIG_E_USAGE, NULL,
		        "run the standalone modmig with -m MANIFEST or --dir DIR",
		        "--from-ref needs migrations in a git work tree, not compiled in");
	if (!realpath(modmig_source_origin(src), origin))
		return cli_report(ctx, MODMIG_E_IO, modmig_source_origin(src), NULL,
		                  "cannot resolve %s", modmig_source_origin(src));
	snprintf(dir, sizeof(dir), "%s", origin);
	if (!modmig_source_is_dir(src))
		snprintf(dir, sizeof(dir), "%s", dirname(origin));
	if (run((char *[]){"git", "-C", dir, "rev-parse", "--show-prefix", NULL}, &prefix) != 0 ||
	    run((char *[]){"git", "-C", dir, "rev-parse", "--show-toplevel", NULL}, &top) != 0) {
		rc = cli_report(ctx, MODMIG_E_USAGE, NULL, NULL,
		                "--from-ref: %s is not in a git work tree", dir);
		goto cleanup;
	}
	*tmp = cli_strdupf("%s/modmig-from-XXXXXX", base && *base ? base : "/tmp");
	tree = cli_strdupf("%s:%s", rev, prefix);
	if (!*tmp || !tree || !mkdtemp(*tmp) || !(tar = cli_strdupf("%s/tree.tar", *tmp))) {
		rc = cli_report(ctx, MODMIG_E_IO, NULL, NULL, "cannot make a temporary directory");
		goto cleanup;
	}
	if (run((char *[]){"git", "-C", top, "archive", "--format=tar", "-o", tar, tree, NULL},
	        NULL) != 0 ||
	    run((char *[]){"tar", "-x", "-f", tar, "-C", *tmp, NULL}, NULL) != 0) {
		rc = cli_report(ctx, MODMIG_E_USAGE, NULL,
		                "name a commit, branch or tag that has them",
		                "--from-ref: cannot read the migrations at git revision %s", rev);
		goto cleanup;
	}
	unlink(tar);
	if (modmig_source_is_dir(src))
		st = modmig_source_new_dir(*tmp, modmig_source_version_table(src), out, &err);
	else {
		snprintf(origin, sizeof(origin), "%s", modmig_source_origin(src));
		path = cli_strdupf("%s/%s", *tmp, basename(origin));
		st = path ? modmig_source_new_manifest(path, out, &err) : MODMIG_E_NOMEM;
	}
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (ctx->max_file_size)
		modmig_source_set_max_file_size(*out, ctx->max_file_size);
	rc = CLI_EXIT_OK;
cleanup:
	modmig_error_free(err);
	free(prefix);
	free(top);
	free(tree);
	free(tar);
	free(path);
	return rc;
}

/* ---- output ----------------------------------------------------------------- */

static const char *outcome_word(const modmig_test_case *c)
{
	return c->outcome == MODMIG_TEST_FAILED    ? "FAILED"
	       : c->outcome == MODMIG_TEST_WARNING ? "warning"
	                                           : "passed";
}

/* Each case as it is decided: passed ones only without -q. */
static void print_case(void *userdata, const modmig_test_case *c)
{
	const cli_context *ctx = userdata;
	cli_color color = c->outcome == MODMIG_TEST_FAILED    ? CLI_RED
	                  : c->outcome == MODMIG_TEST_WARNING ? CLI_YELLOW
	                                                      : CLI_GREEN;

	if (ctx->verbosity < 0 && c->outcome == MODMIG_TEST_PASSED)
		return;
	printf("%s%-7s%s  %-13s  %s: %s\n", cli_color_on(ctx, false, color), outcome_word(c),
	       cli_color_off(ctx, false), modmig_test_check_name(c->check),
	       c->subject ? c->subject : "", c->message);
	for (size_t i = 0; i < c->detail_count; i++)
		printf("                          %s\n", c->details[i]);
	fflush(stdout);
}

static void print_json(const modmig_test_report *r)
{
	size_t n = modmig_test_report_count(r);

	printf("{\"ok\":%s,\"passed\":%zu,\"warnings\":%zu,\"failed\":%zu,\"checks\":[",
	       modmig_test_report_tally(r, MODMIG_TEST_FAILED) ? "false" : "true",
	       modmig_test_report_tally(r, MODMIG_TEST_PASSED),
	       modmig_test_report_tally(r, MODMIG_TEST_WARNING),
	       modmig_test_report_tally(r, MODMIG_TEST_FAILED));
	for (size_t i = 0; i < n; i++) {
		const modmig_test_case *c = modmig_test_report_at(r, i);

		printf("%s{\"check\":\"%s\",\"outcome\":\"%s\",\"subject\":", i ? "," : "",
		       modmig_test_check_name(c->check), modmig_test_outcome_name(c->outcome));
		cli_json_string(stdout, c->subject);
		printf(",\"version\":%lld,\"module\":", (long long)c->version);
		cli_json_string(stdout, c->module);
		fputs(",\"file\":", stdout);
		cli_json_string(stdout, c->file);
		printf(",\"other_version\":%lld,\"message\":", (long long)c->other_version);
		cli_json_string(stdout, c->message);
		fputs(",\"details\":[", stdout);
		for (size_t j = 0; j < c->detail_count; j++) {
			fputs(j ? "," : "", stdout);
			cli_json_string(stdout, c->details[j]);
		}
		printf("],\"duration_ms\":%.1f}", c->duration_ms);
	}
	fputs("]}\n", stdout);
}

/* s escaped for XML text and attributes; bytes XML 1.0 cannot carry are left out. */
static void xml(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '&')
			fputs("&amp;", f);
		else if (ch == '<')
			fputs("&lt;", f);
		else if (ch == '>')
			fputs("&gt;", f);
		else if (ch == '"')
			fputs("&quot;", f);
		else if (ch == '\n')
			fputs("&#10;", f);
		else if (ch >= 0x20 || ch == '\t')
			fputc(ch, f);
	}
}

/* One <testsuite> per check, one <testcase> per case; a warning is <skipped>. */
static bool write_junit(const char *path, const modmig_test_report *r, double total_ms)
{
	FILE *f = fopen(path, "w");
	size_t n = modmig_test_report_count(r);

	if (!f)
		return false;
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<testsuites name=\"modmig test\" tests=\"%zu\" failures=\"%zu\" "
	        "skipped=\"%zu\" time=\"%.3f\">\n",
	        n, modmig_test_report_tally(r, MODMIG_TEST_FAILED),
	        modmig_test_report_tally(r, MODMIG_TEST_WARNING), total_ms / 1000);
	for (int check = 0; check < MODMIG_TEST_CHECK_COUNT; check++) {
		size_t tests = 0, failures = 0, skipped = 0;
		double ms = 0;

		for (size_t i = 0; i < n; i++) {
			const modmig_test_case *c = modmig_test_report_at(r, i);

			if ((int)c->check != check)
				continue;
			tests++;
			failures += c->outcome == MODMIG_TEST_FAILED;
			skipped += c->outcome == MODMIG_TEST_WARNING;
			ms += c->duration_ms;
		}
		if (!tests)
			continue;
		fprintf(f,
		        "  <testsuite name=\"modmig.%s\" tests=\"%zu\" failures=\"%zu\" "
		        "errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
		        modmig_test_check_name(check), tests, failures, skipped, ms / 1000);
		for (size_t i = 0; i < n; i++) {
			const modmig_test_case *c = modmig_test_report_at(r, i);

			if ((int)c->check != check)
				continue;
			fprintf(f, "    <testcase classname=\"modmig.%s\" name=\"",
			        modmig_test_check_name(check));
			xml(f, c->subject);
			fputc('"', f);
			if (c->file) {
				fputs(" file=\"", f);
				xml(f, c->file);
				fputc('"', f);
			}
			fprintf(f, " time=\"%.3f\"", c->duration_ms / 1000);
			if (c->outcome == MODMIG_TEST_PASSED) {
				fputs("/>\n", f);
				continue;
			}
			fprintf(f, ">\n      <%s message=\"",
			        c->outcome == MODMIG_TEST_FAILED ? "failure" : "skipped");
			xml(f, c->message);
			fputs("\">", f);
			for (size_t j = 0; j < c->detail_count; j++) {
				xml(f, c->details[j]);
				fputc('\n', f);
			}
			fprintf(f, "</%s>\n    </testcase>\n",
			        c->outcome == MODMIG_TEST_FAILED ? "failure" : "skipped");
		}
		fputs("  </testsuite>\n", f);
	}
	fputs("</testsuites>\n", f);
	return fclose(f) == 0;
}

/* ---- the command -------------------------------------------------------------- */

int cli_cmd_test(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL, *from = NULL;
	modmig_db *db = NULL;
	modmig_test_report *report = NULL;
	modmig_test_options opts;
	modmig_error *err = NULL;
	test_call call;
	modmig_status st;
	test_args a;
	char *tmp = NULL;
	double started = cli_now_ms();
	int rc;

	if (!parse_args(ctx, cmd, argc, argv, &a, &rc))
		goto cleanup;
	if ((rc = cli_open_source(ctx, &src)) != CLI_EXIT_OK ||
	    (a.from_ref &&
	     (rc = load_from_ref(ctx, src, a.from_ref, &tmp, &from)) != CLI_EXIT_OK) ||
	    (rc = cli_connect(ctx, &db)) != CLI_EXIT_OK)
		goto cleanup;
	modmig_test_options_init(&opts);
	opts.from = from;
	opts.from_label = a.from_ref;
	if (!ctx->json) {
		opts.on_case = print_case;
		opts.userdata = ctx;
		if (ctx->verbosity >= 0)
			printf("test: %zu migration%s in %zu module%s, on a shadow database\n",
			       modmig_source_migration_count(src),
			       modmig_source_migration_count(src) == 1 ? "" : "s",
			       modmig_source_module_count(src),
			       modmig_source_module_count(src) == 1 ? "" : "s");
	}
	call.src = src;
	call.opts = &opts;
	call.report = &report;
	st = cli_on_shadow(ctx, db, a.dev_url, test_on, &call, &err);
	if ((rc = cli_shadow_caught()) != 0)
		goto cleanup;
	if (st != MODMIG_OK && st != MODMIG_E_CHECK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	if (a.junit && !write_junit(a.junit, report, cli_now_ms() - started)) {
		rc = cli_report(ctx, MODMIG_E_IO, a.junit, NULL, "cannot write %s", a.junit);
		goto cleanup;
	}
	if (ctx->json)
		print_json(report);
	else
		printf("test: %zu passed, %zu warning%s, %zu failed (%.1fs)\n",
		       modmig_test_report_tally(report, MODMIG_TEST_PASSED),
		       modmig_test_report_tally(report, MODMIG_TEST_WARNING),
		       modmig_test_report_tally(report, MODMIG_TEST_WARNING) == 1 ? "" : "s",
		       modmig_test_report_tally(report, MODMIG_TEST_FAILED),
		       (cli_now_ms() - started) / 1000);
	rc = st == MODMIG_OK ? CLI_EXIT_OK : modmig_exit_code(st);
cleanup:
	if (tmp && access(tmp, F_OK) == 0)
		nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmp);
	modmig_test_report_free(report);
	modmig_error_free(err);
	modmig_db_free(db);
	modmig_source_free(from);
	modmig_source_free(src);
	return rc;
}
