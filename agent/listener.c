/*
 * listener: a tiny HTTP/1.1 server on the libuv loop (health, readiness,
 * metrics, the local control socket) and its blocking client.
 *
 * One request per connection: read the head, call the handler, write the
 * reply with Content-Length and Connection: close, then close.  Requests
 * carry no body, so there is no body parser to get wrong.
 *
 * DESIGN / invariants:
 *  - Every dimension is bounded: a head of at most LISTENER_HEAD_MAX bytes
 *    (431 past it), at most LISTENER_MAX_CONNS connections, and a
 *    deadline per connection for the whole head (not reset by each byte,
 *    so a client trickling one byte at a time cannot keep a slot) and
 *    again for writing the reply.
 *  - When every slot is taken, a newcomer takes the place of the oldest
 *    connection that has not sent a whole request yet: a flood of idle or
 *    slow clients cannot keep a health probe out for the deadline.  Only
 *    when every slot is being answered (or half as many again are still
 *    closing) is a newcomer accepted and closed at once.
 *  - A connection owns a stream handle and a timer, both created on
 *    accept and closed together; its memory (head buffer included) is
 *    allocated once on accept and freed in the last close callback.  An
 *    idle listener has no timer and allocates nothing.
 *  - Connections over the limit are accepted into a handle embedded in
 *    the listening socket (no allocation, even under a flood).  While that
 *    handle is still closing, the connection is left with libuv, which
 *    stops watching the socket until uv_accept(); the spare's close
 *    callback accepts it (into a slot, if one has come free meanwhile).
 *  - After the reply, the write side is shut down and what the client
 *    still sends is read and dropped for a short while (a "lingering
 *    close"): closing a TCP socket with unread input sends a reset, which
 *    can destroy the reply before the client has read it - exactly the
 *    400 and 431 answers to clients that sent more than we read.
 *  - The handler runs synchronously from the read callback; it may call
 *    listener_close(), after which nothing is written.
 *  - Only method and path are logged, at debug level; the query string is
 *    cut off before anything sees it.
 *  - A unix socket is bound with mode 0600 from the start (umask, then
 *    chmod), replaces a stale socket file only after a connect() to it is
 *    refused, and is unlinked on close only if the file is still ours.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LISTENER_MAX_CONNS 64
#define LISTENER_TIMEOUT_MS 10000	/* head; and again for the reply */
#define LISTENER_LINGER_MS 2000		/* drain after the reply, at most */
#define LISTENER_LINGER_MAX (64 * 1024)	/* bytes dropped while lingering */
#define LISTENER_BACKLOG 128
#define LISTENER_CTYPE_MAX 128
#define LISTENER_BODY_MAX (64 * 1024 * 1024)	/* a handler's reply */

#define DEFAULT_CTYPE "text/plain; charset=utf-8"

