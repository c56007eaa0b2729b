/*
 * import/vault_agent.c: Vault Agent's configuration, written as
 * certagent's; see vault_agent.h.
 *
 * DESIGN / invariants:
 * - Each stanza is written into its own buffer as it is read, so keys
 *   that Vault Agent spreads over stanzas (auto_auth's backoff is
 *   certagent's vault.retry) land in one section, and the output keeps
 *   certagent's section order whatever the input's.
 * - Every member of every stanza read is either written or reported:
 *   a stanza's walk lists the keys it handles, and report_rest() names
 *   the others.  A converted key whose meaning differs a little is
 *   written and also reported as a note.
 * - Nothing here reads a secret: role and secret ids, tokens and JWTs
 *   stay in their files, whose paths are all that is written.
 */
#include "import/vault_agent.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "import/hcl.h"

#define OUT_MAX (16u * 1024 * 1024)

struct va {
	const char *file;
	unsigned flags;
	struct buf *report;
	size_t n_reported;
	struct buf vault, retry, auth, sink, log, tconfig, templates, certs,
		hooks, listener, exec, top;
	int have_auth, have_sink, have_listener, have_num_retries;
	const struct hcl_node *sink_at;	/* the sink converted */
	size_t n_templates;
	char *cert_client_cert, *cert_client_key, *cert_ca_cert;
	int vault_has_client_cert, vault_has_ca_cert;
	const struct hcl_node *suggested[64];	/* --suggest took these */
};

static void
rep(struct va *va, const struct hcl_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
rep(struct va *va, const struct hcl_node *n, const char *fmt, ...)
{
	va_list ap;

	buf_printf(va->report, "%s:%u:%u: ", va->file, n ? n->line : 1,
		   n ? n->col : 1);
	va_start(ap, fmt);
	buf_vprintf(va->report, fmt, ap);
	va_end(ap);
	buf_putc(va->report, '\n');
	va->n_reported++;
}

/* S as a YAML double-quoted scalar; '$' doubled for certagent's ${NAME}. */
static void
ystr(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '$': buf_puts(b, "$$"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_printf(b, "\\x%02x", *p);
			else
				buf_putc(b, (char)*p);
		}
	}
	buf_putc(b, '"');
}

/* "  KEY: \"VALUE\"\n" at INDENT spaces. */
static void
ykv(struct buf *b, int indent, const char *key, const char *value)
{
	buf_fill(b, ' ', (size_t)indent);
	buf_printf(b, "%s: ", key);
	ystr(b, value);
	buf_putc(b, '\n');
}

static const char *
text_of(const struct hcl_node *n)
{
	if (n && (n->type == HCL_STRING || n->type == HCL_NUMBER ||
		  n->type == HCL_BOOL))
		return n->str;
	return NULL;
}

/* A scalar member, or a report that it is not one. */
static const char *
scalar(struct va *va, const struct hcl_node *m, const char *where)
{
	const char *s = text_of(m);

	if (s == NULL)
		rep(va, m, "%s%s: expected a string, number or bool; not converted",
		    where, m->key);
	return s;
}

/* A bool member: 1, 0, or -1 (reported). */
static int
boolean(struct va *va, const struct hcl_node *m, const char *where)
{
	const char *s = text_of(m);

	if (s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0))
		return 1;
	if (s && (strcmp(s, "false") == 0 || strcmp(s, "0") == 0))
		return 0;
	rep(va, m, "%s%s: expected true or false; not converted", where, m->key);
	return -1;
}

static void
ybool(struct va *va, struct buf *b, int indent, const struct hcl_node *m,
      const char *where, const char *key)
{
	int v = boolean(va, m, where);

	if (v < 0)
		return;
	buf_fill(b, ' ', (size_t)indent);
	buf_printf(b, "%s: %s\n", key, v ? "true" : "false");
}

static void
yscalar(struct va *va, struct buf *b, int indent, const struct hcl_node *m,
	const char *where, const char *key)
{
	const char *s = scalar(va, m, where);

	if (s)
		ykv(b, indent, key, s);
}

/*
 * A file mode as Vault writes it: "0640" (octal text), 0640 (HCL's
 * octal number) or 416 (decimal).  -1 when it is none of those.
 */
static long
parse_mode(const struct hcl_node *m)
{
	const char *s = text_of(m);
	char *end;
	long v;

	if (s == NULL || *s == '\0' || m->type == HCL_BOOL)
		return -1;
	if (m->type == HCL_NUMBER && s[0] != '0')
		v = strtol(s, &end, 10);
	else
		v = strtol(s, &end, 8);
	if (*end != '\0' || v < 0 || v > 07777)
		return -1;
	return v;
}

static void
ymode(struct va *va, struct buf *b, int indent, const struct hcl_node *m,
      const char *where, const char *key)
{
	long v = parse_mode(m);
	char mode[24];

	if (v < 0) {
		rep(va, m, "%s%s: not a file mode; not converted", where, m->key);
		return;
	}
	snprintf(mode, sizeof(mode), "%04lo", (unsigned long)v);
	ykv(b, indent, key, mode);
}

/* Is KEY one of the NULL-terminated KEYS? */
static int
in(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(key, *keys) == 0)
			return 1;
	return 0;
}

