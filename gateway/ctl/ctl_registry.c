/* ctl_registry.c -- axlectl registrar, delegate, resolve, service, discover, feed: the register. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "axle/v1/axle.pb-c.h"
#include "axle/v1/registry.pb-c.h"
#include "gateway/net/client.h"
#include "gateway/ctl/ctl.h"
#include "proto/pb_json.h"
#include "proto/pb.h"
#include "registry/error.h"
#include "registry/feed.h"
#include "registry/policy.h"

static int
parse_u64(const char *cmd, const char *what, const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = s != NULL ? strtoull(s, &end, 10) : 0;
	if (s != NULL && (errno != 0 || *end != '\0' || s[0] == '-')) {
		fprintf(stderr, "axlectl: %s: %s: expected a number, got '%s'\n",
		    cmd, what, s);
		return -1;
	}
	return 0;
}

static const char *
status_name(Axle__V1__RegistrarStatus s)
{
	switch (s) {
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_PENDING: return "pending";
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE: return "active";
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED: return "suspended";
	case AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED: return "revoked";
	default: return "-";
	}
}

static int
parse_status(const char *s, Axle__V1__RegistrarStatus *out)
{
	int v;

	if (ctl_enum_arg(&axle__v1__registrar_status__descriptor, s, &v) != 0)
		return -1;
	*out = (Axle__V1__RegistrarStatus)v;
	return 0;
}

static const char *
kind_name(Axle__V1__ServiceKind k)
{
	switch (k) {
	case AXLE__V1__SERVICE_KIND__SERVICE_KIND_PORTAL: return "portal";
	case AXLE__V1__SERVICE_KIND__SERVICE_KIND_SWITCH: return "switch";
	case AXLE__V1__SERVICE_KIND__SERVICE_KIND_INDEX: return "index";
	case AXLE__V1__SERVICE_KIND__SERVICE_KIND_NODE: return "node";
	default: return "-";
	}
}

static int
parse_kind(const char *s, Axle__V1__ServiceKind *out)
{
	int v;

	if (ctl_enum_arg(&axle__v1__service_kind__descriptor, s, &v) != 0)
		return -1;
	*out = (Axle__V1__ServiceKind)v;
	return 0;
}

/* "a, b, c" of a string array into buf. */
static const char *
joined(char *const *v, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", v[i]);
	return buf[0] ? buf : "-";
}

static void
kv(const char *k, const char *v)
{
	printf("%-16s ", k);
	ctl_put_safe(stdout, v != NULL && v[0] != '\0' ? v : "-");
	putchar('\n');
}

/* --- registrar records ------------------------------------------------------------ */

static void
show_registrar(const Axle__V1__Registrar *r)
{
	char buf[1024];

	if (r == NULL) {
		printf("(no registrar)\n");
		return;
	}
	kv("id", r->id);
	kv("name", r->display_name);
	kv("region", r->region);
	kv("status", status_name(r->status));
	kv("status reason", r->status_reason);
	kv("prefixes", joined(r->prefixes, r->n_prefixes, buf, sizeof(buf)));
	kv("certificate", r->cert_identity);
	kv("successor", r->successor_id);
	registry_policy_text(r->policy, buf, sizeof(buf));
	kv("policy", buf);
	snprintf(buf, sizeof(buf), "%" PRIu64, r->version);
	kv("version", buf);
	for (size_t i = 0; i < r->n_contacts; i++) {
		snprintf(buf, sizeof(buf), "%s (%s) %s %s", r->contacts[i]->name,
		    r->contacts[i]->role, r->contacts[i]->email, r->contacts[i]->phone);
		kv("contact", buf);
	}
	if (r->n_services == 0)
		return;
	printf("\n%-24s %-7s %-36s %-24s %s\n", "SERVICE", "KIND", "ADDRESS",
	    "TYPES", "PURPOSES");
	for (size_t i = 0; i < r->n_services; i++) {
		const Axle__V1__Service *s = r->services[i];

		ctl_put_col(s->name, 24);
		ctl_put_col(kind_name(s->kind), 7);
		ctl_put_col(s->address, 36);
		ctl_put_col(joined(s->message_types, s->n_message_types, buf,
		    sizeof(buf)), 24);
		ctl_put_safe(stdout, joined(s->purposes, s->n_purposes, buf,
		    sizeof(buf)));
		putchar('\n');
	}
}

