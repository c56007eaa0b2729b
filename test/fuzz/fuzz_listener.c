/*
 * fuzz_listener: the listener's HTTP/1.1 request parser (agent/
 * listener.c), which reads whatever a client on /healthz, /readyz,
 * /metrics or the control socket sends.
 *
 * DESIGN: the bytes arrive as on_read() gets them: in pieces (the first
 * byte sets the piece size, so a blank line split across reads is
 * tried), into a head buffer of LISTENER_HEAD_MAX bytes; the head ends at
 * the first blank line (listener_head_end) or is refused (431).  The head
 * then goes to listener_parse_head, whose METHOD and PATH, on success,
 * must be C strings inside the buffer, the path starting with '/', and
 * whose error is an HTTP status.
 */
#include <assert.h>
#include <stdio.h>

#include "fuzz.h"
#include "listener.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *method = NULL, *path = NULL;
	size_t len = 0, end = 0, piece;
	int status;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] + 1;
	data++;
	size--;
	/* Exactly the head buffer's size, so ASan sees a read past it. */
	buf = malloc(LISTENER_HEAD_MAX + 1);
	if (buf == NULL)
		return 0;
	while (end == 0 && len < LISTENER_HEAD_MAX && len < size) {
		size_t n = size - len < piece ? size - len : piece;
		size_t old = len;

		if (n > LISTENER_HEAD_MAX - len)
			n = LISTENER_HEAD_MAX - len;
		memcpy(buf + len, data + len, n);
		len += n;
		buf[len] = '\0';
		end = listener_head_end(buf, old, len);
	}
	if (end == 0) {
		free(buf);	/* 431, or the client is still sending */
		return 0;
	}
	assert(end <= len);
	status = listener_parse_head(buf, end, &method, &path);
	if (status == 0) {
		assert(method >= buf && method < buf + end);
		assert(path >= buf && path < buf + end);
		assert(path[0] == '/');
		assert(memchr(method, '\0', (size_t)(buf + len + 1 - method)));
	} else {
		assert(status >= 400 && status <= 599);
	}
	free(buf);
	return 0;
}
