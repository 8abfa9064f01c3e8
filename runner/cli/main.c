/*
 * main.c - the standalone modmig: the command line over migrations on disk.
 * An application's binary calls modmig_cli_main() with its embedded files.
 */
#include "modmig_cli.h"

int main(int argc, char **argv)
{
	return modmig_cli_main(argc, argv, NULL);
}