static void
show_registrar_msg(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (d == &axle__v1__get_registrar_response__descriptor)
		show_registrar(((const Axle__V1__GetRegistrarResponse *)m)->registrar);
	else if (d == &axle__v1__delegate_response__descriptor)
		show_registrar(((const Axle__V1__DelegateResponse *)m)->registrar);
	else if (d == &axle__v1__set_status_response__descriptor)
		show_registrar(((const Axle__V1__SetStatusResponse *)m)->registrar);
	else if (d == &axle__v1__publish_service_response__descriptor)
		show_registrar(((const Axle__V1__PublishServiceResponse *)m)->registrar);
	else if (d == &axle__v1__withdraw_service_response__descriptor)
		show_registrar(((const Axle__V1__WithdrawServiceResponse *)m)->registrar);
	else if (d == &axle__v1__set_policy_response__descriptor)
		show_registrar(((const Axle__V1__SetPolicyResponse *)m)->registrar);
}

static void
show_rehome(const ProtobufCMessage *m)
{
	const Axle__V1__ReHomeResponse *r = (const void *)m;

	printf("re-homed (feed entry %" PRIu64 ")\n\n", r->feed_seq);
	show_registrar(r->from_registrar);
	putchar('\n');
	show_registrar(r->to_registrar);
}

static int
registrar_add(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "name" }, { .name = "cert" },
	    { .name = "contact", .multi = true } };
	Axle__V1__DelegateRequest req = AXLE__V1__DELEGATE_REQUEST__INIT;
	Axle__V1__Contact contacts[CTL_OPT_MULTI], *cp[CTL_OPT_MULTI];
	char cbuf[CTL_OPT_MULTI][512], *pos[2];
	ProtobufCMessage *m;
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 3, pos, 2, 2, &np) != 0)
		return CTL_USAGE;
	req.registrar_id = pos[0];
	req.prefix = pos[1];
	req.display_name = (char *)(o[0].val ? o[0].val : "");
	req.cert_identity = (char *)(o[1].val ? o[1].val : "");
	/* --contact "name,role,email,phone" */
	for (size_t i = 0; i < o[2].n; i++) {
		char *f[4] = { "", "", "", "" }, *s = cbuf[i];

		snprintf(cbuf[i], sizeof(cbuf[i]), "%s", o[2].vals[i]);
		for (int k = 0; k < 4 && s != NULL; k++) {
			f[k] = s;
			if ((s = strchr(s, ',')) != NULL)
				*s++ = '\0';
		}
		axle__v1__contact__init(&contacts[i]);
		contacts[i].name = f[0];
		contacts[i].role = f[1];
		contacts[i].email = f[2];
		contacts[i].phone = f[3];
		cp[i] = &contacts[i];
	}
	req.contacts = cp;
	req.n_contacts = o[2].n;
	if (ctl_call(ctl, "/axle.v1.Registry/Delegate", &req.base,
	    &axle__v1__delegate_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_registrar_msg);
}

static int
registrar_show(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__GetRegistrarRequest req = AXLE__V1__GET_REGISTRAR_REQUEST__INIT;
	ProtobufCMessage *m;
	char *pos[1];
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, NULL, 0, pos, 1, 1, &np) != 0)
		return CTL_USAGE;
	req.id = pos[0];
	if (ctl_call(ctl, "/axle.v1.Registry/GetRegistrar", &req.base,
	    &axle__v1__get_registrar_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_registrar_msg);
}

/* One registrar as a row of the list's table; 0, or -1 on ENOMEM. */
static int
list_row(struct ctl_table *t, const Axle__V1__Registrar *r)
{
	char buf[1024];
	const char *cells[] = { r->id, r->region, status_name(r->status),
	    joined(r->prefixes, r->n_prefixes, buf, sizeof(buf)), r->display_name };

	return ctl_table_add(t, cells);
}

