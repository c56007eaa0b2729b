/*
 * main: the command line.
 *
 *   certagent run   -c FILE     run the agent until SIGTERM/SIGINT
 *   certagent run   -c FILE --once      render everything once and exit
 *   certagent check -c FILE     validate FILE without contacting Vault
 *   certagent rotate [NAME] -c FILE     renew NAME (or all) in the running agent
 *   certagent reload -c FILE    as SIGHUP: read FILE and entries_dir again
 *   certagent status [-c FILE | --socket PATH] [--json]  the running agent's state
 *   certagent exec -c FILE -- CMD ARGS  run CMD once its files are in place
 *   certagent render -c FILE --dry-run          templates once, to stdout
 *   certagent template TPL [--data DATA.json]   render TPL offline
 *   certagent import vault-agent FILE [--suggest]  Vault Agent config to YAML
 *   certagent version
 *
 * DESIGN: main parses arguments, sets up process-wide libraries (curl's
 * global state) and hands over to agent_run(); it holds no state itself.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "buf.h"
#include "client.h"
#include "deps.h"
#include "files.h"
#include "import/vault_agent.h"
#include "status.h"
#include "tmpl.h"

#define DEFAULT_CONFIG "/etc/certagent/agent.yaml"

/* How the libraries are linked: packaging/small/build.sh says which it
 * linked in; the Makefile's build takes them all from the system. */
#ifndef CERTAGENT_LINK
#define CERTAGENT_LINK "shared: libcurl openssl libuv libyaml cjson glibc"
#endif

/*
 * `certagent version`: the first line as it always was (scripts read it),
 * then what a bug report needs about the build: how it is linked, and the
 * libcurl it runs with, its protocols and features.
 */
static void
version(void)
{
	static const struct {
		int bit;
		const char *name;
	} feats[] = {
		{CURL_VERSION_ASYNCHDNS, "AsynchDNS"}, {CURL_VERSION_IPV6, "IPv6"},
		{CURL_VERSION_SSL, "SSL"},	       {CURL_VERSION_UNIX_SOCKETS, "UnixSockets"},
		{CURL_VERSION_HTTP2, "HTTP2"},	       {CURL_VERSION_HTTP3, "HTTP3"},
		{CURL_VERSION_HTTPS_PROXY, "HTTPS-proxy"}, {CURL_VERSION_LIBZ, "libz"},
		{CURL_VERSION_BROTLI, "brotli"},       {CURL_VERSION_ZSTD, "zstd"},
		{CURL_VERSION_IDN, "IDN"},	       {CURL_VERSION_PSL, "PSL"},
		{CURL_VERSION_NTLM, "NTLM"},	       {CURL_VERSION_GSSAPI, "GSS-API"},
		{CURL_VERSION_KERBEROS5, "Kerberos"},  {CURL_VERSION_SPNEGO, "SPNEGO"},
		{CURL_VERSION_ALTSVC, "alt-svc"},      {CURL_VERSION_HSTS, "HSTS"},
		{CURL_VERSION_LARGEFILE, "Largefile"}, {CURL_VERSION_TLSAUTH_SRP, "TLS-SRP"},
		{CURL_VERSION_THREADSAFE, "threadsafe"},
	};
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	printf("certagent %s (%s)\n", CERTAGENT_VERSION, curl_version());
	printf("link: %s\n", CERTAGENT_LINK);
	printf("libcurl %s protocols:", v->version);
	for (const char *const *p = v->protocols; p && *p; p++)
		printf(" %s", *p);
	printf("\nlibcurl %s features:", v->version);
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
		if (v->features & feats[i].bit)
			printf(" %s", feats[i].name);
	printf("\n");
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: certagent run   [-c FILE] [--once]\n"
		"                                   run the agent (--once: render\n"
		"                                   everything once, then exit)\n"
		"       certagent exec  [-c FILE] [-- CMD ARGS...]\n"
		"                                   start CMD once every file is in place,\n"
		"                                   signal or restart it when they change,\n"
		"                                   exit with its exit code\n"
		"       certagent check [-c FILE]   validate a configuration file\n"
		"       certagent rotate [NAME] [-c FILE | --socket PATH]\n"
		"                                   renew certificate NAME (default: all)\n"
		"                                   now, in the agent running with FILE\n"
		"       certagent reload [-c FILE | --socket PATH]\n"
		"                                   read FILE and its entries_dir again in\n"
		"                                   the running agent, as SIGHUP does\n"
		"       certagent status [-c FILE | --socket PATH] [--json]\n"
		"                                   every certificate, template, lease and\n"
		"                                   hook of the running agent; exit 0\n"
		"                                   healthy, 1 degraded, 2 expired or\n"
		"                                   unreachable\n"
		"       certagent render -c FILE --dry-run\n"
		"                                   render every template once to stdout\n"
		"       certagent template TEMPLATE [--data DATA.json]\n"
		"                                   render a template offline to stdout\n"
		"       certagent import vault-agent FILE [--suggest]\n"
		"                                   a Vault Agent configuration as\n"
		"                                   certagent's, on stdout\n"
		"       certagent version\n"
		"FILE defaults to " DEFAULT_CONFIG "\n");
}