union stream_handle {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

/* One listening socket. */
struct lsock {
	union stream_handle h;
	union stream_handle spare;	/* accepts and closes the extra ones */
	struct listener *l;
	struct lsock *next, **pprev;
	char *name;			/* the address as given, for logs */
	char *path;			/* unix: the socket file we created */
	dev_t dev;
	ino_t ino;
	int is_unix;
	int port;
	int handles;			/* open uv handles (h, spare) */
	int spare_busy;
	int stalled;			/* libuv holds a connection for us */
	int closing;
};

enum conn_state {
	CONN_HEAD,			/* reading the request head */
	CONN_REPLY,			/* writing the reply */
	CONN_LINGER,			/* reply sent; dropping input until EOF */
};

struct conn {
	union stream_handle h;
	uv_timer_t timer;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	struct listener *l;
	struct conn *next, **pprev;
	enum conn_state state;
	int handles;			/* open uv handles (h, timer) */
	int closing;
	size_t len;			/* head bytes read, or bytes dropped */
	char *body;			/* the handler's body until written */
	char head[512];			/* the reply's status line and headers */
	char ebody[64];			/* body of the listener's own errors */
	char buf[LISTENER_HEAD_MAX + 1];
};

struct listener {
	uv_loop_t *loop;
	listener_handler handler;
	void *arg;
	struct lsock *socks;
	struct conn *conns;
	size_t nconns;			/* accepted and not yet freed */
	unsigned live;			/* lsocks + conns not yet freed */
	uint64_t timeout_ms;
	int warned_full;
	int closing;
};

/* A parsed address, for listening or connecting. */
struct addr {
	int is_unix;
	int any;			/* ":port": every interface */
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct sockaddr_un sun;
};

static void accept_one(struct lsock *ls);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* ------------------------------------------------------------------ */
/* Addresses */

static int
parse_port(const char *s, int *port)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

static int
addr_parse(const char *address, struct addr *a, char *err, size_t errlen)
{
	const char *host, *sep;
	char hbuf[INET6_ADDRSTRLEN + 32];
	size_t hlen;
	int port, bracket = address[0] == '[';

	memset(a, 0, sizeof(*a));
	if (strncmp(address, "unix:", 5) == 0) {
		const char *path = address + 5;
		size_t n = strlen(path);

		if (n == 0) {
			snprintf(err, errlen, "%s: empty unix socket path", address);
			return UV_EINVAL;
		}
		if (n >= sizeof(a->sun.sun_path)) {
			snprintf(err, errlen,
				 "%s: unix socket path longer than %zu bytes",
				 address, sizeof(a->sun.sun_path) - 1);
			return UV_ENAMETOOLONG;
		}
		a->is_unix = 1;
		a->sun.sun_family = AF_UNIX;
		memcpy(a->sun.sun_path, path, n + 1);
		return 0;
	}
	if (bracket) {
		sep = strchr(address, ']');
		if (sep == NULL || sep[1] != ':')
			goto syntax;
		host = address + 1;
		hlen = (size_t)(sep - host);
		sep++;
	} else {
		sep = strrchr(address, ':');
		if (sep == NULL)
			goto syntax;
		host = address;
		hlen = (size_t)(sep - host);
		if (memchr(host, ':', hlen) != NULL) {
			snprintf(err, errlen,
				 "%s: an IPv6 address goes in brackets, as "
				 "[::1]:8281", address);
			return UV_EINVAL;
		}
	}
	if (parse_port(sep + 1, &port) != 0) {
		snprintf(err, errlen, "%s: the port must be a number 0-65535",
			 address);
		return UV_EINVAL;
	}
	if (hlen >= sizeof(hbuf)) {
		snprintf(err, errlen, "%s: not an IP address", address);
		return UV_EINVAL;
	}
	memcpy(hbuf, host, hlen);
	hbuf[hlen] = '\0';
	if (hlen == 0 && !bracket) {
		/* Every interface: IPv6 and, through it, IPv4. */
		a->any = 1;
		uv_ip6_addr("::", port, (struct sockaddr_in6 *)&a->ss);
		a->sslen = sizeof(struct sockaddr_in6);
		return 0;
	}
	if (!bracket && strcmp(hbuf, "localhost") == 0) {
		uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)&a->ss);
		a->sslen = sizeof(struct sockaddr_in);
		return 0;
	}
	if (bracket) {
		if (uv_ip6_addr(hbuf, port, (struct sockaddr_in6 *)&a->ss) != 0) {
			snprintf(err, errlen, "%s: not an IPv6 address", address);
			return UV_EINVAL;
		}
		a->sslen = sizeof(struct sockaddr_in6);
		return 0;
	}
	if (uv_ip4_addr(hbuf, port, (struct sockaddr_in *)&a->ss) != 0) {
		snprintf(err, errlen,
			 "%s: the host must be a numeric IP address or localhost",
			 address);
		return UV_EINVAL;
	}
	a->sslen = sizeof(struct sockaddr_in);
	return 0;
