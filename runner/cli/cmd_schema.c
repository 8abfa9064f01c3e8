/*
 * cmd_schema.c - `modmig schema` prints the live schema as the catalogs
 * describe it, and `modmig drift` compares it with the schema the applied
 * migrations produce on a shadow database (or with a saved snapshot).
 */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SCHEMAS = 64 };

/* What both commands take: the scope, and each command's own options. */
typedef struct schema_args {
	const char *module;
	const char *schemas[MAX_SCHEMAS];
	size_t schema_count;
	const char *output;  /* schema -o */
	const char *dev_url; /* drift */
	const char *against; /* drift */
} schema_args;

/* One of schema's or drift's options into the schema_args at data. */
static int take_option(cli_context *ctx, int c, const char *value, void *data)
{
	schema_args *a = data;

	if (c == CLI_OPT_OUTPUT)
		a->output = value;
	else if (c == CLI_OPT_MODULE)
		a->module = value;
	else if (c == CLI_OPT_DEV_URL)
		a->dev_url = value;
	else if (c == CLI_OPT_AGAINST)
		a->against = value;
	else if (c == CLI_OPT_SCHEMA && a->schema_count < MAX_SCHEMAS)
		a->schemas[a->schema_count++] = value;
	else if (c == CLI_OPT_SCHEMA) {
		cli_usage_error(ctx, "too many '--schema' options (at most %d)", MAX_SCHEMAS);
		return -1;
	} else
		return 0;
	return 1;
}

static bool check_options(cli_context *ctx, void *data)
{
	const schema_args *a = data;

	if (a->dev_url && a->against) {
		cli_usage_error(ctx, "options '--dev-url' and '--against' cannot be used together: "
		                     "--against compares with a file, without a shadow database");
		return false;
	}
	return true;
}

/* false when the command must end now with *exit_code */
static bool parse_args(cli_context *ctx, const cli_command *cmd, int argc, char **argv,
                       schema_args *a, int *exit_code)
{
	memset(a, 0, sizeof(*a));
	return cli_parse_options(ctx, cmd, argc, argv, take_option, check_options, a, exit_code);
}

/* --module M narrows the scope to M's schema; a module without one cannot. */
static int scope_options(const cli_context *ctx, const modmig_source *src, schema_args *a,
                         modmig_schema_options *opts)
{
	modmig_schema_options_init(opts);
	opts->version_table = modmig_source_version_table(src);
	if (a->module) {
		const modmig_module *m;
		int rc = cli_check_module(ctx, src, a->module);

		if (rc != CLI_EXIT_OK)
			return rc;
		m = modmig_source_find_module(src, a->module);
		if (!modmig_module_schema(m))
			return cli_report(ctx, MODMIG_E_USAGE, NULL,
			                  "name the schemas its objects live in with --schema S",
			                  "module %s has no schema of its own in the manifest",
			                  a->module);
		if (a->schema_count < MAX_SCHEMAS)
			a->schemas[a->schema_count++] = modmig_module_schema(m);
	}
	opts->schemas = a->schemas;
	opts->schema_count = a->schema_count;
	return CLI_EXIT_OK;
}

/* ---- schema: readable text ------------------------------------------------ */

/* Print value under an indent, each of its lines indented. */
static void print_value(FILE *out, const char *indent, const char *name, const char *value)
{
	const char *nl = strchr(value, '\n');

	if (!nl) {
		fprintf(out, "%s%s: %s\n", indent, name, value);
		return;
	}
	fprintf(out, "%s%s:\n", indent, name);
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, "\n");

		if (n > 0)
			fprintf(out, "%s  %.*s\n", indent, (int)n, p);
		p += n;
		if (*p)
			p++;
	}
}

static bool is_summary(const modmig_schema_object *o, const char *attr)
{
	static const char *const column_summary[] = {"type",     "not_null",  "default",
	                                             "identity", "generated", "collation",
	                                             "position", NULL};

	if (strcmp(o->kind, "column") != 0)
		return strcmp(attr, "definition") == 0 && o->parent;
	for (size_t i = 0; column_summary[i]; i++)
		if (strcmp(column_summary[i], attr) == 0)
			return true;
	return false;
}