static int control_post(const char *path, const char *socket,
			const char *target);

/* `certagent rotate`: ask the running agent through its control socket. */
static int
rotate(const char *path, const char *socket, const char *name)
{
	char target[512];

	snprintf(target, sizeof(target), "/v1/rotate%s%s", name ? "/" : "",
		 name ? name : "");
	return control_post(path, socket, target);
}

/* POST TARGET to the control socket of the agent running with PATH. */
static int
control_post(const char *path, const char *socket, const char *target)
{
	char addr[4200], err[1024], sock[4096], *body = NULL;
	int status;

	if (socket == NULL) {
		if (agent_control_socket(path, sock, sizeof(sock)) != 0)
			return 1;
		socket = sock;
	}
	snprintf(addr, sizeof(addr), "unix:%s", socket);
	status = client_request(addr, "POST", target, 10000, &body, err, sizeof(err));
	if (status < 0) {
		fprintf(stderr, "certagent: %s (is the agent running?)\n", err);
		return 1;
	}
	fprintf(status / 100 == 2 ? stdout : stderr, "%s", body ? body : "");
	free(body);
	return status / 100 == 2 ? 0 : 1;
}

/*
 * `certagent template`: DATA maps a Vault path to what `vault read
 * -format=json PATH` (or `vault write`) prints for it.
 */
static int
offline_fetch(void *arg, const char *kind, const char *path,
	      const char *const *kv, size_t nkv, const cJSON **out, char *err,
	      size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(arg, path);

	(void)kv;
	(void)nkv;
	/* A kv v2 path written without data/ (metadata/ for secrets): the
	 * mount is not known offline, so try data/ after each segment. */
	for (const char *p = path; !cJSON_IsObject(v) && nkv == 0 &&
				   (p = strchr(p, '/')) != NULL; p++) {
		char mount[1024], *full;

		if ((size_t)(p - path) + 2 > sizeof(mount))
			break;
		memcpy(mount, path, (size_t)(p - path) + 1);
		mount[p - path + 1] = '\0';
		full = deps_kv2_path(path, mount, 1, strcmp(kind, "secrets") == 0);
		if (full != NULL)
			v = cJSON_GetObjectItemCaseSensitive(arg, full);
		free(full);
	}
	if (!cJSON_IsObject(v)) {
		snprintf(err, errlen, "%s \"%s\": no entry for this path in the "
				      "--data file", kind, path);
		return -ENOENT;
	}
	*out = v;
	return 0;
}

static int
offline_write(void *arg, const char *path, const char *owner,
	      const char *group, const char *perms, const char *content,
	      size_t len, int append, char *err, size_t errlen)
{
	(void)arg;
	(void)owner;
	(void)group;
	(void)content;
	(void)append;
	(void)err;
	(void)errlen;
	fprintf(stderr, "certagent: writeToFile %s (%s, %zu bytes) not written "
			"offline\n", path, perms, len);
	return 0;
}

static int
template_cmd(const char *file, const char *data_file)
{
	char err[2048], *text = NULL, *data_text = NULL, *out = NULL;
	size_t len, outlen;
	struct tmpl *t = NULL;
	cJSON *data = NULL;
	int rc = 1;

	if (files_read(file, 1 << 20, &text, &len, err, sizeof(err)) != 0)
		goto fail;
	if (data_file) {
		if (files_read(data_file, 16 << 20, &data_text, &len, err,
			       sizeof(err)) != 0)
			goto fail;
		data = cJSON_ParseWithLength(data_text, len);
		if (!cJSON_IsObject(data)) {
			snprintf(err, sizeof(err), "%s: not a JSON object of "
						   "path -> Vault response", data_file);
			goto fail;
		}
	}
	if (tmpl_parse(file, text, NULL, NULL, &t, err, sizeof(err)) != 0)
		goto fail;
	struct tmpl_env env = {
		.arg = data,
		.fetch = offline_fetch,
		.write_file = offline_write,
	};
	rc = tmpl_execute(t, &env, &out, &outlen, err, sizeof(err));
	if (rc != 0) {
		rc = 1;
		goto fail;
	}
	fwrite(out, 1, outlen, stdout);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "certagent: %s\n", err);
out:
	tmpl_free(t);
	cJSON_Delete(data);
	free(text);
	free(data_text);
	free(out);
	return rc;
}

/*
 * `certagent import vault-agent FILE [--suggest]`: the YAML on stdout,
 * what was not converted on stderr; exit 1 only when FILE cannot be
 * read or parsed.
 */