syntax:
	snprintf(err, errlen,
		 "%s: expected HOST:PORT, [IPv6]:PORT, :PORT or unix:PATH",
		 address);
	return UV_EINVAL;
}

static int
socket_cloexec(int domain)
{
	int fd = socket(domain, SOCK_STREAM, 0);

	if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Life cycle */

static void
maybe_free(struct listener *l)
{
	if (l->closing && l->live == 0)
		free(l);
}

static void
conn_closed(uv_handle_t *handle)
{
	struct conn *c = handle->data;
	struct listener *l = c->l;

	if (--c->handles > 0)
		return;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	l->nconns--;
	l->live--;
	free(c->body);
	free(c);
	if (l->nconns < LISTENER_MAX_CONNS / 2)
		l->warned_full = 0;
	maybe_free(l);
}

static void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_close(&c->h.handle, conn_closed);
	uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void
lsock_free(struct lsock *ls)
{
	struct listener *l = ls->l;

	free(ls->name);
	free(ls->path);
	free(ls);
	l->live--;
	maybe_free(l);
}

static void
lsock_closed(uv_handle_t *handle)
{
	struct lsock *ls = handle->data;

	if (--ls->handles == 0)
		lsock_free(ls);
}

static void
spare_closed(uv_handle_t *handle)
{
	struct lsock *ls = handle->data;

	ls->spare_busy = 0;
	if (--ls->handles == 0) {
		lsock_free(ls);
		return;
	}
	if (ls->stalled && !ls->closing && !ls->l->closing)
		accept_one(ls);
}

/* Stop listening; unlink the socket file if it is still the one we made. */
static void
lsock_close(struct lsock *ls)
{
	struct stat st;

	if (ls->closing)
		return;
	ls->closing = 1;
	*ls->pprev = ls->next;
	if (ls->next)
		ls->next->pprev = ls->pprev;
	ls->next = NULL;
	ls->pprev = &ls->next;
	/* Unlink before the fd closes, as libuv does: the other order could
	 * remove a socket another process has just bound to the path. */
	if (ls->path && lstat(ls->path, &st) == 0 && st.st_dev == ls->dev &&
	    st.st_ino == ls->ino && unlink(ls->path) != 0)
		log_warn("listener", "cannot remove %s: %s", ls->path,
			 strerror(errno));
	uv_close(&ls->h.handle, lsock_closed);
}

/* A new lsock with its handle initialised (so it must be closed). */
static struct lsock *
lsock_new(struct listener *l, const char *address, int is_unix)
{
	struct lsock *ls = calloc(1, sizeof(*ls)), **tail = &l->socks;

	if (ls == NULL)
		return NULL;
	ls->name = strdup(address);
	if (ls->name == NULL) {
		free(ls);
		return NULL;
	}
	ls->l = l;
	ls->is_unix = is_unix;
	if (is_unix)
		uv_pipe_init(l->loop, &ls->h.pipe, 0);
	else
		uv_tcp_init(l->loop, &ls->h.tcp);
	ls->h.handle.data = ls;
	ls->handles = 1;
	l->live++;
	while (*tail)
		tail = &(*tail)->next;
	ls->pprev = tail;
	*tail = ls;
	return ls;
}

/* ------------------------------------------------------------------ */
/* Replies */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	if (status < 300)
		return "Success";
	if (status < 400)
		return "Redirection";
	if (status < 500)
		return "Client Error";
	return "Server Error";
}

/* A content type we can put in a header line as it is. */
static int
ctype_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] >= 0x7f)
			return 0;
	return n <= LISTENER_CTYPE_MAX;
}