/* A child's line: a column's type and constraints, another child's definition. */
static void print_child(FILE *out, const modmig_schema_object *o)
{
	const char *def = modmig_schema_object_get(o, "definition");

	fprintf(out, "    %s %s", o->kind, o->name);
	if (strcmp(o->kind, "column") == 0) {
		const char *v;

		fprintf(out, ": %s", modmig_schema_object_get(o, "type"));
		if (modmig_schema_object_get(o, "not_null"))
			fputs(" not null", out);
		if ((v = modmig_schema_object_get(o, "default")))
			fprintf(out, " default %s", v);
		if ((v = modmig_schema_object_get(o, "identity")))
			fprintf(out, " identity %s", v);
		if ((v = modmig_schema_object_get(o, "generated")))
			fprintf(out, " generated %s", v);
		if ((v = modmig_schema_object_get(o, "collation")))
			fprintf(out, " collate %s", v);
	} else if (def && !strchr(def, '\n')) {
		fprintf(out, ": %s", def);
	}
	fputc('\n', out);
	for (size_t i = 0; i < o->attribute_count; i++)
		if (!is_summary(o, o->attributes[i].name))
			print_value(out, "        ", o->attributes[i].name, o->attributes[i].value);
}

static long column_position(const modmig_schema_object *o)
{
	const char *p = modmig_schema_object_get(o, "position");

	return p ? strtol(p, NULL, 10) : 0;
}

static const modmig_schema *sort_schema; /* for the qsort below only */

static int by_position(const void *a, const void *b)
{
	long x = column_position(modmig_schema_at(sort_schema, *(const size_t *)a));
	long y = column_position(modmig_schema_at(sort_schema, *(const size_t *)b));

	return x < y ? -1 : x > y;
}

static int print_text(const modmig_schema *s, FILE *out)
{
	size_t n = modmig_schema_count(s), schemas = 0,
	       *order = malloc((n ? n : 1) * sizeof(size_t));
	const char *current = NULL;

	if (!order)
		return 1;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	/* a table's columns are contiguous in the model: show them in column order */
	sort_schema = s;
	for (size_t i = 0; i < n;) {
		const modmig_schema_object *o = modmig_schema_at(s, i);
		size_t j = i;

		while (j < n && strcmp(modmig_schema_at(s, j)->kind, "column") == 0 && o->parent &&
		       modmig_schema_at(s, j)->parent &&
		       strcmp(modmig_schema_at(s, j)->parent, o->parent) == 0 &&
		       strcmp(modmig_schema_at(s, j)->schema, o->schema) == 0)
			j++;
		if (j > i + 1)
			qsort(order + i, j - i, sizeof(size_t), by_position);
		i = j > i ? j : i + 1;
	}
	for (size_t k = 0; k < n; k++) {
		const modmig_schema_object *o = modmig_schema_at(s, order[k]);

		if (!current || strcmp(current, o->schema) != 0) {
			fprintf(out, "%sschema %s\n", current ? "\n" : "", o->schema);
			current = o->schema;
			schemas++;
		}
		if (o->parent) {
			print_child(out, o);
			continue;
		}
		if (strcmp(o->kind, "schema") != 0)
			fprintf(out, "  %s %s\n", o->kind, o->name);
		for (size_t i = 0; i < o->attribute_count; i++)
			print_value(out, "      ", o->attributes[i].name, o->attributes[i].value);
	}
	fprintf(out, "%s%zu objects in %zu schema%s\n", n ? "\n" : "", n, schemas,
	        schemas == 1 ? "" : "s");
	free(order);
	return 0;
}