/* Report every member of BODY not in HANDLED. */
static void
report_rest(struct va *va, const struct hcl_node *body, const char *where,
	    const char *const *handled, const char *why)
{
	if (body == NULL || body->type != HCL_OBJECT)
		return;
	for (size_t i = 0; i < body->n; i++) {
		const struct hcl_node *m = &body->items[i];
		if (!in(m->key, handled))
			rep(va, m, "%s%s: %s", where, m->key,
			    why ? why : "no equivalent in certagent; not converted");
	}
}

/* The object of a member: itself, or the one object of a list (JSON). */
static const struct hcl_node *
body_of(const struct hcl_node *m)
{
	if (m == NULL)
		return NULL;
	if (m->type == HCL_OBJECT)
		return m;
	if (m->type == HCL_LIST && m->n == 1 && m->items[0].type == HCL_OBJECT)
		return &m->items[0];
	return NULL;
}

/*
 * A typed block (method, sink, listener): its type from a label
 * (`sink "file" {}`), a `type` key, or the JSON form's one member
 * (`"sink": {"file": {...}}`); *BODY is where its keys are.
 */
static const char *
block_type(const struct hcl_node *m, const struct hcl_node **body)
{
	const struct hcl_node *b = m->type == HCL_OBJECT ? m : NULL;
	const char *t;

	*body = b;
	if (b == NULL)
		return NULL;
	if (m->n_labels > 0)
		return m->labels[0];
	t = hcl_text(b, "type");
	if (t)
		return t;
	if (b->n == 1 && b->items[0].type == HCL_OBJECT) {
		*body = &b->items[0];
		return b->items[0].key;
	}
	return NULL;
}

typedef void (*block_fn)(struct va *va, const struct hcl_node *block);

/* FN for each KEY block of OBJ: `key {}` repeated, or `key = [{}, {}]`. */
static void
each_block(struct va *va, const struct hcl_node *obj, const char *key,
	   block_fn fn)
{
	for (const struct hcl_node *m = hcl_next(obj, key, NULL); m;
	     m = hcl_next(obj, key, m)) {
		if (m->type == HCL_OBJECT) {
			fn(va, m);
		} else if (m->type == HCL_LIST) {
			for (size_t i = 0; i < m->n; i++) {
				if (m->items[i].type == HCL_OBJECT) {
					fn(va, &m->items[i]);
				} else {
					rep(va, &m->items[i], "%s: expected a "
					    "block; not converted", key);
				}
			}
		} else {
			rep(va, m, "%s: expected a block; not converted", key);
		}
	}
}

/* ------------------------------------------------------------------ */
/* vault { } */

static void
do_vault(struct va *va, const struct hcl_node *b)
{
	static const char *const handled[] = {
		"address", "ca_cert", "client_cert", "client_key",
		"tls_server_name", "tls_skip_verify", "namespace", "retry", NULL,
	};
	const struct hcl_node *m;

	for (size_t i = 0; i < b->n; i++) {
		m = &b->items[i];
		if (strcmp(m->key, "tls_skip_verify") == 0) {
			ybool(va, &va->vault, 2, m, "vault.", m->key);
		} else if (strcmp(m->key, "retry") == 0) {
			const struct hcl_node *r = body_of(m);
			static const char *const rh[] = { "num_retries", NULL };
			const struct hcl_node *n = hcl_next(r, "num_retries", NULL);
			if (n) {
				const char *s = text_of(n);
				long v = s ? strtol(s, NULL, 10) : -2;
				/* Vault: 0 is the default (12), -1 no retries. */
				if (v == 0)
					v = 12;
				if (v == -1)
					v = 0;
				if (v < 0 || v > 1000) {
					rep(va, n, "vault.retry.num_retries: out of "
					    "range; not converted");
				} else {
					buf_printf(&va->retry, "    num_retries: %ld\n", v);
					va->have_num_retries = 1;
				}
			}
			report_rest(va, r, "vault.retry.", rh, NULL);
		} else if (in(m->key, handled)) {
			if (strcmp(m->key, "client_cert") == 0)
				va->vault_has_client_cert = 1;
			if (strcmp(m->key, "ca_cert") == 0)
				va->vault_has_ca_cert = 1;
			yscalar(va, &va->vault, 2, m, "vault.", m->key);
		} else if (strcmp(m->key, "ca_path") == 0) {
			rep(va, m, "vault.ca_path: no equivalent (certagent takes one "
			    "PEM bundle, vault.ca_cert); not converted");
		} else {
			rep(va, m, "vault.%s: no equivalent in certagent; not "
			    "converted", m->key);
		}
	}
}

/* ------------------------------------------------------------------ */
/* auto_auth { method {} sink {} } */

static void
auth_mount(struct va *va, const struct hcl_node *m)
{
	const char *s = scalar(va, m, "auto_auth.method.");
	char mount[512];
	size_t len;

	if (s == NULL)
		return;
	if (strncmp(s, "auth/", 5) == 0)
		s += 5;
	snprintf(mount, sizeof(mount), "%s", s);
	len = strlen(mount);
	while (len > 0 && mount[len - 1] == '/')
		mount[--len] = '\0';
	if (len == 0) {
		rep(va, m, "auto_auth.method.mount_path: empty; not converted");
		return;
	}
	ykv(&va->auth, 2, "mount", mount);
}