/* Every page; JSON: one array of the records. */
static int
registrar_list(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "prefix" }, { .name = "status" },
	    { .name = "region" } };
	Axle__V1__ListRegistrarsRequest req = AXLE__V1__LIST_REGISTRARS_REQUEST__INIT;
	Axle__V1__PageRequest page = AXLE__V1__PAGE_REQUEST__INIT;
	static const char *const head[] = { "ID", "REGION", "STATUS", "PREFIXES",
	    "NAME" };
	struct ctl_table *tab = ctl_table_new(head, 5);
	json_t *arr = json_array();
	char token[512] = "";
	size_t np, total = 0;
	int rc = CTL_OK;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 3, NULL, 0, 0, &np) != 0 ||
	    (o[1].val != NULL && parse_status(o[1].val, &req.status) != 0)) {
		fprintf(stderr, "usage: axlectl registrar list [--prefix P] "
		    "[--status pending|active|suspended|revoked] [--region R]\n");
		json_decref(arr);
		ctl_table_free(tab);
		return CTL_USAGE;
	}
	if (arr == NULL || tab == NULL)
		rc = ctl_fail(ctl, "INTERNAL", "out of memory");
	req.prefix = (char *)(o[0].val ? o[0].val : "");
	req.region = (char *)(o[2].val ? o[2].val : "");
	req.page = &page;
	page.page_size = 500;
	while (rc == CTL_OK) {
		Axle__V1__ListRegistrarsResponse *r;
		ProtobufCMessage *m;

		page.page_token = token;
		if ((rc = ctl_call(ctl, "/axle.v1.Registry/ListRegistrars", &req.base,
		    &axle__v1__list_registrars_response__descriptor, &m)) != CTL_OK)
			break;
		r = (Axle__V1__ListRegistrarsResponse *)m;
		for (size_t i = 0; i < r->n_registrars; i++) {
			if (ctl->json)
				json_array_append_new(arr, ctl_json(
				    &r->registrars[i]->base));
			else if (list_row(tab, r->registrars[i]) != 0)
				rc = ctl_fail(ctl, "INTERNAL", "out of memory");
		}
		total += r->n_registrars;
		snprintf(token, sizeof(token), "%s", r->page && r->page->next_page_token ?
		    r->page->next_page_token : "");
		pb_free(m);
		if (token[0] == '\0')
			break;
	}
	if (rc == CTL_OK && ctl->json) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (rc == CTL_OK && total == 0) {
		printf("(no registrars)\n");
	} else if (rc == CTL_OK) {
		ctl_table_print(tab, stdout);
	}
	json_decref(arr);
	ctl_table_free(tab);
	return rc;
}

static int
registrar_status(struct ctl *ctl, int argc, char **argv,
    Axle__V1__RegistrarStatus to)
{
	struct ctl_opt o[] = { { .name = "reason" }, { .name = "version" } };
	Axle__V1__SetStatusRequest req = AXLE__V1__SET_STATUS_REQUEST__INIT;
	ProtobufCMessage *m;
	char *pos[1];
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 2, pos, 1, 1, &np) != 0 ||
	    parse_u64(ctl->cmd, "--version", o[1].val, &req.expected_version) != 0)
		return CTL_USAGE;
	if (o[0].val == NULL) {
		fprintf(stderr, "axlectl: %s: --reason is required (it is "
		    "recorded in the feed)\n", ctl->cmd);
		return CTL_USAGE;
	}
	req.registrar_id = pos[0];
	req.status = to;
	req.reason = (char *)o[0].val;
	if (ctl_call(ctl, "/axle.v1.Registry/SetStatus", &req.base,
	    &axle__v1__set_status_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_registrar_msg);
}

static int
registrar_rehome(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "reason" }, { .name = "prefix", .multi = true } };
	Axle__V1__ReHomeRequest req = AXLE__V1__RE_HOME_REQUEST__INIT;
	ProtobufCMessage *m;
	char *pos[2];
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 2, pos, 2, 2, &np) != 0)
		return CTL_USAGE;
	if (o[0].val == NULL) {
		fprintf(stderr, "axlectl: %s: --reason is required\n", ctl->cmd);
		return CTL_USAGE;
	}
	req.from_registrar_id = pos[0];
	req.to_registrar_id = pos[1];
	req.reason = (char *)o[0].val;
	req.prefixes = (char **)o[1].vals;
	req.n_prefixes = o[1].n;
	if (ctl_call(ctl, "/axle.v1.Registry/ReHome", &req.base,
	    &axle__v1__re_home_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_rehome);
}

