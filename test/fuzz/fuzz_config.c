/*
 * fuzz_config: YAML bytes to a validated struct config, as `certagent
 * check` and every start and SIGHUP read the configuration file.
 *
 * DESIGN: config_load_text() is config_load() with the file's contents in
 * memory (one code path).  A load that succeeds is then compared with
 * itself as a reload would be (config_check_reload, config_same_cert):
 * what `check` accepts must be usable.  A load that fails must say why,
 * in a NUL-terminated message within the buffer.  ${FUZZ_SET} and
 * ${FUZZ_EMPTY} exist in the environment, so interpolation reaches both
 * of its branches.
 */
#include <assert.h>
#include <stdio.h>

#include "config.h"
#include "fuzz.h"

#define ERRLEN 4096

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	setenv("FUZZ_SET", "value", 1);
	setenv("FUZZ_EMPTY", "", 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[ERRLEN], err2[ERRLEN];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = config_load_text("fuzz.yaml", (const char *)data, size, &cfg, err,
			      sizeof(err));
	if (rc != 0) {
		assert(memchr(err, '\0', sizeof(err)) != NULL);
		assert(cfg == NULL);
		assert(err[0] != '\0');
		return 0;
	}
	assert(cfg != NULL);
	err2[0] = '\0';
	assert(config_check_reload(cfg, cfg, err2, sizeof(err2)) == 0);
	for (size_t i = 0; i < cfg->certs.n; i++)
		assert(config_same_cert(&cfg->certs.defs[i], &cfg->certs.defs[i]));
	config_free(cfg);
	return 0;
}