static void
method_config(struct va *va, const char *type, const struct hcl_node *cfg)
{
	const char *where = "auto_auth.method.config.";
	const struct hcl_node *m;

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		m = &cfg->items[i];
		const char *k = m->key;
		if (strcmp(type, "approle") == 0) {
			if (strcmp(k, "role_id_file_path") == 0)
				yscalar(va, &va->auth, 2, m, where, "role_id_file");
			else if (strcmp(k, "secret_id_file_path") == 0)
				yscalar(va, &va->auth, 2, m, where, "secret_id_file");
			else if (strcmp(k, "remove_secret_id_file_after_reading") == 0)
				ybool(va, &va->auth, 2, m, where, k);
			else if (strcmp(k, "secret_id_response_wrapping_path") == 0)
				yscalar(va, &va->auth, 2, m, where, k);
			else
				rep(va, m, "%s%s: no equivalent for approle; not "
				    "converted", where, k);
		} else if (strcmp(type, "cert") == 0) {
			if (strcmp(k, "name") == 0) {
				yscalar(va, &va->auth, 2, m, where, "name");
			} else if (strcmp(k, "client_cert") == 0 ||
				   strcmp(k, "client_key") == 0 ||
				   strcmp(k, "ca_cert") == 0) {
				/* certagent's cert method presents vault's. */
				const char *v = scalar(va, m, where);
				char **slot = &va->cert_client_key;
				if (strcmp(k, "client_cert") == 0)
					slot = &va->cert_client_cert;
				else if (strcmp(k, "ca_cert") == 0)
					slot = &va->cert_ca_cert;
				if (v && *slot == NULL)
					*slot = strdup(v);
			} else if (strcmp(k, "reload") == 0) {
				rep(va, m, "%s%s: certagent always watches the client "
				    "certificate and presents the new one; dropped",
				    where, k);
			} else {
				rep(va, m, "%s%s: no equivalent for cert; not "
				    "converted", where, k);
			}
		} else if (strcmp(type, "kubernetes") == 0) {
			if (strcmp(k, "role") == 0 || strcmp(k, "token_path") == 0)
				yscalar(va, &va->auth, 2, m, where, k);
			else
				rep(va, m, "%s%s: no equivalent for kubernetes; not "
				    "converted", where, k);
		} else if (strcmp(type, "jwt") == 0) {
			if (strcmp(k, "role") == 0)
				yscalar(va, &va->auth, 2, m, where, "role");
			else if (strcmp(k, "path") == 0)
				yscalar(va, &va->auth, 2, m, where, "token_path");
			else if (strcmp(k, "remove_jwt_after_reading") == 0)
				rep(va, m, "%s%s: certagent reads the JWT at every "
				    "login and never removes it; not converted",
				    where, k);
			else
				rep(va, m, "%s%s: no equivalent for jwt; not "
				    "converted", where, k);
		} else if (strcmp(type, "token_file") == 0) {
			if (strcmp(k, "token_file_path") == 0)
				yscalar(va, &va->auth, 2, m, where, "token_file");
			else
				rep(va, m, "%s%s: no equivalent for token_file; not "
				    "converted", where, k);
		}
	}
}

static void
do_method(struct va *va, const struct hcl_node *blk)
{
	static const char *const handled[] = {
		"type", "mount_path", "config", "min_backoff", "max_backoff", NULL,
	};
	const struct hcl_node *body, *m;
	const char *type = block_type(blk, &body);
	const char *method;

	if (va->have_auth) {
		rep(va, blk, "auto_auth.method: a second method; certagent logs "
		    "in one way; not converted");
		return;
	}
	if (type == NULL) {
		rep(va, blk, "auto_auth.method: no type; not converted");
		return;
	}
	if (strcmp(type, "approle") == 0 || strcmp(type, "cert") == 0 ||
	    strcmp(type, "kubernetes") == 0 || strcmp(type, "jwt") == 0)
		method = type;
	else if (strcmp(type, "token_file") == 0)
		method = "token";
	else {
		rep(va, blk, "auto_auth.method \"%s\": no equivalent (certagent "
		    "logs in with approle, cert, kubernetes, jwt or a token "
		    "file); not converted, the output has no auth: section",
		    type);
		return;
	}
	va->have_auth = 1;
	ykv(&va->auth, 2, "method", method);
	if (body == NULL)
		return;
	for (size_t i = 0; i < body->n; i++) {
		m = &body->items[i];
		if (strcmp(m->key, "mount_path") == 0) {
			auth_mount(va, m);
		} else if (strcmp(m->key, "config") == 0) {
			method_config(va, type, body_of(m));
		} else if (strcmp(m->key, "min_backoff") == 0 ||
			   strcmp(m->key, "max_backoff") == 0) {
			const char *s = scalar(va, m, "auto_auth.method.");
			if (s) {
				buf_printf(&va->retry, "    %s: ", m->key);
				ystr(&va->retry, s);
				buf_putc(&va->retry, '\n');
			}
		} else if (!in(m->key, handled)) {
			rep(va, m, "auto_auth.method.%s: no equivalent in certagent; "
			    "not converted", m->key);
		}
	}
}