int cli_cmd_schema(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_schema *schema = NULL;
	modmig_schema_options opts;
	modmig_error *err = NULL;
	modmig_status st;
	schema_args a;
	FILE *out = stdout;
	char *json = NULL;
	bool as_json;
	int rc;

	if (!parse_args(ctx, cmd, argc, argv, &a, &rc))
		goto cleanup;
	if ((rc = cli_open_source(ctx, &src)) != CLI_EXIT_OK ||
	    (rc = scope_options(ctx, src, &a, &opts)) != CLI_EXIT_OK ||
	    (rc = cli_connect(ctx, &db)) != CLI_EXIT_OK)
		goto cleanup;
	st = modmig_schema_read(db, &opts, &schema, &err);
	if (st != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	as_json = ctx->json || (a.output && strlen(a.output) > 5 &&
	                        strcmp(a.output + strlen(a.output) - 5, ".json") == 0);
	if (a.output && !(out = fopen(a.output, "w"))) {
		out = stdout;
		rc = cli_report(ctx, MODMIG_E_IO, a.output, NULL, "cannot write %s", a.output);
		goto cleanup;
	}
	if (as_json) {
		if (!(json = modmig_schema_to_json(schema))) {
			rc = cli_out_of_memory(ctx);
			goto cleanup;
		}
		fputs(json, out);
	} else if (print_text(schema, out) != 0) {
		rc = cli_out_of_memory(ctx);
		goto cleanup;
	}
	if (out != stdout && fclose(out) != 0) {
		out = stdout;
		rc = cli_report(ctx, MODMIG_E_IO, a.output, NULL, "cannot write %s", a.output);
		goto cleanup;
	}
	if (out != stdout && !ctx->json && ctx->verbosity >= 0)
		printf("wrote %zu objects to %s\n", modmig_schema_count(schema), a.output);
	out = stdout;
	rc = CLI_EXIT_OK;
cleanup:
	if (out != stdout)
		fclose(out);
	free(json);
	modmig_schema_free(schema);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}

/* ---- drift ----------------------------------------------------------------- */

/*
 * SIGINT and SIGTERM while a shadow database exists: cancel what runs so the
 * command reaches the code that drops it, then exit 130 or 143. Shared by
 * drift, test and doctor through cli_on_shadow() (cli.h).
 */
static modmig_shadow *volatile live_shadow;
static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
	if (caught_signal)
		return;
	caught_signal = sig;
	if (live_shadow)
		modmig_shadow_interrupt(live_shadow);
}

static void shadow_signals(bool on)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on ? on_signal : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void shadow_watch(modmig_shadow *shadow)
{
	live_shadow = shadow;
	if (shadow && caught_signal)
		modmig_shadow_interrupt(shadow);
}

int cli_shadow_caught(void)
{
	if (!caught_signal)
		return 0;
	fprintf(stderr, "modmig: interrupted by %s; the shadow database was dropped\n",
	        caught_signal == SIGINT    ? "SIGINT"
	        : caught_signal == SIGTERM ? "SIGTERM"
	                                   : "SIGHUP");
	return 128 + caught_signal;
}

modmig_status cli_on_shadow(const cli_context *ctx, modmig_db *db, const char *dev_url,
                            cli_shadow_fn use, void *data, modmig_error **err)
{
	modmig_shadow *shadow = NULL;
	modmig_error *close_err = NULL;
	modmig_status st;

	shadow_signals(true);
	st = modmig_shadow_open(db, dev_url, &shadow, err);
	shadow_watch(shadow);
	if (st == MODMIG_OK)
		st = use(shadow, data, err);
	shadow_watch(NULL);
	/* always dropped: on success, on error and after a signal */
	if (modmig_shadow_close(shadow, ctx ? &close_err : NULL) != MODMIG_OK && ctx)
		cli_report_error(ctx, close_err);
	shadow_signals(false);
	modmig_error_free(close_err);
	return st;
}

/* What drift compares on the shadow: modmig_drift()'s arguments and result. */
typedef struct drift_call {
	modmig_db *db;
	modmig_source *src;
	const modmig_schema_options *opts;
	modmig_schema_diff **diff;
} drift_call;

static modmig_status drift_on(modmig_shadow *shadow, void *data, modmig_error **err)
{
	drift_call *c = data;

	return modmig_drift(c->db, c->src, shadow, c->opts, c->diff, err);
}

modmig_status cli_drift_on_shadow(const cli_context *ctx, modmig_db *db, modmig_source *src,
                                  const char *dev_url, const modmig_schema_options *opts,
                                  modmig_schema_diff **diff, modmig_error **err)
{
	drift_call c = {db, src, opts, diff};

	return cli_on_shadow(ctx, db, dev_url, drift_on, &c, err);
}

static const char *change_name(modmig_schema_change c)
{
	return c == MODMIG_SCHEMA_ADDED     ? "added"
	       : c == MODMIG_SCHEMA_REMOVED ? "removed"
	                                    : "changed";
}