static void
on_timeout(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->state == CONN_HEAD)
		log_debug("listener", "no complete request in time; closing");
	conn_close(c);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	if (c->state == CONN_LINGER) {
		buf->base = c->buf;
		buf->len = sizeof(c->buf);
	} else {
		buf->base = c->buf + c->len;
		buf->len = LISTENER_HEAD_MAX - c->len;
	}
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	c->state = CONN_LINGER;
	c->len = 0;
	if (uv_timer_start(&c->timer, on_timeout,
			   c->l->timeout_ms < LISTENER_LINGER_MS
				   ? c->l->timeout_ms
				   : LISTENER_LINGER_MS,
			   0) != 0 ||
	    uv_read_start(&c->h.stream, on_alloc, on_read) != 0)
		conn_close(c);
}

static void
on_written(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	free(c->body);
	c->body = NULL;
	if (c->closing)
		return;
	if (status < 0) {
		log_debug("listener", "writing a reply: %s", uv_strerror(status));
		conn_close(c);
		return;
	}
	c->sreq.data = c;
	if (uv_shutdown(&c->sreq, &c->h.stream, on_shutdown) != 0)
		conn_close(c);
}

/*
 * Send STATUS with BODY (LEN bytes; c->body if the handler's, else a
 * buffer of the conn), headers only if HEAD_ONLY.
 */
static void
respond(struct conn *c, int status, const char *ctype, const char *body,
	size_t len, int head_only)
{
	uv_buf_t bufs[2];
	unsigned nbufs = 1;
	int n, no_body = status == 204 || status == 304;
	char clen[48] = "";

	if (no_body)
		len = 0;
	else
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", len);
	n = snprintf(c->head, sizeof(c->head),
		     "HTTP/1.1 %d %s\r\n"
		     "%s%s%s"
		     "%s"
		     "%s"
		     "Cache-Control: no-store\r\n"
		     "Connection: close\r\n"
		     "\r\n",
		     status, reason(status),
		     no_body ? "" : "Content-Type: ",
		     no_body ? "" : ctype, no_body ? "" : "\r\n",
		     clen,
		     status == 405 ? "Allow: GET, HEAD, POST\r\n" : "");
	/* ctype_ok() bounds the only variable part; this cannot truncate. */
	if (n < 0 || (size_t)n >= sizeof(c->head)) {
		conn_close(c);
		return;
	}
	bufs[0] = uv_buf_init(c->head, (unsigned)n);
	if (!head_only && len > 0) {
		bufs[1] = uv_buf_init((char *)body, (unsigned)len);
		nbufs = 2;
	}
	c->state = CONN_REPLY;
	c->wreq.data = c;
	if (uv_timer_start(&c->timer, on_timeout, c->l->timeout_ms, 0) != 0 ||
	    uv_write(&c->wreq, &c->h.stream, bufs, nbufs, on_written) != 0)
		conn_close(c);
}

/* One of the listener's own answers: the reason phrase as the body. */
static void
respond_error(struct conn *c, int status)
{
	int n = snprintf(c->ebody, sizeof(c->ebody), "%s\n", reason(status));

	respond(c, status, DEFAULT_CTYPE, c->ebody, (size_t)n, 0);
}

/* ------------------------------------------------------------------ */
/* Requests */

static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Cut the line at P; return the next one, or NULL past END. */
static char *
next_line(char *p, char *end)
{
	char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL)
		return NULL;
	*nl = '\0';
	if (nl > p && nl[-1] == '\r')
		nl[-1] = '\0';
	return nl + 1;
}

/*
 * Parse the head in P..END (NUL bytes already refused): 0 with METHOD
 * and PATH pointing into it, or the status to answer with.
 */
