/*
 * example-service - a small service that links libmodmig and migrates itself
 * on startup, the way a real application would.
 *
 *   example-service [apply|verify|off]
 *
 * The policy comes from argv[1], else MODMIG_POLICY, else "apply". The
 * connection comes from DATABASE_URL (then libpq's environment). MODMIG_PLAN
 * names a reviewed plan; MODMIG_ALLOW_UNREVIEWED=1 lets the apply policy run
 * without one when MODMIG_ENV=production. The
 * migrations are the bundled modules, compiled in under the symbol
 * example_service. Log events go to stderr. On success the service prints
 * "search_path: <path>" on stdout and exits 0; on failure it prints the error
 * on stderr and exits with modmig_exit_code() of the failure.
 */
#include <modmig.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const modmig_embedded_file example_service_files[];
extern const size_t example_service_count;

static const char *level_name(modmig_log_level level)
{
	switch (level) {
	case MODMIG_LOG_DEBUG:
		return "debug";
	case MODMIG_LOG_INFO:
		return "info";
	case MODMIG_LOG_WARN:
		return "warning";
	case MODMIG_LOG_ERROR:
		return "error";
	}
	return "log";
}

static void log_event(void *userdata, const modmig_event *event)
{
	const char *tag = userdata;

	/* the message of an applied or rolled-back migration carries its duration */
	fprintf(stderr, "%s: %s: %s\n", tag, level_name(event->level), event->message);
}

static int parse_policy(const char *text, modmig_policy *policy)
{
	if (strcmp(text, "apply") == 0)
		*policy = MODMIG_POLICY_APPLY;
	else if (strcmp(text, "verify") == 0)
		*policy = MODMIG_POLICY_VERIFY;
	else if (strcmp(text, "off") == 0)
		*policy = MODMIG_POLICY_OFF;
	else
		return -1;
	return 0;
}

static int report_error(const char *what, modmig_status status, modmig_error *err)
{
	int code = modmig_exit_code(status);

	if (err) {
		const char *file = modmig_error_file(err);
		const char *sqlstate = modmig_error_sqlstate(err);
		const char *detail = modmig_error_detail(err);
		const char *hint = modmig_error_hint(err);

		if (file && modmig_error_line(err) > 0 && modmig_error_column(err) > 0)
			fprintf(stderr, "%s:%d:%d: error: %s\n", file, modmig_error_line(err),
			        modmig_error_column(err), modmig_error_message(err));
		else if (file && modmig_error_line(err) > 0)
			fprintf(stderr, "%s:%d: error: %s\n", file, modmig_error_line(err),
			        modmig_error_message(err));
		else
			fprintf(stderr, "example-service: %s: %s\n", what,
			        modmig_error_message(err));
		if (sqlstate)
			fprintf(stderr, "  sqlstate: %s\n", sqlstate);
		if (detail)
			fprintf(stderr, "  detail: %s\n", detail);
		/*
		 * The library's hint speaks API terms; this service's operators use
		 * the modmig command line, so the steps they take are worded as its
		 * commands (a service with its own tooling would name that instead).
		 */
		if (modmig_error_next_step(err) == MODMIG_NEXT_WRITE_PLAN)
			fprintf(stderr, "  hint: write a plan with 'modmig plan -o FILE', review "
			                "it, and start "
			                "with plan_file set to it (or set allow_unreviewed to "
			                "apply without "
			                "review)\n");
		else if (modmig_error_next_step(err) == MODMIG_NEXT_RUN_UP)
			fprintf(stderr,
			        "  hint: apply them with modmig up, or start the service with "
			        "the apply policy\n");
		else if (hint)
			fprintf(stderr, "  hint: %s\n", hint);
		modmig_error_free(err);
	} else {
		fprintf(stderr, "example-service: %s: %s\n", what, modmig_status_name(status));
	}
	return code ? code : 1;
}

int main(int argc, char **argv)
{
	const char *policy_text = argc > 1 ? argv[1] : getenv("MODMIG_POLICY");
	modmig_startup_options opts;
	modmig_result *result = NULL;
	modmig_source *src = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	char *search_path;
	char tag[] = "example-service";

	if (argc > 2) {
		fputs("usage: example-service [apply|verify|off]\n", stderr);
		return 2;
	}
	modmig_startup_options_init(&opts);
	if (!policy_text || !*policy_text)
		policy_text = "apply";
	if (parse_policy(policy_text, &opts.policy) != 0) {
		fprintf(stderr, "example-service: unknown policy %s (want apply, verify or off)\n",
		        policy_text);
		return 2;
	}
	opts.conninfo = getenv("DATABASE_URL");
	opts.files = example_service_files;
	opts.file_count = example_service_count;
	opts.log = log_event;
	opts.log_userdata = tag;
	/* a reviewed plan, and the production guard's escape (MODMIG_ENV=production) */
	opts.plan_file = getenv("MODMIG_PLAN");
	opts.allow_unreviewed = getenv("MODMIG_ALLOW_UNREVIEWED") != NULL &&
	                        strcmp(getenv("MODMIG_ALLOW_UNREVIEWED"), "1") == 0;

	st = modmig_startup(&opts, &result, &err);
	if (st != MODMIG_OK) {
		modmig_result_free(result);
		return report_error("startup", st, err);
	}
	if (result)
		fprintf(stderr,
		        "example-service: %s: %zu migration(s) applied by this process, at version "
		        "%lld\n",
		        policy_text, modmig_result_count(result),
		        (long long)modmig_result_version(result));
	modmig_result_free(result);

	st = modmig_source_new_embedded(example_service_files, example_service_count, &src, &err);
	if (st != MODMIG_OK)
		return report_error("loading the embedded migrations", st, err);
	search_path = modmig_app_search_path(src);
	modmig_source_free(src);
	if (!search_path) {
		fputs("example-service: out of memory\n", stderr);
		return 1;
	}
	printf("search_path: %s\n", search_path);
	modmig_free(search_path);
	return fflush(stdout) == 0 ? 0 : 1;
}
