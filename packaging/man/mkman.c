/*
 * mkman: certagent.yaml(5) from the configuration table itself.
 *
 *   mkman TEMPLATE > certagent.yaml.5
 *
 * Copies TEMPLATE (roff prose) to stdout, replacing "@VERSION@" by the
 * version and the line `.\" @OPTIONS@` by one entry per key of the file,
 * walked from cfg_root_section (agent/config/table.c): its full path,
 * type, accepted words or range, default, whether a SIGHUP reload may
 * change it, and its help text.
 *
 * DESIGN: the table is the one place a key is defined; the loader, the
 * checks and this page all read it, so an option cannot exist without
 * its entry in the manual.  The page is checked in (a build needs no
 * generator to install it); test_packaging.py regenerates it and fails
 * when it differs, and `make man` rewrites it.  The output depends on
 * nothing but the table and the template: no date, no host.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config/config_int.h"

#define LINE_MAX_LEN 4096

/*
 * 1 if S opens with a word that ends in ':' or ',' ("approle: ...",
 * "kubernetes, jwt: ..."): a name, kept as written.
 */
static int
method_prefix(const char *s)
{
	size_t n = strcspn(s, " ");

	return n > 0 && (s[n - 1] == ':' || s[n - 1] == ',');
}

/*
 * Text for roff: backslashes escaped, a leading '.' or '\'' defused,
 * `code` in bold; CAP: the first letter in upper case (help texts are
 * written as phrases).
 */
static void
put_text(const char *s, int cap)
{
	int bold = 0;

	if (*s == '.' || *s == '\'')
		fputs("\\&", stdout);
	if (cap && *s >= 'a' && *s <= 'z' && !method_prefix(s))
		putchar(*s++ - 'a' + 'A');
	for (; *s; s++) {
		if (*s == '`') {
			fputs(bold ? "\\fR" : "\\fB", stdout);
			bold = !bold;
		} else if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
	}
}

static const char *
type_name(const struct cfg_entry *e)
{
	switch (e->type) {
	case CFG_STRING:
		return "string";
	case CFG_PATH:
		return "string (not empty)";
	case CFG_BOOL:
		return "boolean";
	case CFG_DURATION:
		return "duration";
	case CFG_MODE:
		return "file mode (quoted octal)";
	case CFG_ENUM:
		return "word";
	case CFG_UINT:
		return "integer";
	case CFG_RATIO:
		return "ratio";
	case CFG_STRINGLIST:
		return (e->flags & CFG_LIST_ONLY) ? "list of strings"
						  : "string or list of strings";
	case CFG_SECTION:
		return "mapping";
	case CFG_LIST_OF_SECTION:
		return "list of mappings";
	case CFG_MAP_OF_SECTION:
		return "mapping of named mappings";
	}
	return "?";
}

/* "between A and B", as the loader's own range message says it. */
static void
put_range(const struct cfg_entry *e)
{
	char lo[32], hi[32];

	switch (e->type) {
	case CFG_DURATION:
		cfg_format_duration(e->min, lo, sizeof(lo));
		cfg_format_duration(e->max, hi, sizeof(hi));
		break;
	case CFG_MODE:
		snprintf(lo, sizeof(lo), "%04llo", (unsigned long long)e->min);
		snprintf(hi, sizeof(hi), "%04llo", (unsigned long long)e->max);
		break;
	case CFG_RATIO:
		snprintf(lo, sizeof(lo), "%g", (double)e->min / 1e6);
		snprintf(hi, sizeof(hi), "%g", (double)e->max / 1e6);
		break;
	case CFG_UINT:
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)e->min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)e->max);
		break;
	case CFG_STRINGLIST:
	case CFG_LIST_OF_SECTION:
	case CFG_MAP_OF_SECTION:
		if (e->max == 0)
			return;
		printf("; at most %llu %s", (unsigned long long)e->max,
		       e->type == CFG_STRINGLIST ? "items" : "entries");
		if (e->min > 0)
			printf(", at least %llu", (unsigned long long)e->min);
		return;
	default:
		return;
	}
	printf("; from %s to %s", lo, hi);
}

