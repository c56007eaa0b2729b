/*
 * Unit tests for listener.c: a real loop in the test thread serving a
 * client in a second thread, which speaks either through
 * client_request() or raw sockets (for what a well-behaved client never
 * sends).  The client thread only records what it saw; every assertion
 * runs in the test thread once the client is joined.  Each test ends with
 * every handle closed and uv_loop_close() == 0.  The agent's log goes to a
 * file per test, at debug level, so what is logged can be asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "client.h"
#include "listener.h"
#include "log.h"

#define NOUT 8
#define OUT_MAX 16384
#define HEAD_MAX 8192		/* the listener's cap on a request head */
#define MAX_CONNS 64		/* the listener's cap on connections */

struct reply {
	int status;
	char *body;
	char err[512];
};

struct fx {
	uv_loop_t loop;
	uv_async_t wake;
	struct listener *l;
	char dir[64];
	char log_path[128];
	char sock[96];			/* unix:DIR/agent.sock */
	char sock_path[80];		/* DIR/agent.sock */
	char tcp[64];			/* 127.0.0.1:PORT */
	int saved_stderr;

	/* Written by the handler, on the loop thread. */
	int calls;
	char method[16];
	char path[HEAD_MAX];

	/* Written by the client thread, read after the join. */
	pthread_t thr;
	void (*client)(struct fx *fx);
	struct reply rep[NOUT];
	char out[NOUT][OUT_MAX];
	ssize_t outn[NOUT];
	long ms[NOUT];
	int val[NOUT];
	int held_fd;
};

/* ------------------------------------------------------------------ */
/* Fixture */

static void
handler(void *arg, const char *method, const char *path,
	struct listener_reply *r)
{
	struct fx *fx = arg;
	char buf[HEAD_MAX + 64];
	int n;

	fx->calls++;
	snprintf(fx->method, sizeof(fx->method), "%s", method);
	snprintf(fx->path, sizeof(fx->path), "%s", path);
	if (strcmp(path, "/nobody") == 0)
		return;			/* the 404 it starts as */
	if (strcmp(path, "/close") == 0) {
		listener_close(fx->l);
		fx->l = NULL;
		r->status = 200;
		r->body = strdup("never sent\n");
		r->len = strlen(r->body);
		return;
	}
	if (strcmp(path, "/bad-status") == 0) {
		r->status = 99;
		r->body = strdup("dropped\n");
		r->len = strlen(r->body);
		return;
	}
	if (strcmp(path, "/big") == 0) {
		r->status = 200;
		r->len = 16u << 20;
		r->body = malloc(r->len);
		assert_non_null(r->body);
		memset(r->body, 'x', r->len);
		return;
	}
	if (strcmp(path, "/json") == 0) {
		r->status = 201;
		r->content_type = "application/json";
		r->body = strdup("{}");
		r->len = 2;
		return;
	}
	if (strcmp(path, "/evil-type") == 0) {
		r->status = 200;
		r->content_type = "text/plain\r\nX-Injected: 1";
		r->body = strdup("ok\n");
		r->len = 3;
		return;
	}
	n = snprintf(buf, sizeof(buf), "%s %s\n", method, path);
	r->status = 200;
	r->body = strdup(buf);
	assert_non_null(r->body);
	r->len = (size_t)n;
}

