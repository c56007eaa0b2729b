/*
 * telemetry: /healthz, /readyz, /metrics and the control socket.  See
 * telemetry.h.
 *
 * DESIGN / invariants:
 *  - Readiness is judged at the request, on the wall clock: every file
 *    has been in place, and no certificate has expired or gone missing
 *    since.  A stopping agent is not ready.  Readiness never depends on
 *    Vault answering once every file has been in place; before that (a
 *    start during an outage) it waits for the first full render, unless
 *    fail_open: then every certificate held valid (adopted from disk)
 *    and every template's file present on disk is enough.
 *  - /v1/status describes; it names certificates by serial and dates,
 *    files by path, the token by its expiry: never a secret.
 *  - The TCP listener serves no action; only the unix socket, which file
 *    permissions guard, can make the agent issue.
 *  - Metric names and label values come from the configuration (names
 *    of certificates and hooks) and are quoted as the exposition format
 *    asks; no secret is ever part of a metric.
 */
#include "telemetry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sys/stat.h>
#include <time.h>

#include "auth.h"
#include "buf.h"
#include "certs.h"
#include "deps.h"
#include "bundles.h"
#include "fleet.h"
#include "hooks.h"
#include "listener.h"
#include "log.h"
#include "revoke.h"
#include "templates.h"
#include "vault.h"
#include "wallclock.h"

#define REPLY_MAX (64u * 1024 * 1024)

struct telemetry {
	const struct telemetry_view *view;
	telemetry_rotate_cb rotate;
	void *arg;
	struct listener *http;		/* listener.address */
	struct listener *control;	/* listener.control_socket */
};

/* fail_open before the first full render: is every template's file on
 * disk?  (The certificates are judged from what they hold.) */
static int
template_files_present(const struct telemetry_view *v)
{
	struct templates_item it;
	struct stat st;

	for (size_t i = 0; v->templates && templates_get_item(v->templates, i, &it) == 0;
	     i++)
		if (stat(it.destination, &st) != 0)
			return 0;
	return 1;
}

static int
ready(const struct telemetry_view *v, struct certs_state *cs)
{
	memset(cs, 0, sizeof(*cs));
	if (v->certs == NULL || v->stopping)
		return 0;
	certs_get_state(v->certs, cs);
	if (cs->missing || cs->expired)
		return 0;
	return v->rendered || (v->fail_open && template_files_present(v));
}

static void
reply(struct listener_reply *r, int status, struct buf *b)
{
	r->status = status;
	r->body = buf_take(b, &r->len);
	if (r->body == NULL)
		r->status = 500;
}

static void
metric(struct buf *b, const char *name, const char *type, const char *help,
       double v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name,
		   type, name, v);
}

/* The per-certificate series, one family after the other. */
static void
cert_metrics(struct certs *certs, struct buf *b)
{
	static const struct {
		const char *name, *type, *help;
	} series[] = {
		{ "certagent_certificate_not_after_seconds", "gauge",
		  "NotAfter of the certificate held (unix time)." },
		{ "certagent_certificate_renew_at_seconds", "gauge",
		  "When its renewal is scheduled (unix time)." },
		{ "certagent_certificate_failures", "gauge",
		  "Failed issuances since the last success." },
		{ "certagent_certificate_renewals_total", "counter",
		  "Certificates issued for it since the agent started." },
		{ "certagent_certificate_failures_total", "counter",
		  "Failed issuances for it since the agent started." },
	};
	size_t n = certs_count(certs);

	for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", series[s].name,
			   series[s].help, series[s].name, series[s].type);
		for (size_t i = 0; i < n; i++) {
			struct certs_item it;
			unsigned long long v;

			certs_get_item(certs, i, &it);
			switch (s) {
			case 0: v = (unsigned long long)(it.not_after_ms / 1000); break;
			case 1: v = (unsigned long long)(it.renew_at_ms / 1000); break;
			case 2: v = it.failures; break;
			case 3: v = it.renewals; break;
			default: v = it.failures_total; break;
			}
			buf_printf(b, "%s{name=\"", series[s].name);
			buf_quoted(b, it.name);
			buf_printf(b, "\"} %llu\n", v);
		}
	}
}

