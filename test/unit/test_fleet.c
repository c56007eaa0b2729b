/*
 * test_fleet: profiles and entry files (config/fleet.c).
 *
 * The main file and the entry files are given as text
 * (config_load_text(), config_load_entry() with TEXT), so each test
 * shows the YAML next to the line and column it asserts.  The expansion
 * of a profile into a certificate entry is checked in every string,
 * files included, and its failures where the operator reads them.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char MAIN[] =
	"vault: {address: https://vault.test:8200}\n"
	"auth: {method: token, token_file: /run/token}\n"
	"profiles:\n"
	"  aws_kms:\n"
	"    path: pki/issue/{profile}\n"
	"    common_name: \"tenant-{tenant}-aws.keystore.internal\"\n"
	"    alt_names: [\"{name}.keystore.internal\", \"{endpoint}\"]\n"
	"    ttl: 4380h\n"
	"    renew_before: 720h\n"
	"    files:\n"
	"      cert: {path: \"/certs/{tenant}-aws.crt\", owner: \"{tenant}\"}\n"
	"      key: {path: \"/private/{tenant}-aws.key\", mode: \"0640\"}\n";

static struct config *
load_main(const char *text, char *err, size_t errlen)
{
	struct config *cfg = NULL;

	if (config_load_text("main.yaml", text, strlen(text), &cfg, err,
			     errlen) != 0)
		return NULL;
	return cfg;
}

static void
test_profile_expands_in_every_string_of_the_entry(void **state)
{
	char err[2048];
	struct config *cfg = load_main(MAIN, err, sizeof(err));
	struct fleet_entry_def e;
	struct cert_def d;
	const char *ent = "tenant: acme\nprofile: aws_kms\nendpoint: kms.eu\n";

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(config_load_entry(cfg, "acme.yaml", ent, strlen(ent),
					   &e, err, sizeof(err)), 0);
	assert_int_equal(config_expand_cert(config_profile(cfg, "aws_kms"),
					    "aws_kms", &e, "acme-aws", &d, err,
					    sizeof(err)), 0);
	assert_string_equal(d.name, "acme-aws");
	assert_string_equal(d.path, "pki/issue/aws_kms");
	assert_string_equal(d.common_name, "tenant-acme-aws.keystore.internal");
	assert_int_equal(d.n_alt_names, 2);
	assert_string_equal(d.alt_names[0], "acme-aws.keystore.internal");
	assert_string_equal(d.alt_names[1], "kms.eu");
	assert_int_equal(d.out.n, 2);
	assert_string_equal(d.out.files[0].path, "/certs/acme-aws.crt");
	assert_string_equal(d.out.files[0].owner, "acme");
	assert_int_equal(d.out.files[0].mode, 0644);
	assert_string_equal(d.out.files[1].path, "/private/acme-aws.key");
	assert_int_equal(d.out.files[1].mode, 0640);
	assert_true(d.policy.renew_before_ms == 720ULL * 3600 * 1000);
	/* The profile itself is untouched. */
	assert_string_equal(config_profile(cfg, "aws_kms")->out.files[0].path,
			    "/certs/{tenant}-aws.crt");
	config_free_cert(&d);
	config_free_entry(&e);
	config_free(cfg);
}

static void
test_entry_overrides_replace_the_profile_values(void **state)
{
	char err[2048];
	struct config *cfg = load_main(MAIN, err, sizeof(err));
	struct fleet_entry_def e;
	struct cert_def d, same;
	const char *ent = "tenant: acme\nprofile: aws_kms\nendpoint: x\n"
			  "common_name: \"{tenant}.other\"\nttl: 24h\n"
			  "renew_before: 2h\n";

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(config_load_entry(cfg, "acme.yaml", ent, strlen(ent),
					   &e, err, sizeof(err)), 0);
	assert_int_equal(config_expand_cert(config_profile(cfg, "aws_kms"),
					    "aws_kms", &e, "acme", &d, err,
					    sizeof(err)), 0);
	assert_string_equal(d.common_name, "acme.other");
	assert_true(d.ttl_ms == 24ULL * 3600 * 1000);
	assert_true(d.policy.renew_before_ms == 2ULL * 3600 * 1000);
	/* Expanding twice gives the same entry: a reload keeps it. */
	assert_int_equal(config_expand_cert(config_profile(cfg, "aws_kms"),
					    "aws_kms", &e, "acme", &same, err,
					    sizeof(err)), 0);
	assert_true(config_same_cert(&d, &same));
	config_free_cert(&same);
	config_free_cert(&d);
	config_free_entry(&e);
	config_free(cfg);
}

