/*
 * http: libcurl's multi socket interface driven by the libuv loop.
 *
 * DESIGN: this is the only file that knows how curl and libuv meet.  A
 * caller builds a CURL easy handle, hands it to http_add() with a
 * completion callback, and gets the callback exactly once when the
 * transfer ends; http_remove() takes a transfer back without a callback.
 * No call here blocks: name resolution must be asynchronous, and
 * http_new() refuses a libcurl that cannot resolve without blocking.
 */
#ifndef CERTAGENT_HTTP_H
#define CERTAGENT_HTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <uv.h>

struct http;

/* RESULT is the transfer's CURLcode; EASY is still owned by the caller. */
typedef void (*http_done_cb)(CURL *easy, CURLcode result, void *arg);

/* 0 or a negative error; a human reason goes into ERR. */
int http_new(uv_loop_t *loop, struct http **out, char *err, size_t errlen);

/*
 * Start EASY.  On success CB fires exactly once, from the loop, unless
 * http_remove() takes the transfer back first.  EASY must not use
 * CURLOPT_PRIVATE, which belongs to this module.
 */
int http_add(struct http *h, CURL *easy, http_done_cb cb, void *arg);

/* Stop a transfer that has not completed; its callback never fires. */
void http_remove(struct http *h, CURL *easy);

/*
 * At most N connections to one host at a time, queued beyond (libcurl's
 * CURLMOPT_MAX_HOST_CONNECTIONS); 0: no limit.  Takes effect for the
 * transfers added after it.
 */
void http_set_max_host_connections(struct http *h, long n);

/* Transfers under way (for tests and status). */
size_t http_active(const struct http *h);

/*
 * Tear down: every remaining transfer is removed without its callback,
 * curl is cleaned up first, then the uv handles are closed; the memory is
 * freed once the loop has run their close callbacks.
 */
void http_close(struct http *h);

#endif