static int print_diff(const cli_context *ctx, const modmig_schema_diff *diff, const char *b_label)
{
	size_t n = modmig_schema_diff_count(diff);

	if (ctx->json)
		printf("{\"drift\":%s,\"differences\":[", n ? "true" : "false");
	else if (n == 0)
		printf("%sok%s: no drift: the database matches %s\n",
		       cli_color_on(ctx, false, CLI_GREEN), cli_color_off(ctx, false), b_label);
	else
		printf("%sdrift%s: %zu difference%s between the database and %s\n",
		       cli_color_on(ctx, false, CLI_RED), cli_color_off(ctx, false), n,
		       n == 1 ? "" : "s", b_label);
	for (size_t i = 0; i < n; i++) {
		const modmig_schema_difference *d = modmig_schema_diff_at(diff, i);
		char *text = modmig_schema_difference_text(d, "the database", b_label);

		if (!text)
			return cli_out_of_memory(ctx);
		if (ctx->json) {
			printf("%s{\"change\":\"%s\",\"kind\":", i ? "," : "",
			       change_name(d->change));
			cli_json_string(stdout, d->kind);
			fputs(",\"schema\":", stdout);
			cli_json_string(stdout, d->schema);
			fputs(",\"parent_kind\":", stdout);
			cli_json_string(stdout, d->parent_kind);
			fputs(",\"parent\":", stdout);
			cli_json_string(stdout, d->parent);
			fputs(",\"name\":", stdout);
			cli_json_string(stdout, d->name);
			fputs(",\"attribute\":", stdout);
			cli_json_string(stdout, d->attribute);
			fputs(",\"database\":", stdout);
			cli_json_string(stdout, d->a_value);
			fputs(",\"expected\":", stdout);
			cli_json_string(stdout, d->b_value);
			fputs(",\"message\":", stdout);
			cli_json_string(stdout, text);
			fputc('}', stdout);
		} else {
			printf("  %s\n", text);
		}
		free(text);
	}
	if (ctx->json)
		fputs("]}\n", stdout);
	return n ? 3 : CLI_EXIT_OK;
}

/* A whole file as a string, or NULL. */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 16, len = 0, got;
	char *text = f ? malloc(cap) : NULL, *p;

	while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (len + 1 == cap) {
			p = realloc(text, cap *= 2);
			if (!p)
				free(text);
			text = p;
		}
	}
	if (text && ferror(f)) {
		free(text);
		text = NULL;
	}
	if (text)
		text[len] = '\0';
	if (f)
		fclose(f);
	return text;
}

/* --against FILE: the live schema against a saved snapshot, no shadow. */
static int drift_against(cli_context *ctx, modmig_db *db, const modmig_schema_options *opts,
                         const char *path)
{
	modmig_schema *live = NULL, *saved = NULL;
	modmig_schema_diff *diff = NULL;
	modmig_error *err = NULL;
	modmig_status st;
	char *text = NULL;
	int rc;

	if (!(text = read_all(path))) {
		rc = cli_report(ctx, MODMIG_E_IO, path,
		                "write one with 'modmig schema -o FILE.json'",
		                "cannot read the snapshot %s", path);
		goto cleanup;
	}
	if ((st = modmig_schema_from_json(text, path, &saved, &err)) != MODMIG_OK ||
	    (st = modmig_schema_read(db, opts, &live, &err)) != MODMIG_OK ||
	    (st = modmig_schema_diff_new(live, saved, &diff, &err)) != MODMIG_OK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	rc = print_diff(ctx, diff, path);
cleanup:
	free(text);
	modmig_schema_diff_free(diff);
	modmig_schema_free(live);
	modmig_schema_free(saved);
	modmig_error_free(err);
	return rc;
}

int cli_cmd_drift(cli_context *ctx, const cli_command *cmd, int argc, char **argv)
{
	modmig_source *src = NULL;
	modmig_db *db = NULL;
	modmig_schema_diff *diff = NULL;
	modmig_schema_options opts;
	modmig_error *err = NULL;
	modmig_status st;
	schema_args a;
	int rc;

	if (!parse_args(ctx, cmd, argc, argv, &a, &rc))
		goto cleanup;
	if ((rc = cli_open_source(ctx, &src)) != CLI_EXIT_OK ||
	    (rc = scope_options(ctx, src, &a, &opts)) != CLI_EXIT_OK ||
	    (rc = cli_connect(ctx, &db)) != CLI_EXIT_OK)
		goto cleanup;
	if (a.against) {
		rc = drift_against(ctx, db, &opts, a.against);
		goto cleanup;
	}
	st = cli_drift_on_shadow(ctx, db, src, a.dev_url, &opts, &diff, &err);
	if ((rc = cli_shadow_caught()) != 0)
		goto cleanup;
	if (st != MODMIG_OK && st != MODMIG_E_CHECK) {
		rc = cli_report_failure(ctx, st, err);
		goto cleanup;
	}
	rc = print_diff(ctx, diff, "the migrations");
cleanup:
	modmig_schema_diff_free(diff);
	modmig_error_free(err);
	cli_disconnect(db);
	modmig_source_free(src);
	return rc;
}
