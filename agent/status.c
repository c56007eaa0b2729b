/*
 * status: `certagent status`.  See status.h.
 *
 * DESIGN / invariants:
 *  - The exit status is the agent's own verdict ("health"), so a cron
 *    job, a Nagios check and a person at the table agree: 0 healthy,
 *    1 degraded, 2 critical (a certificate expired or never written) or
 *    the agent cannot be asked.
 *  - Time left is drawn as a bar against the certificate's lifetime
 *    (NotBefore to NotAfter), so a 24 h certificate and a 90 day one
 *    read alike; its colour follows the certificate's state.
 *  - Everything printed comes from the status document, which holds no
 *    secret; values are printed as text, never interpreted.
 */
#include "status.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define BAR_WIDTH 20

struct style {
	int color;
	time_t now;
};

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* "2026-12-06T02:27:41Z" -> unix seconds; 0 for none. */
static time_t
when(const cJSON *o, const char *key)
{
	const char *s = str(o, key);
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		return 0;
	return timegm(&tm);
}

/* A duration as people read it: 45s, 31m, 5h12m, 3d4h. */
static void
span(long long s, char *buf, size_t len)
{
	if (s < 0)
		s = -s;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%lldh", s / 86400, s % 86400 / 3600);
}

/* "in 5m" / "5m ago" / "-". */
static void
relative(const struct style *st, time_t t, char *buf, size_t len)
{
	char d[32];

	if (t == 0) {
		snprintf(buf, len, "-");
		return;
	}
	span((long long)(t - st->now), d, sizeof(d));
	snprintf(buf, len, t >= st->now ? "in %s" : "%s ago", d);
}

static const char *
color_of(const char *state)
{
	if (state == NULL)
		return "";
	if (strcmp(state, "valid") == 0 || strcmp(state, "rendered") == 0 ||
	    strcmp(state, "ok") == 0 || strcmp(state, "healthy") == 0)
		return "\033[32m";	/* green */
	if (strcmp(state, "expired") == 0 || strcmp(state, "missing") == 0 ||
	    strcmp(state, "given_up") == 0 || strcmp(state, "critical") == 0)
		return "\033[31m";	/* red */
	if (strcmp(state, "idle") == 0)
		return "";
	return "\033[33m";		/* yellow: renewing, failing, waiting */
}

static void
put_state(const struct style *st, const char *state, int width)
{
	if (st->color && color_of(state)[0])
		printf("%s%-*s\033[0m", color_of(state), width, state ? state : "-");
	else
		printf("%-*s", width, state ? state : "-");
}

/* [#######.............]  35% 8h24m  (UTF-8 blocks on a terminal) */
static void
put_bar(const struct style *st, const cJSON *c)
{
	time_t nb = when(c, "not_before"), na = when(c, "not_after");
	const char *state = str(c, "state");
	double frac = 0;
	int fill;
	char left[32];

	if (na == 0) {
		printf("%-*s", BAR_WIDTH + 2 + 14, "-");
		return;
	}
	if (na > nb && nb)
		frac = (double)(na - st->now) / (double)(na - nb);
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * BAR_WIDTH + 0.5);
	if (st->color)
		printf("%s", color_of(state));
	putchar('[');
	for (int i = 0; i < BAR_WIDTH; i++) {
		if (st->color)
			fputs(i < fill ? "\xe2\x96\x88" : "\xe2\x96\x91", stdout);
		else
			putchar(i < fill ? '#' : '.');
	}
	putchar(']');
	if (st->color)
		printf("\033[0m");
	if (state && strcmp(state, "expired") == 0) {
		snprintf(left, sizeof(left), "expired");
	} else if (na >= st->now) {
		span((long long)(na - st->now), left, sizeof(left));
	} else {
		char d[24];
		span((long long)(st->now - na), d, sizeof(d));
		snprintf(left, sizeof(left), "-%s", d);
	}
	printf(" %3d%% %-8s", (int)(frac * 100 + 0.5), left);
}