static int
parse_head(char *p, char *end, char **method, char **path)
{
	char *line, *target, *version, *q;

	/* RFC 9112 2.2: ignore empty lines before the request line. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	line = p;
	p = next_line(p, end);
	if (p == NULL)
		return 400;
	*method = line;
	for (q = line; is_tchar(*q); q++)
		;
	if (q == line || *q != ' ')
		return 400;
	*q = '\0';
	target = q + 1;
	q = strchr(target, ' ');
	if (q == NULL)
		return 400;
	*q = '\0';
	version = q + 1;
	if (target[0] != '/')
		return 400;
	for (q = target; *q; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return 400;
	if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
		return strncmp(version, "HTTP/", 5) == 0 ? 505 : 400;
	target[strcspn(target, "?#")] = '\0';
	*path = target;

	while (p != NULL && p < end) {
		char *name = p, *value;
		size_t vlen;

		p = next_line(p, end);
		if (p == NULL || name[0] == '\0')
			break;
		/* Obsolete line folding and blanks before the colon. */
		if (name[0] == ' ' || name[0] == '\t')
			return 400;
		for (q = name; is_tchar(*q); q++)
			;
		if (q == name || *q != ':')
			return 400;
		*q = '\0';
		value = q + 1;
		value += strspn(value, " \t");
		vlen = strlen(value);
		while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
			value[--vlen] = '\0';
		if (strcasecmp(name, "transfer-encoding") == 0)
			return 400;
		if (strcasecmp(name, "content-length") == 0) {
			if (vlen == 0 || strspn(value, "0123456789") != vlen)
				return 400;
			/* Only zero: we take no request bodies. */
			if (strspn(value, "0") != vlen)
				return 400;
		}
	}
	return 0;
}

/* listener.h has the contract. */
int
listener_parse_head(char *buf, size_t len, char **method, char **path)
{
	if (memchr(buf, '\0', len) != NULL)
		return 400;
	return parse_head(buf, buf + len, method, path);
}

static void
handle_request(struct conn *c, size_t head_len)
{
	struct listener *l = c->l;
	struct listener_reply r = {404, NULL, NULL, 0};
	char *method = NULL, *path = NULL;
	int status, head_only;

	status = listener_parse_head(c->buf, head_len, &method, &path);
	if (status != 0) {
		log_debug("listener", "malformed request: %d", status);
		respond_error(c, status);
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    strcmp(method, "POST") != 0) {
		log_debug("listener", "%.16s %.200s: 405", method, path);
		respond_error(c, 405);
		return;
	}
	head_only = strcmp(method, "HEAD") == 0;
	l->handler(l->arg, method, path, &r);
	if (c->closing) {
		free(r.body);
		return;
	}
	if (r.status < 200 || r.status > 599 || r.len > LISTENER_BODY_MAX) {
		log_warn("listener", "%s %.200s: handler answered status %d "
			 "with %zu bytes", method, path, r.status, r.len);
		free(r.body);
		respond_error(c, 500);
		return;
	}
	log_debug("listener", "%s %.200s: %d", method, path, r.status);
	c->body = r.body;
	if (r.body == NULL)
		r.len = 0;
	respond(c, r.status,
		ctype_ok(r.content_type) ? r.content_type : DEFAULT_CTYPE,
		r.body, r.len, head_only);
}

/* listener.h has the contract. */
size_t
listener_head_end(const char *buf, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		if (buf[i] != '\n')
			continue;
		if (i >= 1 && buf[i - 1] == '\n')
			return i + 1;
		if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	size_t old, end;

	(void)buf;
	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		if (c->state == CONN_HEAD && nread != UV_EOF)
			log_debug("listener", "reading a request: %s",
				  uv_strerror((int)nread));
		conn_close(c);
		return;
	}
	if (c->state == CONN_LINGER) {
		c->len += (size_t)nread;
		if (c->len > LISTENER_LINGER_MAX)
			conn_close(c);
		return;
	}
	if (c->state != CONN_HEAD)
		return;
	old = c->len;
	c->len += (size_t)nread;
	c->buf[c->len] = '\0';
	end = listener_head_end(c->buf, old, c->len);
	if (end == 0 && c->len < LISTENER_HEAD_MAX)
		return;
	uv_read_stop(s);
	if (end == 0) {
		log_debug("listener", "request head over %d bytes: 431",
			  LISTENER_HEAD_MAX);
		respond_error(c, 431);
		return;
	}
	handle_request(c, end);
}

