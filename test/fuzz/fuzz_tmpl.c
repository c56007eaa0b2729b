/*
 * fuzz_tmpl: template text through the lexer, the parser and the
 * executor, against a fixed data set, as a templates: entry's source is
 * read from the operator's file.
 *
 * DESIGN: the data set below stands for Vault: a kv v2 secret, a kv v1
 * secret, database credentials with a lease and a PKI issuance, by
 * path; any other path answers the kv v2 envelope, so that paths the
 * fuzzer invents still reach data.  A path starting "pending/" answers
 * TMPL_PENDING and "error/" an error, so both of those branches run too.
 * writeToFile writes nothing.  The output is capped at 1 MiB and the clock
 * is fixed, so a run depends on the input alone.  An error must come back
 * as a NUL-terminated message; success as a NUL-terminated output.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "tmpl.h"

static const char data_set[] =
	"{"
	"\"secret/data/app\": {\"request_id\": \"r1\", \"lease_id\": \"\","
	"  \"lease_duration\": 0, \"renewable\": false,"
	"  \"data\": {\"data\": {\"username\": \"app\", \"password\": \"s3cr3t\","
	"    \"port\": 5432, \"ratio\": 0.5, \"on\": true, \"none\": null,"
	"    \"list\": [\"a\", \"b\", 3], \"nested\": {\"k\": \"v\"},"
	"    \"b64\": \"aGVsbG8=\", \"json\": \"{\\\"x\\\": [1, 2]}\"},"
	"   \"metadata\": {\"created_time\": \"2023-11-14T10:00:00.123456Z\","
	"    \"version\": 3, \"destroyed\": false}},"
	"  \"warnings\": null, \"auth\": null, \"wrap_info\": null},"
	"\"secret/app\": {\"lease_duration\": 2764800, \"renewable\": false,"
	"  \"data\": {\"user\": \"u\", \"pass\": \"p\", \"ttl\": \"768h\"}},"
	"\"database/creds/ro\": {\"lease_id\": \"database/creds/ro/abc\","
	"  \"lease_duration\": 3600, \"renewable\": true,"
	"  \"data\": {\"username\": \"v-ro-1\", \"password\": \"A1a-xyz\"}},"
	"\"pki/issue/web\": {\"lease_id\": \"\", \"lease_duration\": 0,"
	"  \"data\": {\"certificate\": \"-----BEGIN CERTIFICATE-----\\nMIIB\\n"
	"-----END CERTIFICATE-----\", \"issuing_ca\": \"-----BEGIN "
	"CERTIFICATE-----\\nMIIC\\n-----END CERTIFICATE-----\","
	"   \"ca_chain\": [\"-----BEGIN CERTIFICATE-----\\nMIIC\\n-----END "
	"CERTIFICATE-----\"], \"private_key\": \"-----BEGIN PRIVATE KEY-----"
	"\\nMIIE\\n-----END PRIVATE KEY-----\", \"private_key_type\": \"ec\","
	"   \"serial_number\": \"39:dd:2e\", \"expiration\": 1700259200}}"
	"}";

static cJSON *data;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	setenv("FUZZ_SET", "value", 1);
	data = cJSON_Parse(data_set);
	assert(cJSON_IsObject(data));
	return 0;
}

static int
fetch(void *arg, const char *kind, const char *path, const char *const *kv,
      size_t nkv, const cJSON **out, char *err, size_t errlen)
{
	const cJSON *v;

	(void)arg;
	(void)kind;
	(void)kv;
	(void)nkv;
	if (strncmp(path, "pending/", 8) == 0)
		return TMPL_PENDING;
	if (strncmp(path, "error/", 6) == 0) {
		snprintf(err, errlen, "%s: permission denied", path);
		return -EACCES;
	}
	v = cJSON_GetObjectItemCaseSensitive(data, path);
	*out = v ? v : cJSON_GetObjectItemCaseSensitive(data, "secret/data/app");
	return 0;
}

static int
write_file(void *arg, const char *path, const char *owner, const char *group,
	   const char *perms, const char *content, size_t len, int append,
	   char *err, size_t errlen)
{
	(void)arg;
	(void)owner;
	(void)group;
	(void)perms;
	(void)append;
	(void)err;
	(void)errlen;
	assert(path != NULL && content != NULL);
	(void)len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	struct tmpl *t = NULL;
	char err[1024], *text, *out = NULL;
	size_t outlen = 0;
	int rc;
	struct tmpl_env env = {
		.fetch = fetch,
		.write_file = write_file,
		.now = 1700000000,
		.max_output = 1 << 20,
	};

	text = fuzz_cstr(bytes, size);
	if (text == NULL)
		return 0;
	memset(err, 'x', sizeof(err));
	rc = tmpl_parse("fuzz.tpl", text, NULL, NULL, &t, err, sizeof(err));
	if (rc != 0) {
		assert(memchr(err, '\0', sizeof(err)) != NULL);
		free(text);
		return 0;
	}
	/* Both settings of missingkey=error. */
	for (int strict = 0; strict < 2; strict++) {
		env.error_on_missing_key = strict;
		memset(err, 'x', sizeof(err));
		rc = tmpl_execute(t, &env, &out, &outlen, err, sizeof(err));
		if (rc < 0)
			assert(memchr(err, '\0', sizeof(err)) != NULL);
		if (rc == 0) {
			assert(out != NULL && out[outlen] == '\0');
			free(out);
			out = NULL;
		}
	}
	tmpl_free(t);
	free(text);
	return 0;
}
