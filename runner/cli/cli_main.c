/*
 * cli_main.c - modmig_cli_main(): global options, then the command found in
 * the table of commands.c. The standalone modmig (main.c) and an
 * application's own binary (modules/app.c) both call it.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/*
 * --production is global and takes no value, so it is taken out of argv
 * wherever it stands (up to a "--"), before the options are parsed.
 */
static int take_production(int argc, char **argv, bool *production)
{
	const char *env = getenv("MODMIG_ENV");
	modmig_environment kind = modmig_environment_of(env);
	int out = 1, i;

	/* the library's reading of MODMIG_ENV, so the CLI and a service agree */
	*production = kind == MODMIG_ENVIRONMENT_PRODUCTION;
	if (kind == MODMIG_ENVIRONMENT_UNKNOWN)
		fprintf(stderr,
		        "warning: MODMIG_ENV=%.64s is not an environment modmig knows, so this is "
		        "not production; use production or prod for production\n",
		        env);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--production") == 0)
			*production = true;
		else
			argv[out++] = argv[i];
	}
	while (i < argc)
		argv[out++] = argv[i++];
	argv[out] = NULL;
	return out;
}

static int run_help(cli_context *ctx, int argc, char **argv)
{
	const cli_command *cmd;

	if (argc < 2) {
		cli_print_command_help(NULL, stdout);
		return CLI_EXIT_OK;
	}
	cmd = cli_find_command(argv[1]);
	if (!cmd)
		return cli_usage_error_near(ctx, "", cli_suggest_command(argv[1]),
		                            "unknown command '%s'", argv[1]);
	cli_print_command_help(cmd, stdout);
	return CLI_EXIT_OK;
}

int modmig_cli_main(int argc, char **argv, const modmig_cli_config *config)
{
	bool json_error_written = false;
	cli_context ctx = {.lock_timeout_ms = -1,
	                   .statement_timeout_ms = -1,
	                   .json_error_written = &json_error_written};
	const cli_command *cmd;
	cli_parser parser;
	int rc = CLI_EXIT_OK;

	/*
	 * Progress lines on stdout and errors on stderr must interleave in the
	 * order they happened, also when both go to one log file or pipe.
	 */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (config) {
		ctx.files = config->files;
		ctx.file_count = config->file_count;
	}
	argc = take_production(argc, argv, &ctx.production);
	if (!cli_parser_init(&parser, &ctx, NULL, argc, argv)) {
		fputs("modmig: error: out of memory\n", stderr);
		rc = 1;
		goto cleanup;
	}
	/* only global options come before the command; they stop on --help or misuse */
	if (cli_getopt(&parser) != -1) {
		rc = parser.exit_code;
		goto cleanup;
	}
	if (cli_rest_count(&parser) == 0) {
		rc = cli_usage_error(&ctx, "missing command");
		goto cleanup;
	}
	argc = cli_rest_count(&parser);
	argv = cli_rest(&parser);
	if (strcmp(argv[0], "help") == 0) {
		rc = run_help(&ctx, argc, argv);
		goto cleanup;
	}
	/* hidden: the generators of completion and man page, not rows of the table */
	if (strncmp(argv[0], "__", 2) == 0) {
		rc = cli_generate(argc, argv);
		goto cleanup;
	}
	cmd = cli_find_command(argv[0]);
	if (!cmd) {
		rc = cli_usage_error_near(&ctx, "", cli_suggest_command(argv[0]),
		                          "unknown command '%s'", argv[0]);
		goto cleanup;
	}
	rc = cmd->run(&ctx, cmd, argc, argv);
	/* a signal that came when nothing was left to cancel still ends the run as one */
	if (cli_signal_received() && rc != cli_signal_exit_code()) {
		fprintf(stderr, "modmig: interrupted by %s\n", cli_signal_name());
		cli_json_error(&ctx, MODMIG_E_CANCELLED, NULL, "interrupted", NULL, NULL);
		rc = cli_signal_exit_code();
	}
	/*
	 * Every failure is reported through output.c, which writes --json's error
	 * document; this is the net under a path that forgot to (exit 3 is a
	 * check's own document).
	 */
	if (rc != CLI_EXIT_OK && rc != 3)
		cli_json_error(&ctx, rc == CLI_EXIT_USAGE ? MODMIG_E_USAGE : MODMIG_E_INTERNAL,
		               NULL, "the command failed without saying why", "run again with -v",
		               NULL);
cleanup:
	free(ctx.dry_steps);
	cli_parser_free(&parser);
	free(ctx.database_copy);
	if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
		/* a full disk or closed pipe must not look like success */
		fputs("modmig: error: cannot write the output\n", stderr);
		rc = 1;
	}
	return rc;
}
