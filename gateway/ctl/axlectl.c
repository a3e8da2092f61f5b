/* axlectl.c -- the admin tool: one mTLS HTTP/2 connection to a node, one command table. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "gateway/net/client.h"
#include "gateway/ctl/ctl.h"

static int cmd_help(struct ctl *, int, char **);

static const struct ctl_cmd ctl_help_cmds[] = {
	{ "help", "", "list the commands", false, cmd_help },
};

/* The one table: each service's rows, in the order help lists them. */
static const struct {
	const struct ctl_cmd *cmds;
	const size_t *n;
} ctl_tables[] = {
	{ ctl_node_cmds, &ctl_node_ncmds },
	{ ctl_recourse_cmds, &ctl_recourse_ncmds },
	{ ctl_audit_cmds, &ctl_audit_ncmds },
	{ ctl_registry_cmds, &ctl_registry_ncmds },
	{ ctl_keys_cmds, &ctl_keys_ncmds },
	{ ctl_peering_cmds, &ctl_peering_ncmds },
	{ ctl_switch_cmds, &ctl_switch_ncmds },
	{ ctl_help_cmds, NULL },
};
#define CTL_NTABLES (sizeof(ctl_tables) / sizeof(ctl_tables[0]))

static size_t
ctl_table_len(size_t t)
{
	return ctl_tables[t].n != NULL ? *ctl_tables[t].n :
	    sizeof(ctl_help_cmds) / sizeof(ctl_help_cmds[0]);
}

static void
ctl_usage(FILE *f)
{
	fprintf(f,
	    "usage: axlectl [-c axlectl.conf | --cert F --key F --trust DIR "
	    "--federation FED]\n"
	    "               [--server host:port] [--json] [--timeout ms] "
	    "[--sign-key F --sign-cert F]\n"
	    "               COMMAND [ARGS...]\n"
	    "       axlectl --help | --version\n"
	    "Settings also come from AXLE_CERT, AXLE_KEY, AXLE_TRUST, "
	    "AXLE_FEDERATION, AXLE_SERVER,\n"
	    "AXLE_SIGN_KEY, AXLE_SIGN_CERT (the hub's signing key and certificate: "
	    "send signs with them)\n"
	    "(flags win over the environment, which wins over the config "
	    "file). Server default %s.\n"
	    "Exit status: 0 ok, 1 the call failed, 2 usage.\n"
	    "Commands:\n", CTL_DEFAULT_SERVER);
	for (size_t t = 0; t < CTL_NTABLES; t++)
		for (size_t i = 0; i < ctl_table_len(t); i++)
			fprintf(f, "  %-18s %-28s %s\n", ctl_tables[t].cmds[i].name,
			    ctl_tables[t].cmds[i].args, ctl_tables[t].cmds[i].help);
}

static int
cmd_help(struct ctl *ctl, int argc, char **argv)
{
	ctl_usage(stdout);
	return CTL_OK;
}

/* --- `-`: the id from stdin -------------------------------------------- */

/*
 * Commands that take one id where `-` reads it from stdin, and where in
 * another command's --json that id is (ack reads its own, many at once).
 */
static const struct {
	const char *cmd;
	const char *paths[4];
} ctl_stdin_ids[] = {
	{ "status", { "receipt.message_id", "envelope.message_id", "message_id" } },
	{ "reject", { "envelope.message_id", "message_id" } },
	{ "cases", { "id", "record.id", "case.id" } },
	{ "registrar", { "id", "registrar.id" } },
};
#define CTL_STDIN_IDS_MAX	10000

/* The index of a "-" argument (after the command word) of a command that takes one, or 0. */
static int
ctl_dash_arg(const char *cmd, int argc, char **argv, const char *const **paths)
{
	for (size_t i = 0; i < sizeof(ctl_stdin_ids) / sizeof(ctl_stdin_ids[0]); i++) {
		if (strcmp(ctl_stdin_ids[i].cmd, cmd) != 0)
			continue;
		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], "-") == 0) {
				*paths = ctl_stdin_ids[i].paths;
				return a;
			}
	}
	return 0;
}

/* Runs cmd once for each id read from stdin in place of argv[dash]; the worst exit status. */
static int
ctl_run_each(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv,
    int dash, const char *const *paths)
{
	size_t n;
	char **ids = ctl_stdin_values(paths, CTL_STDIN_IDS_MAX, &n);
	int rc = CTL_OK;

	if (ids == NULL)
		return CTL_USAGE;
	if (n == 0) {
		fprintf(stderr, "axlectl: %s: no id on stdin\n", cmd->name);
		rc = CTL_USAGE;
	}
	for (size_t i = 0; i < n && rc != CTL_USAGE; i++) {
		int r;

		argv[dash] = ids[i];
		if ((r = cmd->run(ctl, argc, argv)) > rc)
			rc = r;
	}
	ctl_values_free(ids, n);
	return rc;
}

/* --- main ------------------------------------------------------------ */

static const struct ctl_cmd *
ctl_find(const char *name)
{
	for (size_t t = 0; t < CTL_NTABLES; t++)
		for (size_t i = 0; i < ctl_table_len(t); i++)
			if (strcmp(ctl_tables[t].cmds[i].name, name) == 0)
				return &ctl_tables[t].cmds[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	struct ctl ctl = { .cmd = "axlectl", .usage = ctl_usage };
	const struct ctl_cmd *cmd;
	const char *const *paths = NULL;
	int first, rc, dash;

	signal(SIGPIPE, SIG_IGN);
	if ((first = ctl_parse(&ctl, argc, argv)) < 0)
		return CTL_USAGE;
	if ((cmd = ctl_find(argv[first])) == NULL) {
		fprintf(stderr, "axlectl: unknown command '%s' (try axlectl "
		    "help)\n", argv[first]);
		return CTL_USAGE;
	}
	ctl.cmd = cmd->name;
	rc = cmd->connects ? ctl_connect(&ctl) : CTL_OK;
	dash = ctl_dash_arg(cmd->name, argc - first, argv + first, &paths);
	if (rc == CTL_OK && dash > 0)
		rc = ctl_run_each(&ctl, cmd, argc - first, argv + first, dash, paths);
	else if (rc == CTL_OK)
		rc = cmd->run(&ctl, argc - first, argv + first);
	net_client_free(ctl.client);
	if (ctl.base != NULL)
		event_base_free(ctl.base);
	if (ctl.ctx != NULL)
		SSL_CTX_free(ctl.ctx);
	return rc;
}
