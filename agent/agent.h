/*
 * agent: the daemon's owner object.  It holds the loop, the configuration
 * and every live module, and is passed explicitly; nothing else is
 * global (STYLE.md).
 */
#ifndef CERTAGENT_AGENT_H
#define CERTAGENT_AGENT_H

#include <stddef.h>

#define AGENT_DRY_RUN 0x1	/* render templates to stdout, issue nothing, exit */
#define AGENT_ONCE 0x2		/* render everything once and exit: run --once */
#define AGENT_EXEC 0x4		/* run the application as a child: exec */

/*
 * Run until SIGTERM/SIGINT (dry or once: until every file is rendered or
 * has failed for good; exec: until the application exits, with
 * EXEC_ARGV, or exec.command when NULL); returns the process exit code.
 */
int agent_run(const char *config_path, unsigned flags, char **exec_argv);

/*
 * Block the signals the agent handles (SIGTERM, SIGINT, SIGHUP, SIGUSR1)
 * until its handlers exist: a signal in the first milliseconds after exec
 * (systemd, a kubelet pre-stop hook, a sibling container) would otherwise
 * kill it with the default action.  main() holds them first thing;
 * agent_run() releases them once its loop can take them, and the other
 * commands release them at once.
 */
void agent_hold_signals(void);
void agent_release_signals(void);

/* `certagent check`: validate CONFIG_PATH, print every error; 0 or 2. */
int agent_check(const char *config_path);

/*
 * The listener.control_socket CONFIG_PATH names, for `certagent rotate`,
 * into OUT; -1 (the cause printed to stderr) if the file is invalid or
 * sets none.
 */
int agent_control_socket(const char *config_path, char *out, size_t len);

/*
 * Where `certagent status` asks the agent running with CONFIG_PATH:
 * "unix:" and its control socket, else its listener.address, into OUT;
 * -1 (the cause printed to stderr) if the file is invalid or sets neither.
 */
int agent_status_address(const char *config_path, char *out, size_t len);

#endif
