/* ctl.h -- what axlectl's commands share: settings, the connection, calls, output. */
#ifndef AXLE_GW_CTL_H
#define AXLE_GW_CTL_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <protobuf-c/protobuf-c.h>
#include <openssl/ssl.h>

#include "gateway/net/hostport.h"
#include "gateway/net/identity.h"

struct event_base;
struct net_client;

#define CTL_DEFAULT_SERVER	"localhost:7443"
#define CTL_DEFAULT_TIMEOUT_MS	10000

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2 };

/* Where a setting comes from, lowest precedence first: config file, env, flag. */
struct ctl_settings {
	char cert[PATH_MAX];
	char key[PATH_MAX];
	char trust[PATH_MAX];
	char federation[NET_FED_MAX + 1];
	char server[NET_HOST_MAX + NET_PORT_MAX + 4];
	int timeout_ms;
};

struct ctl {
	const char *cmd;		/* for error messages */
	void (*usage)(FILE *f);		/* usage text with every command (axlectl.c) */
	struct ctl_settings set;
	bool json;
	struct event_base *base;
	SSL_CTX *ctx;
	struct net_client *client;
};

struct ctl_cmd {
	const char *name;
	const char *args;		/* usage of the command's own arguments */
	const char *help;		/* one line */
	bool connects;			/* needs the connection to the node */
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

/* Every service's commands: one table, assembled in axlectl.c. */
extern const struct ctl_cmd ctl_node_cmds[];
extern const size_t ctl_node_ncmds;
extern const struct ctl_cmd ctl_recourse_cmds[];	/* ctl_recourse.c */
extern const size_t ctl_recourse_ncmds;
extern const struct ctl_cmd ctl_registry_cmds[];	/* ctl_registry.c */
extern const size_t ctl_registry_ncmds;
extern const struct ctl_cmd ctl_switch_cmds[];		/* ctl_switch.c */
extern const size_t ctl_switch_ncmds;

/* Prints "axlectl: CMD: STATUS: msg" and returns CTL_FAILED. */
int ctl_fail(const struct ctl *ctl, const char *status, const char *msg);
/* Writes s without terminal control bytes (it may come from the network). */
void ctl_put_safe(FILE *f, const char *s);
/* A table cell: safe, cut to width, padded, one space after. */
void ctl_put_col(const char *s, int width);
/* Parses options; returns the index of the command word, or -1 (usage printed). */
int ctl_parse(struct ctl *ctl, int argc, char **argv);
/* Opens the mTLS connection. Returns CTL_OK or CTL_FAILED (printed). */
int ctl_connect(struct ctl *ctl);
/*
 * One unary call: packs req, calls path, unpacks the answer as rdesc into
 * *out (pb_free it). Returns CTL_OK, or CTL_FAILED after printing
 * "axlectl: CMD: STATUS: message".
 */
int ctl_call(struct ctl *ctl, const char *path, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **out);
/* Prints m as indented JSON (proto field names). Returns CTL_OK or CTL_FAILED. */
int ctl_print_json(const ProtobufCMessage *m);

#endif