/* ------------------------------------------------------------------ */
/* Accepting */

static void
stream_init(const struct lsock *ls, union stream_handle *h)
{
	if (ls->is_unix)
		uv_pipe_init(ls->l->loop, &h->pipe, 0);
	else
		uv_tcp_init(ls->l->loop, &h->tcp);
}

/* Over the limit (or out of memory): accept and close at once. */
static void
reject(struct lsock *ls)
{
	struct listener *l = ls->l;

	if (ls->spare_busy) {
		/* libuv keeps the connection and stops watching the
		 * socket until we accept; spare_closed() will. */
		ls->stalled = 1;
		return;
	}
	if (!l->warned_full && l->nconns >= LISTENER_MAX_CONNS) {
		log_warn("listener", "%u connections open; refusing more",
			 LISTENER_MAX_CONNS);
		l->warned_full = 1;
	}
	stream_init(ls, &ls->spare);
	ls->spare.handle.data = ls;
	ls->spare_busy = 1;
	ls->handles++;
	uv_accept(&ls->h.stream, &ls->spare.stream);
	uv_close(&ls->spare.handle, spare_closed);
}

/* Connections not being closed. */
static size_t
open_conns(const struct listener *l)
{
	size_t n = 0;

	for (const struct conn *c = l->conns; c; c = c->next)
		n += !c->closing;
	return n;
}

/*
 * Full: close the oldest connection that has not sent a whole request
 * yet, so a flood of idle or slow clients cannot keep a health probe
 * out.  (The list runs from the newest; one being answered is kept.)
 */
static void
evict_idle(struct listener *l)
{
	struct conn *oldest = NULL;

	for (struct conn *c = l->conns; c; c = c->next)
		if (!c->closing && c->state == CONN_HEAD)
			oldest = c;
	if (oldest) {
		log_debug("listener", "%u connections open; closing the oldest "
			  "idle one", LISTENER_MAX_CONNS);
		conn_close(oldest);
	}
}

static void
accept_one(struct lsock *ls)
{
	struct listener *l = ls->l;
	struct conn *c = NULL;

	ls->stalled = 0;
	if (l->nconns >= LISTENER_MAX_CONNS)
		evict_idle(l);
	if (open_conns(l) < LISTENER_MAX_CONNS &&
	    l->nconns < LISTENER_MAX_CONNS + LISTENER_MAX_CONNS / 2) {
		c = malloc(sizeof(*c));
		if (c == NULL)
			log_warn("listener", "out of memory; refusing a connection");
	}
	if (c == NULL) {
		reject(ls);
		return;
	}
	/* No memset of the 8 KiB buffer: only the header fields. */
	memset(c, 0, offsetof(struct conn, buf));
	c->buf[0] = '\0';
	c->l = l;
	stream_init(ls, &c->h);
	c->h.handle.data = c;
	uv_timer_init(l->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	c->next = l->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &l->conns;
	l->conns = c;
	l->nconns++;
	l->live++;
	if (uv_accept(&ls->h.stream, &c->h.stream) != 0 ||
	    uv_timer_start(&c->timer, on_timeout, l->timeout_ms, 0) != 0 ||
	    uv_read_start(&c->h.stream, on_alloc, on_read) != 0)
		conn_close(c);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct lsock *ls = server->data;

	if (status < 0) {
		/* EMFILE and friends: libuv has already dropped it. */
		log_debug("listener", "%s: accept: %s", ls->name,
			  uv_strerror(status));
		return;
	}
	if (ls->closing || ls->l->closing)
		return;
	accept_one(ls);
}

/* ------------------------------------------------------------------ */
/* Opening */

static int
open_tcp(struct listener *l, const struct addr *a, const char *address,
	 char *err, size_t errlen)
{
	struct lsock *ls = lsock_new(l, address, 0);
	struct sockaddr_storage name;
	int rc, namelen = sizeof(name);

	if (ls == NULL) {
		snprintf(err, errlen, "%s: out of memory", address);
		return UV_ENOMEM;
	}
	rc = uv_tcp_bind(&ls->h.tcp, (const struct sockaddr *)&a->ss, 0);
	if (rc == UV_EAFNOSUPPORT && a->any) {
		/* No IPv6 here: every IPv4 interface, then. */
		struct sockaddr_in any4;

		uv_ip4_addr("0.0.0.0", ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port),
			    &any4);
		rc = uv_tcp_bind(&ls->h.tcp, (const struct sockaddr *)&any4, 0);
	}
	if (rc == 0)
		rc = uv_listen(&ls->h.stream, LISTENER_BACKLOG, on_connection);
	if (rc == 0)
		rc = uv_tcp_getsockname(&ls->h.tcp, (struct sockaddr *)&name,
					&namelen);
	if (rc != 0) {
		snprintf(err, errlen, "listen on %s: %s", address,
			 uv_strerror(rc));
		lsock_close(ls);
		return rc;
	}
	ls->port = ntohs(name.ss_family == AF_INET6
				 ? ((struct sockaddr_in6 *)&name)->sin6_port
				 : ((struct sockaddr_in *)&name)->sin_port);
	if (a->ss.ss_family == AF_INET6
		    ? ((const struct sockaddr_in6 *)&a->ss)->sin6_port == 0
		    : ((const struct sockaddr_in *)&a->ss)->sin_port == 0)
		log_info("listener", "listening on %s (port %d)", address,
			 ls->port);
	else
		log_info("listener", "listening on %s", address);
	return 0;
}

