/*
 * log: leveled log lines on stderr, as plain text or JSON lines.
 *
 * DESIGN: callers never pass secrets to the logger; as a second line of
 * defence, values registered with log_redact_add() are replaced by
 * "[redacted]" in every line before it is written.
 */
#ifndef CERTAGENT_LOG_H
#define CERTAGENT_LOG_H

#include <stddef.h>

enum log_level {
	LOGL_DEBUG,
	LOGL_INFO,
	LOGL_WARN,
	LOGL_ERROR,
};

void log_setup(enum log_level level, int json);
int log_level_parse(const char *s, enum log_level *out);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) log_msg(LOGL_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOGL_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOGL_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOGL_ERROR, mod, __VA_ARGS__)

/* Register / forget a secret value that must never appear in a log line. */
void log_redact_add(const char *secret);
void log_redact_remove(const char *secret);
void log_redact_clear(void);

/* Copy IN to OUT (capacity CAP) with every registered secret replaced
 * by "[redacted]", as every log line is: for other outputs (audit). */
void log_scrub(const char *in, char *out, size_t cap);

/* "SIGHUP", "SIGTERM", ...: a signal as messages name it; "a signal" for
 * one without a name here. */
const char *log_signal_name(int sig);

#endif
