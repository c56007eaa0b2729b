/*
 * status: `certagent status`, the running agent's /v1/status as a table
 * for people or as JSON for scripts, and an exit status for monitoring.
 *
 * DESIGN: the agent computes the state and the health (telemetry.c); this
 * side only fetches it through client.c and lays it out, so the table,
 * the JSON and a Nagios check can never disagree.  Colour only on a
 * terminal (isatty, not NO_COLOR, not TERM=dumb); piped output is plain
 * text with the same columns.
 */
#ifndef CERTAGENT_STATUS_H
#define CERTAGENT_STATUS_H

/* Exit statuses, as a Nagios plugin's: OK, WARNING, CRITICAL. */
#define STATUS_HEALTHY 0
#define STATUS_DEGRADED 1
#define STATUS_CRITICAL 2	/* expired, missing, or the agent unreachable */

/*
 * Ask the agent at ADDRESS ("unix:/path" or "host:port") and print its
 * status to stdout (JSON with AS_JSON).  Returns one of STATUS_*.
 */
int status_command(const char *address, int as_json);

#endif
