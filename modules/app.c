/*
 * app.c - the bundled example application's own binary, `modules`: the whole
 * modmig command line over the migrations compiled into it, as a service of
 * a modular monolith offers `app migrate up|down|status`. The standalone
 * modmig reads migrations from disk only; this one needs no -m.
 */
#include "modmig_cli.h"

/* Written by modmig-embed at build time (meson.build: embedded_bundled). */
extern const modmig_embedded_file modmig_bundled_files[];
extern const size_t modmig_bundled_count;

int main(int argc, char **argv)
{
	modmig_cli_config cfg = {modmig_bundled_files, modmig_bundled_count};

	return modmig_cli_main(argc, argv, &cfg);
}
