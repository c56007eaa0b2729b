/*
 * http: libcurl's multi socket interface driven by the libuv loop.
 *
 * This follows curl's docs/examples/multi-uv.c with its known gaps fixed:
 *  - a poll error is passed to curl as CURL_CSELECT_ERR rather than
 *    dropped, so curl fails the connection instead of waiting forever;
 *  - curl_multi_info_read() is drained after every socket_action, from
 *    the poll and the timer callbacks alike;
 *  - every allocation and every uv call that can fail is checked, and a
 *    failure is reported to curl (-1 from the socket callback), which
 *    fails the transfer instead of leaving it hanging;
 *  - the timer callback never calls into curl directly from inside
 *    curl's own timer function: a zero timeout is a 0 ms uv timer;
 *  - on close, curl is cleaned up first (it may still report sockets to
 *    remove), and only then are the uv handles closed.
 *
 * DESIGN / invariants: one struct http_sock per socket curl watches, bound
 * to the socket with curl_multi_assign() and kept on a list so teardown
 * can close what curl did not.  A sock's memory is freed only in its
 * uv_close callback.  One struct http_xfer per transfer, reached through
 * CURLOPT_PRIVATE and kept on a list, holds the completion callback; it
 * is freed when the transfer completes, is removed, or at close.
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http *h;
	struct http_sock *next, **pprev;
};

struct http_xfer {
	http_done_cb cb;
	void *arg;
	CURL *easy;
	struct http_xfer *next, **pprev;
};

struct http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct http_sock *socks;
	struct http_xfer *xfers;	/* transfers under way, for http_close() */
	size_t active;
	int closing;
	int pending_closes;	/* timer + socks still closing */
};

static void drain(struct http *h);

static void
xfer_unlink(struct http_xfer *x)
{
	*x->pprev = x->next;
	if (x->next)
		x->next->pprev = x->pprev;
}

static void
maybe_free(struct http *h)
{
	if (h->closing && h->pending_closes == 0)
		free(h);
}

static void
sock_closed(uv_handle_t *handle)
{
	struct http_sock *s = handle->data;
	struct http *h = s->h;

	free(s);
	h->pending_closes--;
	maybe_free(h);
}

static void
sock_close(struct http_sock *s)
{
	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	s->h->pending_closes++;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void
on_poll(uv_poll_t *poll, int status, int events)
{
	struct http_sock *s = poll->data;
	struct http *h = s->h;
	int flags = 0, running;

	if (status < 0) {
		flags = CURL_CSELECT_ERR;
	} else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	/* S may be closed by curl's socket callback during this call. */
	curl_multi_socket_action(h->multi, s->fd, flags, &running);
	drain(h);
}

static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(h->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
		if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		s->fd = fd;
		s->h = h;
		s->next = h->socks;
		if (s->next)
			s->next->pprev = &s->next;
		s->pprev = &h->socks;
		h->socks = s;
		if (curl_multi_assign(h->multi, fd, s) != CURLM_OK) {
			sock_close(s);
			return -1;
		}
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	if (uv_poll_start(&s->poll, events, on_poll) != 0)
		return -1;
	return 0;
}

static void
on_timer(uv_timer_t *timer)
{
	struct http *h = timer->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(h);
}

static int
on_timeout(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	(void)multi;
	if (timeout_ms < 0)
		return uv_timer_stop(&h->timer) == 0 ? 0 : -1;
	/* 0 means "now": a 0 ms timer runs on the next loop turn, outside
	 * this callback, as curl requires. */
	return uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0) == 0
		       ? 0
		       : -1;
}

/* Hand every finished transfer to its owner. */
static void
drain(struct http *h)
{
	CURLMsg *msg;
	int pending;

	while ((msg = curl_multi_info_read(h->multi, &pending)) != NULL) {
		struct http_xfer *x = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(h->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		h->active--;
		if (x) {
			http_done_cb cb = x->cb;
			void *arg = x->arg;
			xfer_unlink(x);
			free(x);
			cb(easy, result, arg);
		}
	}
}

int
http_new(uv_loop_t *loop, struct http **out, char *err, size_t errlen)
{
	const curl_version_info_data *ver = curl_version_info(CURLVERSION_NOW);
	struct http *h;

	if (!(ver->features & CURL_VERSION_ASYNCHDNS)) {
		snprintf(err, errlen,
			 "libcurl %s resolves names synchronously and would "
			 "block the event loop; a libcurl built with the threaded "
			 "resolver or c-ares is required",
			 ver->version);
		return -1;
	}
	if (!(ver->features & CURL_VERSION_SSL)) {
		snprintf(err, errlen, "libcurl %s has no TLS support", ver->version);
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->loop = loop;
	h->multi = curl_multi_init();
	if (h->multi == NULL) {
		snprintf(err, errlen, "curl_multi_init failed");
		free(h);
		return -1;
	}
	if (uv_timer_init(loop, &h->timer) != 0) {
		curl_multi_cleanup(h->multi);
		free(h);
		snprintf(err, errlen, "uv_timer_init failed");
		return -1;
	}
	h->timer.data = h;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*out = h;
	return 0;
}

int
http_add(struct http *h, CURL *easy, http_done_cb cb, void *arg)
{
	struct http_xfer *x;

	if (h->closing)
		return -1;
	x = malloc(sizeof(*x));
	if (x == NULL)
		return -1;
	x->cb = cb;
	x->arg = arg;
	x->easy = easy;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(h->multi, easy) != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(x);
		return -1;
	}
	x->next = h->xfers;
	if (x->next)
		x->next->pprev = &x->next;
	x->pprev = &h->xfers;
	h->xfers = x;
	h->active++;
	return 0;
}

void
http_remove(struct http *h, CURL *easy)
{
	struct http_xfer *x = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	if (x == NULL)
		return;		/* not ours, or already completed */
	curl_multi_remove_handle(h->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	xfer_unlink(x);
	free(x);
	h->active--;
}

void
http_set_max_host_connections(struct http *h, long n)
{
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
}

size_t
http_active(const struct http *h)
{
	return h->active;
}

static void
timer_closed(uv_handle_t *handle)
{
	struct http *h = handle->data;

	h->pending_closes--;
	maybe_free(h);
}

void
http_close(struct http *h)
{
	h->closing = 1;
	/* Transfers still under way are removed without their callbacks,
	 * as http.h promises; their easy handles stay the callers'. */
	while (h->xfers)
		http_remove(h, h->xfers->easy);
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	while (h->socks)
		sock_close(h->socks);
	h->pending_closes++;
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, timer_closed);
}
