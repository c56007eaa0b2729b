/*
 * log: leveled log lines on stderr, as plain text or JSON lines.
 *
 * DESIGN: one line per call, built in a bounded buffer and written with a
 * single write(2) so concurrent writers (hooks' children share stderr)
 * cannot interleave inside a line.  Callers never pass secrets; values
 * registered with log_redact_add() are still scrubbed from every line as a
 * second line of defence.  The logger is process-wide by nature (stderr
 * is), so its few settings are the one exception to "no global state".
 */
#include "log.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define REDACT_SLOTS 16
#define REDACT_MIN_LEN 8	/* shorter values would scrub ordinary words */

static struct {
	enum log_level level;
	int json;
	char *redact[REDACT_SLOTS];
} logger = { LOGL_INFO, 0, { 0 } };

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
log_setup(enum log_level level, int json)
{
	logger.level = level;
	logger.json = json;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOGL_WARN;
		return 0;
	}
	return -1;
}

int
log_enabled(enum log_level level)
{
	return level >= logger.level;
}

void
log_redact_add(const char *secret)
{
	if (secret == NULL || strlen(secret) < REDACT_MIN_LEN)
		return;
	for (int i = 0; i < REDACT_SLOTS; i++)
		if (logger.redact[i] && strcmp(logger.redact[i], secret) == 0)
			return;
	for (int i = 0; i < REDACT_SLOTS; i++) {
		if (logger.redact[i] == NULL) {
			logger.redact[i] = strdup(secret);
			return;
		}
	}
	/* Full: drop the oldest slot; the newest secrets matter most. */
	free(logger.redact[0]);
	memmove(&logger.redact[0], &logger.redact[1],
		(REDACT_SLOTS - 1) * sizeof(logger.redact[0]));
	logger.redact[REDACT_SLOTS - 1] = strdup(secret);
}

void
log_redact_remove(const char *secret)
{
	if (secret == NULL)
		return;
	for (int i = 0; i < REDACT_SLOTS; i++) {
		if (logger.redact[i] && strcmp(logger.redact[i], secret) == 0) {
			free(logger.redact[i]);
			logger.redact[i] = NULL;
		}
	}
}

void
log_redact_clear(void)
{
	for (int i = 0; i < REDACT_SLOTS; i++) {
		free(logger.redact[i]);
		logger.redact[i] = NULL;
	}
}

/*
 * Copy IN to OUT (capacity CAP) with every registered secret replaced by
 * "[redacted]"; the result is truncated to fit, never overflows.
 */
static void
redact(const char *in, char *out, size_t cap)
{
	static const char mark[] = "[redacted]";
	size_t len = 0;

	while (*in && len + 1 < cap) {
		size_t hit = 0;
		for (int i = 0; i < REDACT_SLOTS && hit == 0; i++) {
			const char *s = logger.redact[i];
			size_t n = s ? strlen(s) : 0;
			if (n && strncmp(in, s, n) == 0)
				hit = n;
		}
		if (hit) {
			size_t m = sizeof(mark) - 1;
			if (m > cap - 1 - len)
				m = cap - 1 - len;
			memcpy(out + len, mark, m);
			len += m;
			in += hit;
		} else {
			out[len++] = *in++;
		}
	}
	out[len] = '\0';
}

void
log_scrub(const char *in, char *out, size_t cap)
{
	if (cap)
		redact(in, out, cap);
}

/* Append S to OUT as JSON string content. */
static size_t
json_escape(char *out, size_t cap, size_t len, const char *s)
{
	for (; *s && len + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[len++] = '\\';
			out[len++] = (char)c;
		} else if (c == '\n') {
			out[len++] = '\\';
			out[len++] = 'n';
		} else if (c < 0x20) {
			len += (size_t)snprintf(out + len, cap - len, "\\u%04x", c);
		} else {
			out[len++] = (char)c;
		}
	}
	out[len] = '\0';
	return len;
}

void
log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	char raw[LOG_LINE_MAX], msg[LOG_LINE_MAX], line[LOG_LINE_MAX * 2];
	char ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	size_t len;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	redact(raw, msg, sizeof(msg));

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	len = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + len, sizeof(ts) - len, ".%03ldZ", now.tv_nsec / 1000000);

	if (logger.json) {
		len = (size_t)snprintf(line, sizeof(line),
				       "{\"time\":\"%s\",\"level\":\"%s\","
				       "\"module\":\"%s\",\"msg\":\"",
				       ts, level_names[level], module);
		len = json_escape(line, sizeof(line) - 3, len, msg);
		memcpy(line + len, "\"}\n", 4);
		len += 3;
	} else {
		int n = snprintf(line, sizeof(line), "%s %-5s %s: %s\n", ts,
				 level_names[level], module, msg);
		len = n < 0 ? 0 : (size_t)n;
		if (len >= sizeof(line)) {
			len = sizeof(line) - 1;
			line[len - 1] = '\n';
		}
	}
	/* One write per line; a short write to stderr is not retried. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

const char *
log_signal_name(int sig)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = {
		{ SIGHUP, "SIGHUP" },	{ SIGINT, "SIGINT" },
		{ SIGQUIT, "SIGQUIT" }, { SIGKILL, "SIGKILL" },
		{ SIGTERM, "SIGTERM" }, { SIGUSR1, "SIGUSR1" },
		{ SIGUSR2, "SIGUSR2" }, { SIGWINCH, "SIGWINCH" },
		{ SIGSEGV, "SIGSEGV" }, { SIGABRT, "SIGABRT" },
		{ SIGPIPE, "SIGPIPE" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].sig == sig)
			return names[i].name;
	return "a signal";
}
