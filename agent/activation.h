/*
 * activation: test a new certificate before it replaces the old one.
 *
 * DESIGN: a certificates: entry with activation_check: makes one TLS
 * handshake to a real endpoint (the service that will be presented the
 * certificate, e.g. the KMS's mTLS port) with the NEW key and
 * certificate as client credentials, after the material has been
 * verified and before any file is replaced.  A refused handshake keeps
 * the old files: the engine retries the renewal with its backoff.  The
 * handshake is blocking network I/O, so it runs on libuv's thread pool
 * with a deadline, never on the loop.  The worker holds its own copy of
 * the key, wiped when the job is freed; nothing of the key is logged.
 */
#ifndef CERTAGENT_ACTIVATION_H
#define CERTAGENT_ACTIVATION_H

#include <stdint.h>
#include <uv.h>

struct activation;

/* activation_check: of a certificates: entry. */
struct activation_opts {
	char *connect;		/* host:port ([v6]:port); NULL: no check */
	char *server_name;	/* SNI and the name to verify; default: host */
	char *ca_file;		/* verifies the endpoint; default: system CAs */
	uint64_t timeout_ms;	/* the whole test: connect, handshake, answer */
};

/*
 * STATUS is 0 when the endpoint accepted the handshake, -ECANCELED after
 * activation_cancel(), or another negative errno with ERR saying why.
 */
typedef void (*activation_cb)(void *arg, int status, const char *err);

/*
 * Start the test of CERT (PEM) with KEY (PEM) and CHAIN (PEM
 * intermediates, may be NULL) against O->connect; everything is copied.
 * If this returns an error, CB never fires; otherwise it fires exactly
 * once, from the loop.  *OUT is valid until CB fires.
 */
int activation_start(uv_loop_t *loop, const struct activation_opts *o,
		     const char *cert, const char *key, const char *chain,
		     activation_cb cb, void *arg, struct activation **out);

/* CB fires with -ECANCELED (once the handshake in progress, if any, has
 * ended: a thread cannot be interrupted, only bounded by the timeout). */
void activation_cancel(struct activation *a);

/* The handshake itself, blocking, for the worker and for tests.  0 or a
 * negative errno with ERR. */
int activation_handshake(const struct activation_opts *o, const char *cert,
			 const char *key, const char *chain, char *err,
			 size_t errlen);

#endif
