/*
 * textbuf: a growing, NUL-terminated text buffer for replies.
 */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int
reserve(struct textbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;
	char *s;

	if (b->failed)
		return -1;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	s = realloc(b->s, cap);
	if (s == NULL) {
		b->failed = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void
textbuf_printf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
textbuf_quoted(struct textbuf *b, const char *s)
{
	for (; *s; s++) {
		if (reserve(b, 2) != 0)
			return;
		if (*s == '\\' || *s == '"') {
			b->s[b->len++] = '\\';
			b->s[b->len++] = *s;
		} else if (*s == '\n') {
			b->s[b->len++] = '\\';
			b->s[b->len++] = 'n';
		} else {
			b->s[b->len++] = *s;
		}
		b->s[b->len] = '\0';
	}
}

char *
textbuf_take(struct textbuf *b, size_t *len)
{
	char *s = b->failed ? NULL : b->s;

	if (b->failed)
		free(b->s);
	else if (s == NULL)
		s = calloc(1, 1);
	*len = s ? b->len : 0;
	b->s = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
	return s;
}
