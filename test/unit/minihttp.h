/*
 * minihttp: a scripted HTTP/1.1 server on the test's own uv loop, for unit
 * tests of the http and vault modules.  It answers each request with the
 * next scripted response (the last one repeats), closes the connection
 * after each answer, and records what it received.  Header-only, static:
 * each test program includes it once.  A test whose requests interleave
 * (several modules calling Vault at once) sets route instead, which picks
 * the answer by what was asked.
 */
#ifndef MINIHTTP_H
#define MINIHTTP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MINI_MAX_RESP 16
#define MINI_MAX_REQ 64
#define MINI_MAX_ROUTES 8

struct mini_resp {
	int status;		/* 0: drop the connection without answering;
				 * -1: keep it open and never answer */
	const char *headers;	/* extra header lines, each ending in \r\n */
	const char *body;
};

/* Answers to requests whose request line starts with PREFIX, in turn. */
struct mini_route {
	const char *prefix;	/* e.g. "POST /v1/auth/approle/login " */
	struct mini_resp resp[MINI_MAX_RESP];
	int nresp;
	int hits;		/* requests it answered */
};

struct mini_server {
	uv_tcp_t tcp;
	int port;
	struct mini_resp resp[MINI_MAX_RESP];
	int nresp;
	int served;
	char *req[MINI_MAX_REQ];	/* raw request heads + bodies */
	uint64_t req_time[MINI_MAX_REQ];	/* uv_now() at each request */
	int nreq;
	int open_conns;
	/* If set, the answer to REQ (head + body), instead of the script. */
	const struct mini_resp *(*route)(struct mini_server *srv, const char *req);
	void *arg;		/* the test's, for route */
	struct mini_route routes[MINI_MAX_ROUTES];	/* see mini_route_add() */
	int nroutes;
};

struct mini_conn {
	uv_tcp_t tcp;
	struct mini_server *srv;
	char buf[65536];
	size_t len;
	int answered;
};

static void
mini_conn_closed(uv_handle_t *h)
{
	struct mini_conn *c = h->data;
	c->srv->open_conns--;
	free(c);
}

static void
mini_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	struct mini_conn *c = h->data;
	(void)size;
	buf->base = c->buf + c->len;
	buf->len = sizeof(c->buf) - c->len - 1;
}

static void
mini_written(uv_write_t *w, int status)
{
	(void)status;
	uv_close((uv_handle_t *)w->handle, mini_conn_closed);
	free(w->data);
	free(w);
}

/* Is a whole request (head + Content-Length body) in the buffer? */
static int
mini_complete(struct mini_conn *c)
{
	char *end = strstr(c->buf, "\r\n\r\n");
	const char *cl;
	size_t want = 0;

	if (end == NULL)
		return 0;
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	if (cl && cl < end)
		want = strtoul(cl + 17, NULL, 10);
	return c->len >= (size_t)(end + 4 - c->buf) + want;
}

/* The route table's answer to REQ: the next of its route, the last
 * repeating; 404 when no route matches. */
static const struct mini_resp *
mini_routed(struct mini_server *srv, const char *req)
{
	static const struct mini_resp none = { 404, NULL, "{\"errors\":[]}" };

	for (int i = 0; i < srv->nroutes; i++) {
		struct mini_route *rt = &srv->routes[i];
		if (strncmp(req, rt->prefix, strlen(rt->prefix)) != 0)
			continue;
		int k = rt->hits < rt->nresp ? rt->hits : rt->nresp - 1;
		rt->hits++;
		return &rt->resp[k];
	}
	return &none;
}

/* Add an answer to the route for PREFIX (made on first use); returns it. */
static inline struct mini_route *
mini_route_add(struct mini_server *srv, const char *prefix, int status,
	       const char *body)
{
	struct mini_route *rt = NULL;

	for (int i = 0; i < srv->nroutes && rt == NULL; i++)
		if (strcmp(srv->routes[i].prefix, prefix) == 0)
			rt = &srv->routes[i];
	if (rt == NULL) {
		if (srv->nroutes == MINI_MAX_ROUTES)
			abort();
		rt = &srv->routes[srv->nroutes++];
		rt->prefix = prefix;
	}
	if (rt->nresp == MINI_MAX_RESP)
		abort();
	rt->resp[rt->nresp++] = (struct mini_resp){ status, NULL, body };
	return rt;
}