static void
do_sink(struct va *va, const struct hcl_node *blk)
{
	const struct hcl_node *body, *cfg;
	const char *type = block_type(blk, &body);
	static const char *const handled[] = { "type", "config", NULL };
	static const char *const wrapping[] = {
		"wrap_ttl", "dh_type", "dh_path", "derive_key", "aad",
		"aad_env_var", NULL,
	};
	static const char *const ch[] = { "path", "mode", NULL };

	if (type == NULL || strcmp(type, "file") != 0) {
		rep(va, blk, "auto_auth.sink \"%s\": certagent writes the token "
		    "to a file only; not converted", type ? type : "?");
		return;
	}
	if (va->have_sink) {
		rep(va, blk, "auto_auth.sink: a second file sink; certagent "
		    "writes one token file; not converted");
		return;
	}
	cfg = body_of(hcl_next(body, "config", NULL));
	if (cfg == NULL || hcl_next(cfg, "path", NULL) == NULL) {
		rep(va, blk, "auto_auth.sink: no config.path; not converted");
		return;
	}
	for (size_t i = 0; body && i < body->n; i++) {
		const struct hcl_node *m = &body->items[i];
		if (in(m->key, handled))
			continue;
		if (in(m->key, wrapping)) {
			/* the file would hold a wrapped or encrypted token */
			rep(va, m, "auto_auth.sink.%s: certagent writes the token "
			    "as it is, neither wrapped nor encrypted; the sink is "
			    "not converted", m->key);
			return;
		}
		rep(va, m, "auto_auth.sink.%s: no equivalent in certagent; the "
		    "sink is converted without it", m->key);
	}
	va->have_sink = 1;
	va->sink_at = blk;
	buf_puts(&va->sink, "  token_sink:\n");
	yscalar(va, &va->sink, 4, hcl_next(cfg, "path", NULL), "auto_auth.sink.config.",
		"path");
	if (hcl_next(cfg, "mode", NULL))
		ymode(va, &va->sink, 4, hcl_next(cfg, "mode", NULL),
		      "auto_auth.sink.config.", "mode");
	else
		ykv(&va->sink, 4, "mode", "0640");	/* Vault's sink default */
	report_rest(va, cfg, "auto_auth.sink.config.", ch, NULL);
}

static void
do_sinks(struct va *va, const struct hcl_node *blk)
{
	each_block(va, blk, "sink", do_sink);
	for (size_t i = 0; i < blk->n; i++)
		if (strcmp(blk->items[i].key, "sink") != 0)
			rep(va, &blk->items[i], "auto_auth.sinks.%s: not a sink; "
			    "not converted", blk->items[i].key);
}

static void
do_auto_auth(struct va *va, const struct hcl_node *b)
{
	static const char *const handled[] = { "method", "sink", "sinks", NULL };

	each_block(va, b, "method", do_method);
	each_block(va, b, "sink", do_sink);
	/* "sinks": a block of sink blocks, or (JSON) a list of {"sink": {}}. */
	for (const struct hcl_node *m = hcl_next(b, "sinks", NULL); m;
	     m = hcl_next(b, "sinks", m)) {
		if (m->type == HCL_OBJECT) {
			do_sinks(va, m);
		} else if (m->type == HCL_LIST) {
			for (size_t i = 0; i < m->n; i++)
				if (m->items[i].type == HCL_OBJECT)
					do_sinks(va, &m->items[i]);
		}
	}
	report_rest(va, b, "auto_auth.", handled, NULL);
}

/* ------------------------------------------------------------------ */
/* template { } */

static void
wait_string(struct va *va, const struct hcl_node *m, struct buf *b)
{
	/* consul-template's "min:max" (or "min") form. */
	const char *s = text_of(m);
	char lo[64], *colon;

	if (s == NULL) {
		rep(va, m, "template.wait: expected min:max; not converted");
		return;
	}
	snprintf(lo, sizeof(lo), "%s", s);
	colon = strchr(lo, ':');
	if (colon)
		*colon = '\0';
	buf_puts(b, "    wait:\n");
	ykv(b, 6, "min", lo);
	ykv(b, 6, "max", colon ? colon + 1 : lo);
}

/* exec:'s command list at 6 spaces. */
static void
yargv(struct buf *b, const struct hcl_node *list)
{
	buf_puts(b, "    exec:\n      command: [");
	for (size_t j = 0; j < list->n; j++) {
		const char *s = text_of(&list->items[j]);
		buf_puts(b, j ? ", " : "");
		ystr(b, s ? s : "");
	}
	buf_puts(b, "]\n");
}

/*
 * One template: every key at four spaces into its own buffer, the first
 * line's "    " then made the list item's "  - ".
 */