/* registrar policy ID --sealed all|none | --sealed-type T... --reason TEXT */
static int
registrar_policy(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "sealed" }, { .name = "sealed-type", .multi = true },
	    { .name = "reason" } };
	Axle__V1__SetPolicyRequest req = AXLE__V1__SET_POLICY_REQUEST__INIT;
	Axle__V1__TrafficPolicy pol = AXLE__V1__TRAFFIC_POLICY__INIT;
	ProtobufCMessage *m;
	char *pos[1];
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 3, pos, 1, 1, &np) != 0)
		return CTL_USAGE;
	if (o[2].val == NULL || (o[0].val == NULL && o[1].n == 0) ||
	    (o[0].val != NULL && strcmp(o[0].val, "all") != 0 &&
	    strcmp(o[0].val, "none") != 0) ||
	    (o[0].val != NULL && o[1].n > 0)) {
		fprintf(stderr, "axlectl: %s: registrar policy ID (--sealed all|none "
		    "| --sealed-type TYPE...) --reason TEXT (the reason is "
		    "recorded in the feed)\n", ctl->cmd);
		return CTL_USAGE;
	}
	pol.require_sealed = o[0].val != NULL && strcmp(o[0].val, "all") == 0;
	pol.sealed_message_types = (char **)o[1].vals;
	pol.n_sealed_message_types = o[1].n;
	req.registrar_id = pos[0];
	req.policy = &pol;
	req.reason = (char *)o[2].val;
	if (ctl_call(ctl, "/axle.v1.Registry/SetPolicy", &req.base,
	    &axle__v1__set_policy_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_registrar_msg);
}

static const char registrar_usage[] =
    "usage: axlectl registrar add ID PREFIX --name NAME --cert URI "
    "[--contact 'name,role,email,phone']...\n"
    "       axlectl registrar show ID\n"
    "       axlectl registrar list [--prefix P] [--status S] [--region R]\n"
    "       axlectl registrar suspend|activate|revoke ID --reason TEXT "
    "[--version V]\n"
    "       axlectl registrar rehome FROM_ID TO_ID --reason TEXT "
    "[--prefix P]...\n"
    "       axlectl registrar policy ID (--sealed all|none | --sealed-type T...) "
    "--reason TEXT\n";

static int
cmd_registrar(struct ctl *ctl, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcmp(sub, "add") == 0)
		return registrar_add(ctl, argc, argv);
	if (strcmp(sub, "show") == 0)
		return registrar_show(ctl, argc, argv);
	if (strcmp(sub, "list") == 0)
		return registrar_list(ctl, argc, argv);
	if (strcmp(sub, "suspend") == 0)
		return registrar_status(ctl, argc, argv,
		    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_SUSPENDED);
	if (strcmp(sub, "activate") == 0)
		return registrar_status(ctl, argc, argv,
		    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_ACTIVE);
	if (strcmp(sub, "revoke") == 0)
		return registrar_status(ctl, argc, argv,
		    AXLE__V1__REGISTRAR_STATUS__REGISTRAR_STATUS_REVOKED);
	if (strcmp(sub, "rehome") == 0)
		return registrar_rehome(ctl, argc, argv);
	if (strcmp(sub, "policy") == 0)
		return registrar_policy(ctl, argc, argv);
	fputs(registrar_usage, stderr);
	return CTL_USAGE;
}

/* delegate PREFIX REGISTRAR_ID [--name N --cert URI]: the same call as registrar add. */
static int
cmd_delegate(struct ctl *ctl, int argc, char **argv)
{
	char *swapped[64];

	if (argc < 3 || argc > 60) {
		fprintf(stderr, "usage: axlectl delegate PREFIX REGISTRAR_ID "
		    "[--name NAME --cert URI (for a new registrar)] "
		    "[--contact 'name,role,email,phone']...\n");
		return CTL_USAGE;
	}
	swapped[0] = argv[0];
	swapped[1] = "add";
	swapped[2] = argv[2];
	swapped[3] = argv[1];
	for (int i = 3; i < argc; i++)
		swapped[i + 1] = argv[i];
	return registrar_add(ctl, argc + 1, swapped);
}

/* --- resolve, discover ------------------------------------------------------------ */