/* 1: something accepts connections on SUN; 0: nothing does; <0: -errno */
static int
unix_live(const struct sockaddr_un *sun)
{
	int fd = socket_cloexec(AF_UNIX), rc, e;

	if (fd < 0)
		return -errno;
	if (set_nonblock(fd) != 0) {
		e = errno;
		close(fd);
		return -e;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(fd);
	/* EAGAIN: a listener whose backlog is full, alive all the same. */
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return 1;
	if (e == ECONNREFUSED || e == ENOENT)
		return 0;
	return -e;
}

static int
open_unix(struct listener *l, const struct addr *a, const char *address,
	  char *err, size_t errlen)
{
	const char *path = a->sun.sun_path;
	struct lsock *ls;
	struct stat st;
	mode_t old_mask;
	int fd, rc, e;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s: %s exists and is not a socket",
				 address, path);
			return UV_EEXIST;
		}
		rc = unix_live(&a->sun);
		if (rc == 1) {
			snprintf(err, errlen, "another agent is listening on %s",
				 path);
			return UV_EADDRINUSE;
		}
		if (rc < 0) {
			snprintf(err, errlen, "%s: cannot check %s: %s", address,
				 path, strerror(-rc));
			return rc;
		}
		if (unlink(path) != 0 && errno != ENOENT) {
			e = errno;
			snprintf(err, errlen, "%s: cannot remove stale %s: %s",
				 address, path, strerror(e));
			return -e;
		}
		log_info("listener", "replaced stale socket %s", path);
	}

	ls = lsock_new(l, address, 1);
	if (ls != NULL)
		ls->path = strdup(path);
	if (ls == NULL || ls->path == NULL) {
		snprintf(err, errlen, "%s: out of memory", address);
		if (ls)
			lsock_close(ls);
		return UV_ENOMEM;
	}
	fd = socket_cloexec(AF_UNIX);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	/* 0600 from the first moment the file exists: on Linux the mode of
	 * the socket's inode is the file's, and the umask covers the rest. */
	(void)fchmod(fd, 0600);
	old_mask = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&a->sun, sizeof(a->sun));
	e = errno;
	umask(old_mask);
	if (rc != 0) {
		close(fd);
		rc = -e;
		if (e == EADDRINUSE) {
			snprintf(err, errlen, "another agent is listening on %s",
				 path);
			lsock_close(ls);
			return rc;
		}
		goto fail;
	}
	if (chmod(path, 0600) != 0 || lstat(path, &st) != 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		goto fail;
	}
	ls->dev = st.st_dev;
	ls->ino = st.st_ino;
	rc = uv_pipe_open(&ls->h.pipe, fd);
	if (rc != 0) {
		close(fd);
		unlink(path);
		goto fail;
	}
	/* From here on the handle owns FD, and lsock_close() the file. */
	rc = uv_listen(&ls->h.stream, LISTENER_BACKLOG, on_connection);
	if (rc != 0)
		goto fail;
	log_info("listener", "listening on %s", address);
	return 0;
