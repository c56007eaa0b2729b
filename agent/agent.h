/*
 * agent: the daemon's owner object.  It holds the loop, the configuration
 * and every live module, and is passed explicitly; nothing else is
 * global (STYLE.md).
 */
#ifndef CERTAGENT_AGENT_H
#define CERTAGENT_AGENT_H

#define AGENT_DRY_RUN 0x1	/* render templates to stdout, issue nothing, exit */

/* Run until SIGTERM/SIGINT (or, dry, until every template has rendered);
 * returns the process exit code. */
int agent_run(const char *config_path, unsigned flags);

#endif
