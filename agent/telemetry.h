/*
 * telemetry: what the agent shows of itself: /healthz, /readyz and
 * Prometheus /metrics on listener.address, and the local control socket
 * (POST /v1/rotate[/NAME]) for `certagent rotate`; GET /v1/status on
 * both, for `certagent status`: every managed certificate, template,
 * lease and hook, the token's expiry and the Vault address in use, as
 * JSON, with an overall health (healthy, degraded, critical).
 *
 * DESIGN: telemetry reads the agent's state, it never drives it.  It
 * holds a pointer to a struct telemetry_view the agent keeps current (the
 * modules of the running configuration, and where the agent stands) and
 * answers every request from it, synchronously, on the loop.  The one
 * action, rotate, is not telemetry's: it goes to the agent's rotate entry
 * point through the callback the agent gives.
 */
#ifndef CERTAGENT_TELEMETRY_H
#define CERTAGENT_TELEMETRY_H

#include <stddef.h>
#include <uv.h>

struct auth;
struct certs;
struct deps;
struct hooks;
struct revq;
struct telemetry;
struct templates;
struct vault;

/* The agent's state, as telemetry reads it; any module may be NULL. */
struct telemetry_view {
	struct certs *certs;
	struct templates *templates;
	struct auth *auth;
	struct vault *vault;
	struct hooks *hooks;
	struct deps *deps;
	int rendered;		/* every file has been in place once */
	int stopping;
	int fail_open;		/* fail_open: ready on valid files alone */
	struct revq *revq;	/* pending revocations (lifecycle) */
};

struct telemetry_opts {
	char *address;			/* host:port for the endpoints, or NULL */
	char *control_socket;		/* a unix socket path, or NULL */
	int fail_open;			/* fail_open: see telemetry.c's ready() */
};

/* Renew NAME (NULL: every certificate) now; how many matched. */
typedef size_t (*telemetry_rotate_cb)(void *arg, const char *name);

/*
 * Open what O asks for.  VIEW is read at every request and must outlive
 * the telemetry.  0, or a negative error with ERR naming the address;
 * *OUT is set either way and must be closed.
 */
int telemetry_open(uv_loop_t *loop, const struct telemetry_opts *o,
		   const struct telemetry_view *view, telemetry_rotate_cb rotate,
		   void *arg, struct telemetry **out, char *err, size_t errlen);

/* Stop listening; memory is freed from the loop. */
void telemetry_close(struct telemetry *t);

#endif