static void
show_resolve(const ProtobufCMessage *m)
{
	const Axle__V1__ResolveResponse *r = (const void *)m;
	static const char *const outcome[] = {
		"-", "matched", "region only (unknown address)", "unknown",
	};

	kv("address", r->address);
	kv("outcome", outcome[r->outcome <= 3 ? r->outcome : 0]);
	kv("matched prefix", r->matched_prefix);
	kv("registrar", r->registrar ? r->registrar->id : "");
	kv("standing", r->registrar ? status_name(r->registrar->status) : "");
	kv("serving node", r->serving_node);
	kv("closest encloser", r->closest_encloser);
	kv("from mirror", r->from_mirror ? "yes" : "no");
}

static int
cmd_resolve(struct ctl *ctl, int argc, char **argv)
{
	Axle__V1__ResolveRequest req = AXLE__V1__RESOLVE_REQUEST__INIT;
	ProtobufCMessage *m;

	if (argc != 2) {
		fprintf(stderr, "usage: axlectl resolve ADDRESS|IDENTIFIER\n");
		return CTL_USAGE;
	}
	req.address = argv[1];
	if (ctl_call(ctl, "/axle.v1.Registry/Resolve", &req.base,
	    &axle__v1__resolve_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_resolve);
}

static void
show_discover(const ProtobufCMessage *m)
{
	const Axle__V1__DiscoverResponse *r = (const void *)m;
	char buf[1024];

	printf("%-24s %-7s %-32s %-16s %-14s %-24s %s\n", "SERVICE", "KIND",
	    "ADDRESS", "REGISTRAR", "REGION", "TYPES", "PURPOSES");
	for (size_t i = 0; i < r->n_services; i++) {
		const Axle__V1__DiscoveredService *d = r->services[i];
		const Axle__V1__Service *s = d->service;

		ctl_put_col(s ? s->name : "", 24);
		ctl_put_col(kind_name(s ? s->kind : 0), 7);
		ctl_put_col(s ? s->address : "", 32);
		ctl_put_col(d->registrar_id, 16);
		ctl_put_col(d->region, 14);
		ctl_put_col(s ? joined(s->message_types, s->n_message_types,
		    buf, sizeof(buf)) : "-", 24);
		ctl_put_safe(stdout, s ? joined(s->purposes, s->n_purposes,
		    buf, sizeof(buf)) : "-");
		putchar('\n');
	}
	if (r->n_services == 0)
		printf("(no services)\n");
	if (r->page != NULL && r->page->next_page_token != NULL &&
	    r->page->next_page_token[0] != '\0') {
		printf("(more: --page-token ");
		ctl_put_safe(stdout, r->page->next_page_token);
		printf(")\n");
	}
}

static int
cmd_discover(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "prefix" }, { .name = "kind" },
	    { .name = "type" }, { .name = "text" }, { .name = "page-size" },
	    { .name = "page-token" }, { .name = "purpose" } };
	Axle__V1__DiscoverRequest req = AXLE__V1__DISCOVER_REQUEST__INIT;
	Axle__V1__PageRequest page = AXLE__V1__PAGE_REQUEST__INIT;
	ProtobufCMessage *m;
	uint64_t size = 0;
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 1, o, 7, NULL, 0, 0, &np) != 0 ||
	    (o[1].val != NULL && parse_kind(o[1].val, &req.kind) != 0) ||
	    parse_u64(ctl->cmd, "--page-size", o[4].val, &size) != 0) {
		fprintf(stderr, "usage: axlectl discover [--prefix P] [--kind "
		    "portal|switch|index] [--type MESSAGE_TYPE] [--text TEXT] "
		    "[--purpose P] [--page-size N] [--page-token T]\n");
		return CTL_USAGE;
	}
	req.prefix = (char *)(o[0].val ? o[0].val : "");
	req.message_type = (char *)(o[2].val ? o[2].val : "");
	req.text = (char *)(o[3].val ? o[3].val : "");
	req.purpose = (char *)(o[6].val ? o[6].val : "");
	page.page_size = (uint32_t)size;
	page.page_token = (char *)(o[5].val ? o[5].val : "");
	req.page = &page;
	if (ctl_call(ctl, "/axle.v1.Portal/Discover", &req.base,
	    &axle__v1__discover_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_discover);
}

/* --- service publish|withdraw ------------------------------------------------------- */

