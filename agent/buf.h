/*
 * buf: the agent's one growable byte buffer, with a cap.
 *
 * DESIGN: every buffer fed from the network, a file or a template has a
 * size limit (curl's dynbuf "toobig" idea), so a huge or hostile input is
 * an error, not unbounded growth.  A failure is sticky: after it every
 * append is a no-op and buf_take() returns NULL, so a caller appends
 * everything first and checks once.  The text is always NUL-terminated
 * (it may also hold NUL bytes; LEN says how long it is).
 *
 * Secrets: buf_wipe() cleanses before it frees, and a buffer that may
 * hold key material must grow through buf_append, which cleanses the
 * old copy when realloc moves it.  secret_free() is the one wiping free
 * for a NUL-terminated secret held anywhere else.
 */
#ifndef CERTAGENT_BUF_H
#define CERTAGENT_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* The cap of a buffer that sets none. */
#define BUF_DEFAULT_MAX (64u * 1024 * 1024)

struct buf {
	char *s;		/* NULL until the first append */
	size_t len, cap;
	size_t max;		/* at most this many bytes; 0: BUF_DEFAULT_MAX */
	int err;		/* 0, -ENOMEM or -E2BIG (the cap); sticky */
	int secret;		/* cleanse what realloc leaves behind */
};

#define BUF_INIT(maxbytes) { NULL, 0, 0, (maxbytes), 0, 0 }

/* Append N bytes of P; returns b->err (0 while all is well). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
/* N copies of C. */
int buf_fill(struct buf *b, char c, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* S as the inside of a Prometheus label value: backslash, double quote
 * and newline escaped, as the text exposition format asks. */
int buf_quoted(struct buf *b, const char *s);

/*
 * The text (malloc'd, NUL-terminated; "" when nothing was appended) and
 * its length, or NULL when the buffer failed.  The buffer is empty and
 * reusable afterwards.
 */
char *buf_take(struct buf *b, size_t *len);

/* Free the text; buf_wipe() cleanses it first.  Both leave an empty buffer
 * that keeps its cap. */
void buf_free(struct buf *b);
void buf_wipe(struct buf *b);

/* Cleanse and free a NUL-terminated secret (NULL is fine). */
void secret_free(char *s);

/* Cleanse and free LEN bytes at P (NULL is fine). */
void secret_free_len(void *p, size_t len);

/*
 * Free JSON that may hold secrets (Vault's answers: keys, passwords),
 * every string wiped first (NULL is fine).
 */
struct cJSON;
void secret_json_free(struct cJSON *j);

#endif
