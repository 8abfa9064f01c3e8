/*
 * modmig_cli.h - the modmig command line as a library (libmodmig-cli).
 *
 * An application's own binary offers the whole command line over the
 * migrations compiled into it, the way modular-monolith services offer
 * `app migrate up|down|status`:
 *
 *     #include <modmig_cli.h>
 *     extern const modmig_embedded_file app_files[];   (from modmig-embed)
 *     extern const size_t app_count;
 *
 *     int main(int argc, char **argv)
 *     {
 *             modmig_cli_config cfg = {.files = app_files, .file_count = app_count};
 *             return modmig_cli_main(argc, argv, &cfg);
 *     }
 *
 * The standalone `modmig` is the same call with no embedded files: it reads
 * migrations from disk only (-m MANIFEST, --dir DIR, MODMIG_MANIFEST,
 * MODMIG_DIR, or ./modules/modules.yaml).
 *
 * Threads: modmig_cli_main() is a whole program run. It parses argv with
 * getopt (process-global state), may replace signal handlers while a command
 * runs, and writes to stdout and stderr; call it from main(), once.
 */
#ifndef MODMIG_CLI_H_PUBLIC
#define MODMIG_CLI_H_PUBLIC

#include "modmig.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct modmig_cli_config {
	/* Migrations compiled into the program (modmig-embed's array), used when
	 * neither -m nor --dir is given; NULL reads migrations from disk only. */
	const modmig_embedded_file *files;
	size_t file_count;
} modmig_cli_config;

/*
 * Run the command line. argv is modmig's: global options, a command and its
 * arguments; it may be changed in place (options taken out, a password in
 * -d scrubbed). config may be NULL. Returns the process exit code: 0
 * success, 1 a database or runtime failure, 2 bad input or a refusal, 3 a
 * check found a problem.
 */
int modmig_cli_main(int argc, char **argv, const modmig_cli_config *config);

#ifdef __cplusplus
}
#endif

#endif /* MODMIG_CLI_H_PUBLIC */