static void
on_wake(uv_async_t *a)
{
	uv_stop(a->loop);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int fd;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_listener.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->log_path, sizeof(fx->log_path), "%s/agent.log", fx->dir);
	snprintf(fx->sock_path, sizeof(fx->sock_path), "%s/agent.sock", fx->dir);
	snprintf(fx->sock, sizeof(fx->sock), "unix:%s", fx->sock_path);
	fd = open(fx->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	fx->saved_stderr = dup(STDERR_FILENO);
	assert_true(fx->saved_stderr >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	log_setup(LOGL_DEBUG, 0);
	fx->held_fd = -1;
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	assert_int_equal(uv_async_init(&fx->loop, &fx->wake, on_wake), 0);
	assert_int_equal(listener_new(&fx->loop, handler, fx, &fx->l), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	if (fx->l)
		listener_close(fx->l);
	if (fx->held_fd >= 0)
		close(fx->held_fd);
	uv_close((uv_handle_t *)&fx->wake, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	for (int i = 0; i < NOUT; i++)
		free(fx->rep[i].body);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void
open_tcp(struct fx *fx)
{
	char err[256];

	assert_int_equal(listener_open(fx->l, "127.0.0.1:0", err, sizeof(err)), 0);
	assert_true(listener_port(fx->l) > 0);
	snprintf(fx->tcp, sizeof(fx->tcp), "127.0.0.1:%d", listener_port(fx->l));
}

static void
open_unix(struct fx *fx)
{
	char err[256];
	int rc = listener_open(fx->l, fx->sock, err, sizeof(err));

	if (rc != 0)
		fail_msg("listener_open(%s): %d %s", fx->sock, rc, err);
}

static void *
client_main(void *arg)
{
	struct fx *fx = arg;

	fx->client(fx);
	uv_async_send(&fx->wake);
	return NULL;
}

/* Run FN in a client thread while the loop runs here. */
static void
run_client(struct fx *fx, void (*fn)(struct fx *fx))
{
	fx->client = fn;
	assert_int_equal(pthread_create(&fx->thr, NULL, client_main, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(pthread_join(fx->thr, NULL), 0);
}

/* Run the loop until the listener has no connection left, or 3 s. */
static void
run_until_idle(struct fx *fx)
{
	for (int i = 0; i < 3000 && listener_connections(fx->l) > 0; i++) {
		uv_run(&fx->loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_int_equal(listener_connections(fx->l), 0);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	assert_non_null(f);
	buf = calloc(1, 1 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("expected to find \"%s\" in:\n%s", needle, hay);
}

/* The body of a raw reply: what follows the blank line, or NULL. */
static const char *
raw_body(const char *reply)
{
	const char *p = strstr(reply, "\r\n\r\n");

	return p ? p + 4 : NULL;
}

/* ------------------------------------------------------------------ */
/* Client-thread helpers: no cmocka asserts here, only records. */

static void
request(struct fx *fx, int i, const char *address, const char *method,
	const char *path)
{
	struct reply *r = &fx->rep[i];

	free(r->body);
	r->body = NULL;
	r->status = client_request(address, method, path, 5000, &r->body,
				     r->err, sizeof(r->err));
}

/* A blocking socket connected to ADDRESS, with 3 s send/receive timeouts. */
static int
raw_connect(const char *address)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct timeval tv = {.tv_sec = 3};
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (strncmp(address, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", address + 5);
		len = sizeof(*sun);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)strtol(strrchr(address, ':') + 1,
						      NULL, 10));
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until EOF, an error or the timeout into fx->out[I]. */
static void
read_all(struct fx *fx, int i, int fd)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(fd, fx->out[i] + len, OUT_MAX - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == OUT_MAX - 1)
			break;
	}
	fx->out[i][len] = '\0';
	fx->outn[i] = (ssize_t)len;
}

/* Send DATA on a fresh connection and record the whole reply in I. */
static void
raw_exchange(struct fx *fx, int i, const char *address, const char *data,
	     size_t len)
{
	int fd = raw_connect(address);

	fx->outn[i] = -1;
	fx->out[i][0] = '\0';
	if (fd < 0)
		return;
	if (send_all(fd, data, len) == 0)
		read_all(fx, i, fd);
	close(fd);
}

static void
raw_text(struct fx *fx, int i, const char *text)
{
	raw_exchange(fx, i, fx->tcp, text, strlen(text));
}

/* ------------------------------------------------------------------ */
/* Requests and replies */

static void
client_get(struct fx *fx)
{
	request(fx, 0, fx->tcp, "GET", "/hello");
	raw_text(fx, 1, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void
test_get_returns_the_handler_body_with_length_and_close(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	run_client(fx, client_get);
	assert_int_equal(fx->rep[0].status, 200);
	assert_string_equal(fx->rep[0].body, "GET /hello\n");
	assert_int_equal(fx->calls, 2);
	assert_string_equal(fx->method, "GET");
	assert_string_equal(fx->path, "/hello");
	assert_true(strncmp(fx->out[1], "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_contains(fx->out[1], "\r\nContent-Length: 11\r\n");
	assert_contains(fx->out[1], "\r\nConnection: close\r\n");
	assert_contains(fx->out[1], "\r\nContent-Type: text/plain; charset=utf-8\r\n");
	assert_string_equal(raw_body(fx->out[1]), "GET /hello\n");
	run_until_idle(fx);
}

static void
client_head(struct fx *fx)
{
	request(fx, 0, fx->tcp, "HEAD", "/hello");
	raw_text(fx, 1, "HEAD /hello HTTP/1.1\r\n\r\n");
}

static void
test_head_sends_the_length_of_get_but_no_body(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	run_client(fx, client_head);
	assert_int_equal(fx->rep[0].status, 200);
	assert_string_equal(fx->rep[0].body, "");
	assert_string_equal(fx->method, "HEAD");
	assert_true(strncmp(fx->out[1], "HTTP/1.1 200 OK\r\n", 17) == 0);
	/* "HEAD /hello\n" is 12 bytes, announced and not sent. */
	assert_contains(fx->out[1], "\r\nContent-Length: 12\r\n");
	assert_non_null(raw_body(fx->out[1]));
	assert_string_equal(raw_body(fx->out[1]), "");
	run_until_idle(fx);
}

static void
client_post(struct fx *fx)
{
	request(fx, 0, fx->tcp, "POST", "/v1/rotate/web");
	raw_text(fx, 1, "POST /v1/rotate/db HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
}

static void
test_post_without_body_reaches_the_handler(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	run_client(fx, client_post);
	assert_int_equal(fx->rep[0].status, 200);
	assert_string_equal(fx->rep[0].body, "POST /v1/rotate/web\n");
	assert_true(strncmp(fx->out[1], "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_string_equal(raw_body(fx->out[1]), "POST /v1/rotate/db\n");
	assert_int_equal(fx->calls, 2);
	run_until_idle(fx);
}

static void
client_methods(struct fx *fx)
{
	request(fx, 0, fx->tcp, "PUT", "/hello");
	raw_text(fx, 1, "DELETE /hello HTTP/1.1\r\n\r\n");
	raw_text(fx, 2, "OPTIONS /hello HTTP/1.0\r\n\r\n");
}

static void
test_other_methods_get_405_with_allow(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	run_client(fx, client_methods);
	assert_int_equal(fx->rep[0].status, 405);
	for (int i = 1; i <= 2; i++) {
		assert_true(strncmp(fx->out[i], "HTTP/1.1 405 Method Not Allowed\r\n",
				    33) == 0);
		assert_contains(fx->out[i], "\r\nAllow: GET, HEAD, POST\r\n");
		assert_contains(fx->out[i], "\r\nContent-Length: 19\r\n");
		assert_string_equal(raw_body(fx->out[i]), "Method Not Allowed\n");
	}
	assert_int_equal(fx->calls, 0);
	run_until_idle(fx);
}

/* A head of exactly LEN bytes: GET PATH with one padding header. */
static char *
head_of(const char *path, size_t len)
{
	char *h = malloc(len + 1);
	int n;

	assert_non_null(h);
	n = snprintf(h, len + 1, "GET %s HTTP/1.1\r\nX-Pad: ", path);
	assert_true(n > 0 && (size_t)n + 4 < len);
	memset(h + n, 'p', len - (size_t)n - 4);
	memcpy(h + len - 4, "\r\n\r\n", 5);
	assert_int_equal(strlen(h), len);
	return h;
}

static char *edge_head, *over_head, *endless_head;

static void
client_oversize(struct fx *fx)
{
	raw_text(fx, 0, edge_head);
	raw_text(fx, 1, over_head);
	raw_text(fx, 2, endless_head);
}

static void
test_head_over_8_KiB_gets_431(void **state)
{
	struct fx *fx = *state;

	edge_head = head_of("/edge", HEAD_MAX);
	over_head = head_of("/over", HEAD_MAX + 1);
	/* 64 KiB of headers that never end: the unread rest must not turn
	 * the 431 into a connection reset. */
	endless_head = head_of("/endless", 64 * 1024);
	endless_head[64 * 1024 - 4] = '\0';
	open_tcp(fx);
	run_client(fx, client_oversize);
	assert_true(strncmp(fx->out[0], "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_string_equal(raw_body(fx->out[0]), "GET /edge\n");
	for (int i = 1; i <= 2; i++) {
		assert_true(strncmp(fx->out[i],
				    "HTTP/1.1 431 Request Header Fields Too Large\r\n",
				    46) == 0);
		assert_string_equal(raw_body(fx->out[i]),
				    "Request Header Fields Too Large\n");
	}
	assert_int_equal(fx->calls, 1);
	free(edge_head);
	free(over_head);
	free(endless_head);
	run_until_idle(fx);
}

static void
client_bodies(struct fx *fx)
{
	raw_text(fx, 0, "POST /upload HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
	raw_text(fx, 1, "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			"5\r\nhello\r\n0\r\n\r\n");
	raw_text(fx, 2, "GET / HTTP/1.1\r\ncontent-length: 007\r\n\r\n");
	raw_text(fx, 3, "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
	raw_text(fx, 4, "GET /zero HTTP/1.1\r\nContent-Length: 00\r\n\r\n");
}

static void
test_request_with_a_body_gets_400(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	run_client(fx, client_bodies);
	for (int i = 0; i <= 3; i++) {
		if (strncmp(fx->out[i], "HTTP/1.1 400 Bad Request\r\n", 26) != 0)
			fail_msg("reply %d: %s", i, fx->out[i]);
		assert_contains(fx->out[i], "\r\nContent-Length: 12\r\n");
		assert_string_equal(raw_body(fx->out[i]), "Bad Request\n");
	}
	assert_true(strncmp(fx->out[4], "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->path, "/zero");
	run_until_idle(fx);
}

static void
client_malformed(struct fx *fx)
{
	raw_text(fx, 0, "GARBAGE\r\n\r\n");
	raw_text(fx, 1, "GET hello HTTP/1.1\r\n\r\n");
	raw_text(fx, 2, "GET / HTTP/2.0\r\n\r\n");
	raw_text(fx, 3, "GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n");
	raw_text(fx, 4, "GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n");
	raw_exchange(fx, 5, fx->tcp, "GET /a\0b HTTP/1.1\r\n\r\n", 21);
	raw_text(fx, 6, "GET  / HTTP/1.1\r\n\r\n");
	/* Bare LF line ends are accepted. */
	raw_text(fx, 7, "GET /lf HTTP/1.1\nHost: x\n\n");
}

static void
test_malformed_heads_get_400_or_505(void **state)
{
	struct fx *fx = *state;
	static const int want[] = {400, 400, 505, 400, 400, 400, 400, 200};

	open_tcp(fx);
	run_client(fx, client_malformed);
	for (int i = 0; i < 8; i++) {
		char line[32];

		snprintf(line, sizeof(line), "HTTP/1.1 %d ", want[i]);
		if (strncmp(fx->out[i], line, strlen(line)) != 0)
			fail_msg("reply %d: want %d, got: %s", i, want[i], fx->out[i]);
		assert_contains(fx->out[i], "\r\nContent-Length: ");
	}
	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->path, "/lf");
	run_until_idle(fx);
}

static void
client_query(struct fx *fx)
{
	request(fx, 0, fx->tcp, "GET", "/healthz?verbose=1&token=s3cret");
	raw_text(fx, 1, "GET /readyz?x HTTP/1.1\r\n\r\n");
	raw_text(fx, 2, "GET /metrics#frag HTTP/1.1\r\n\r\n");
}

static void
test_query_string_is_stripped_and_never_logged(void **state)
{
	struct fx *fx = *state;
	char *log;

	open_tcp(fx);
	run_client(fx, client_query);
	assert_int_equal(fx->rep[0].status, 200);
	assert_string_equal(fx->rep[0].body, "GET /healthz\n");
	assert_string_equal(raw_body(fx->out[1]), "GET /readyz\n");
	assert_string_equal(raw_body(fx->out[2]), "GET /metrics\n");
	run_until_idle(fx);
	log = slurp(fx->log_path);
	assert_contains(log, "GET /healthz: 200");
	assert_null(strstr(log, "s3cret"));
	assert_null(strstr(log, "verbose"));
	free(log);
}

static void
client_split(struct fx *fx)
{
	static const char *parts[] = {"GE", "T /sp", "lit HTTP/1.1\r", "\nHost: x\r\n",
				      "\r", "\n"};
	int fd = raw_connect(fx->tcp);

	fx->outn[0] = -1;
	if (fd < 0)
		return;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (send_all(fd, parts[i], strlen(parts[i])) != 0)
			break;
		usleep(20000);
	}
	read_all(fx, 0, fd);
	close(fd);
}

static void
test_head_split_across_reads_is_put_together(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	run_client(fx, client_split);
	assert_true(strncmp(fx->out[0], "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_string_equal(raw_body(fx->out[0]), "GET /split\n");
	assert_int_equal(fx->calls, 1);
	run_until_idle(fx);
}

static void
client_statuses(struct fx *fx)
{
	raw_text(fx, 0, "GET /nobody HTTP/1.1\r\n\r\n");
	raw_text(fx, 1, "GET /json HTTP/1.1\r\n\r\n");
	raw_text(fx, 2, "GET /bad-status HTTP/1.1\r\n\r\n");
	raw_text(fx, 3, "GET /evil-type HTTP/1.1\r\n\r\n");
}

static void
test_handler_status_and_content_type_are_framed(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	run_client(fx, client_statuses);
	/* Untouched reply: 404 with an empty body. */
	assert_true(strncmp(fx->out[0], "HTTP/1.1 404 Not Found\r\n", 24) == 0);
	assert_contains(fx->out[0], "\r\nContent-Length: 0\r\n");
	assert_string_equal(raw_body(fx->out[0]), "");
	assert_true(strncmp(fx->out[1], "HTTP/1.1 201 Created\r\n", 22) == 0);
	assert_contains(fx->out[1], "\r\nContent-Type: application/json\r\n");
	assert_string_equal(raw_body(fx->out[1]), "{}");
	/* A status outside 200-599 is the handler's bug: 500. */
	assert_true(strncmp(fx->out[2], "HTTP/1.1 500 ", 13) == 0);
	assert_string_equal(raw_body(fx->out[2]), "Internal Server Error\n");
	/* A content type that would split the header is replaced. */
	assert_null(strstr(fx->out[3], "X-Injected"));
	assert_contains(fx->out[3], "\r\nContent-Type: text/plain; charset=utf-8\r\n");
	run_until_idle(fx);
}

/* ------------------------------------------------------------------ */
/* Connections and time */

static void
client_limit(struct fx *fx)
{
	int fds[MAX_CONNS], i;
	char c;
	ssize_t n;

	for (i = 0; i < MAX_CONNS; i++)
		fds[i] = raw_connect(fx->tcp);
	/* Every slot held by a client that sends nothing: a newcomer, as a
	 * health probe, is served all the same. */
	usleep(100000);
	fx->ms[0] = now_ms();
	request(fx, 1, fx->tcp, "GET", "/again");
	fx->ms[0] = now_ms() - fx->ms[0];
	/* ... in the place of the oldest idle one, which the server closed. */
	n = fds[0] >= 0 ? recv(fds[0], &c, 1, 0) : -2;
	fx->val[0] = n == 0 || (n < 0 && errno == ECONNRESET);
	/* The newest idle one still works. */
	i = MAX_CONNS - 1;
	if (fds[i] >= 0 && send_all(fds[i], "GET /held HTTP/1.1\r\n\r\n", 22) == 0)
		read_all(fx, 0, fds[i]);
	for (i = 0; i < MAX_CONNS; i++) {
		fx->val[1] += fds[i] >= 0;
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

static void
test_a_newcomer_takes_the_place_of_the_oldest_idle_connection(void **state)
{
	struct fx *fx = *state;
	char *log;

	open_tcp(fx);
	run_client(fx, client_limit);
	assert_int_equal(fx->val[1], MAX_CONNS);
	assert_int_equal(fx->rep[1].status, 200);
	assert_string_equal(fx->rep[1].body, "GET /again\n");
	if (fx->ms[0] > 1000)
		fail_msg("the newcomer waited %ld ms", fx->ms[0]);
	if (!fx->val[0])
		fail_msg("the oldest idle connection was not closed");
	assert_true(strncmp(fx->out[0], "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_string_equal(raw_body(fx->out[0]), "GET /held\n");
	run_until_idle(fx);
	log = slurp(fx->log_path);
	assert_contains(log, "64 connections open; closing the oldest idle one");
	free(log);
}

static void
client_trickle(struct fx *fx)
{
	int fd = raw_connect(fx->tcp);
	long t0 = now_ms();

	fx->val[0] = 0;
	if (fd < 0 || send_all(fd, "GET /slow HTTP/1.1\r\nX-Slow: ", 28) != 0)
		return;
	/* One byte every 50 ms: never a whole head, never idle for long. */
	while (now_ms() - t0 < 3000) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;

		if (poll(&p, 1, 50) > 0) {
			ssize_t n = recv(fd, &c, 1, 0);

			fx->val[0] = n == 0 || (n < 0 && errno == ECONNRESET);
			break;
		}
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1) {
			fx->val[0] = 1;
			break;
		}
	}
	fx->ms[0] = now_ms() - t0;
	close(fd);
}

static void
test_slow_client_is_closed_at_the_deadline(void **state)
{
	struct fx *fx = *state;

	listener_set_timeout(fx->l, 200);
	open_tcp(fx);
	run_client(fx, client_trickle);
	if (!fx->val[0])
		fail_msg("a trickling client kept its connection for %ld ms", fx->ms[0]);
	assert_true(fx->ms[0] >= 150);
	assert_true(fx->ms[0] < 1500);
	assert_int_equal(fx->calls, 0);
	run_until_idle(fx);
}

static void
client_no_reader(struct fx *fx)
{
	int fd = raw_connect(fx->tcp);

	if (fd >= 0 && send_all(fd, "GET /big HTTP/1.1\r\n\r\n", 21) != 0) {
		close(fd);
		fd = -1;
	}
	/* Never read the 16 MiB reply; keep the socket open. */
	usleep(100000);
	fx->held_fd = fd;
}

static void
test_client_that_never_reads_the_reply_is_dropped(void **state)
{
	struct fx *fx = *state;

	listener_set_timeout(fx->l, 200);
	open_tcp(fx);
	run_client(fx, client_no_reader);
	assert_true(fx->held_fd >= 0);
	assert_int_equal(fx->calls, 1);
	/* The reply cannot be written, the socket stays open on our side:
	 * only the write deadline frees the slot (and the 16 MiB). */
	run_until_idle(fx);
}

static void
client_big_with_trailing_input(struct fx *fx)
{
	static char chunk[65536];
	int fd = raw_connect(fx->tcp);
	size_t total = 0;

	fx->val[0] = -1;
	if (fd < 0 || send_all(fd, "GET /big HTTP/1.1\r\n\r\n", 21) != 0)
		goto out;
	/* Bytes the server never reads: they arrive after the head. */
	usleep(50000);
	memset(chunk, 'j', 4096);
	if (send_all(fd, chunk, 4096) != 0)
		goto out;
	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n < 0)
			fx->val[1] = errno;
		if (n <= 0)
			break;
		total += (size_t)n;
		/* A slow reader: the reply's tail waits in the server's
		 * socket buffer when it finishes writing. */
		usleep(500);
	}
	fx->val[0] = (int)(total - (size_t)fx->val[2]);
out:
	if (fd >= 0)
		close(fd);
}

static void
test_unread_input_does_not_cut_the_reply_short(void **state)
{
	struct fx *fx = *state;
	/* The head of the reply to GET /big. */
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Length: 16777216\r\n"
				   "Cache-Control: no-store\r\n"
				   "Connection: close\r\n\r\n";

	open_tcp(fx);
	fx->val[2] = (int)strlen(head);
	run_client(fx, client_big_with_trailing_input);
	/* Closing with unread input would reset the connection and drop
	 * what is still queued: the lingering close sends it all. */
	if (fx->val[0] != 16 << 20)
		fail_msg("got %d body bytes of %d (errno %d)", fx->val[0],
			 16 << 20, fx->val[1]);
	run_until_idle(fx);
}

static void
client_early_close(struct fx *fx)
{
	int fd = raw_connect(fx->tcp);

	if (fd >= 0) {
		send_all(fd, "GET /half HTTP/1.1\r\nHo", 22);
		close(fd);
	}
	fd = raw_connect(fx->tcp);
	if (fd >= 0)
		close(fd);
	fd = raw_connect(fx->tcp);
	if (fd >= 0) {
		/* A reset in the middle of the head. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		send_all(fd, "GET /reset HTTP/1.1\r\n", 21);
		usleep(20000);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	request(fx, 0, fx->tcp, "GET", "/after");
}

static void
test_client_closing_early_frees_its_slot(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	run_client(fx, client_early_close);
	assert_int_equal(fx->rep[0].status, 200);
	assert_string_equal(fx->rep[0].body, "GET /after\n");
	assert_int_equal(fx->calls, 1);
	run_until_idle(fx);
}

static int timers_active, handles_open;

static void
count_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	handles_open++;
	if (h->type == UV_TIMER && uv_is_active(h))
		timers_active++;
}

static void
client_three(struct fx *fx)
{
	request(fx, 0, fx->tcp, "GET", "/1");
	request(fx, 1, fx->sock, "GET", "/2");
	raw_text(fx, 2, "GET /3 HTTP/1.1\r\n\r\n");
}

static void
test_idle_listener_holds_no_timer_or_connection(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	open_unix(fx);
	timers_active = handles_open = 0;
	uv_walk(&fx->loop, count_handle, NULL);
	assert_int_equal(timers_active, 0);
	assert_int_equal(handles_open, 3);	/* tcp, unix, the test's async */
	run_client(fx, client_three);
	assert_int_equal(fx->rep[0].status, 200);
	assert_int_equal(fx->rep[1].status, 200);
	assert_int_equal(fx->calls, 3);
	run_until_idle(fx);
	/* Let the close callbacks run. */
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	timers_active = handles_open = 0;
	uv_walk(&fx->loop, count_handle, NULL);
	assert_int_equal(timers_active, 0);
	assert_int_equal(handles_open, 3);
}

static void
client_close_in_handler(struct fx *fx)
{
	request(fx, 0, fx->tcp, "GET", "/close");
}

static void
test_handler_may_close_the_listener(void **state)
{
	struct fx *fx = *state;

	open_tcp(fx);
	open_unix(fx);
	run_client(fx, client_close_in_handler);
	assert_null(fx->l);
	assert_int_equal(fx->calls, 1);
	/* Nothing is written after the close. */
	assert_true(fx->rep[0].status < 0);
	assert_null(fx->rep[0].body);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(access(fx->sock_path, F_OK), -1);
}

/* ------------------------------------------------------------------ */
/* Unix sockets */

static void
client_unix(struct fx *fx)
{
	request(fx, 0, fx->sock, "GET", "/status");
	request(fx, 1, fx->sock, "POST", "/v1/rotate/web");
}

static void
test_unix_socket_has_mode_0600_and_serves(void **state)
{
	struct fx *fx = *state;
	struct stat st;
	mode_t old = umask(0);

	/* Even with a permissive umask. */
	open_unix(fx);
	umask(old);
	assert_int_equal(lstat(fx->sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(listener_port(fx->l), 0);
	run_client(fx, client_unix);
	assert_int_equal(fx->rep[0].status, 200);
	assert_string_equal(fx->rep[0].body, "GET /status\n");
	assert_int_equal(fx->rep[1].status, 200);
	assert_string_equal(fx->rep[1].body, "POST /v1/rotate/web\n");
	run_until_idle(fx);
}

static void
test_second_open_on_a_live_unix_socket_names_the_path(void **state)
{
	struct fx *fx = *state;
	struct listener *l2;
	char err[512], want[256];
	struct stat before, after;
	int rc;

	open_unix(fx);
	assert_int_equal(lstat(fx->sock_path, &before), 0);
	assert_int_equal(listener_new(&fx->loop, handler, fx, &l2), 0);
	rc = listener_open(l2, fx->sock, err, sizeof(err));
	assert_int_equal(rc, UV_EADDRINUSE);
	snprintf(want, sizeof(want), "another agent is listening on %s",
		 fx->sock_path);
	assert_string_equal(err, want);
	listener_close(l2);
	/* The live socket is untouched and still answers. */
	assert_int_equal(lstat(fx->sock_path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	run_client(fx, client_unix);
	assert_int_equal(fx->rep[0].status, 200);
	run_until_idle(fx);
}

static void
test_stale_unix_socket_file_is_replaced(void **state)
{
	struct fx *fx = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	char *log;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	/* A socket file left behind by an agent that died. */
	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx->sock_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(lstat(fx->sock_path, &st), 0);

	open_unix(fx);
	assert_int_equal(lstat(fx->sock_path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	run_client(fx, client_unix);
	assert_int_equal(fx->rep[0].status, 200);
	run_until_idle(fx);
	log = slurp(fx->log_path);
	assert_contains(log, "replaced stale socket");
	free(log);
}

static void
test_file_that_is_not_a_socket_is_left_alone(void **state)
{
	struct fx *fx = *state;
	char err[512];
	FILE *f = fopen(fx->sock_path, "w");
	struct stat st;

	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	assert_int_not_equal(listener_open(fx->l, fx->sock, err, sizeof(err)), 0);
	assert_contains(err, fx->sock_path);
	assert_contains(err, "not a socket");
	assert_int_equal(lstat(fx->sock_path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void
test_close_unlinks_the_unix_socket(void **state)
{
	struct fx *fx = *state;

	open_unix(fx);
	open_tcp(fx);
	assert_int_equal(access(fx->sock_path, F_OK), 0);
	listener_close(fx->l);
	fx->l = NULL;
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(access(fx->sock_path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_close_leaves_a_socket_file_that_is_not_ours(void **state)
{
	struct fx *fx = *state;
	char moved[160];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	open_unix(fx);
	/* Someone moved ours away and put another socket at the path. */
	snprintf(moved, sizeof(moved), "%s.old", fx->sock_path);
	assert_int_equal(rename(fx->sock_path, moved), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx->sock_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	listener_close(fx->l);
	fx->l = NULL;
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(access(fx->sock_path, F_OK), 0);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Addresses and the client */

static void
test_bad_addresses_are_refused_by_name(void **state)
{
	struct fx *fx = *state;
	static const char *bad[] = {
		"nope", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
		"127.0.0.1:-1", "127.0.0.1:80x", "[::1", "[::1]8281", "::1:8281",
		"host.example:80", "[127.0.0.1]:80", "unix:",
		"unix:/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock",
	};
	char err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body = (char *)"untouched";
		int rc = listener_open(fx->l, bad[i], err, sizeof(err));

		if (rc >= 0)
			fail_msg("%s was accepted", bad[i]);
		assert_contains(err, bad[i]);
		rc = client_request(bad[i], "GET", "/", 100, &body, err,
				      sizeof(err));
		assert_true(rc < 0);
		assert_null(body);
		assert_contains(err, bad[i]);
	}
	assert_int_equal(listener_port(fx->l), 0);
}

static void
test_tcp_port_in_use_is_refused_by_name(void **state)
{
	struct fx *fx = *state;
	struct listener *l2;
	char err[512], want[128];

	open_tcp(fx);
	assert_int_equal(listener_new(&fx->loop, handler, fx, &l2), 0);
	assert_int_equal(listener_open(l2, fx->tcp, err, sizeof(err)),
			 UV_EADDRINUSE);
	snprintf(want, sizeof(want), "listen on %s: address already in use",
		 fx->tcp);
	assert_string_equal(err, want);
	assert_int_equal(listener_port(l2), 0);
	listener_close(l2);
}

static void
client_any(struct fx *fx)
{
	char addr[32];

	snprintf(addr, sizeof(addr), ":%d", fx->val[0]);
	request(fx, 0, addr, "GET", "/any");
	snprintf(addr, sizeof(addr), "0.0.0.0:%d", fx->val[0]);
	request(fx, 1, addr, "GET", "/any4");
	snprintf(addr, sizeof(addr), "localhost:%d", fx->val[0]);
	request(fx, 2, addr, "GET", "/localhost");
	if (fx->val[1] > 0) {
		snprintf(addr, sizeof(addr), "[::1]:%d", fx->val[1]);
		request(fx, 3, addr, "GET", "/v6");
	}
}

static void
test_all_interfaces_and_ipv6_addresses_serve(void **state)
{
	struct fx *fx = *state;
	struct listener *probe;
	char err[512];
	int rc;

	assert_int_equal(listener_open(fx->l, ":0", err, sizeof(err)), 0);
	fx->val[0] = listener_port(fx->l);
	assert_true(fx->val[0] > 0);
	/* IPv6 loopback on a listener of its own, so listener_port()
	 * names it; a machine without IPv6 refuses it by name. */
	assert_int_equal(listener_new(&fx->loop, handler, fx, &probe), 0);
	rc = listener_open(probe, "[::1]:0", err, sizeof(err));
	if (rc == 0)
		fx->val[1] = listener_port(probe);
	else
		assert_contains(err, "[::1]:0");
	run_client(fx, client_any);
	listener_close(probe);
	assert_int_equal(fx->rep[0].status, 200);
	assert_string_equal(fx->rep[0].body, "GET /any\n");
	assert_int_equal(fx->rep[1].status, 200);
	assert_int_equal(fx->rep[2].status, 200);
	if (fx->val[1] > 0) {
		assert_int_equal(fx->rep[3].status, 200);
		assert_string_equal(fx->rep[3].body, "GET /v6\n");
	}
	run_until_idle(fx);
}

static void
test_request_times_out_when_nobody_answers(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof(in);
	char address[64], err[512], want[128];
	char *body = NULL;
	long t0, took;
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

	(void)state;
	/* A socket that listens but never accepts or answers. */
	assert_true(fd >= 0);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	snprintf(address, sizeof(address), "127.0.0.1:%d", ntohs(in.sin_port));
	t0 = now_ms();
	rc = client_request(address, "GET", "/", 200, &body, err, sizeof(err));
	took = now_ms() - t0;
	close(fd);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_null(body);
	snprintf(want, sizeof(want), "%s: no reply within 200 ms", address);
	assert_string_equal(err, want);
	assert_true(took >= 190);
	assert_true(took < 2000);
}

static void
test_request_to_a_missing_socket_names_it(void **state)
{
	struct fx *fx = *state;
	char err[512];
	char *body = NULL;
	int rc;

	rc = client_request(fx->sock, "GET", "/", 1000, &body, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	assert_null(body);
	assert_contains(err, fx->sock);
	rc = client_request(fx->sock, "GET", "/a b", 1000, &body, err,
			     sizeof(err));
	assert_int_equal(rc, -EINVAL);
	rc = client_request(fx->sock, "GET\r\n", "/", 1000, &body, err,
			     sizeof(err));
	assert_int_equal(rc, -EINVAL);
}

/* A server that answers each connection with the next canned reply. */
struct canned {
	int fd;
	const char *const *replies;
	size_t n;
	size_t big;		/* the last reply is followed by BIG bytes */
};

static void *
canned_main(void *arg)
{
	struct canned *cs = arg;
	char buf[4096];

	for (size_t i = 0; i < cs->n; i++) {
		int c = accept(cs->fd, NULL, NULL);
		size_t len = 0;

		if (c < 0)
			break;
		while (len < sizeof(buf) - 1) {
			ssize_t r = recv(c, buf + len, sizeof(buf) - 1 - len, 0);

			if (r <= 0)
				break;
			len += (size_t)r;
			buf[len] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		/* A reply starting "NUL" is sent with a NUL in its head. */
		if (strncmp(cs->replies[i], "NUL", 3) == 0)
			send_all(c, "HTTP/1.1 200 OK\r\nX-A: \0\r\n\r\n", 27);
		else
			send_all(c, cs->replies[i], strlen(cs->replies[i]));
		if (i == cs->n - 1) {
			memset(buf, 'b', sizeof(buf));
			for (size_t sent = 0; sent < cs->big; sent += sizeof(buf))
				if (send_all(c, buf, sizeof(buf)) != 0)
					break;
		}
		close(c);
	}
	return NULL;
}

static void
test_request_refuses_garbled_or_truncated_replies(void **state)
{
	static const char *const replies[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA",
		"HTTP/1.1 503 Service Unavailable\r\n\r\nuntil EOF",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n123",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"SSH-2.0-OpenSSH_9.2\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"NUL",
		"HTTP/1.1 200 OK\r\n\r\n",	/* then 5 MiB */
	};
	/* A Content-Length past 64 bits is over the cap, too. */
	static const int want[] = {200, 503, -EPROTO, -EPROTO, -EMSGSIZE,
				   -EPROTO, -EPROTO, -EPROTO, -EMSGSIZE};
	struct canned cs = {.replies = replies, .n = 9, .big = 5u << 20};
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof(in);
	pthread_t thr;
	char address[64], err[512];

	(void)state;
	cs.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(cs.fd >= 0);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(cs.fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(cs.fd, 4), 0);
	assert_int_equal(getsockname(cs.fd, (struct sockaddr *)&in, &len), 0);
	snprintf(address, sizeof(address), "127.0.0.1:%d", ntohs(in.sin_port));
	assert_int_equal(pthread_create(&thr, NULL, canned_main, &cs), 0);
	for (size_t i = 0; i < cs.n; i++) {
		char *body = NULL;
		int rc = client_request(address, "GET", "/", 5000, &body, err,
					  sizeof(err));

		if (rc != want[i])
			fail_msg("reply %zu: want %d, got %d (%s)", i, want[i], rc, err);
		if (i == 0)
			assert_string_equal(body, "abc");
		else if (i == 1)
			assert_string_equal(body, "until EOF");
		else {
			assert_null(body);
			assert_contains(err, address);
		}
		free(body);
	}
	assert_int_equal(pthread_join(thr, NULL), 0);
	close(cs.fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_get_returns_the_handler_body_with_length_and_close),
		T(test_head_sends_the_length_of_get_but_no_body),
		T(test_post_without_body_reaches_the_handler),
		T(test_other_methods_get_405_with_allow),
		T(test_head_over_8_KiB_gets_431),
		T(test_request_with_a_body_gets_400),
		T(test_malformed_heads_get_400_or_505),
		T(test_query_string_is_stripped_and_never_logged),
		T(test_head_split_across_reads_is_put_together),
		T(test_handler_status_and_content_type_are_framed),
		T(test_a_newcomer_takes_the_place_of_the_oldest_idle_connection),
		T(test_slow_client_is_closed_at_the_deadline),
		T(test_client_that_never_reads_the_reply_is_dropped),
		T(test_unread_input_does_not_cut_the_reply_short),
		T(test_client_closing_early_frees_its_slot),
		T(test_idle_listener_holds_no_timer_or_connection),
		T(test_handler_may_close_the_listener),
		T(test_unix_socket_has_mode_0600_and_serves),
		T(test_second_open_on_a_live_unix_socket_names_the_path),
		T(test_stale_unix_socket_file_is_replaced),
		T(test_file_that_is_not_a_socket_is_left_alone),
		T(test_close_unlinks_the_unix_socket),
		T(test_close_leaves_a_socket_file_that_is_not_ours),
		T(test_bad_addresses_are_refused_by_name),
		T(test_tcp_port_in_use_is_refused_by_name),
		T(test_all_interfaces_and_ipv6_addresses_serve),
		T(test_request_times_out_when_nobody_answers),
		T(test_request_to_a_missing_socket_names_it),
		T(test_request_refuses_garbled_or_truncated_replies),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
