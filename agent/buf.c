/*
 * buf: the agent's one growable byte buffer, with a cap.
 *
 * DESIGN / invariants: s is NULL or holds len bytes and a NUL; cap counts
 * the NUL.  Growth doubles (from 64 bytes) up to the cap, so appending n
 * bytes costs O(n) amortised.  A secret buffer never uses realloc: the
 * old block is cleansed before it is freed.
 */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

static size_t
limit(const struct buf *b)
{
	return b->max ? b->max : BUF_DEFAULT_MAX;
}

/* Room for N more bytes and the NUL; 0 or the (sticky) error. */
static int
reserve(struct buf *b, size_t n)
{
	size_t need, cap, most;
	char *s;

	if (b->err)
		return b->err;
	/* The text and its NUL must fit in a size_t, whatever the cap. */
	most = limit(b) < SIZE_MAX ? limit(b) + 1 : SIZE_MAX;
	if (n > limit(b) - b->len || n >= most - b->len) {
		b->err = -E2BIG;
		return b->err;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > most)
		cap = most;
	if (b->secret) {
		s = malloc(cap);
		if (s != NULL && b->s != NULL) {
			memcpy(s, b->s, b->len + 1);
			OPENSSL_cleanse(b->s, b->cap);
			free(b->s);
		}
	} else {
		s = realloc(b->s, cap);
	}
	if (s == NULL) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (reserve(b, n) != 0)
		return b->err;
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_fill(struct buf *b, char c, size_t n)
{
	if (reserve(b, n) != 0)
		return b->err;
	memset(b->s + b->len, c, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0) {
		va_end(again);
		return b->err;
	}
	if (reserve(b, (size_t)n) == 0) {
		vsnprintf(b->s + b->len, b->cap - b->len, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
	return b->err;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	return b->err;
}

int
buf_quoted(struct buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		if (*s != '\\' && *s != '"' && *s != '\n')
			continue;
		buf_append(b, run, (size_t)(s - run));
		buf_append(b, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", 2);
		run = s + 1;
	}
	return buf_append(b, run, (size_t)(s - run));
}

char *
buf_take(struct buf *b, size_t *len)
{
	char *s = b->s;

	if (b->err) {
		buf_wipe(b);
		b->err = 0;
		*len = 0;
		return NULL;
	}
	if (s == NULL)
		s = calloc(1, 1);
	*len = s ? b->len : 0;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void
buf_free(struct buf *b)
{
	if (b->secret) {
		buf_wipe(b);
		return;
	}
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void
buf_wipe(struct buf *b)
{
	if (b->s)
		OPENSSL_cleanse(b->s, b->cap);
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void
secret_free(char *s)
{
	if (s)
		secret_free_len(s, strlen(s));
}

void
secret_free_len(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void
secret_json_free(cJSON *j)
{
	cJSON *stack[64], *it;
	int top = 0;

	if (j == NULL)
		return;
	/* Vault's JSON is shallow; a deeper subtree is still freed, and
	 * only its strings below depth 64 go unwiped. */
	stack[top++] = j;
	while (top > 0) {
		it = stack[--top];
		for (; it; it = it->next) {
			if (it->valuestring)
				OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
			if (it->child && top < (int)(sizeof(stack) / sizeof(stack[0])))
				stack[top++] = it->child;
		}
	}
	cJSON_Delete(j);
}