/* One histogram's series; LABELS is "" or `name="value",`. */
static void
histogram(struct buf *b, const char *name, const char *labels,
	  const struct histo *h)
{
	uint64_t cum = 0;

	for (int i = 0; i < HISTO_BUCKETS; i++) {
		cum += h->in[i];
		buf_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels,
			   histo_bounds[i], (unsigned long long)cum);
	}
	cum += h->in[HISTO_BUCKETS];
	buf_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
		   (unsigned long long)cum);
	/* _sum and _count carry the same labels, without le. */
	char plain[256];
	snprintf(plain, sizeof(plain), "%s", labels);
	size_t n = strlen(plain);
	if (n && plain[n - 1] == ',')
		plain[n - 1] = '\0';
	buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, plain, h->sum,
		   name, plain, (unsigned long long)h->count);
}

static void
vault_metrics(struct vault *vault, struct buf *b)
{
	struct vault_stats st;

	vault_get_stats(vault, &st);
	metric(b, "certagent_vault_requests_total", "counter",
	       "HTTP requests sent to Vault.", (double)vault_attempts(vault));
	buf_puts(b, "# HELP certagent_vault_responses_total Vault's answers by kind "
		    "of request and HTTP status (0: no answer).\n"
		    "# TYPE certagent_vault_responses_total counter\n");
	for (size_t i = 0; i < st.n; i++)
		buf_printf(b, "certagent_vault_responses_total{class=\"%s\",code=\"%ld\"} "
			      "%llu\n", st.by[i].class, st.by[i].status,
			   (unsigned long long)st.by[i].count);
	buf_puts(b, "# HELP certagent_vault_request_duration_seconds Time of each "
		    "HTTP attempt to Vault.\n"
		    "# TYPE certagent_vault_request_duration_seconds histogram\n");
	histogram(b, "certagent_vault_request_duration_seconds", "", &st.latency);
	metric(b, "certagent_vault_reachable", "gauge",
	       "1 when the last attempt got an answer that was not a 5xx.",
	       st.reachable);
}

static void
lease_metrics(struct deps *deps, struct buf *b)
{
	struct deps_item it;

	buf_puts(b, "# HELP certagent_lease_expiry_seconds When the lease of a "
		    "secret the templates use expires (unix time).\n"
		    "# TYPE certagent_lease_expiry_seconds gauge\n");
	for (size_t i = 0; deps_get_item(deps, i, &it) == 0; i++) {
		if (it.lease_expire_ms == 0)
			continue;
		buf_puts(b, "certagent_lease_expiry_seconds{path=\"");
		buf_quoted(b, it.path);
		buf_printf(b, "\"} %lld\n", (long long)(it.lease_expire_ms / 1000));
	}
}

static void
hook_metrics(struct hooks *hooks, struct buf *b)
{
	static const char *const series[] = {
		"certagent_hook_runs_total",
		"certagent_hook_failures_total",
		"certagent_hook_timeouts_total",
	};
	static const char *const helps[] = {
		"Runs of the hook.",
		"Runs that failed (each is retried with backoff).",
		"Command runs killed at their timeout.",
	};

	struct hooks_item it;

	buf_puts(b, "# HELP certagent_hook_duration_seconds Time of each run of "
		    "the hook, start to end.\n"
		    "# TYPE certagent_hook_duration_seconds histogram\n");
	for (size_t i = 0; hooks_get_item(hooks, i, &it) == 0; i++) {
		struct buf l = BUF_INIT(512);
		size_t len;
		char *labels;

		if (it.own)
			continue;
		buf_puts(&l, "hook=\"");
		buf_quoted(&l, it.name);
		buf_puts(&l, "\",");
		labels = buf_take(&l, &len);
		if (labels)
			histogram(b, "certagent_hook_duration_seconds", labels,
				  &it.stats.duration);
		free(labels);
	}
	for (size_t s = 0; s < 3; s++) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", series[s], helps[s],
			   series[s]);
		for (size_t i = 0; hooks_get_item(hooks, i, &it) == 0; i++) {
			if (it.own)
				continue;
			buf_printf(b, "%s{hook=\"", series[s]);
			buf_quoted(b, it.name);
			buf_printf(b, "\"} %llu\n", (unsigned long long)
				   (s == 0 ? it.stats.runs : s == 1 ? it.stats.failures
								    : it.stats.timeouts));
		}
	}
}