static int
service_publish(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "kind" }, { .name = "address" },
	    { .name = "type", .multi = true }, { .name = "description" },
	    { .name = "endpoint" }, { .name = "purpose", .multi = true } };
	Axle__V1__PublishServiceRequest req = AXLE__V1__PUBLISH_SERVICE_REQUEST__INIT;
	Axle__V1__Service s = AXLE__V1__SERVICE__INIT;
	ProtobufCMessage *m;
	char *pos[2];
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 6, pos, 2, 2, &np) != 0 ||
	    o[0].val == NULL || parse_kind(o[0].val, &s.kind) != 0 ||
	    o[1].val == NULL) {
		fprintf(stderr, "usage: axlectl service publish REGISTRAR_ID NAME "
		    "--kind portal|switch|index --address ADDRESS [--type T]... "
		    "[--purpose P]... [--description TEXT] [--endpoint URL]\n");
		return CTL_USAGE;
	}
	req.registrar_id = pos[0];
	s.name = pos[1];
	s.address = (char *)o[1].val;
	s.message_types = (char **)o[2].vals;
	s.n_message_types = o[2].n;
	s.description = (char *)(o[3].val ? o[3].val : "");
	s.endpoint = (char *)(o[4].val ? o[4].val : "");
	s.purposes = (char **)o[5].vals;
	s.n_purposes = o[5].n;
	req.service = &s;
	if (ctl_call(ctl, "/axle.v1.Registry/PublishService", &req.base,
	    &axle__v1__publish_service_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_registrar_msg);
}

static int
service_withdraw(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "reason" } };
	Axle__V1__WithdrawServiceRequest req = AXLE__V1__WITHDRAW_SERVICE_REQUEST__INIT;
	ProtobufCMessage *m;
	char *pos[2];
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 1, pos, 2, 2, &np) != 0) {
		fprintf(stderr, "usage: axlectl service withdraw REGISTRAR_ID NAME "
		    "[--reason TEXT]\n");
		return CTL_USAGE;
	}
	req.registrar_id = pos[0];
	req.name = pos[1];
	req.reason = (char *)(o[0].val ? o[0].val : "");
	if (ctl_call(ctl, "/axle.v1.Registry/WithdrawService", &req.base,
	    &axle__v1__withdraw_service_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_registrar_msg);
}

static int
cmd_service(struct ctl *ctl, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcmp(sub, "publish") == 0)
		return service_publish(ctl, argc, argv);
	if (strcmp(sub, "withdraw") == 0)
		return service_withdraw(ctl, argc, argv);
	fprintf(stderr, "usage: axlectl service publish REGISTRAR_ID NAME --kind K "
	    "--address A [--type T]... [--purpose P]... [--description D] "
	    "[--endpoint E]\n"
	    "       axlectl service withdraw REGISTRAR_ID NAME [--reason TEXT]\n");
	return CTL_USAGE;
}

/* --- feed show|verify --------------------------------------------------------------- */

struct feed {
	Axle__V1__FeedResponse **pages;
	size_t npages;
	const Axle__V1__SignedHead *head;	/* of the last page */
	size_t entries;
};

static void
feed_free(struct feed *f)
{
	for (size_t i = 0; i < f->npages; i++)
		pb_free(&f->pages[i]->base);
	free(f->pages);
}

/* Fetches the node's own feed from seq from on, every page. */
static int
feed_fetch(struct ctl *ctl, uint64_t from, struct feed *f)
{
	Axle__V1__FeedRequest req = AXLE__V1__FEED_REQUEST__INIT;
	Axle__V1__FeedResponse *r;
	ProtobufCMessage *m;

	memset(f, 0, sizeof(*f));
	req.region = "";
	req.from_seq = from;
	for (;;) {
		Axle__V1__FeedResponse **np;

		if (ctl_call(ctl, "/axle.v1.Axle/Feed", &req.base,
		    &axle__v1__feed_response__descriptor, &m) != CTL_OK)
			return CTL_FAILED;
		r = (Axle__V1__FeedResponse *)m;
		if ((np = realloc(f->pages, (f->npages + 1) * sizeof(*np))) == NULL) {
			pb_free(m);
			return ctl_fail(ctl, "INTERNAL", "out of memory");
		}
		f->pages = np;
		f->pages[f->npages++] = r;
		f->entries += r->n_entries;
		f->head = r->head;
		if (!r->more || r->n_entries == 0)
			return CTL_OK;
		req.from_seq = r->entries[r->n_entries - 1]->seq + 1;
	}
}

