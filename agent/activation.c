/*
 * activation: test a new certificate before it replaces the old one.
 * See activation.h.
 *
 * DESIGN / invariants:
 *  - One job per test, on the thread pool: the worker only reads the
 *    job's own copies (options, PEM), writes its status and error text,
 *    and touches nothing of the loop.  The job is freed in the after-work
 *    callback, after the user's callback fired once.
 *  - Every network wait is a poll() bounded by one deadline computed at
 *    the start, so a silent endpoint costs at most timeout_ms of one
 *    pool thread.
 *  - TLS 1.3 finishes the client's handshake before the server has
 *    judged the client certificate; its verdict arrives afterwards, as
 *    an alert (refused) or as session tickets (accepted).  So after the
 *    handshake the worker reads until one of those, data, a close, or a
 *    short settle time; an alert is a refusal.
 *  - The key copy is wiped before it is freed.
 */
#include "activation.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"

#define SETTLE_MS 2000		/* after the handshake: wait for the verdict */
#define HOST_MAX 256

struct activation {
	uv_work_t work;
	struct activation_opts o;	/* copies */
	char *cert, *key, *chain;
	activation_cb cb;
	void *arg;
	int canceled;
	int status;
	char err[512];
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for EVENTS on FD until DEADLINE: 1 ready, 0 timed out, <0 error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* "host:port" or "[v6]:port" into HOST and PORT. */
static int
split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;
	size_t n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return -EINVAL;
		n = (size_t)(end - s - 1);
		s++;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hlen || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= plen)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

static int
connect_to(const char *host, const char *port, int64_t deadline, char *err,
	   size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	int fd = -1, rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	rc = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			int w = wait_fd(fd, POLLOUT, deadline);
			if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
			    soerr == 0)
				break;
			rc = w == 0 ? -ETIMEDOUT : -(soerr ? soerr : ECONNREFUSED);
		} else {
			rc = -errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port,
			 strerror(-rc));
		return rc;
	}
	return fd;
}

/* The PEM certificates of TEXT, the first as the leaf, the rest as chain. */
static int
use_credentials(SSL_CTX *ctx, const char *cert, const char *key,
		const char *chain, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(cert, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pk = NULL;
	int rc = -EINVAL;

	BIO_free(b);
	b = NULL;
	if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		snprintf(err, errlen, "the new certificate cannot be used");
		goto out;
	}
	b = BIO_new_mem_buf(key, -1);
	pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	if (pk == NULL || SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "the new key cannot be used");
		goto out;
	}
	if (chain && chain[0]) {
		BIO *cb = BIO_new_mem_buf(chain, -1);
		X509 *c;
		while (cb && (c = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL) {
			if (SSL_CTX_add0_chain_cert(ctx, c) != 1)
				X509_free(c);
		}
		BIO_free(cb);
	}
	rc = 0;
out:
	BIO_free(b);
	EVP_PKEY_free(pk);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

static void
ssl_reason(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", what, buf);
	} else {
		snprintf(err, errlen, "%s", what);
	}
	ERR_clear_error();
}

/* A TLS 1.3 session ticket means the server took the client certificate. */
static int
on_ticket(SSL *ssl, SSL_SESSION *sess)
{
	int *got = SSL_get_app_data(ssl);

	if (got)
		*got = 1;
	return 0;	/* not kept */
}

