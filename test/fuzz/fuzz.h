/*
 * fuzz.h: what every libFuzzer harness in test/fuzz/ shares.
 *
 * DESIGN: a harness is one LLVMFuzzerTestOneInput() that hands the bytes
 * to the agent's own parse step, as the agent would get them from a file,
 * Vault or a socket, and checks what must hold of any answer (an error
 * message is a NUL-terminated string within its buffer; a successful
 * parse can be used).  The agent's objects are built with clang and the
 * sanitizers in build/fuzz/ (make fuzz), so ASan, UBSan and LeakSanitizer
 * report in the agent's code, not only here.  No harness keeps state
 * from one input to the next but what the agent itself caches.
 */
#ifndef CERTAGENT_FUZZ_H
#define CERTAGENT_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* DATA as a malloc'd C string (cut at its first NUL byte, as a C
 * string would be); NULL when out of memory. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* Quiet logs: a harness runs millions of inputs. */
static inline void
fuzz_quiet(void)
{
	log_setup((enum log_level)(LOGL_ERROR + 1), 0);
}

#endif
