/*
 * fuzz_hcl: the HCL reader and the Vault Agent conversion behind
 * `certagent import vault-agent`, which read a file someone else wrote.
 *
 * DESIGN: the bytes are the file.  A parse error is a NUL-terminated
 * message within its buffer that starts with the file's name; a parse
 * that succeeds is converted (both ways: with and without --suggest),
 * and the YAML and the report are NUL-terminated text of the length
 * said.  No state is kept between inputs.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include "buf.h"
#include "fuzz.h"
#include "import/hcl.h"
#include "import/vault_agent.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* Walk the tree: every string is NUL-terminated, every key set. */
static size_t
walk(const struct hcl_node *n, int in_object)
{
	size_t count = 1;

	if (in_object)
		assert(n->key != NULL);
	if (n->type == HCL_STRING || n->type == HCL_NUMBER)
		assert(n->str != NULL && strlen(n->str) < HCL_MAX_INPUT * 2);
	assert(n->n_labels <= HCL_MAX_LABELS);
	for (size_t i = 0; i < n->n; i++)
		count += walk(&n->items[i], n->type == HCL_OBJECT);
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hcl_node *root = NULL;
	char err[256];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = hcl_parse("f.hcl", (const char *)data, size, &root, err, sizeof(err));
	if (rc != 0) {
		assert(root == NULL);
		assert(memchr(err, '\0', sizeof(err)) != NULL);
		assert(strncmp(err, "f.hcl:", 6) == 0);
		return 0;
	}
	assert(walk(root, 0) <= HCL_MAX_NODES + 1);
	hcl_free(root);
	for (unsigned flags = 0; flags <= VA_SUGGEST; flags++) {
		struct buf out = BUF_INIT(0), report = BUF_INIT(0);
		size_t n_rep;
		rc = va_import("f.hcl", (const char *)data, size, flags, &out,
			       &report, &n_rep, err, sizeof(err));
		assert(rc == 0 || rc == -ENOMEM || rc == -E2BIG);
		if (rc == 0)
			assert(out.len > 0 && out.s[out.len] == '\0');
		assert(n_rep == 0 || report.len > 0);
		buf_free(&out);
		buf_free(&report);
	}
	return 0;
}