int
activation_handshake(const struct activation_opts *o, const char *cert,
		     const char *key, const char *chain, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + (int64_t)(o->timeout_ms ? o->timeout_ms : 10000);
	char host[HOST_MAX], port[16];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int fd = -1, rc = -EPROTO, got_ticket = 0;
	const char *name;

	ERR_clear_error();
	if (o->connect == NULL ||
	    split_hostport(o->connect, host, sizeof(host), port, sizeof(port)) != 0) {
		snprintf(err, errlen, "activation_check.connect is not host:port");
		return -EINVAL;
	}
	name = o->server_name && o->server_name[0] ? o->server_name : host;
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((o->ca_file ? SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL)
			: SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		ssl_reason(err, errlen, "cannot load activation_check.ca_file");
		rc = -EINVAL;
		goto out;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
					       SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_ticket);
	rc = use_credentials(ctx, cert, key, chain, err, errlen);
	if (rc != 0)
		goto out;
	fd = connect_to(host, port, deadline, err, errlen);
	if (fd < 0) {
		rc = fd;
		fd = -1;
		goto out;
	}
	ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1) {
		ssl_reason(err, errlen, "cannot set up TLS");
		rc = -EINVAL;
		goto out;
	}
	SSL_set_app_data(ssl, &got_ticket);
	for (;;) {
		int r = SSL_connect(ssl), e, w;
		if (r == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			w = wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
				    deadline);
			if (w > 0)
				continue;
			snprintf(err, errlen, "TLS handshake with %s timed out",
				 o->connect);
			rc = -ETIMEDOUT;
			goto out;
		}
		if (SSL_get_verify_result(ssl) != X509_V_OK) {
			snprintf(err, errlen, "the endpoint %s fails verification: %s",
				 o->connect, X509_verify_cert_error_string(
						     SSL_get_verify_result(ssl)));
			ERR_clear_error();
		} else {
			char why[300];
			ssl_reason(why, sizeof(why), "handshake failed");
			snprintf(err, errlen, "%s refused the new certificate: %s",
				 o->connect, why);
		}
		rc = -EACCES;
		goto out;
	}
	/* The verdict on the client certificate (TLS 1.3 sends it late). */
	int64_t settle = mono_ms() + SETTLE_MS;
	if (settle > deadline)
		settle = deadline;
	rc = 0;
	while (SSL_version(ssl) >= TLS1_3_VERSION && !got_ticket) {
		char byte;
		int r = SSL_read(ssl, &byte, 1), e;
		if (r > 0)
			break;	/* the server speaks: it accepted us */
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			break;	/* a clean close_notify */
		if (e == SSL_ERROR_WANT_READ) {
			if (wait_fd(fd, POLLIN, settle) > 0)
				continue;
			break;	/* silent: no refusal seen */
		}
		{
			char why[300];
			ssl_reason(why, sizeof(why), "alert after the handshake");
			snprintf(err, errlen, "%s refused the new certificate: %s",
				 o->connect, why);
		}
		rc = -EACCES;
		break;
	}
	if (rc == 0)
		SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	return rc;
}

static void
job_free(struct activation *a)
{
	free(a->o.connect);
	free(a->o.server_name);
	free(a->o.ca_file);
	free(a->cert);
	free(a->chain);
	secret_free(a->key);
	free(a);
}

static void
work(uv_work_t *w)
{
	struct activation *a = w->data;

	a->status = activation_handshake(&a->o, a->cert, a->key, a->chain, a->err,
					 sizeof(a->err));
}

static void
after_work(uv_work_t *w, int status)
{
	struct activation *a = w->data;

	if (status != 0 || a->canceled)
		a->cb(a->arg, -ECANCELED, "canceled");
	else
		a->cb(a->arg, a->status, a->err);
	job_free(a);
}

static char *
dup_or_null(const char *s, int *bad)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*bad = 1;
	return d;
}

int
activation_start(uv_loop_t *loop, const struct activation_opts *o,
		 const char *cert, const char *key, const char *chain,
		 activation_cb cb, void *arg, struct activation **out)
{
	struct activation *a = calloc(1, sizeof(*a));
	int bad = 0;

	if (a == NULL)
		return -ENOMEM;
	a->o.connect = dup_or_null(o->connect, &bad);
	a->o.server_name = dup_or_null(o->server_name, &bad);
	a->o.ca_file = dup_or_null(o->ca_file, &bad);
	a->o.timeout_ms = o->timeout_ms;
	a->cert = dup_or_null(cert, &bad);
	a->key = dup_or_null(key, &bad);
	a->chain = dup_or_null(chain, &bad);
	a->cb = cb;
	a->arg = arg;
	a->work.data = a;
	if (bad || a->cert == NULL || a->key == NULL) {
		job_free(a);
		return -ENOMEM;
	}
	if (uv_queue_work(loop, &a->work, work, after_work) != 0) {
		job_free(a);
		return -EAGAIN;
	}
	*out = a;
	return 0;
}

void
activation_cancel(struct activation *a)
{
	a->canceled = 1;
	uv_cancel((uv_req_t *)&a->work);	/* if not started yet */
}
