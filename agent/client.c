/*
 * client: the blocking HTTP client of the command line.  See client.h.
 *
 * DESIGN / invariants: one easy handle per request, no connection reuse,
 * no redirects, no proxy, no protocol but HTTP; HTTP/0.9 is refused, so
 * something that is not an HTTP server is an error, not a body.
 */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "listener.h"

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	/* Returning less than given makes curl stop: CURLE_WRITE_ERROR. */
	return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* A request line curl will send as it is: a token and an origin form. */
static int
valid_request(const char *method, const char *path)
{
	if (method[0] == '\0' || path[0] != '/')
		return 0;
	for (const char *p = method; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
			return 0;
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

int
client_request(const char *address, const char *method, const char *path,
	       int timeout_ms, char **body, char *err, size_t errlen)
{
	char base[128], sock[128], url[4300], cerr[CURL_ERROR_SIZE] = "";
	struct buf b = BUF_INIT(CLIENT_REPLY_MAX);
	struct stat st;
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	size_t len;
	int rc;

	*body = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (!valid_request(method, path) || timeout_ms <= 0) {
		snprintf(err, errlen, "%s: invalid request %s %s", address, method,
			 path);
		return -EINVAL;
	}
	rc = listener_client_target(address, base, sizeof(base), sock, sizeof(sock),
				    err, errlen);
	if (rc != 0)
		return -EINVAL;
	/* curl says "couldn't connect" for both; the CLI can tell them apart. */
	if (sock[0] && stat(sock, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", address, strerror(errno));
		return rc;
	}
	snprintf(url, sizeof(url), "%s%s", base, path);
	h = curl_easy_init();
	if (h == NULL) {
		snprintf(err, errlen, "%s: out of memory", address);
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	if (sock[0])
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "certagent");
	/* A Content-Length over the cap (or past 64 bits) ends it early. */
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CLIENT_REPLY_MAX);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	switch (cc) {
	case CURLE_OK:
		if (status >= 100 && status <= 599)
			break;
		/* fall through */
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		rc = -EPROTO;
		snprintf(err, errlen, "%s: not a valid HTTP reply (%s)", address,
			 cerr[0] ? cerr : curl_easy_strerror(cc));
		goto fail;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		rc = cc == CURLE_FILESIZE_EXCEEDED || b.err == -E2BIG ? -EMSGSIZE
								     : -ENOMEM;
		snprintf(err, errlen, rc == -EMSGSIZE ? "%s: reply larger than %d "
			 "bytes" : "%s: out of memory", address, CLIENT_REPLY_MAX);
		goto fail;
	case CURLE_OPERATION_TIMEDOUT:
		rc = -ETIMEDOUT;
		snprintf(err, errlen, "%s: no reply within %d ms", address, timeout_ms);
		goto fail;
	case CURLE_COULDNT_CONNECT:
		rc = -ECONNREFUSED;
		snprintf(err, errlen, "%s: connection refused", address);
		goto fail;
	default:
		rc = -EIO;
		snprintf(err, errlen, "%s: %s", address,
			 cerr[0] ? cerr : curl_easy_strerror(cc));
		goto fail;
	}
	*body = buf_take(&b, &len);
	if (*body == NULL) {
		snprintf(err, errlen, "%s: out of memory", address);
		return -ENOMEM;
	}
	return (int)status;
fail:
	buf_free(&b);
	return rc;
}
