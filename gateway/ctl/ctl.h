/* ctl.h -- what axlectl's commands share: settings, the connection, calls, output. */
#ifndef AXLE_GW_CTL_H
#define AXLE_GW_CTL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
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
	char seal_key[PATH_MAX];	/* fetch opens sealed payloads with it */
	char seal_cert[PATH_MAX];	/* its certificate (optional) */
	char sign_key[PATH_MAX];	/* the hub's signing key (PEM): send signs with it */
	char sign_cert[PATH_MAX];	/* ... and its certificate, as published */
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
extern const struct ctl_cmd ctl_audit_cmds[];		/* ctl_audit.c */
extern const size_t ctl_audit_ncmds;
extern const struct ctl_cmd ctl_registry_cmds[];	/* ctl_registry.c */
extern const size_t ctl_registry_ncmds;
extern const struct ctl_cmd ctl_keys_cmds[];		/* ctl_keys.c */
extern const size_t ctl_keys_ncmds;
extern const struct ctl_cmd ctl_peering_cmds[];		/* ctl_peering.c */
extern const size_t ctl_peering_ncmds;
extern const struct ctl_cmd ctl_switch_cmds[];		/* ctl_switch.c */
extern const size_t ctl_switch_ncmds;

/* Prints "axlectl: CMD: STATUS: msg" and returns CTL_FAILED. */
int ctl_fail(const struct ctl *ctl, const char *status, const char *msg);
/* Writes s without terminal control bytes (it may come from the network). */
void ctl_put_safe(FILE *f, const char *s);
/* A table cell: safe, cut to width, padded, one space after. */
void ctl_put_col(const char *s, int width);
/* ms since the epoch as RFC 3339 UTC with milliseconds; "-" for 0. */
void ctl_time(int64_t ms, char *buf, size_t len);

/*
 * A table for people: a header, then rows kept until printed, each column
 * as wide as its widest cell so nothing is cut (empty cells print "-"), and
 * notes (a free line under the row before it). Cells and notes are copied
 * and printed without control bytes. ctl_table_new returns NULL on ENOMEM or
 * more than CTL_TABLE_MAXCOLS columns; head must outlive the table.
 * ctl_table_add and ctl_table_note return 0, or -1 on ENOMEM.
 */
#define CTL_TABLE_MAXCOLS	16
struct ctl_table;
struct ctl_table *ctl_table_new(const char *const *head, size_t ncols);
int ctl_table_add(struct ctl_table *t, const char *const *cells);
int ctl_table_note(struct ctl_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
size_t ctl_table_rows(const struct ctl_table *t);
void ctl_table_print(const struct ctl_table *t, FILE *f);
void ctl_table_free(struct ctl_table *t);

/*
 * An enum value's name without the prefix its enum gives every value
 * (ReceiptKind: RECEIPT_KIND_DELIVERED -> DELIVERED); "?" if unknown.
 */
const char *ctl_enum_name(const ProtobufCEnumDescriptor *d, int v);

/*
 * `CMD -`: the values a command takes, read from stdin. Either the --json
 * of another axlectl command, or words separated by white space. From JSON:
 * the string at the first of paths (NULL-terminated, dotted, e.g.
 * "envelope.message_id") that each element has, of a top-level array, or
 * of the first array member of a top-level object that has none of paths
 * itself (a list answer: {"cases": [...]}), else of that object alone. At
 * most max values. Returns them (count in *n; free with ctl_values_free),
 * or NULL after saying why on stderr.
 */
char **ctl_stdin_values(const char *const *paths, size_t max, size_t *n);
void ctl_values_free(char **v, size_t n);

/* One --name VALUE option of a command; repeated ones collect up to CTL_OPT_MULTI values. */
#define CTL_OPT_MULTI	32
struct ctl_opt {
	const char *name;
	bool multi;
	const char *val;
	const char *vals[CTL_OPT_MULTI];
	size_t n;
};

/*
 * Splits argv[first..argc) into options of opts and positional arguments
 * (into pos, at most max). Prints why and returns -1 on an unknown option,
 * a missing value, or a count of positionals outside [min, max].
 */
int ctl_parse_opts(const char *cmd, int argc, char **argv, int first,
    struct ctl_opt *opts, size_t nopts, char **pos, size_t min, size_t max,
    size_t *npos);

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
/*
 * --json (ctl_json.c): m as JSON with the proto field names, through the
 * shared walker with axlectl's forms: bytes ids (*_id, *_ids) and hashes in
 * lower-case hex, int64 times (*_ms but durations) in RFC 3339 UTC with
 * milliseconds (null when 0), enum values by their short name (ACTIVE, not
 * REGISTRAR_STATUS_ACTIVE). ctl_json returns a new reference or NULL
 * (ENOMEM); ctl_print_json prints it indented, returns CTL_OK or CTL_FAILED.
 */
struct json_t;
/* Prints m as JSON (--json) or with show(m), then frees m; the print's result. */
int ctl_output(struct ctl *ctl, ProtobufCMessage *m,
    void (*show)(const ProtobufCMessage *));
struct json_t *ctl_json(const ProtobufCMessage *m);
int ctl_print_json(const ProtobufCMessage *m);
/*
 * An enum argument: a value's short or full name, any case, '-' for '_'
 * (active, ACTIVE, REGISTRAR_STATUS_ACTIVE). Returns 0 with *out, or -1.
 */
int ctl_enum_arg(const ProtobufCEnumDescriptor *d, const char *s, int *out);

#endif
