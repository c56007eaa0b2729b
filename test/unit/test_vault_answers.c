/*
 * Unit tests for the parse steps of Vault's answers (auth_parse_*,
 * deps_parse_*, certs_parse_issued): what each reads, what it does with
 * a field that is missing or of the wrong type, and the TTLs that do not
 * fit an integer (a lease_duration of 1e300 was converted to uint64_t
 * unchecked, which is undefined; test/fuzz/corpus/vault_json/renew-self
 * keeps that input), and a ca_chain too long to index item by item.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "buf.h"
#include "certs.h"
#include "deps.h"

#define CENTURY_MS ((uint64_t)(100.0 * 365 * 86400) * 1000)

static cJSON *
parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	assert_non_null(j);
	return j;
}

static void
test_login_reads_token_ttl_and_renewable(void **state)
{
	cJSON *j = parse("{\"auth\": {\"client_token\": \"hvs.x\", "
			 "\"lease_duration\": 3600, \"renewable\": true}}");
	struct auth_grant g;

	(void)state;
	assert_int_equal(auth_parse_auth(j, &g), 0);
	assert_string_equal(g.token, "hvs.x");
	assert_int_equal(g.ttl_ms, 3600 * 1000);
	assert_int_equal(g.renewable, 1);
	cJSON_Delete(j);
}

static void
test_login_without_a_token_is_an_error(void **state)
{
	static const char *const bodies[] = {
		"{}", "[]", "{\"auth\": null}", "{\"auth\": {\"client_token\": \"\"}}",
		"{\"auth\": {\"client_token\": 7}}", "\"auth\"",
	};
	struct auth_grant g;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		cJSON *j = parse(bodies[i]);
		assert_int_equal(auth_parse_auth(j, &g), -ENOENT);
		assert_null(g.token);
		cJSON_Delete(j);
	}
}

static void
test_ttls_past_a_century_are_capped_not_converted(void **state)
{
	cJSON *j = parse("{\"auth\": {\"client_token\": \"t\", \"lease_duration\": "
			 "1e300}, \"data\": {\"ttl\": 1.8e19}, \"lease_id\": \"l\", "
			 "\"lease_duration\": 1e300}");
	struct auth_grant g;
	struct deps_lease l;

	(void)state;
	assert_int_equal(auth_parse_auth(j, &g), 0);
	assert_int_equal(g.ttl_ms, CENTURY_MS);
	auth_parse_lookup(j, &g);
	assert_int_equal(g.ttl_ms, CENTURY_MS);
	deps_parse_lease(j, &l);
	assert_int_equal(l.ms, CENTURY_MS);
	assert_int_equal(deps_parse_duration(j), CENTURY_MS);
	cJSON_Delete(j);
}

static void
test_negative_or_non_numeric_ttls_are_zero(void **state)
{
	cJSON *j = parse("{\"auth\": {\"client_token\": \"t\", \"lease_duration\": "
			 "-5}, \"data\": {\"ttl\": \"60\"}, \"lease_id\": \"l\", "
			 "\"lease_duration\": -1e300}");
	struct auth_grant g;
	struct deps_lease l;

	(void)state;
	assert_int_equal(auth_parse_auth(j, &g), 0);
	assert_int_equal(g.ttl_ms, 0);
	auth_parse_lookup(j, &g);
	assert_int_equal(g.ttl_ms, 0);
	deps_parse_lease(j, &l);
	assert_int_equal(l.ms, 0);
	assert_int_equal(l.renewable, 0);
	cJSON_Delete(j);
}

static void
test_lease_needs_an_id(void **state)
{
	cJSON *j = parse("{\"lease_id\": \"\", \"lease_duration\": 60, "
			 "\"renewable\": true}");
	struct deps_lease l;

	(void)state;
	deps_parse_lease(j, &l);
	assert_null(l.id);
	assert_int_equal(l.ms, 0);
	assert_int_equal(l.renewable, 0);
	cJSON_Delete(j);
}

static void
test_wrapping_answers_read_data_strings(void **state)
{
	cJSON *j = parse("{\"data\": {\"creation_path\": \"auth/approle/x\", "
			 "\"secret_id\": 5}}");

	(void)state;
	assert_string_equal(auth_parse_data_string(j, "creation_path"),
			    "auth/approle/x");
	assert_null(auth_parse_data_string(j, "secret_id"));
	assert_null(auth_parse_data_string(NULL, "secret_id"));
	cJSON_Delete(j);
}

static void
test_issued_splits_chain_and_anchor(void **state)
{
	cJSON *j = parse("{\"data\": {\"certificate\": \"C\", \"private_key\": "
			 "\"K\", \"ca_chain\": [\"I\", 3, \"R\", null]}}");
	struct buf cert = BUF_INIT(0), key = BUF_INIT(0), chain = BUF_INIT(0),
		   anchor = BUF_INIT(0);
	char err[128];

	(void)state;
	assert_int_equal(certs_parse_issued(j, 0, 0, NULL, 1, &cert, &key,
					    &chain, &anchor, err, sizeof(err)), 0);
	assert_string_equal(cert.s, "C\n");
	assert_string_equal(key.s, "K\n");
	assert_string_equal(chain.s, "I\n");
	assert_string_equal(anchor.s, "R\n");
	buf_free(&cert);
	buf_free(&key);
	buf_free(&chain);
	buf_free(&anchor);
	cJSON_Delete(j);
}

/*
 * A ca_chain of a million items (a 4 MB answer holds that many) is read in
 * one walk: indexing it item by item took hours.  Non-strings are skipped
 * wherever they are.
 */
