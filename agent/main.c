/*
 * main: the command line.
 *
 *   certagent run   -c FILE     run the agent until SIGTERM/SIGINT
 *   certagent check -c FILE     validate FILE without contacting Vault
 *   certagent version
 *
 * DESIGN: main parses arguments, sets up process-wide libraries (curl's
 * global state) and hands over to agent_run(); it holds no state itself.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"

#define DEFAULT_CONFIG "/etc/certagent/agent.yaml"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: certagent run   [-c FILE]   run the agent\n"
		"       certagent check [-c FILE]   validate a configuration file\n"
		"       certagent version\n"
		"FILE defaults to " DEFAULT_CONFIG "\n");
}

static int
check(const char *path)
{
	struct config *cfg = NULL;
	size_t errlen = 65536;
	char *err = malloc(errlen);

	if (err == NULL)
		return 1;
	err[0] = '\0';
	if (config_load(path, &cfg, err, errlen) != 0) {
		fprintf(stderr, "%s", err);
		if (err[0] && err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		free(err);
		return 1;
	}
	printf("%s: ok\n", path);
	config_free(cfg);
	free(err);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd, *path = DEFAULT_CONFIG;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("certagent %s (%s)\n", CERTAGENT_VERSION, curl_version());
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			path = argv[++i];
		} else {
			fprintf(stderr, "certagent: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(cmd, "check") == 0)
		return check(path);
	if (strcmp(cmd, "run") != 0) {
		fprintf(stderr, "certagent: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "certagent: curl_global_init failed\n");
		return 1;
	}
	rc = agent_run(path);
	curl_global_cleanup();
	return rc;
}
