/*
 * client: the blocking HTTP client of the command line (`certagent
 * rotate`), for the agent's own listener and control socket.
 *
 * DESIGN: libcurl's easy interface, which speaks to a unix socket through
 * CURLOPT_UNIX_SOCKET_PATH, so the CLI parses no HTTP of its own.  The
 * reply comes from whoever holds the port or the socket, so it is bounded
 * (size and time) and only a well-formed HTTP/1.x reply is accepted.
 */
#ifndef CERTAGENT_CLIENT_H
#define CERTAGENT_CLIENT_H

#include <stddef.h>

/* The largest reply body accepted. */
#define CLIENT_REPLY_MAX (4 * 1024 * 1024)

/*
 * Send METHOD PATH (no body) to ADDRESS ("127.0.0.1:8281", "[::1]:8281",
 * ":8281" or "unix:/path"; see listener_open) and read the reply within
 * TIMEOUT_MS.  Returns the HTTP status with the body malloc'd and
 * NUL-terminated in *BODY, or a negative errno with ERR naming ADDRESS:
 * -EINVAL (a bad address or request), -ENOENT or -ECONNREFUSED (nobody
 * there), -ETIMEDOUT, -EPROTO (not a valid HTTP reply, or cut short),
 * -EMSGSIZE (a body over CLIENT_REPLY_MAX).
 */
int client_request(const char *address, const char *method, const char *path,
		   int timeout_ms, char **body, char *err, size_t errlen);

#endif
