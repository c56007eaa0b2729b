/*
 * agent: the daemon's owner object.  It holds the loop, the configuration
 * and every live module, and is passed explicitly; nothing else is
 * global (STYLE.md).
 */
#ifndef CERTAGENT_AGENT_H
#define CERTAGENT_AGENT_H

#define AGENT_DRY_RUN 0x1	/* render templates to stdout, issue nothing, exit */
#define AGENT_ONCE 0x2		/* render everything once and exit: run --once */
#define AGENT_EXEC 0x4		/* run the application as a child: exec */

/*
 * Run until SIGTERM/SIGINT (dry or once: until every file is rendered or
 * has failed for good; exec: until the application exits, with
 * EXEC_ARGV, or exec.command when NULL); returns the process exit code.
 */
int agent_run(const char *config_path, unsigned flags, char **exec_argv);

#endif
