/*
 * fuzz_window: the rotation window and duration parsers, which read
 * strings from the configuration (rotate_window, every duration key) and
 * ${ENV} interpolation.
 *
 * DESIGN: the first byte picks the parser, the rest is its string.  A
 * window that parses must format back to text that parses to the same
 * window, and its next opening must be at or after the time asked about
 * (the input's next bytes give that time).
 */
#include <assert.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "fuzz.h"
#include "window.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	setenv("FUZZ_SET", "value", 1);
	/* Local windows meet both DST changes. */
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	return 0;
}

static void
one_window(const char *s, int64_t now)
{
	struct window w, back;
	char err[256], text[128];
	int64_t open;

	memset(err, 'x', sizeof(err));
	if (window_parse(s, &w, err, sizeof(err)) != 0) {
		assert(memchr(err, '\0', sizeof(err)) != NULL);
		return;
	}
	window_format(&w, text, sizeof(text));
	assert(window_parse(text, &back, err, sizeof(err)) == 0);
	assert(back.days == w.days && back.start_min == w.start_min &&
	       back.end_min == w.end_min && back.utc == w.utc);
	open = window_next_open(&w, now);
	assert(open >= now);
	(void)window_renew_time(&w, now, now + 30LL * 86400 * 1000);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, err[256];
	uint64_t ms;
	unsigned mode;
	int64_t now = 1700000000000LL;	/* 2023-11-14, then moved by input */

	if (size < 1)
		return 0;
	if (size >= 5) {
		uint32_t d;
		memcpy(&d, data + 1, 4);
		now += (int64_t)d * 1000;
	}
	s = fuzz_cstr(data + 1, size - 1);
	if (s == NULL)
		return 0;
	switch (data[0] % 4) {
	case 0:
		one_window(s, now);
		break;
	case 1:
		(void)config_parse_duration(s, &ms);
		break;
	case 2:
		(void)config_parse_mode(s, &mode);
		break;
	default: {
		char *out = config_expand_env(s, err, sizeof(err));
		free(out);
		break;
	}
	}
	free(s);
	return 0;
}