/* ---- fleet ---- */
static void
fleet_metrics(const struct telemetry_view *v, struct buf *b)
{
	if (v->revq) {
		metric(b, "certagent_revocations_pending", "gauge",
		       "Certificate revocations queued and not yet confirmed.",
		       (double)revq_pending(v->revq));
		metric(b, "certagent_revocations_failing", "gauge",
		       "Queued revocations that failed and wait to retry.",
		       (double)revq_failing(v->revq));
	}
	if (v->fleet) {
		struct fleet_stats st;

		fleet_get_stats(v->fleet, &st);
		metric(b, "certagent_fleet_entries", "gauge",
		       "Files of entries_dir that make a certificate.",
		       (double)st.entries);
		metric(b, "certagent_fleet_invalid_entries", "gauge",
		       "Files of entries_dir that are not valid now.",
		       (double)st.invalid);
		metric(b, "certagent_fleet_removals_total", "counter",
		       "Entries removed (revoked, files deleted).",
		       (double)st.removed);
	}
}

/* ---- bundles ---- */
static void
bundle_metrics(struct bundles *bundles, struct buf *b)
{
	struct bundles_item it;

	buf_puts(b, "# HELP certagent_bundle_items Certificates in a trust bundle, "
		    "or CRLs in a CRL file, as last written.\n"
		    "# TYPE certagent_bundle_items gauge\n");
	for (size_t i = 0; bundles_get_item(bundles, i, &it) == 0; i++) {
		buf_printf(b, "certagent_bundle_items{kind=\"%s\",name=\"", it.kind);
		buf_quoted(b, it.name);
		buf_printf(b, "\"} %zu\n", it.n_items);
	}
	buf_puts(b, "# HELP certagent_bundle_failures Rounds of a trust bundle or a "
		    "CRL that failed in a row.\n"
		    "# TYPE certagent_bundle_failures gauge\n");
	for (size_t i = 0; bundles_get_item(bundles, i, &it) == 0; i++) {
		buf_printf(b, "certagent_bundle_failures{kind=\"%s\",name=\"", it.kind);
		buf_quoted(b, it.name);
		buf_printf(b, "\"} %u\n", it.failures);
	}
}

/* ---- lifecycle ---- */
static void
lifecycle_metrics(const struct telemetry_view *v, struct buf *b)
{
	struct certs_stats st;

	certs_get_stats(v->certs, &st);
	metric(b, "certagent_activation_checks_passed_total", "counter",
	       "New certificates that passed their activation_check.",
	       (double)st.activation_passed);
	metric(b, "certagent_activation_checks_failed_total", "counter",
	       "Activation checks that failed; the old files stayed.",
	       (double)st.activation_failed);
	metric(b, "certagent_grace_started_total", "counter",
	       "Replaced certificates kept for their grace.",
	       (double)st.grace_started);
	if (v->revq) {
		struct revq_stats rs;

		revq_get_stats(v->revq, &rs);
		metric(b, "certagent_revocations_total", "counter",
		       "Certificates revoked.", (double)rs.revoked);
		metric(b, "certagent_revocation_failures_total", "counter",
		       "Failed revocation attempts.", (double)rs.failures);
	}
}