/* A serial, shortened for the table: the first bytes and the last. */
static void
short_serial(const char *s, char *buf, size_t len)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0)
		snprintf(buf, len, "-");
	else if (n <= 17)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "%.8s..%s", s, s + n - 5);
}

static int
name_width(const cJSON *arr, const char *key, int min)
{
	const cJSON *e;
	int w = min;

	cJSON_ArrayForEach(e, arr)
	{
		const char *s = str(e, key);
		if (s && (int)strlen(s) > w)
			w = (int)strlen(s);
	}
	return w > 40 ? 40 : w;
}

static void
print_certs(const struct style *st, const cJSON *arr)
{
	const cJSON *c;
	int w = name_width(arr, "name", 11);

	if (cJSON_GetArraySize(arr) == 0)
		return;
	printf("\n%-*s %-9s %-8s %-17s %-20s  %-*s %-12s %s\n", w, "CERTIFICATE",
	       "SOURCE", "STATE", "SERIAL", "NOT AFTER", BAR_WIDTH + 16,
	       "TIME LEFT", "NEXT RENEWAL", "LAST ERROR");
	cJSON_ArrayForEach(c, arr)
	{
		char serial[32], next[40];
		const char *err = str(c, "last_error");

		short_serial(str(c, "serial"), serial, sizeof(serial));
		relative(st, when(c, "next_renewal"), next, sizeof(next));
		printf("%-*.*s %-9s ", w, w, str(c, "name") ? str(c, "name") : "?",
		       str(c, "source") ? str(c, "source") : "?");
		put_state(st, str(c, "state"), 8);
		printf(" %-17s %-20s  ", serial,
		       str(c, "not_after") ? str(c, "not_after") : "-");
		put_bar(st, c);
		printf(" %-12s %s\n", next, err ? err : "-");
	}
}

static void
print_templates(const struct style *st, const cJSON *arr)
{
	const cJSON *t;
	int w = name_width(arr, "destination", 11);

	if (cJSON_GetArraySize(arr) == 0)
		return;
	printf("\n%-*s %-9s %-12s %-12s %s\n", w, "TEMPLATE", "STATE", "RENDERED",
	       "WRITTEN", "LAST ERROR");
	cJSON_ArrayForEach(t, arr)
	{
		char r[40], wr[40];
		const char *err = str(t, "last_error");

		relative(st, when(t, "last_render"), r, sizeof(r));
		relative(st, when(t, "last_write"), wr, sizeof(wr));
		printf("%-*.*s ", w, w, str(t, "destination") ? str(t, "destination") : "?");
		put_state(st, str(t, "state"), 9);
		printf(" %-12s %-12s %s\n", r, wr, err ? err : "-");
	}
}

static void
print_leases(const struct style *st, const cJSON *arr)
{
	const cJSON *l;
	int w = name_width(arr, "path", 11);

	if (cJSON_GetArraySize(arr) == 0)
		return;
	printf("\n%-*s %-9s %-12s %s\n", w, "SECRET", "STATE", "LEASE ENDS",
	       "LAST ERROR");
	cJSON_ArrayForEach(l, arr)
	{
		char e[40];
		const char *err = str(l, "last_error");

		relative(st, when(l, "expires_at"), e, sizeof(e));
		printf("%-*.*s ", w, w, str(l, "path") ? str(l, "path") : "?");
		put_state(st, str(l, "state"), 9);
		printf(" %-12s %s\n", e, err ? err : "-");
	}
}

static void
print_hooks(const struct style *st, const cJSON *arr)
{
	const cJSON *h;
	int w = name_width(arr, "name", 11);

	if (cJSON_GetArraySize(arr) == 0)
		return;
	printf("\n%-*s %-9s %6s %8s  %s\n", w, "HOOK", "STATE", "RUNS", "FAILURES",
	       "LAST RUN");
	cJSON_ArrayForEach(h, arr)
	{
		char r[40];

		relative(st, when(h, "last_run"), r, sizeof(r));
		printf("%-*.*s ", w, w, str(h, "name") ? str(h, "name") : "?");
		put_state(st, str(h, "state"), 9);
		printf(" %6.0f %8.0f  %s\n", num(h, "runs"), num(h, "failures"), r);
	}
}