static const char *
change_name(Axle__V1__FeedChange c)
{
	static const char *const n[] = { "-", "delegated", "status", "rehomed",
	    "service+", "service-", "updated", "key+", "key-", "policy", "moved" };

	return (unsigned)c < sizeof(n) / sizeof(n[0]) ? n[c] : "?";
}

static void
feed_row(const Axle__V1__FeedEntry *e)
{
	char when[32], seq[24];
	time_t t = (time_t)(e->at_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(seq, sizeof(seq), "%" PRIu64, e->seq);
	ctl_put_col(seq, 6);
	ctl_put_col(when, 20);
	ctl_put_col(change_name(e->change), 10);
	ctl_put_col(e->registrar ? e->registrar->id : "-", 16);
	ctl_put_col(e->actor, 40);
	ctl_put_safe(stdout, e->detail);
	putchar('\n');
}

static int
feed_show(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "from" } };
	uint64_t from = 1;
	struct feed f;
	json_t *arr;
	size_t np;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 1, NULL, 0, 0, &np) != 0 ||
	    parse_u64(ctl->cmd, "--from", o[0].val, &from) != 0)
		return CTL_USAGE;
	if (feed_fetch(ctl, from ? from : 1, &f) != CTL_OK) {
		feed_free(&f);
		return CTL_FAILED;
	}
	if (ctl->json) {
		arr = json_array();
		for (size_t p = 0; p < f.npages; p++)
			for (size_t i = 0; i < f.pages[p]->n_entries; i++)
				json_array_append_new(arr, ctl_json(
				    &f.pages[p]->entries[i]->base));
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(arr);
	} else {
		printf("%-6s %-20s %-10s %-16s %-40s %s\n", "SEQ", "AT (UTC)",
		    "CHANGE", "REGISTRAR", "ACTOR", "DETAIL");
		for (size_t p = 0; p < f.npages; p++)
			for (size_t i = 0; i < f.pages[p]->n_entries; i++)
				feed_row(f.pages[p]->entries[i]);
		if (f.entries == 0)
			printf("(empty feed)\n");
	}
	feed_free(&f);
	return CTL_OK;
}

/* Chain from seq 1, then the head: at the last entry, signed by the node we talk to. */
static int
feed_check(struct ctl *ctl, const struct feed *f, char *why, size_t len)
{
	const struct net_identity *peer = net_client_peer(ctl->client);
	X509 *cert = net_client_peer_cert(ctl->client);
	const Axle__V1__FeedEntry *last = NULL;
	uint64_t seq = 0;
	const uint8_t *hash = NULL;
	int rc;

	for (size_t p = 0; p < f->npages; p++) {
		const Axle__V1__FeedResponse *r = f->pages[p];

		if ((rc = registry_feed_verify((const Axle__V1__FeedEntry *const *)
		    r->entries, r->n_entries, seq, hash, NULL, why, len)) != REGISTRY_OK)
			return rc;
		if (r->n_entries > 0) {
			last = r->entries[r->n_entries - 1];
			seq = last->seq;
			hash = last->hash.data;
		}
	}
	if (last == NULL)
		return f->head == NULL ? REGISTRY_OK : registry_fail(REGISTRY_EINTEGRITY,
		    why, len, "a head was signed for an empty feed");
	if (f->head == NULL || f->head->seq != last->seq ||
	    f->head->hash.len != REGISTRY_HASH_LEN ||
	    memcmp(f->head->hash.data, last->hash.data, REGISTRY_HASH_LEN) != 0)
		return registry_fail(REGISTRY_EINTEGRITY, why, len, "the signed head "
		    "is not the last entry %" PRIu64, last->seq);
	if (cert == NULL || peer == NULL)
		return registry_fail(REGISTRY_EINTEGRITY, why, len, "no certificate "
		    "from the node to check the signature with");
	if (f->head->key_identity == NULL || strcmp(f->head->key_identity, peer->uri) != 0)
		return registry_fail(REGISTRY_EINTEGRITY, why, len, "head signed as %s, "
		    "but the node is %s", f->head->key_identity ? f->head->key_identity :
		    "(none)", peer->uri);
	return registry_feed_verify_head(X509_get0_pubkey(cert), f->head, why, len);
}