static void
metrics(const struct telemetry_view *v, struct buf *b)
{
	struct certs_state cs;
	int ok = ready(v, &cs);

	metric(b, "certagent_ready", "gauge", "1 when every file is in place and "
	       "no certificate has expired", ok);
	buf_printf(b, "# HELP certagent_certificates Certificates by state.\n"
		      "# TYPE certagent_certificates gauge\n"
		      "certagent_certificates{state=\"valid\"} %zu\n"
		      "certagent_certificates{state=\"expired\"} %zu\n"
		      "certagent_certificates{state=\"missing\"} %zu\n",
		   cs.valid, cs.expired, cs.missing);
	if (v->certs) {
		struct certs_stats st;

		cert_metrics(v->certs, b);
		certs_get_stats(v->certs, &st);
		metric(b, "certagent_issuances_total", "counter",
		       "Certificates issued and verified.", (double)st.issued);
		metric(b, "certagent_issue_failures_total", "counter",
		       "Failed issuance attempts.", (double)st.failures);
		metric(b, "certagent_certificates_adopted_total", "counter",
		       "Valid certificates kept from disk instead of issued.",
		       (double)st.adopted);
	}
	if (v->templates) {
		struct templates_stats ts;

		templates_get_stats(v->templates, &ts);
		metric(b, "certagent_template_renders_total", "counter",
		       "Template renderings.", (double)ts.renders);
		metric(b, "certagent_template_writes_total", "counter",
		       "Template destinations written (bytes changed).",
		       (double)ts.writes);
		metric(b, "certagent_template_errors_total", "counter",
		       "Template renderings that failed.", (double)ts.errors);
	}
	if (v->auth) {
		struct auth_stats as;

		auth_get_stats(v->auth, &as);
		metric(b, "certagent_auth_logins_total", "counter",
		       "Successful logins.", (double)as.logins);
		metric(b, "certagent_auth_login_failures_total", "counter",
		       "Failed logins.", (double)as.login_failures);
		metric(b, "certagent_auth_token_expiry_seconds", "gauge",
		       "When the token expires (unix time); 0 if none.",
		       (double)(as.expires_at_ms / 1000));
	}
	if (v->certs)
		lifecycle_metrics(v, b);
	if (v->vault)
		vault_metrics(v->vault, b);
	if (v->deps)
		lease_metrics(v->deps, b);
	if (v->hooks)
		hook_metrics(v->hooks, b);
	if (v->bundles)
		bundle_metrics(v->bundles, b);
	fleet_metrics(v, b);
	buf_printf(b, "# HELP certagent_build_info The build: version and libcurl.\n"
		      "# TYPE certagent_build_info gauge\n"
		      "certagent_build_info{version=\"%s\",libcurl=\"%s\"} 1\n",
		   CERTAGENT_VERSION, curl_version_info(CURLVERSION_NOW)->version);
}

/* ------------------------------------------------------------------ */
/* /v1/status */

enum health { HEALTHY, DEGRADED, CRITICAL };

static const char *const health_names[] = { "healthy", "degraded", "critical" };

static void
add_time(cJSON *o, const char *key, int64_t ms)
{
	char buf[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, key, buf);
}