/* ---- bundles ---- */
static void
print_bundles(const struct style *st, const cJSON *arr)
{
	const cJSON *b;
	int w = name_width(arr, "name", 11);

	if (cJSON_GetArraySize(arr) == 0)
		return;
	printf("\n%-*s %-12s %-9s %5s %-12s %s\n", w, "BUNDLE", "KIND", "STATE", "ITEMS",
	       "REFRESHED", "LAST ERROR");
	cJSON_ArrayForEach(b, arr)
	{
		char r[40];
		const char *err = str(b, "last_error");

		relative(st, when(b, "last_refresh"), r, sizeof(r));
		printf("%-*.*s %-12s ", w, w, str(b, "name") ? str(b, "name") : "?",
		       str(b, "kind") ? str(b, "kind") : "?");
		put_state(st, str(b, "state"), 9);
		printf(" %5.0f %-12s %s\n", num(b, "items"), r, err ? err : "-");
	}
}

static void
print_table(const struct style *st, const cJSON *doc)
{
	const cJSON *vault = cJSON_GetObjectItemCaseSensitive(doc, "vault");
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(doc, "token");
	const cJSON *p;
	char exp[40];

	printf("certagent %s: ", str(doc, "version") ? str(doc, "version") : "?");
	put_state(st, str(doc, "health"), 0);
	printf(", %s\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ready"))
				 ? "ready" : "NOT READY");
	printf("vault     %s (%s)\n", str(vault, "address") ? str(vault, "address") : "-",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(vault, "reachable"))
		       ? "reachable" : "unreachable");
	relative(st, when(token, "expires_at"), exp, sizeof(exp));
	printf("token     %s, expires %s\n",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(token, "valid")) ? "valid"
									       : "none",
	       exp);
	print_certs(st, cJSON_GetObjectItemCaseSensitive(doc, "certificates"));
	print_templates(st, cJSON_GetObjectItemCaseSensitive(doc, "templates"));
	print_leases(st, cJSON_GetObjectItemCaseSensitive(doc, "leases"));
	print_hooks(st, cJSON_GetObjectItemCaseSensitive(doc, "hooks"));
	print_bundles(st, cJSON_GetObjectItemCaseSensitive(doc, "bundles"));
	p = cJSON_GetObjectItemCaseSensitive(doc, "problems");
	if (cJSON_GetArraySize(p) > 0) {
		const cJSON *e;
		printf("\nproblems:\n");
		cJSON_ArrayForEach(e, p)
			if (cJSON_IsString(e))
				printf("  - %s\n", e->valuestring);
	}
}

static int
use_color(void)
{
	const char *term = getenv("TERM");

	return isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL &&
	       !(term && strcmp(term, "dumb") == 0);
}

int
status_command(const char *address, int as_json)
{
	char err[1024], *body = NULL;
	cJSON *doc = NULL;
	const char *health;
	int status, rc = STATUS_CRITICAL;
	struct style st = { use_color(), time(NULL) };

	status = client_request(address, "GET", "/v1/status", 10000, &body, err,
				sizeof(err));
	if (status < 0) {
		fprintf(stderr, "certagent: %s (is the agent running?)\n", err);
		if (as_json)
			printf("{\"health\":\"critical\",\"reachable\":false}\n");
		goto out;
	}
	doc = status == 200 ? cJSON_Parse(body) : NULL;
	health = str(doc, "health");
	if (health == NULL) {
		fprintf(stderr, "certagent: %s: HTTP %d, not a status document\n",
			address, status);
		if (as_json)
			printf("{\"health\":\"critical\",\"reachable\":false}\n");
		goto out;
	}
	if (as_json)
		printf("%s\n", body);
	else
		print_table(&st, doc);
	rc = strcmp(health, "healthy") == 0	 ? STATUS_HEALTHY
	     : strcmp(health, "degraded") == 0 ? STATUS_DEGRADED
					       : STATUS_CRITICAL;
out:
	cJSON_Delete(doc);
	free(body);
	return rc;
}
