/*
 * listener: a tiny HTTP/1.1 server on the libuv loop, for /healthz,
 * /readyz, /metrics and the local control socket.
 *
 * DESIGN: one request per connection, no request bodies, bounded in every
 * dimension (head size, connections, time), so a hostile or broken client
 * can cost at most a fixed amount of memory and a slot for a while.  The
 * handler answers synchronously from the loop; the listener owns framing
 * (status line, Content-Length, Connection: close, HEAD without body).
 * The matching blocking client for the CLI is client.c (libcurl).
 */
#ifndef CERTAGENT_LISTENER_H
#define CERTAGENT_LISTENER_H

#include <stddef.h>
#include <uv.h>

struct listener;

/*
 * What a handler answers.  It starts as a 404 with no body.  BODY is
 * malloc'd by the handler and freed by the listener; CONTENT_TYPE is
 * borrowed (a static string) and defaults to text/plain.
 */
struct listener_reply {
	int status;
	const char *content_type;
	char *body;
	size_t len;
};

/*
 * Called from the loop for each GET, POST or HEAD.  PATH is the request
 * target without its query string, not percent-decoded.  HEAD must be
 * answered like GET: the listener sends the headers, Content-Length
 * included, and drops the body.
 */
typedef void (*listener_handler)(void *arg, const char *method,
				 const char *path, struct listener_reply *r);

int listener_new(uv_loop_t *loop, listener_handler h, void *arg,
		 struct listener **out);

/*
 * Start listening on ADDRESS: "127.0.0.1:8281", "[::1]:8281", ":8281"
 * (every interface) or "unix:/path/to.sock" (mode 0600; a stale socket
 * file is replaced, a live one is an error).  May be called several times
 * on one listener.  0 or a negative error; ERR names the address.
 */
int listener_open(struct listener *l, const char *address, char *err,
		  size_t errlen);

/* Per-connection time limit, for the head and again for the reply. */
void listener_set_timeout(struct listener *l, unsigned timeout_ms);

/* The port of the first TCP address opened (":0" picks one); 0 if none. */
int listener_port(const struct listener *l);

/* Connections open right now (for tests and status). */
size_t listener_connections(const struct listener *l);

/*
 * Close every listening handle and connection, unlinking the unix socket
 * files it created; the memory is freed once the loop has run the close
 * callbacks.  The handler is not called again.
 */
void listener_close(struct listener *l);

/*
 * Where a client reaches ADDRESS (as listener_open() takes it): URL gets
 * "http://HOST:PORT" ("http://localhost" for a unix socket, whose path
 * goes to SOCK, else SOCK is ""); ":port" and unspecified hosts mean
 * loopback.  0, or a negative error with ERR naming the address.
 */
int listener_client_target(const char *address, char *url, size_t ulen,
			   char *sock, size_t slen, char *err, size_t errlen);

/*
 * The request parser, apart from the sockets so that test/fuzz/ can feed
 * it bytes.  listener_head_end: the end of the head (just past the blank
 * line) when one ends in BUF[FROM..TO), else 0; BUF[0..FROM) was looked
 * at already.  listener_parse_head: the head BUF[0..LEN), cut in place:
 * 0 with METHOD and PATH pointing into BUF, or the status to answer.
 */
#define LISTENER_HEAD_MAX 8192		/* request line + headers */
size_t listener_head_end(const char *buf, size_t from, size_t to);
int listener_parse_head(char *buf, size_t len, char **method, char **path);

#endif