static void
do_template(struct va *va, const struct hcl_node *t)
{
	static const char *const plain[] = {
		"source", "contents", "destination", "left_delimiter",
		"right_delimiter", NULL,
	};
	static const char *const bools[] = {
		"error_on_missing_key", "backup", "create_dest_dirs", NULL,
	};
	struct buf tb = BUF_INIT(OUT_MAX);
	struct buf *b = &tb;
	const struct hcl_node *m, *ct = hcl_next(t, "command_timeout", NULL);

	if (hcl_next(t, "destination", NULL) == NULL) {
		rep(va, t, "template: no destination (certagent writes every "
		    "template to a file); not converted");
		return;
	}
	for (size_t i = 0; i < 64 && va->suggested[i]; i++)
		if (va->suggested[i] == t)
			return;	/* written as a certificates: entry */
	va->n_templates++;
	for (size_t i = 0; i < t->n; i++) {
		m = &t->items[i];
		if (in(m->key, plain)) {
			yscalar(va, b, 4, m, "template.", m->key);
		} else if (in(m->key, bools)) {
			ybool(va, b, 4, m, "template.", m->key);
		} else if (strcmp(m->key, "perms") == 0) {
			ymode(va, b, 4, m, "template.", "perms");
		} else if (strcmp(m->key, "command") == 0 && m->type == HCL_LIST) {
			/* consul-template: a list is argv, run without a shell */
			yargv(b, m);
			if (ct && text_of(ct))
				ykv(b, 6, "timeout", text_of(ct));
		} else if (strcmp(m->key, "command") == 0) {
			yscalar(va, b, 4, m, "template.", "command");
			if (ct)
				rep(va, ct, "template.command_timeout: a shell command "
				    "runs with the hooks' 30s timeout; write exec { "
				    "command = [...], timeout } to set it; not "
				    "converted");
		} else if (strcmp(m->key, "command_timeout") == 0) {
			if (hcl_next(t, "command", NULL) == NULL)
				rep(va, m, "template.command_timeout: no command; "
				    "not converted");
		} else if (strcmp(m->key, "exec") == 0) {
			const struct hcl_node *e = body_of(m);
			const struct hcl_node *c = hcl_next(e, "command", NULL);
			static const char *const eh[] = { "command", "timeout", NULL };
			if (c && c->type == HCL_LIST) {
				yargv(b, c);
				if (hcl_text(e, "timeout"))
					ykv(b, 6, "timeout", hcl_text(e, "timeout"));
			} else if (c && text_of(c)) {
				ykv(b, 4, "command", text_of(c));
				rep(va, c, "template.exec.command: a string; written "
				    "as command, which runs it with /bin/sh -c");
			} else {
				rep(va, m, "template.exec: no command; not converted");
				continue;
			}
			report_rest(va, e, "template.exec.", eh, NULL);
		} else if (strcmp(m->key, "wait") == 0) {
			const struct hcl_node *w = body_of(m);
			static const char *const wh[] = { "min", "max", NULL };
			if (w == NULL) {
				wait_string(va, m, b);
			} else {
				buf_puts(b, "    wait:\n");
				if (hcl_text(w, "min"))
					ykv(b, 6, "min", hcl_text(w, "min"));
				if (hcl_text(w, "max"))
					ykv(b, 6, "max", hcl_text(w, "max"));
				report_rest(va, w, "template.wait.", wh, NULL);
			}
			rep(va, m, "template.wait: converted; certagent renders at "
			    "once and waits this quiet period before the "
			    "template's command runs");
		} else if (strcmp(m->key, "user") == 0 || strcmp(m->key, "uid") == 0) {
			yscalar(va, b, 4, m, "template.", "owner");
		} else if (strcmp(m->key, "group") == 0 || strcmp(m->key, "gid") == 0) {
			yscalar(va, b, 4, m, "template.", "group");
		} else {
			rep(va, m, "template.%s: no equivalent in certagent; not "
			    "converted", m->key);
		}
	}
	if (tb.len >= 4 && tb.err == 0) {
		tb.s[2] = '-';
		buf_append(&va->templates, tb.s, tb.len);
	}
	buf_free(&tb);
}

/* ------------------------------------------------------------------ */
/* template_config, listener, exec, log */

static void
do_template_config(struct va *va, const struct hcl_node *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct hcl_node *m = &b->items[i];
		if (strcmp(m->key, "exit_on_retry_failure") == 0)
			ybool(va, &va->tconfig, 2, m, "template_config.", m->key);
		else if (strcmp(m->key, "static_secret_render_interval") == 0 ||
			 strcmp(m->key, "max_connections_per_host") == 0 ||
			 strcmp(m->key, "lease_renewal_threshold") == 0) {
			const char *s = scalar(va, m, "template_config.");
			if (s == NULL)
				continue;
			if (m->type == HCL_NUMBER)
				buf_printf(&va->tconfig, "  %s: %s\n", m->key, s);
			else
				ykv(&va->tconfig, 2, m->key, s);
		} else {
			rep(va, m, "template_config.%s: no equivalent in certagent; "
			    "not converted", m->key);
		}
	}
}

static void
do_listener(struct va *va, const struct hcl_node *blk)
{
	const struct hcl_node *body, *m;
	const char *type = block_type(blk, &body);
	int tls_off = 0;

	if (type == NULL || strcmp(type, "tcp") != 0) {
		rep(va, blk, "listener \"%s\": certagent listens on TCP only; not "
		    "converted", type ? type : "?");
		return;
	}
	if (va->have_listener) {
		rep(va, blk, "listener: a second listener; certagent has one; not "
		    "converted");
		return;
	}
	m = hcl_next(body, "tls_disable", NULL);
	if (m)
		tls_off = boolean(va, m, "listener.") == 1;
	if (!tls_off) {
		rep(va, blk, "listener: TLS (tls_disable is not true); certagent's "
		    "listener speaks plain HTTP on loopback; not converted");
		return;
	}
	va->have_listener = 1;
	m = hcl_next(body, "address", NULL);
	ykv(&va->listener, 2, "address", m && text_of(m) ? text_of(m)
							  : "127.0.0.1:8200");
	rep(va, blk, "listener: converted; certagent's listener serves "
	    "/healthz, /readyz and /metrics, not Vault's API proxy or cache");
	for (size_t i = 0; body && i < body->n; i++) {
		m = &body->items[i];
		if (strcmp(m->key, "address") != 0 && strcmp(m->key, "tls_disable") != 0 &&
		    strcmp(m->key, "type") != 0)
			rep(va, m, "listener.%s: no equivalent in certagent; not "
			    "converted", m->key);
	}
}