/* Note a problem: it sets the health to at least H. */
static void
problem(cJSON *list, enum health *worst, enum health h, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
problem(cJSON *list, enum health *worst, enum health h, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cJSON_AddItemToArray(list, cJSON_CreateString(buf));
	if (h > *worst)
		*worst = h;
}

static const char *
cert_state(const struct certs_item *it, int64_t now)
{
	enum renew_state s = renew_state(it->serial[0] != '\0', now, it->not_after_ms,
					 it->renew_at_ms);

	if (it->given_up)
		return "given_up";
	switch (s) {
	case RENEW_MISSING: return it->busy ? "issuing" : "missing";
	case RENEW_EXPIRED: return "expired";
	case RENEW_DUE: return it->failures ? "failing" : "renewing";
	default: return it->failures ? "failing" : it->busy ? "renewing" : "valid";
	}
}

static void
status_certs(const struct telemetry_view *v, cJSON *root, cJSON *probs,
	     enum health *h, int64_t now)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "certificates");
	size_t n = v->certs ? certs_count(v->certs) : 0;

	for (size_t i = 0; arr && i < n; i++) {
		struct certs_item it;
		cJSON *o = cJSON_CreateObject(), *files;
		const char *state;

		if (o == NULL)
			break;
		certs_get_item(v->certs, i, &it);
		state = cert_state(&it, now);
		cJSON_AddStringToObject(o, "name", it.name);
		cJSON_AddStringToObject(o, "source", it.external ? "external" :
					it.from_template ? "template" : "entry");
		cJSON_AddStringToObject(o, "state", state);
		files = cJSON_AddArrayToObject(o, "files");
		for (size_t j = 0; files && j < it.n_files; j++)
			cJSON_AddItemToArray(files, cJSON_CreateString(it.files[j]));
		if (it.serial[0])
			cJSON_AddStringToObject(o, "serial", it.serial);
		else
			cJSON_AddNullToObject(o, "serial");
		add_time(o, "not_before", it.not_before_ms);
		add_time(o, "not_after", it.not_after_ms);
		add_time(o, "next_renewal", it.external ? 0 : it.renew_at_ms);
		add_time(o, "last_renewal", it.last_renewal_ms);
		if (it.last_error && it.last_error[0])
			cJSON_AddStringToObject(o, "last_error", it.last_error);
		else
			cJSON_AddNullToObject(o, "last_error");
		cJSON_AddNumberToObject(o, "failures", it.failures);
		cJSON_AddNumberToObject(o, "renewals", (double)it.renewals);
		cJSON_AddItemToArray(arr, o);
		if (strcmp(state, "expired") == 0)
			problem(probs, h, CRITICAL, "certificate %s expired", it.name);
		else if (strcmp(state, "missing") == 0 || strcmp(state, "issuing") == 0 ||
			 strcmp(state, "given_up") == 0)
			problem(probs, h, CRITICAL, "certificate %s not written yet", it.name);
		else if (strcmp(state, "failing") == 0)
			problem(probs, h, DEGRADED, "certificate %s: renewal failing (%u "
				"in a row): %s", it.name, it.failures, it.last_error);
		else if (it.renew_at_ms && it.renew_at_ms < it.not_after_ms &&
			 now - it.renew_at_ms > 60000 && !it.external)
			problem(probs, h, DEGRADED, "certificate %s: past its renewal "
				"point", it.name);
	}
}

static void
status_templates(const struct telemetry_view *v, cJSON *root, cJSON *probs,
		 enum health *h)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "templates");
	struct templates_item it;

	for (size_t i = 0; arr && v->templates &&
			   templates_get_item(v->templates, i, &it) == 0; i++) {
		cJSON *o = cJSON_CreateObject();
		const char *state = it.last_error[0] ? "failing" : it.pending ? "waiting"
							 : it.rendered_ms ? "rendered" : "waiting";
		if (o == NULL)
			break;
		cJSON_AddStringToObject(o, "name", it.name);
		cJSON_AddStringToObject(o, "destination", it.destination);
		cJSON_AddStringToObject(o, "state", state);
		add_time(o, "last_render", it.rendered_ms);
		add_time(o, "last_write", it.written_ms);
		if (it.last_error[0])
			cJSON_AddStringToObject(o, "last_error", it.last_error);
		else
			cJSON_AddNullToObject(o, "last_error");
		cJSON_AddItemToArray(arr, o);
		if (it.last_error[0])
			problem(probs, h, DEGRADED, "template %s: %s", it.name, it.last_error);
	}
}

static void
status_leases(const struct telemetry_view *v, cJSON *root, cJSON *probs,
	      enum health *h)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "leases");
	struct deps_item it;

	for (size_t i = 0; arr && v->deps && deps_get_item(v->deps, i, &it) == 0; i++) {
		cJSON *o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddStringToObject(o, "kind", it.kind);
		cJSON_AddStringToObject(o, "path", it.path);
		cJSON_AddStringToObject(o, "state", it.failures ? "failing" :
					it.has_data ? "valid" : "waiting");
		add_time(o, "expires_at", it.lease_expire_ms);
		cJSON_AddNumberToObject(o, "failures", it.failures);
		if (it.error && it.error[0])
			cJSON_AddStringToObject(o, "last_error", it.error);
		else
			cJSON_AddNullToObject(o, "last_error");
		cJSON_AddItemToArray(arr, o);
		if (it.failures)
			problem(probs, h, DEGRADED, "%s %s: failing: %s", it.kind, it.path,
				it.error ? it.error : "");
	}
}