static int
put_entry(const struct cfg_entry *e, const char *path)
{
	char words[512];

	if (e->help == NULL || e->help[0] == '\0') {
		fprintf(stderr, "mkman: %s has no help text in the table\n", path);
		return -1;
	}

	printf(".TP\n.B ");
	put_text(path, 0);
	printf("\n\\fI%s\\fR", type_name(e));
	if (e->type == CFG_ENUM && e->values) {
		cfg_enum_list(e->values, words, sizeof(words));
		printf(", one of: %s", words);
	}
	put_range(e);
	if (e->flags & CFG_REQUIRED)
		printf("; required");
	else if (e->def)
		printf("; default: \\fB%s\\fR", e->def);
	else if (e->type != CFG_SECTION)
		printf("; default: unset");
	if (e->type != CFG_SECTION && e->type != CFG_MAP_OF_SECTION &&
	    e->type != CFG_LIST_OF_SECTION)
		printf("; %s", (e->flags & CFG_RELOAD) ? "reload: yes"
						       : "reload: no, restart");
	printf(".\n.br\n");
	put_text(e->help, 1);
	printf(".\n");
	return 0;
}

/* Every entry of SEC under PREFIX; -1 if one has no help text. */
static int
walk(const struct cfg_section *sec, const char *prefix)
{
	char path[CFG_PATH_MAX];

	for (size_t i = 0; i < sec->n_entries; i++) {
		const struct cfg_entry *e = &sec->entries[i];

		if (sec->omit && strcmp(sec->omit, e->key) == 0)
			continue;	/* profiles: take no name (fleet) */
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
			 e->key);
		if (*prefix == '\0') {
			printf(".SS ");
			put_text(e->key, 0);
			printf("\n");
		}
		if (put_entry(e, path) < 0)
			return -1;
		if (e->type == CFG_SECTION) {
			if (walk(e->section, path) < 0)
				return -1;
		} else if (e->type == CFG_LIST_OF_SECTION) {
			snprintf(path, sizeof(path), "%s%s%s[]", prefix,
				 *prefix ? "." : "", e->key);
			if (walk(e->section, path) < 0)
				return -1;
		} else if (e->type == CFG_MAP_OF_SECTION) {
			snprintf(path, sizeof(path), "%s%s%s.NAME", prefix,
				 *prefix ? "." : "", e->key);
			if (walk(e->section, path) < 0)
				return -1;
		}
	}
	return 0;
}

/* LINE with every "@VERSION@" replaced. */
static void
put_line(const char *line)
{
	const char *at;

	while ((at = strstr(line, "@VERSION@")) != NULL) {
		fwrite(line, 1, (size_t)(at - line), stdout);
		fputs(CERTAGENT_VERSION, stdout);
		line = at + strlen("@VERSION@");
	}
	fputs(line, stdout);
}

int
main(int argc, char **argv)
{
	char line[LINE_MAX_LEN];
	FILE *in;
	int found = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mkman TEMPLATE > certagent.yaml.5\n");
		return 2;
	}
	in = fopen(argv[1], "r");
	if (in == NULL) {
		perror(argv[1]);
		return 1;
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strcmp(line, ".\\\" @OPTIONS@\n") == 0) {
			if (walk(&cfg_root_section, "") < 0) {
				fclose(in);
				return 1;
			}
			/* ---- fleet ---- the files of entries_dir */
			printf(".SS entries_dir files\n"
			       "Each file \\fIentries_dir\\fB/\\fINAME\\fB.yaml\\fR "
			       "is one certificate named \\fINAME\\fR, made by its "
			       "profile; its keys:\n");
			if (walk(&cfg_fleet_entry_section, "entry") < 0) {
				fclose(in);
				return 1;
			}
			found = 1;
		} else {
			put_line(line);
		}
	}
	fclose(in);
	if (!found) {
		fprintf(stderr, "mkman: %s has no .\\\" @OPTIONS@ line\n", argv[1]);
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