static int
import_cmd(int argc, char **argv)
{
	char err[2048], *text = NULL, *yaml, *rep;
	const char *file = NULL;
	struct buf out = BUF_INIT(16u << 20), report = BUF_INIT(16u << 20);
	unsigned flags = 0;
	size_t len, rlen, n_rep;
	int rc = 1;

	if (argc < 3 || strcmp(argv[2], "vault-agent") != 0) {
		fprintf(stderr, "certagent: import knows one format: "
				"`certagent import vault-agent FILE`\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--suggest") == 0) {
			flags |= VA_SUGGEST;
		} else if (file == NULL && (argv[i][0] != '-' || argv[i][1] == '\0')) {
			file = argv[i];
		} else {
			fprintf(stderr, "certagent: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (file == NULL) {
		fprintf(stderr, "certagent: import vault-agent needs a FILE\n");
		return 2;
	}
	if (files_read(file, 1 << 20, &text, &len, err, sizeof(err)) != 0 ||
	    va_import(file, text, len, flags, &out, &report, &n_rep, err,
		      sizeof(err)) != 0) {
		fprintf(stderr, "certagent: %s\n", err);
		goto out;
	}
	yaml = buf_take(&out, &len);
	rep = buf_take(&report, &rlen);
	if (yaml)
		fwrite(yaml, 1, len, stdout);
	if (rep && n_rep)
		fprintf(stderr, "%s%s: %zu note%s above: keys not converted, or converted with a difference\n",
			rep, file, n_rep, n_rep == 1 ? "" : "s");
	free(yaml);
	free(rep);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	buf_free(&out);
	buf_free(&report);
	free(text);
	return rc;
}

/*
 * The signals the agent handles are held from the first instruction of
 * ours that runs: .preinit_array runs before the shared libraries'
 * initialisers (and Debian's libcurl pulls in thirty of them, some slow),
 * so the window in which a SIGHUP kills a starting agent is the dynamic
 * loader's alone.
 */
static void
preinit(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)argv;
	(void)envp;
	agent_hold_signals();
}

__attribute__((section(".preinit_array"), used))
static void (*const preinit_hold)(int, char **, char **) = preinit;

int
main(int argc, char **argv)
{
	const char *cmd, *path = DEFAULT_CONFIG;
	int rc;

	agent_hold_signals();	/* again: a fuzzer or a test may call main */
	if (argc < 2 || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "exec") != 0 &&
			 strcmp(argv[1], "render") != 0))
		agent_release_signals();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		version();
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "import") == 0)
		return import_cmd(argc, argv);
	if (strcmp(cmd, "template") == 0) {
		const char *data = NULL;
		if (argc < 3) {
			usage(stderr);
			return 2;
		}
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
				data = argv[++i];
			} else {
				fprintf(stderr, "certagent: unknown argument '%s'\n", argv[i]);
				return 2;
			}
		}
		return template_cmd(argv[2], data);
	}
	int dry = 0, once = 0, json = 0;
	const char *socket = NULL, *name = NULL;
	char **exec_argv = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 && strcmp(cmd, "exec") == 0) {
			if (i + 1 < argc)
				exec_argv = argv + i + 1;
			break;
		}
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--dry-run") == 0 && strcmp(cmd, "render") == 0) {
			dry = 1;
		} else if (strcmp(argv[i], "--once") == 0 && strcmp(cmd, "run") == 0) {
			once = 1;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc &&
			   (strcmp(cmd, "rotate") == 0 || strcmp(cmd, "status") == 0 ||
			    strcmp(cmd, "reload") == 0)) {
			socket = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0 && strcmp(cmd, "status") == 0) {
			json = 1;
		} else if (argv[i][0] != '-' && name == NULL && strcmp(cmd, "rotate") == 0) {
			name = argv[i];
		} else {
			fprintf(stderr, "certagent: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(cmd, "check") == 0)
		return agent_check(path);
	if (strcmp(cmd, "rotate") == 0) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return 1;
		rc = rotate(path, socket, name);
		curl_global_cleanup();
		return rc;
	}
	if (strcmp(cmd, "reload") == 0) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return 1;
		rc = control_post(path, socket, "/v1/reload");
		curl_global_cleanup();
		return rc;
	}
	if (strcmp(cmd, "status") == 0) {
		char addr[4200];
		if (socket)
			snprintf(addr, sizeof(addr), "unix:%s", socket);
		else if (agent_status_address(path, addr, sizeof(addr)) != 0)
			return STATUS_CRITICAL;
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return STATUS_CRITICAL;
		rc = status_command(addr, json);
		curl_global_cleanup();
		return rc;
	}
	if (strcmp(cmd, "render") == 0 && !dry) {
		fprintf(stderr, "certagent: render needs --dry-run (use `run` to "
				"write files)\n");
		return 2;
	}
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "render") != 0 &&
	    strcmp(cmd, "exec") != 0) {
		fprintf(stderr, "certagent: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	/* A peer that goes away mid-write (a health check, Vault) must cost
	 * a failed write, not the process.  Children get the default back
	 * from uv_spawn. */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "certagent: curl_global_init failed\n");
		return 1;
	}
	rc = agent_run(path, (dry ? AGENT_DRY_RUN : 0) | (once ? AGENT_ONCE : 0) |
			       (strcmp(cmd, "exec") == 0 ? AGENT_EXEC : 0),
		       exec_argv);
	curl_global_cleanup();
	return rc;
}
