/*
 * textbuf: a growing, NUL-terminated text buffer for replies.
 *
 * DESIGN: an allocation failure is sticky: every later append is a no-op
 * and textbuf_take() returns NULL, so a caller formats everything first
 * and checks once.
 */
#ifndef CERTAGENT_TEXTBUF_H
#define CERTAGENT_TEXTBUF_H

#include <stddef.h>

struct textbuf {
	char *s;
	size_t len, cap;
	int failed;
};

void textbuf_printf(struct textbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append S as the inside of a Prometheus label value or a JSON string:
 * backslash, double quote and newline escaped. */
void textbuf_quoted(struct textbuf *b, const char *s);

/* The text (malloc'd, the caller frees it) and its length; NULL if an
 * allocation failed.  The buffer is empty afterwards. */
char *textbuf_take(struct textbuf *b, size_t *len);

#endif