static void
test_issued_reads_a_long_ca_chain_in_one_walk(void **state)
{
	cJSON *j = parse("{\"data\": {\"certificate\": \"C\", "
			 "\"private_key\": \"K\"}}");
	cJSON *list = cJSON_CreateArray();
	struct buf cert = BUF_INIT(0), key = BUF_INIT(0), chain = BUF_INIT(0),
		   anchor = BUF_INIT(0);
	char err[128];

	(void)state;
	assert_non_null(list);
	cJSON_AddItemToArray(list, cJSON_CreateString("I"));
	for (int i = 0; i < 1000000; i++)
		cJSON_AddItemToArray(list, cJSON_CreateNull());
	cJSON_AddItemToArray(list, cJSON_CreateString("R"));
	cJSON_AddItemToArray(list, cJSON_CreateNumber(3));
	cJSON_AddItemToObject(cJSON_GetObjectItem(j, "data"), "ca_chain", list);
	assert_int_equal(certs_parse_issued(j, 0, 0, NULL, 1, &cert, &key,
					    &chain, &anchor, err, sizeof(err)), 0);
	assert_string_equal(chain.s, "I\n");
	assert_string_equal(anchor.s, "R\n");
	buf_free(&cert);
	buf_free(&key);
	buf_free(&chain);
	buf_free(&anchor);
	cJSON_Delete(j);
}

static void
test_issued_without_key_or_ca_is_an_error(void **state)
{
	static const char *const bodies[] = {
		"{\"data\": {\"certificate\": \"C\", \"issuing_ca\": \"I\"}}",
		"{\"data\": {\"certificate\": \"C\", \"private_key\": \"K\"}}",
		"{\"data\": {\"private_key\": \"K\", \"issuing_ca\": \"I\"}}",
		"{\"data\": {\"certificate\": \"C\", \"private_key\": \"K\", "
		"\"issuing_ca\": \"\", \"ca_chain\": [1]}}",
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		cJSON *j = parse(bodies[i]);
		struct buf cert = BUF_INIT(0), key = BUF_INIT(0),
			   chain = BUF_INIT(0), anchor = BUF_INIT(0);
		err[0] = '\0';
		assert_int_equal(certs_parse_issued(j, 0, 0, NULL, 1, &cert, &key,
						    &chain, &anchor, err,
						    sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
		buf_free(&cert);
		buf_free(&key);
		buf_free(&chain);
		buf_free(&anchor);
		cJSON_Delete(j);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_reads_token_ttl_and_renewable),
		cmocka_unit_test(test_login_without_a_token_is_an_error),
		cmocka_unit_test(test_ttls_past_a_century_are_capped_not_converted),
		cmocka_unit_test(test_negative_or_non_numeric_ttls_are_zero),
		cmocka_unit_test(test_lease_needs_an_id),
		cmocka_unit_test(test_wrapping_answers_read_data_strings),
		cmocka_unit_test(test_issued_splits_chain_and_anchor),
		cmocka_unit_test(test_issued_reads_a_long_ca_chain_in_one_walk),
		cmocka_unit_test(test_issued_without_key_or_ca_is_an_error),
	};
	return cmocka_run_group_tests_name("vault_answers", tests, NULL, NULL);
}