static void
status_hooks(const struct telemetry_view *v, cJSON *root, cJSON *probs,
	     enum health *h)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "hooks");
	struct hooks_item it;

	for (size_t i = 0; arr && v->hooks && hooks_get_item(v->hooks, i, &it) == 0;
	     i++) {
		cJSON *o;
		if (it.own)
			continue;
		o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddStringToObject(o, "name", it.name);
		cJSON_AddStringToObject(o, "state", it.stats.runs == 0 ? "idle" :
					it.stats.last_ok ? "ok" : "failing");
		add_time(o, "last_run", it.stats.last_run_ms);
		cJSON_AddNumberToObject(o, "runs", (double)it.stats.runs);
		cJSON_AddNumberToObject(o, "failures", (double)it.stats.failures);
		cJSON_AddItemToArray(arr, o);
		if (it.stats.runs && !it.stats.last_ok)
			problem(probs, h, DEGRADED, "hook %s: its last run failed", it.name);
	}
}

/* ---- fleet ---- */
/* /v1/status: the revocation queue and entries_dir. */
static void
status_fleet(const struct telemetry_view *v, cJSON *root, cJSON *probs,
	     enum health *h)
{
	cJSON *o;

	if (v->revq && (o = cJSON_AddObjectToObject(root, "revocation_queue"))) {
		cJSON_AddNumberToObject(o, "pending",
					(double)revq_pending(v->revq));
		cJSON_AddNumberToObject(o, "failing",
					(double)revq_failing(v->revq));
	}
	if (v->fleet && (o = cJSON_AddObjectToObject(root, "fleet"))) {
		struct fleet_stats st;
		const char *file, *error;
		cJSON *arr;

		fleet_get_stats(v->fleet, &st);
		cJSON_AddStringToObject(o, "entries_dir", fleet_dir(v->fleet));
		cJSON_AddNumberToObject(o, "entries", (double)st.entries);
		cJSON_AddNumberToObject(o, "removed", (double)st.removed);
		arr = cJSON_AddArrayToObject(o, "invalid");
		for (size_t i = 0; arr && i < 100 &&
		     fleet_invalid(v->fleet, i, &file, &error) == 0; i++) {
			cJSON *e = cJSON_CreateObject();
			if (e == NULL)
				break;
			cJSON_AddStringToObject(e, "file", file);
			cJSON_AddStringToObject(e, "error", error);
			cJSON_AddItemToArray(arr, e);
		}
		if (st.invalid)
			problem(probs, h, DEGRADED, "%zu file%s of %s not valid",
				st.invalid, st.invalid == 1 ? "" : "s",
				fleet_dir(v->fleet));
	}
}

/* ---- bundles ---- */
static void
status_bundles(const struct telemetry_view *v, cJSON *root, cJSON *probs,
	       enum health *h)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "bundles");
	struct bundles_item it;

	for (size_t i = 0; arr && v->bundles && bundles_get_item(v->bundles, i, &it) == 0;
	     i++) {
		cJSON *o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddStringToObject(o, "kind", it.kind);
		cJSON_AddStringToObject(o, "name", it.name);
		cJSON_AddStringToObject(o, "path", it.path);
		cJSON_AddStringToObject(o, "state", it.failures ? "failing" :
					it.last_ok_ms ? "current" : "waiting");
		cJSON_AddNumberToObject(o, "items", (double)it.n_items);
		if (strcmp(it.kind, "trust_bundle") == 0)
			cJSON_AddNumberToObject(o, "retained", (double)it.n_retained);
		else
			add_time(o, "next_update", it.next_update * 1000);
		add_time(o, "last_refresh", it.last_ok_ms);
		cJSON_AddNumberToObject(o, "failures", it.failures);
		if (it.error && it.error[0])
			cJSON_AddStringToObject(o, "last_error", it.error);
		else
			cJSON_AddNullToObject(o, "last_error");
		cJSON_AddItemToArray(arr, o);
		if (it.failures)
			problem(probs, h, DEGRADED, "%s %s: failing: %s", it.kind, it.name,
				it.error ? it.error : "");
	}
}

