/*
 * fuzz_vault_json: Vault's answers, as bytes off the wire, through the
 * parse step of every handler that reads one: auth login and renew-self
 * (auth.*), token lookup-self (data.ttl), the wrapping lookup and unwrap
 * (data.creation_path, data.secret_id), pki issue and sign (the
 * certificate, key and CA chain, then inspected by x509.c as the engine
 * would), kv v1 and v2 reads and database credentials (their lease, then
 * the data through the templates that read them), sys/leases/renew
 * (lease_duration) and the errors of a failed request ({"errors": [...]}).
 *
 * DESIGN: vault.c turns the body into cJSON with cJSON_ParseWithLength;
 * this does the same, then hands the tree to each module's parse function
 * (auth_parse_*, deps_parse_*, certs_parse_issued, vault_errors_text).
 * The agent reads no sys/health answer (a failover looks at the status
 * alone), so there is no parser of it to fuzz.
 */
#include <assert.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "buf.h"
#include "certs.h"
#include "deps.h"
#include "fuzz.h"
#include "tmpl.h"
#include "vault.h"
#include "x509.h"

/* What kv templates do with a read: v2 (.Data.data, .Data.metadata)
 * and v1 (.Data), database credentials (.Data.username, the lease). */
static const char *const kv_templates[] = {
	"{{ with secret \"kv/data/app\" }}{{ range $k, $v := .Data.data }}"
	"{{ $k }}={{ $v }}\n{{ end }}{{ .Data.metadata.version }}{{ end }}",
	"{{ with secret \"kv/app\" }}{{ range $k, $v := .Data }}{{ $k }}: "
	"{{ $v | toJSON }}\n{{ end }}{{ end }}",
	"{{ with secret \"database/creds/ro\" }}{{ .Data.username }}:"
	"{{ .Data.password }} {{ .LeaseID }} {{ .LeaseDuration }} "
	"{{ .Renewable }}{{ end }}",
};
#define N_KV (sizeof(kv_templates) / sizeof(kv_templates[0]))
static struct tmpl *kv_tmpl[N_KV];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	fuzz_quiet();
	for (size_t i = 0; i < N_KV; i++)
		if (tmpl_parse("kv.tpl", kv_templates[i], NULL, NULL, &kv_tmpl[i],
			       err, sizeof(err)) != 0) {
			fprintf(stderr, "fuzz_vault_json: %s\n", err);
			abort();
		}
	return 0;
}

static int
fetch(void *arg, const char *kind, const char *path, const char *const *kv,
      size_t nkv, const cJSON **out, char *err, size_t errlen)
{
	(void)kind;
	(void)path;
	(void)kv;
	(void)nkv;
	(void)err;
	(void)errlen;
	*out = arg;
	return 0;
}

static void
pki(const cJSON *json, int der, int pkcs8)
{
	struct buf cert = BUF_INIT(1 << 20), key = BUF_INIT(1 << 20);
	struct buf chain = BUF_INIT(1 << 20), anchor = BUF_INIT(1 << 20);
	struct x509_info info;
	char err[1024];

	memset(err, 'x', sizeof(err));
	if (certs_parse_issued(json, der, pkcs8, NULL, 1, &cert, &key, &chain,
			       &anchor, err, sizeof(err)) != 0) {
		assert(memchr(err, '\0', sizeof(err)) != NULL);
		goto out;
	}
	assert(cert.s != NULL && anchor.s != NULL);
	if (x509_cert_info(cert.s, &info, err, sizeof(err)) != 0)
		goto out;
	(void)x509_count_certs(chain.s ? chain.s : "");
	(void)x509_key_matches(cert.s, key.s ? key.s : "", err, sizeof(err));
	(void)x509_verify_chain(cert.s, chain.s, anchor.s, 1700000000, err,
				sizeof(err));
out:
	buf_free(&cert);
	buf_wipe(&key);
	buf_free(&chain);
	buf_free(&anchor);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *json = cJSON_ParseWithLength((const char *)data, size);
	struct auth_grant g;
	struct deps_lease l;
	char errs[512], *out;
	size_t outlen;

	if (json == NULL)
		return 0;
	if (auth_parse_auth(json, &g) == 0)
		assert(g.token && g.token[0]);
	auth_parse_lookup(json, &g);
	(void)auth_parse_data_string(json, "secret_id");
	(void)auth_parse_data_string(json, "creation_path");

	deps_parse_lease(json, &l);
	assert(l.id || l.ms == 0);
	(void)deps_parse_duration(json);

	vault_errors_text(json, errs, sizeof(errs));
	assert(memchr(errs, '\0', sizeof(errs)) != NULL);

	pki(json, 0, 0);
	pki(json, 1, size & 1);

	for (size_t i = 0; i < N_KV; i++) {
		struct tmpl_env env = {
			.arg = json, .fetch = fetch, .now = 1700000000,
			.max_output = 1 << 20,
		};
		char err[512];
		out = NULL;
		if (tmpl_execute(kv_tmpl[i], &env, &out, &outlen, err,
				 sizeof(err)) == 0)
			free(out);
	}
	cJSON_Delete(json);
	return 0;
}