/* The first recorded request starting with PREFIX at or after FROM, or -1. */
static inline int
mini_find(const struct mini_server *srv, const char *prefix, int from)
{
	for (int i = from; i < srv->nreq; i++)
		if (strncmp(srv->req[i], prefix, strlen(prefix)) == 0)
			return i;
	return -1;
}

/* The body of recorded request I (after the head). */
static inline const char *
mini_body(const struct mini_server *srv, int i)
{
	const char *p = strstr(srv->req[i], "\r\n\r\n");

	return p ? p + 4 : "";
}

static void
mini_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct mini_conn *c = s->data;
	struct mini_server *srv = c->srv;
	(void)buf;

	if (n < 0) {
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, mini_conn_closed);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (c->answered || !mini_complete(c))
		return;
	c->answered = 1;
	if (srv->nreq < MINI_MAX_REQ) {
		srv->req_time[srv->nreq] = uv_now(s->loop);
		srv->req[srv->nreq++] = strdup(c->buf);
	}
	int i = srv->served < srv->nresp ? srv->served : srv->nresp - 1;
	srv->served++;
	const struct mini_resp *r = srv->route ? srv->route(srv, c->buf)
			   : srv->nroutes ? mini_routed(srv, c->buf)
					  : &srv->resp[i];
	if (r->status < 0)
		return;		/* held open until the client gives up */
	if (r->status == 0) {
		uv_close((uv_handle_t *)s, mini_conn_closed);
		return;
	}
	size_t blen = r->body ? strlen(r->body) : 0;
	size_t cap = blen + 1024 + (r->headers ? strlen(r->headers) : 0);
	char *out = malloc(cap);
	int len = snprintf(out, cap,
			   "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
			   "Content-Type: application/json\r\n%sConnection: close\r\n\r\n%s",
			   r->status, blen, r->headers ? r->headers : "",
			   r->body ? r->body : "");
	uv_write_t *w = malloc(sizeof(*w));
	uv_buf_t b = uv_buf_init(out, (unsigned)len);
	w->data = out;
	uv_write(w, s, &b, 1, mini_written);
}

static void
mini_accept(uv_stream_t *server, int status)
{
	struct mini_server *srv = server->data;
	struct mini_conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	c->srv = srv;
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	srv->open_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
		uv_read_start((uv_stream_t *)&c->tcp, mini_alloc, mini_read);
	else
		uv_close((uv_handle_t *)&c->tcp, mini_conn_closed);
}

static int
mini_start(uv_loop_t *loop, struct mini_server *srv)
{
	struct sockaddr_in addr;
	struct sockaddr_storage name;
	int namelen = sizeof(name);

	uv_ip4_addr("127.0.0.1", 0, &addr);
	if (uv_tcp_init(loop, &srv->tcp) != 0)
		return -1;
	srv->tcp.data = srv;
	if (uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&addr, 0) != 0 ||
	    uv_listen((uv_stream_t *)&srv->tcp, 16, mini_accept) != 0)
		return -1;
	uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&name, &namelen);
	srv->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
	return 0;
}

static void
mini_stop(struct mini_server *srv)
{
	uv_close((uv_handle_t *)&srv->tcp, NULL);
}

static void
mini_free(struct mini_server *srv)
{
	for (int i = 0; i < srv->nreq; i++)
		free(srv->req[i]);
	srv->nreq = 0;
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static inline int
mini_dead_port(void)
{
	uv_loop_t loop;
	struct mini_server s;
	int port;

	memset(&s, 0, sizeof(s));
	uv_loop_init(&loop);
	mini_start(&loop, &s);
	port = s.port;
	mini_stop(&s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return port;
}

/*
 * Run the loop until COND holds.  A loop turn may satisfy COND in its
 * timers and then block in poll for the next event, which may never
 * come: mini_tick_start()'s unreferenced timer wakes the loop every 10 ms
 * so COND is looked at again.
 */
#define RUN_UNTIL(fx, cond)                                                     \
	do {                                                                    \
		while (!(cond))                                                 \
			uv_run(&(fx)->loop, UV_RUN_ONCE);                       \
	} while (0)

static void
mini_on_tick(uv_timer_t *t)
{
	(void)t;
}

/* The tick RUN_UNTIL needs; unreferenced, so it keeps no loop alive. */
static inline void
mini_tick_start(uv_loop_t *loop, uv_timer_t *tick)
{
	uv_timer_init(loop, tick);
	uv_timer_start(tick, mini_on_tick, 10, 10);
	uv_unref((uv_handle_t *)tick);
}

#endif