/* Queued revocations in /v1/status (lifecycle); a failing one is a
 * problem until it succeeds. */
static void
status_revocations(const struct telemetry_view *v, cJSON *root, cJSON *probs,
		   enum health *h)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "revocations");
	struct revq_item it;
	size_t n = v->revq ? revq_count(v->revq) : 0;

	for (size_t i = 0; arr && i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (o == NULL)
			break;
		revq_get_item(v->revq, i, &it);
		cJSON_AddStringToObject(o, "name", it.name);
		cJSON_AddStringToObject(o, "serial", it.serial);
		cJSON_AddStringToObject(o, "mount", it.mount);
		add_time(o, "due", it.due_ms);
		cJSON_AddStringToObject(o, "state", it.attempts ? "failing" :
					it.grace ? "grace" : "queued");
		cJSON_AddNumberToObject(o, "failures", (double)it.attempts);
		cJSON_AddItemToArray(arr, o);
		if (it.attempts)
			problem(probs, h, DEGRADED, "certificate %s: revocation of serial "
				"%s failed %u time%s; retrying", it.name, it.serial,
				it.attempts, it.attempts == 1 ? "" : "s");
	}
}

/* The whole status, as JSON text (malloc'd), or NULL without memory. */
static char *
status_json(const struct telemetry_view *v)
{
	cJSON *root = cJSON_CreateObject(), *probs, *o;
	enum health h = HEALTHY;
	struct certs_state cs;
	int64_t now = wall_ms();
	char *text = NULL;
	int ok = ready(v, &cs);

	if (root == NULL)
		return NULL;
	probs = cJSON_CreateArray();
	cJSON_AddStringToObject(root, "version", CERTAGENT_VERSION);
	add_time(root, "time", now);
	cJSON_AddBoolToObject(root, "ready", ok);
	cJSON_AddBoolToObject(root, "fail_open", v->fail_open);
	if (v->stopping)
		problem(probs, &h, CRITICAL, "the agent is stopping");
	o = cJSON_AddObjectToObject(root, "vault");
	if (o && v->vault) {
		struct vault_stats st;
		vault_get_stats(v->vault, &st);
		cJSON_AddStringToObject(o, "address", st.address ? st.address : "");
		cJSON_AddBoolToObject(o, "reachable", st.reachable);
		add_time(o, "last_answer", st.last_answer_ms);
		if (!st.reachable && vault_attempts(v->vault))
			problem(probs, &h, DEGRADED, "Vault at %s cannot be reached",
				st.address ? st.address : "?");
	}
	o = cJSON_AddObjectToObject(root, "token");
	if (o && v->auth) {
		struct auth_stats as;
		auth_get_stats(v->auth, &as);
		cJSON_AddBoolToObject(o, "valid", auth_token(v->auth) != NULL);
		add_time(o, "expires_at", as.expires_at_ms);
		cJSON_AddNumberToObject(o, "logins", (double)as.logins);
		cJSON_AddNumberToObject(o, "login_failures", (double)as.login_failures);
		if (auth_token(v->auth) == NULL)
			problem(probs, &h, DEGRADED, "no valid Vault token");
	}
	status_certs(v, root, probs, &h, now);
	status_templates(v, root, probs, &h);
	status_leases(v, root, probs, &h);
	status_hooks(v, root, probs, &h);
	status_revocations(v, root, probs, &h);
	status_bundles(v, root, probs, &h);
	status_fleet(v, root, probs, &h);
	if (!ok && h == HEALTHY)
		problem(probs, &h, DEGRADED, "not ready: first render not complete");
	cJSON_AddStringToObject(root, "health", health_names[h]);
	cJSON_AddItemToObject(root, "problems", probs);
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static void
status_reply(const struct telemetry_view *v, struct listener_reply *r)
{
	char *text = status_json(v);

	if (text == NULL) {
		r->status = 500;
		return;
	}
	r->status = 200;
	r->len = strlen(text);
	r->body = text;
	r->content_type = "application/json";
}

/* listener.address: GET /healthz, /readyz, /metrics. */
static void
on_http(void *arg, const char *method, const char *path,
	struct listener_reply *r)
{
	struct telemetry *t = arg;
	struct buf b = BUF_INIT(REPLY_MAX);
	struct certs_state cs;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		r->status = 405;
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		buf_puts(&b, "ok\n");
		reply(r, 200, &b);
	} else if (strcmp(path, "/readyz") == 0) {
		if (ready(t->view, &cs)) {
			buf_puts(&b, "ready\n");
			reply(r, 200, &b);
			return;
		}
		buf_printf(&b, "not ready: %s%zu of %zu certificates expired, "
			       "%zu missing\n",
			   t->view->rendered ? ""
			   : t->view->fail_open ? "first render not complete and a "
						  "template's file is not on disk; "
						: "first render not complete; ",
			   cs.expired, cs.total, cs.missing);
		reply(r, 503, &b);
	} else if (strcmp(path, "/metrics") == 0) {
		metrics(t->view, &b);
		reply(r, 200, &b);
		r->content_type = "text/plain; version=0.0.4";
	} else if (strcmp(path, "/v1/status") == 0) {
		status_reply(t->view, r);
	}
}