static void
do_exec(struct va *va, const struct hcl_node *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct hcl_node *m = &b->items[i];
		if (strcmp(m->key, "command") == 0 && m->type == HCL_LIST) {
			buf_puts(&va->exec, "  command: [");
			for (size_t j = 0; j < m->n; j++) {
				const char *s = text_of(&m->items[j]);
				buf_puts(&va->exec, j ? ", " : "");
				ystr(&va->exec, s ? s : "");
			}
			buf_puts(&va->exec, "]\n");
		} else if (strcmp(m->key, "restart_on_secret_changes") == 0 &&
			   text_of(m) && strcmp(text_of(m), "always") == 0) {
			buf_puts(&va->exec, "  on_change: restart\n");
		} else if (strcmp(m->key, "restart_on_secret_changes") == 0) {
			rep(va, m, "exec.restart_on_secret_changes: certagent signals "
			    "the application (SIGHUP) instead of never telling it; "
			    "converted as on_change: signal");
			buf_puts(&va->exec, "  on_change: signal\n");
		} else if (strcmp(m->key, "restart_kill_signal") == 0 ||
			   strcmp(m->key, "restart_stop_signal") == 0) {
			rep(va, m, "exec.%s: certagent stops the application with "
			    "SIGTERM, then SIGKILL after exec.kill_timeout; not "
			    "converted", m->key);
		} else {
			rep(va, m, "exec.%s: no equivalent in certagent; not "
			    "converted", m->key);
		}
	}
}

static void
do_log_level(struct va *va, const struct hcl_node *m)
{
	const char *s = text_of(m);
	const char *level = NULL;

	if (s && (strcmp(s, "trace") == 0 || strcmp(s, "debug") == 0))
		level = "debug";
	else if (s && strcmp(s, "info") == 0)
		level = "info";
	else if (s && (strcmp(s, "warn") == 0 || strcmp(s, "warning") == 0))
		level = "warn";
	else if (s && (strcmp(s, "err") == 0 || strcmp(s, "error") == 0))
		level = "error";
	if (level == NULL) {
		rep(va, m, "log_level: not a level certagent has; not converted");
		return;
	}
	buf_printf(&va->log, "  level: %s\n", level);
}

/* ------------------------------------------------------------------ */
/* --suggest: a cert template and a key template of one issuance */

struct pki_call {
	const struct hcl_node *tpl;
	char call[1024];	/* the call's arguments as written */
	int what;		/* 1 cert, 2 key, 3 ca */
};

/* The template's text when it is nothing but {{ with CALL }}{{ FIELD }}{{ end }}. */
static int
pki_template(const struct hcl_node *t, struct pki_call *pc)
{
	const char *s = hcl_text(t, "contents");
	const char *p, *q, *field;
	char acts[3][1024];
	int n = 0;

	if (s == NULL || hcl_next(t, "source", NULL))
		return 0;
	for (p = s; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0')
			break;
		if (strncmp(p, "{{", 2) != 0 || n == 3)
			return 0;
		q = strstr(p, "}}");
		if (q == NULL)
			return 0;
		p += 2;
		if (*p == '-')
			p++;
		const char *e = q;
		if (e > p && e[-1] == '-')
			e--;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - p) >= sizeof(acts[0]))
			return 0;
		memcpy(acts[n], p, (size_t)(e - p));
		acts[n][e - p] = '\0';
		n++;
		p = q + 2;
	}
	if (n != 3 || strcmp(acts[2], "end") != 0)
		return 0;
	if (strncmp(acts[0], "with pkiCert ", 13) == 0) {
		snprintf(pc->call, sizeof(pc->call), "%.1000s", acts[0] + 13);
		field = acts[1];
		pc->what = strcmp(field, ".Cert") == 0 ? 1 : strcmp(field, ".Key") == 0
			? 2 : strcmp(field, ".CA") == 0 ? 3 : 0;
	} else if (strncmp(acts[0], "with secret ", 12) == 0 &&
		   strstr(acts[0], "/issue/") != NULL) {
		snprintf(pc->call, sizeof(pc->call), "%.1000s", acts[0] + 12);
		field = acts[1];
		pc->what = strcmp(field, ".Data.certificate") == 0 ? 1
			: strcmp(field, ".Data.private_key") == 0 ? 2
			: strcmp(field, ".Data.issuing_ca") == 0 ? 3 : 0;
	} else {
		return 0;
	}
	pc->tpl = t;
	return pc->what != 0;
}

/* The quoted words of CALL, unescaped only for \" and \\; NULL-ended. */
static size_t
call_words(const char *call, char words[][256], size_t max)
{
	size_t n = 0;
	const char *p = call;

	while (*p && n < max) {
		while (*p == ' ')
			p++;
		if (*p != '"')
			return 0;
		p++;
		size_t len = 0;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			if (len < 255)
				words[n][len++] = *p;
			p++;
		}
		if (*p != '"')
			return 0;
		p++;
		words[n][len] = '\0';
		n++;
	}
	return *p ? 0 : n;
}

