/*
 * notify: systemd's notify protocol, without libsystemd.  See notify.h.
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct notify {
	int fd;
	struct sockaddr_un sun;
	socklen_t sunlen;
	uv_timer_t watchdog;
	int warned;
};

static void
on_watchdog(uv_timer_t *t)
{
	notify_send(t->data, "WATCHDOG=1");
}

int
notify_open(uv_loop_t *loop, struct notify **out)
{
	const char *path = getenv("NOTIFY_SOCKET"), *wd = getenv("WATCHDOG_USEC");
	const char *wpid = getenv("WATCHDOG_PID");
	struct notify *n;
	size_t len;

	*out = NULL;
	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	len = strlen(path);
	if (len >= sizeof(n->sun.sun_path)) {
		log_warn("notify", "NOTIFY_SOCKET is too long; not notifying");
		return 0;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0) {
		log_warn("notify", "cannot open a socket for NOTIFY_SOCKET: %s",
			 strerror(errno));
		free(n);
		return 0;
	}
	n->sun.sun_family = AF_UNIX;
	memcpy(n->sun.sun_path, path, len);
	if (path[0] == '@')
		n->sun.sun_path[0] = '\0';	/* an abstract name */
	n->sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	uv_timer_init(loop, &n->watchdog);
	n->watchdog.data = n;
	if (wd && (wpid == NULL || wpid[0] == '\0' ||
		   strtol(wpid, NULL, 10) == (long)getpid())) {
		unsigned long long usec = strtoull(wd, NULL, 10);
		if (usec >= 2000) {
			/* Half the period, as sd_watchdog_enabled() advises. */
			uint64_t ms = usec / 2000;
			uv_timer_start(&n->watchdog, on_watchdog, ms, ms);
			log_info("notify", "watchdog: pinging every %llu ms",
				 (unsigned long long)ms);
		}
	}
	/* The watchdog keeps no loop alive on its own account. */
	uv_unref((uv_handle_t *)&n->watchdog);
	unsetenv("NOTIFY_SOCKET");	/* hooks and the exec child get none */
	*out = n;
	return 0;
}

void
notify_send(struct notify *n, const char *msg)
{
	if (n == NULL)
		return;
	if (sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&n->sun,
		   n->sunlen) < 0 && !n->warned) {
		n->warned = 1;
		log_warn("notify", "cannot notify the service manager: %s",
			 strerror(errno));
	}
}

void
notify_ready(struct notify *n, const char *status)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	notify_send(n, msg);
}

void
notify_reloading(struct notify *n)
{
	struct timespec ts;
	char msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	notify_send(n, msg);
}

void
notify_stopping(struct notify *n)
{
	notify_send(n, "STOPPING=1");
}

void
notify_status(struct notify *n, const char *status)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	notify_send(n, msg);
}

static void
on_closed(uv_handle_t *h)
{
	free(h->data);
}

void
notify_close(struct notify *n)
{
	if (n == NULL)
		return;
	close(n->fd);
	uv_timer_stop(&n->watchdog);
	uv_close((uv_handle_t *)&n->watchdog, on_closed);
}
