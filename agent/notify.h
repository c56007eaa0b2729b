/*
 * notify: systemd's notify protocol, without libsystemd.
 *
 * DESIGN: a datagram to $NOTIFY_SOCKET (a path, or an abstract name
 * written "@name") per state change: READY=1 after the first full
 * render, RELOADING=1 with MONOTONIC_USEC= on SIGHUP and READY=1 once the
 * reload is applied, STOPPING=1, STATUS= with a one-line summary, and
 * WATCHDOG=1 at half of $WATCHDOG_USEC from a loop timer, so a stuck loop
 * stops the pings and systemd restarts the agent.  Without $NOTIFY_SOCKET
 * every call is a no-op.  Sends never block and a failure is logged once.
 */
#ifndef CERTAGENT_NOTIFY_H
#define CERTAGENT_NOTIFY_H

#include <uv.h>

struct notify;

/* From the environment; *OUT is NULL (and 0 returned) when not under a
 * notify-aware service manager. */
int notify_open(uv_loop_t *loop, struct notify **out);

/* Send MSG (one or more "KEY=value" lines) as one datagram. */
void notify_send(struct notify *n, const char *msg);

void notify_ready(struct notify *n, const char *status);
void notify_reloading(struct notify *n);
void notify_stopping(struct notify *n);
void notify_status(struct notify *n, const char *status);

/* Stop the watchdog timer and free; memory is freed from the loop. */
void notify_close(struct notify *n);

#endif