fail:
	snprintf(err, errlen, "listen on %s: %s", address, uv_strerror(rc));
	lsock_close(ls);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Exported */

int
listener_new(uv_loop_t *loop, listener_handler h, void *arg,
	     struct listener **out)
{
	struct listener *l = calloc(1, sizeof(*l));
	struct sigaction sa;

	*out = NULL;
	if (l == NULL)
		return UV_ENOMEM;
	/*
	 * libuv writes with write(2): a client that goes away before its
	 * reply is written would kill the agent with SIGPIPE.  Ignore it,
	 * unless someone already chose a disposition.  (uv_spawn resets
	 * signals in children, so commands still get the default.)
	 */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	l->loop = loop;
	l->handler = h;
	l->arg = arg;
	l->timeout_ms = LISTENER_TIMEOUT_MS;
	*out = l;
	return 0;
}

int
listener_open(struct listener *l, const char *address, char *err,
	      size_t errlen)
{
	struct addr a;
	int rc;

	rc = addr_parse(address, &a, err, errlen);
	if (rc != 0)
		return rc;
	return a.is_unix ? open_unix(l, &a, address, err, errlen)
			 : open_tcp(l, &a, address, err, errlen);
}

void
listener_set_timeout(struct listener *l, unsigned timeout_ms)
{
	l->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
}

int
listener_port(const struct listener *l)
{
	for (const struct lsock *ls = l->socks; ls; ls = ls->next)
		if (!ls->is_unix)
			return ls->port;
	return 0;
}

size_t
listener_connections(const struct listener *l)
{
	return l->nconns;
}

void
listener_close(struct listener *l)
{
	if (l == NULL || l->closing)
		return;
	l->closing = 1;
	while (l->socks)
		lsock_close(l->socks);
	for (struct conn *c = l->conns; c; c = c->next)
		conn_close(c);
	maybe_free(l);
}

/* ------------------------------------------------------------------ */
/* Where a client reaches an address */

int
listener_client_target(const char *address, char *url, size_t ulen,
		       char *sock, size_t slen, char *err, size_t errlen)
{
	struct addr a;
	char host[INET6_ADDRSTRLEN];
	int rc = addr_parse(address, &a, err, errlen);

	if (rc != 0)
		return rc;
	url[0] = sock[0] = '\0';
	if (a.is_unix) {
		snprintf(sock, slen, "%s", a.sun.sun_path);
		snprintf(url, ulen, "http://localhost");
		return 0;
	}
	/* An address to listen on everywhere is reached on loopback. */
	if (a.ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;
		if (a.any || IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
			snprintf(url, ulen, "http://127.0.0.1:%d", ntohs(in6->sin6_port));
			return 0;
		}
		uv_ip6_name(in6, host, sizeof(host));
		snprintf(url, ulen, "http://[%s]:%d", host, ntohs(in6->sin6_port));
		return 0;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;
	if (in->sin_addr.s_addr == htonl(INADDR_ANY))
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	uv_ip4_name(in, host, sizeof(host));
	snprintf(url, ulen, "http://%s:%d", host, ntohs(in->sin_port));
	return 0;
}