static void
ylist_csv(struct buf *b, const char *key, const char *csv)
{
	char item[256];
	const char *p = csv;
	int first = 1;

	buf_printf(b, "    %s: [", key);
	while (*p) {
		size_t len = strcspn(p, ",");
		snprintf(item, sizeof(item), "%.*s", (int)(len < 255 ? len : 255), p);
		if (item[0]) {
			buf_puts(b, first ? "" : ", ");
			ystr(b, item);
			first = 0;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	buf_puts(b, "]\n");
}

static void
suggest_one(struct va *va, struct pki_call *cert, struct pki_call *key,
	    struct pki_call *ca)
{
	char words[16][256], name[128];
	size_t n = call_words(cert->call, words, 16);
	const char *dest = hcl_text(cert->tpl, "destination");
	const char *base = strrchr(dest, '/');
	const char *common_name = NULL;
	struct buf *b = &va->certs;

	if (n < 1)
		return;
	for (size_t i = 1; i < n; i++)
		if (strncmp(words[i], "common_name=", 12) == 0)
			common_name = words[i] + 12;
	if (common_name == NULL)
		return;
	base = base ? base + 1 : dest;
	snprintf(name, sizeof(name), "%s", base);
	for (char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			*c = '-';
	buf_puts(b, "  - name: ");
	ystr(b, name);
	buf_puts(b, "\n    path: ");
	ystr(b, words[0]);
	buf_puts(b, "\n");
	ykv(b, 4, "common_name", common_name);
	for (size_t i = 1; i < n; i++) {
		char *eq = strchr(words[i], '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		if (strcmp(words[i], "alt_names") == 0)
			ylist_csv(b, "alt_names", eq + 1);
		else if (strcmp(words[i], "ip_sans") == 0)
			ylist_csv(b, "ip_sans", eq + 1);
		else if (strcmp(words[i], "ttl") == 0)
			ykv(b, 4, "ttl", eq + 1);
		else if (strcmp(words[i], "common_name") != 0)
			rep(va, cert->tpl, "template: --suggest: the argument %s= "
			    "of the issuance has no certificates: key; not "
			    "converted", words[i]);
	}
	buf_puts(b, "    files:\n");
	struct pki_call *parts[3] = { cert, key, ca };
	static const char *const kinds[3] = { "cert", "key", "ca" };
	for (int i = 0; i < 3; i++) {
		const struct hcl_node *perms;
		if (parts[i] == NULL)
			continue;
		buf_printf(b, "      %s:\n", kinds[i]);
		ykv(b, 8, "path", hcl_text(parts[i]->tpl, "destination"));
		perms = hcl_next(parts[i]->tpl, "perms", NULL);
		if (perms && parse_mode(perms) >= 0)
			buf_printf(b, "        mode: \"%04lo\"\n",
				   (unsigned long)parse_mode(perms));
		if (hcl_next(parts[i]->tpl, "command", NULL) ||
		    hcl_next(parts[i]->tpl, "exec", NULL))
			rep(va, parts[i]->tpl, "template: --suggest: its command "
			    "is not carried over to the certificates: entry; add "
			    "a hook and name it in on_change");
		rep(va, parts[i]->tpl, "template: --suggest: written as the %s "
		    "file of certificates entry '%s' (one issuance, verified)",
		    kinds[i], name);
	}
}

static void
suggest(struct va *va, const struct hcl_node *root)
{
	struct pki_call calls[64];
	size_t n = 0, used = 0;

	for (const struct hcl_node *m = hcl_next(root, "template", NULL); m && n < 64;
	     m = hcl_next(root, "template", m)) {
		if (m->type == HCL_OBJECT && pki_template(m, &calls[n]))
			n++;
	}
	for (size_t i = 0; i < n; i++) {
		struct pki_call *cert = NULL, *key = NULL, *ca = NULL;
		if (calls[i].what != 1)
			continue;
		cert = &calls[i];
		for (size_t j = 0; j < n; j++) {
			if (j == i || strcmp(calls[j].call, cert->call) != 0)
				continue;
			if (calls[j].what == 2 && key == NULL)
				key = &calls[j];
			else if (calls[j].what == 3 && ca == NULL)
				ca = &calls[j];
		}
		if (key == NULL || used + 3 > 63)
			continue;
		size_t before = va->certs.len;
		suggest_one(va, cert, key, ca);
		if (va->certs.len == before)
			continue;
		va->suggested[used++] = cert->tpl;
		va->suggested[used++] = key->tpl;
		if (ca)
			va->suggested[used++] = ca->tpl;
	}
}

/* ------------------------------------------------------------------ */

static void
append_section(struct buf *out, const char *head, struct buf *body)
{
	if (body->len == 0)
		return;
	buf_puts(out, head);
	buf_append(out, body->s, body->len);
}

static void
free_all(struct va *va)
{
	struct buf *bufs[] = { &va->vault, &va->retry, &va->auth, &va->sink,
			       &va->log, &va->tconfig, &va->templates, &va->certs,
			       &va->hooks, &va->listener, &va->exec, &va->top };

	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_free(bufs[i]);
	free(va->cert_client_cert);
	free(va->cert_client_key);
	free(va->cert_ca_cert);
}

int
va_import(const char *file, const char *text, size_t len, unsigned flags,
	  struct buf *out, struct buf *report, size_t *n_reported, char *err,
	  size_t errlen)
{
	struct hcl_node *root = NULL;
	struct va va = {
		.file = file, .flags = flags, .report = report,
		.vault = BUF_INIT(OUT_MAX), .retry = BUF_INIT(OUT_MAX),
		.auth = BUF_INIT(OUT_MAX), .sink = BUF_INIT(OUT_MAX),
		.log = BUF_INIT(OUT_MAX), .tconfig = BUF_INIT(OUT_MAX),
		.templates = BUF_INIT(OUT_MAX), .certs = BUF_INIT(OUT_MAX),
		.hooks = BUF_INIT(OUT_MAX), .listener = BUF_INIT(OUT_MAX),
		.exec = BUF_INIT(OUT_MAX), .top = BUF_INIT(OUT_MAX),
	};
	int rc;

	*n_reported = 0;
	rc = hcl_parse(file, text, len, &root, err, errlen);
	if (rc < 0)
		return rc;
	if (flags & VA_SUGGEST)
		suggest(&va, root);
	for (size_t i = 0; i < root->n; i++) {
		const struct hcl_node *m = &root->items[i];
		const char *k = m->key;

		if (strcmp(k, "vault") == 0 && body_of(m)) {
			do_vault(&va, body_of(m));
		} else if (strcmp(k, "auto_auth") == 0 && body_of(m)) {
			do_auto_auth(&va, body_of(m));
		} else if (strcmp(k, "template") == 0) {
			if (m->type == HCL_OBJECT)
				do_template(&va, m);
			else if (m->type == HCL_LIST)
				for (size_t j = 0; j < m->n; j++)
					if (m->items[j].type == HCL_OBJECT)
						do_template(&va, &m->items[j]);
		} else if (strcmp(k, "template_config") == 0 && body_of(m)) {
			do_template_config(&va, body_of(m));
		} else if (strcmp(k, "listener") == 0) {
			if (m->type == HCL_LIST) {
				for (size_t j = 0; j < m->n; j++)
					if (m->items[j].type == HCL_OBJECT)
						do_listener(&va, &m->items[j]);
			} else if (m->type == HCL_OBJECT) {
				do_listener(&va, m);
			}
		} else if (strcmp(k, "exec") == 0 && body_of(m)) {
			do_exec(&va, body_of(m));
		} else if (strcmp(k, "exit_after_auth") == 0) {
			int v = boolean(&va, m, "");
			if (v >= 0)
				buf_printf(&va.top, "exit_after_render: %s\n",
					   v ? "true" : "false");
		} else if (strcmp(k, "log_level") == 0) {
			do_log_level(&va, m);
		} else if (strcmp(k, "log_format") == 0) {
			const char *s = text_of(m);
			if (s && strcmp(s, "json") == 0)
				buf_puts(&va.log, "  format: json\n");
			else if (s && strcmp(s, "standard") == 0)
				buf_puts(&va.log, "  format: text\n");
			else
				rep(&va, m, "log_format: neither standard nor json; "
				    "not converted");
		} else if (strcmp(k, "pid_file") == 0) {
			rep(&va, m, "pid_file: certagent writes no pid file (run it "
			    "under systemd, or as `certagent exec`); not converted");
		} else if (strcmp(k, "cache") == 0 || strcmp(k, "api_proxy") == 0) {
			rep(&va, m, "%s: certagent has no API proxy or cache; not "
			    "converted", k);
		} else if (strcmp(k, "env_template") == 0) {
			rep(&va, m, "env_template: certagent renders templates to "
			    "files only; not converted");
		} else {
			rep(&va, m, "%s: no equivalent in certagent; not converted", k);
		}
	}

	/* The cert method's TLS settings are vault's in certagent. */
	if (va.cert_client_cert && !va.vault_has_client_cert) {
		ykv(&va.vault, 2, "client_cert", va.cert_client_cert);
		if (va.cert_client_key)
			ykv(&va.vault, 2, "client_key", va.cert_client_key);
	}
	if (va.cert_ca_cert && !va.vault_has_ca_cert)
		ykv(&va.vault, 2, "ca_cert", va.cert_ca_cert);

	buf_printf(out, "# certagent configuration converted from the Vault Agent "
		   "configuration %s\n# by `certagent import vault-agent`.\n", file);
	buf_puts(out, "vault:\n");
	if (strstr(va.vault.s ? va.vault.s : "", "  address: ") == NULL) {
		/* Vault Agent's: VAULT_ADDR, else https://127.0.0.1:8200. */
		buf_puts(out, "  address: \"${VAULT_ADDR:-https://127.0.0.1:8200}\"\n");
	}
	if (va.vault.len)
		buf_append(out, va.vault.s, va.vault.len);
	if (!va.have_num_retries)
		buf_puts(&va.retry, "    num_retries: 12\n");	/* Vault's default */
	append_section(out, "  retry:\n", &va.retry);
	if (va.have_auth) {
		append_section(out, "auth:\n", &va.auth);
		if (va.sink.len)
			buf_append(out, va.sink.s, va.sink.len);
	} else {
		buf_puts(out, "# auth: not converted (see the report on stderr)\n");
		if (va.sink.len)
			rep(&va, va.sink_at, "auto_auth.sink: not converted: "
			    "certagent's token sink belongs to its auth: section");
	}
	append_section(out, "log:\n", &va.log);
	append_section(out, "template_config:\n", &va.tconfig);
	append_section(out, "templates:\n", &va.templates);
	append_section(out, "certificates:\n", &va.certs);
	append_section(out, "hooks:\n", &va.hooks);
	append_section(out, "listener:\n", &va.listener);
	append_section(out, "exec:\n", &va.exec);
	if (va.top.len)
		buf_append(out, va.top.s, va.top.len);
	rc = out->err;
	if (rc == 0 && report->err)
		rc = report->err;
	if (rc < 0 && err && errlen)
		snprintf(err, errlen, "%s: %s", file, rc == -E2BIG ? "output too large"
							: "out of memory");
	*n_reported = va.n_reported;
	free_all(&va);
	hcl_free(root);
	return rc;
}