static void
test_unknown_placeholder_is_an_error_of_the_main_file(void **state)
{
	char err[2048];
	const char *text =
		"vault: {address: https://vault.test:8200}\n"
		"auth: {method: token, token_file: /run/token}\n"
		"profiles:\n"
		"  p:\n"
		"    path: pki/issue/r\n"
		"    common_name: \"{tennant}.example\"\n"
		"    files: {cert: {path: /c}, key: {path: /k}}\n";

	(void)state;
	assert_null(load_main(text, err, sizeof(err)));
	assert_non_null(strstr(err, "main.yaml:4:3: profiles.p: unknown "
				    "placeholder {tennant}"));
}

static void
test_a_profile_takes_no_name(void **state)
{
	char err[2048];
	const char *text =
		"vault: {address: https://vault.test:8200}\n"
		"auth: {method: token, token_file: /run/token}\n"
		"profiles:\n"
		"  p:\n"
		"    name: x\n"
		"    path: pki/issue/r\n"
		"    common_name: a.example\n"
		"    files: {cert: {path: /c}, key: {path: /k}}\n";

	(void)state;
	assert_null(load_main(text, err, sizeof(err)));
	assert_non_null(strstr(err, "main.yaml:5:5: profiles.p.name: not "
				    "taken here"));
}

static void
test_entry_errors_name_the_file_line_and_column(void **state)
{
	char err[2048];
	struct config *cfg = load_main(MAIN, err, sizeof(err));
	struct fleet_entry_def e;
	const char *unknown = "tenant: acme\nprofile: gcp\n";
	const char *typo = "tenant: acme\nprofil: aws_kms\n";
	const char *noend = "tenant: acme\nprofile: aws_kms\n";
	const char *badname = "tenant: \"a b\"\nprofile: aws_kms\nendpoint: x\n";

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(config_load_entry(cfg, "t.d/a.yaml", unknown,
					   strlen(unknown), &e, err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.d/a.yaml:2:10: profile: 'gcp' is not a "
				    "profile of main.yaml (known: aws_kms)"));
	assert_int_equal(config_load_entry(cfg, "t.d/a.yaml", typo,
					   strlen(typo), &e, err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.d/a.yaml:2:1: profil: unknown key; did "
				    "you mean 'profile'?"));
	assert_int_equal(config_load_entry(cfg, "t.d/a.yaml", noend,
					   strlen(noend), &e, err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "uses {endpoint}; the entry sets none"));
	assert_int_equal(config_load_entry(cfg, "t.d/a.yaml", badname,
					   strlen(badname), &e, err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.d/a.yaml:1:9: tenant:"));
	{
		/* Both go into paths: neither may climb out of them. */
		const char *dots = "tenant: ..\nprofile: aws_kms\nendpoint: x\n";
		const char *slash = "tenant: a\nprofile: aws_kms\n"
				    "endpoint: ../../etc\n";

		assert_int_equal(config_load_entry(cfg, "a.yaml", dots,
						   strlen(dots), &e, err,
						   sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "a.yaml:1:9: tenant: '..' may not "
					    "start with '.'"));
		assert_int_equal(config_load_entry(cfg, "a.yaml", slash,
						   strlen(slash), &e, err,
						   sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "a.yaml:3:11: endpoint:"));
	}
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_expands_in_every_string_of_the_entry),
		cmocka_unit_test(test_entry_overrides_replace_the_profile_values),
		cmocka_unit_test(test_unknown_placeholder_is_an_error_of_the_main_file),
		cmocka_unit_test(test_a_profile_takes_no_name),
		cmocka_unit_test(test_entry_errors_name_the_file_line_and_column),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