/* listener.control_socket: POST /v1/rotate[/NAME], GET /v1/status. */
static void
on_control(void *arg, const char *method, const char *path,
	   struct listener_reply *r)
{
	struct telemetry *t = arg;
	struct buf b = BUF_INIT(0);
	const char *name = NULL;
	size_t n;

	if (strcmp(path, "/v1/status") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			r->status = 405;
		else
			status_reply(t->view, r);
		return;
	}
	if (strcmp(path, "/v1/reload") == 0) {
		if (strcmp(method, "POST") != 0) {
			r->status = 405;
		} else if (t->view->reload == NULL || t->view->stopping) {
			buf_puts(&b, "the agent is stopping\n");
			reply(r, 503, &b);
		} else {
			t->view->reload(t->view->reload_arg);
			buf_puts(&b, "reloading\n");
			reply(r, 202, &b);
		}
		return;
	}
	if (strncmp(path, "/v1/rotate", 10) != 0 ||
	    (path[10] != '\0' && path[10] != '/'))
		return;
	if (strcmp(method, "POST") != 0) {
		r->status = 405;
		return;
	}
	if (path[10] == '/' && path[11])
		name = path + 11;
	if (t->view->certs == NULL || t->view->stopping) {
		buf_puts(&b, "the agent is stopping\n");
		reply(r, 503, &b);
		return;
	}
	n = t->rotate(t->arg, name);
	if (name && n == 0) {
		buf_printf(&b, "no certificate named %s\n", name);
		reply(r, 404, &b);
		return;
	}
	buf_printf(&b, "renewing %zu certificate%s\n", n, n == 1 ? "" : "s");
	reply(r, 202, &b);
}

int
telemetry_open(uv_loop_t *loop, const struct telemetry_opts *o,
	       const struct telemetry_view *view, telemetry_rotate_cb rotate,
	       void *arg, struct telemetry **out, char *err, size_t errlen)
{
	struct telemetry *t = calloc(1, sizeof(*t));

	*out = t;
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->view = view;
	t->rotate = rotate;
	t->arg = arg;
	if (o->address &&
	    (listener_new(loop, on_http, t, &t->http) != 0 ||
	     listener_open(t->http, o->address, err, errlen) != 0))
		return -1;
	if (o->control_socket) {
		char addr[4200];
		snprintf(addr, sizeof(addr), "unix:%s", o->control_socket);
		if (listener_new(loop, on_control, t, &t->control) != 0 ||
		    listener_open(t->control, addr, err, errlen) != 0)
			return -1;
	}
	if (t->http)
		log_info("agent", "serving /healthz, /readyz and /metrics on %s",
			 o->address);
	if (t->control)
		log_info("agent", "control socket at %s", o->control_socket);
	return 0;
}

void
telemetry_close(struct telemetry *t)
{
	if (t == NULL)
		return;
	if (t->http)
		listener_close(t->http);
	if (t->control)
		listener_close(t->control);
	free(t);
}