static int
feed_verify(struct ctl *ctl, int argc, char **argv)
{
	char why[REGISTRY_REASON_MAX] = "";
	struct feed f;
	size_t np;
	int rc;

	if (ctl_parse_opts(ctl->cmd, argc, argv, 2, NULL, 0, NULL, 0, 0, &np) != 0)
		return CTL_USAGE;
	if (feed_fetch(ctl, 1, &f) != CTL_OK) {
		feed_free(&f);
		return CTL_FAILED;
	}
	rc = feed_check(ctl, &f, why, sizeof(why));
	if (ctl->json) {
		json_t *j = json_pack("{s:b, s:s, s:I, s:I, s:s, s:s}", "ok",
		    rc == REGISTRY_OK, "region", f.head && f.head->region ?
		    f.head->region : "", "entries", (json_int_t)f.entries,
		    "head_seq", (json_int_t)(f.head ? f.head->seq : 0),
		    "key_identity", f.head && f.head->key_identity ?
		    f.head->key_identity : "", "error", why);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else if (rc == REGISTRY_OK) {
		printf("feed of %s: %zu entries, hash chain intact, head %" PRIu64
		    " signed by %s: signature valid\n", f.head && f.head->region ?
		    f.head->region : "-", f.entries, f.head ? f.head->seq : 0,
		    f.head && f.head->key_identity ? f.head->key_identity : "-");
	}
	feed_free(&f);
	if (rc != REGISTRY_OK)
		return ctl_fail(ctl, "DATA_LOSS", why);
	return CTL_OK;
}

static int
cmd_feed(struct ctl *ctl, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcmp(sub, "show") == 0)
		return feed_show(ctl, argc, argv);
	if (strcmp(sub, "verify") == 0)
		return feed_verify(ctl, argc, argv);
	fprintf(stderr, "usage: axlectl feed show [--from SEQ]\n"
	    "       axlectl feed verify\n");
	return CTL_USAGE;
}

/* --- mirror reset --------------------------------------------------------------- */

static void
show_reset(const ProtobufCMessage *m)
{
	const Axle__V1__ResetMirrorResponse *r = (const void *)m;

	printf("mirror forgotten (it held up to seq %" PRIu64 "%s); mirroring "
	    "again from seq 1: watch axle_mirror_last_seq\n", r->dropped_seq,
	    r->was_broken ? ", and was broken" : "");
}

static int
cmd_mirror(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opt o[] = { { .name = "reason" } };
	Axle__V1__ResetMirrorRequest req = AXLE__V1__RESET_MIRROR_REQUEST__INIT;
	ProtobufCMessage *m;
	char *pos[1];
	size_t np;

	if (argc < 2 || strcmp(argv[1], "reset") != 0 ||
	    ctl_parse_opts(ctl->cmd, argc, argv, 2, o, 1, pos, 1, 1, &np) != 0 ||
	    o[0].val == NULL) {
		fprintf(stderr, "usage: axlectl mirror reset PEER_REGION --reason TEXT\n");
		return CTL_USAGE;
	}
	req.region = pos[0];
	req.reason = (char *)o[0].val;
	if (ctl_call(ctl, "/axle.v1.Registry/ResetMirror", &req.base,
	    &axle__v1__reset_mirror_response__descriptor, &m) != CTL_OK)
		return CTL_FAILED;
	return ctl_output(ctl, m, show_reset);
}

const struct ctl_cmd ctl_registry_cmds[] = {
	{ "registrar", "add|show|list|suspend|...",
	    "registrar records, standing, re-homing (no args: usage)",
	    true, cmd_registrar },
	{ "delegate", "PREFIX REGISTRAR_ID [...]",
	    "delegate a prefix (creates the registrar, pending)", true, cmd_delegate },
	{ "resolve", "ADDRESS", "who is responsible for an address", true, cmd_resolve },
	{ "service", "publish|withdraw ID NAME ...",
	    "publish or withdraw a registrar's service", true, cmd_service },
	{ "discover", "[--prefix P] [--kind K] ...",
	    "find services in every region (local + mirrors)", true, cmd_discover },
	{ "feed", "show [--from SEQ] | verify",
	    "this node's change feed; verify its chain and signed head", true, cmd_feed },
	{ "mirror", "reset REGION --reason R",
	    "forget a peer's broken mirror and mirror it again from seq 1", true,
	    cmd_mirror },
};
const size_t ctl_registry_ncmds = sizeof(ctl_registry_cmds) / sizeof(ctl_registry_cmds[0]);
