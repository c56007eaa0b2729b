/*
 * agent: the daemon's owner object.  It holds the loop, the configuration
 * and every live module, and is passed explicitly; nothing else is
 * global (STYLE.md).
 */
#ifndef CERTAGENT_AGENT_H
#define CERTAGENT_AGENT_H

/* Run until SIGTERM/SIGINT; returns the process exit code. */
int agent_run(const char *config_path);

#endif
