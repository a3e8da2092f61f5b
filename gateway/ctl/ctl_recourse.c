/* ctl_recourse.c -- axlectl cases ...: the admin's side of recourse (audit: ctl_audit.c). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "axle/v1/recourse.pb-c.h"
#include "gateway/ctl/ctl.h"
#include "proto/pb.h"
#include "recourse/case.h"
#include "recourse/deadline.h"

#define REC_SVC "/axle.v1.Recourse/"

/* Options after the sub-command; positional words in pos[]. */
struct rec_opts {
	const char *state, *min_age, *page_size, *page_token;
	const char *assignee;
	const char *why;		/* --reason: why (actions), case reason (list) */
	int overdue, all;
	int payload;			/* --payload: show it (audited) */
	const char *pos[3];
	int npos;
};

static int
rec_usage(const char *what)
{
	fprintf(stderr, "axlectl: %s\n", what);
	fprintf(stderr, "usage: axlectl [--json] cases list [--state S] "
	    "[--reason R] [--overdue] [--min-age MS] [--assignee URI] [--all]\n"
	    "                    [--page-size N] [--page-token T]\n"
	    "       axlectl cases show ID [--payload [--reason R]] | claim ID | "
	    "release ID [--reason R]\n"
	    "       axlectl cases redirect ID ADDRESS [--reason R] | "
	    "return ID [--reason R]\n"
	    "       axlectl cases discard ID --reason R | escalate ID "
	    "[--reason R] | annotate ID TEXT\n");
	return CTL_USAGE;
}

/* Parses argv[from..argc). Returns 0 or -1 (usage printed). */
static int
rec_parse(struct ctl *ctl, int argc, char **argv, int from, struct rec_opts *o)
{
	static const struct { const char *flag; size_t off; } valued[] = {
		{ "--state", offsetof(struct rec_opts, state) },
		{ "--reason", offsetof(struct rec_opts, why) },
		{ "--min-age", offsetof(struct rec_opts, min_age) },
		{ "--page-size", offsetof(struct rec_opts, page_size) },
		{ "--page-token", offsetof(struct rec_opts, page_token) },
		{ "--assignee", offsetof(struct rec_opts, assignee) },
	};
	int i;

	memset(o, 0, sizeof(*o));
	for (i = from; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (strcmp(a, "--json") == 0) { ctl->json = true; continue; }
		if (strcmp(a, "--overdue") == 0) { o->overdue = 1; continue; }
		if (strcmp(a, "--all") == 0) { o->all = 1; continue; }
		if (strcmp(a, "--payload") == 0) { o->payload = 1; continue; }
		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (strcmp(a, valued[k].flag) == 0)
				break;
		if (k < sizeof(valued) / sizeof(valued[0])) {
			if (++i == argc)
				return rec_usage("an option needs a value"), -1;
			*(const char **)((char *)o + valued[k].off) = argv[i];
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "axlectl: unknown option %s\n", a);
			return rec_usage("see the usage"), -1;
		}
		if (o->npos == 3)
			return rec_usage("too many arguments"), -1;
		o->pos[o->npos++] = a;
	}
	return 0;
}

/* --- names and times ------------------------------------------------------------ */

/* open, OPEN or CASE_STATE_OPEN (or all); a reason likewise, '-' for '_'. */
static int
rec_state_parse(const char *s, int *state, int *all)
{
	if (strcasecmp(s, "all") == 0) {
		*all = 1;
		return 0;
	}
	return ctl_enum_arg(&axle__v1__case_state__descriptor, s, state);
}

static int
rec_reason_parse(const char *s, int *reason)
{
	return ctl_enum_arg(&axle__v1__case_reason__descriptor, s, reason);
}

static int
rec_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static const char *
rec_to(const Axle__V1__Case *c)
{
	if (c->envelope == NULL)
		return "";
	if (c->envelope->recipient_case == AXLE__V1__ENVELOPE__RECIPIENT_TO)
		return c->envelope->to;
	return c->envelope->recipient_case ==
	    AXLE__V1__ENVELOPE__RECIPIENT_TO_GROUP ? "(service group)" : "";
}

/* --- list, show ----------------------------------------------------------------- */

/* The cases as a table (columns never cut); 0, or -1 on ENOMEM. */
static int
rec_list_table(const Axle__V1__ListCasesResponse *r)
{
	static const char *const head[] = { "ID", "STATE", "REASON", "DEADLINE",
	    "TO", "WHO" };
	struct ctl_table *tab = ctl_table_new(head, 6);
	char t[40];
	int rc = tab != NULL ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < r->n_cases; i++) {
		const Axle__V1__Case *c = r->cases[i];
		const char *cells[] = { c->id, recourse_state_name(c->state),
		    recourse_reason_name(c->reason), t, rec_to(c),
		    c->state == RECOURSE_ST_ESCALATED ? c->escalated_to : c->assignee };

		ctl_time(c->deadline_ms, t, sizeof(t));
		rc = ctl_table_add(tab, cells);
	}
	if (rc == 0 && r->n_cases > 0)
		ctl_table_print(tab, stdout);
	ctl_table_free(tab);
	return rc;
}

static void
rec_list_print(const Axle__V1__ListCasesResponse *r)
{
	if (rec_list_table(r) != 0)
		fprintf(stderr, "axlectl: cases: out of memory\n");
	if (r->n_cases == 0)
		printf("(no cases)\n");
	if (r->page != NULL && r->page->next_page_token[0] != '\0') {
		printf("more: --page-token ");
		ctl_put_safe(stdout, r->page->next_page_token);
		putchar('\n');
	}
}

static int
rec_list_request(const struct rec_opts *o, Axle__V1__ListCasesRequest *req,
    Axle__V1__PageRequest *page)
{
	int state = 0, all = o->all, reason = 0;
	uint64_t v;

	if (o->state != NULL && rec_state_parse(o->state, &state, &all) != 0)
		return rec_usage("--state: open, claimed, resolved, escalated or all");
	if (o->why != NULL && rec_reason_parse(o->why, &reason) != 0)
		return rec_usage("--reason: a case reason, e.g. unknown_address, "
		    "hop_limit, rejected");
	req->state = state;
	req->include_closed = all;
	req->reason = reason;
	req->overdue_only = o->overdue;
	req->assignee = (char *)(o->assignee ? o->assignee : "");
	if (o->min_age != NULL) {
		if (rec_u64(o->min_age, INT64_MAX, &v) != 0)
			return rec_usage("--min-age: milliseconds, a whole number");
		req->min_age_ms = (int64_t)v;
	}
	if (o->page_size != NULL) {
		if (rec_u64(o->page_size, UINT32_MAX, &v) != 0)
			return rec_usage("--page-size: a whole number");
		page->page_size = (uint32_t)v;
	}
	page->page_token = (char *)(o->page_token ? o->page_token : "");
	req->page = page;
	return CTL_OK;
}

static int
rec_list(struct ctl *ctl, const struct rec_opts *o)
{
	Axle__V1__ListCasesRequest req = AXLE__V1__LIST_CASES_REQUEST__INIT;
	Axle__V1__PageRequest page = AXLE__V1__PAGE_REQUEST__INIT;
	ProtobufCMessage *m;
	int rc;

	if (o->npos != 0)
		return rec_usage("cases list takes options only");
	if ((rc = rec_list_request(o, &req, &page)) != CTL_OK)
		return rc;
	rc = ctl_call(ctl, REC_SVC "List", &req.base,
	    &axle__v1__list_cases_response__descriptor, &m);
	if (rc != CTL_OK)
		return rc;
	if (ctl->json)
		rc = ctl_print_json(m);
	else
		rec_list_print((Axle__V1__ListCasesResponse *)m);
	pb_free(m);
	return rc;
}

static void
rec_row(const char *name, const char *value)
{
	printf("%-14s ", name);
	ctl_put_safe(stdout, value != NULL && value[0] ? value : "-");
	putchar('\n');
}

/* Payloads are shown only when asked for (the node records the view). */
static void
rec_payload_print(const Axle__V1__Case *c)
{
	const ProtobufCBinaryData *p = c->envelope ? &c->envelope->payload : NULL;
	char buf[160];
	unsigned char *b64;

	if (p == NULL || p->len == 0) {
		snprintf(buf, sizeof(buf), "%llu bytes, not shown (cases show %s "
		    "--payload shows it; the view is recorded in the case)",
		    (unsigned long long)c->payload_bytes, c->id);
		rec_row("payload", buf);
		return;
	}
	snprintf(buf, sizeof(buf), "%zu bytes, %s, base64 below", p->len,
	    c->envelope->content_type[0] ? c->envelope->content_type :
	    "no content type");
	rec_row("payload", buf);
	if (p->len > INT_MAX / 2 ||
	    (b64 = malloc(4 * ((p->len + 2) / 3) + 1)) == NULL) {
		rec_row("", "(too large to print)");
		return;
	}
	EVP_EncodeBlock(b64, p->data, (int)p->len);
	printf("%s\n", (const char *)b64);
	free(b64);
}

static void
rec_show_print(const Axle__V1__Case *c)
{
	char buf[512], t[40];
	size_t o = 0;

	rec_row("id", c->id);
	recourse_case_describe(c, buf, sizeof(buf));
	rec_row("state", buf);
	rec_row("reason", recourse_reason_name(c->reason));
	rec_row("detail", c->detail);
	rec_row("sender", c->envelope ? c->envelope->sender : "");
	rec_row("to", rec_to(c));
	rec_row("message type", c->envelope ? c->envelope->message_type : "");
	rec_payload_print(c);
	ctl_time(c->opened_ms, t, sizeof(t));
	rec_row("opened", t);
	ctl_time(c->deadline_ms, t, sizeof(t));
	rec_row("deadline", t);
	buf[0] = '\0';
	for (size_t i = 0; i < c->n_path && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    i ? " -> " : "", c->path[i]);
	rec_row("path", buf);
	rec_row("assignee", c->assignee);
	printf("\n%-24s %-22s %-14s %s\n", "AT", "ACTION", "NODE", "BY / WHY");
	for (size_t i = 0; i < c->n_history; i++) {
		const Axle__V1__CaseAction *h = c->history[i];

		ctl_time(h->at_ms, t, sizeof(t));
		ctl_put_col(t, 24);
		ctl_put_col(recourse_kind_name(h->kind), 22);
		ctl_put_col(h->node, 14);
		ctl_put_safe(stdout, h->actor);
		if (h->redirect_to[0]) {
			printf(" -> ");
			ctl_put_safe(stdout, h->redirect_to);
		}
		if (h->reason[0]) {
			printf(": ");
			ctl_put_safe(stdout, h->reason);
		}
		putchar('\n');
	}
}

/* Prints the case an action or show answered with. */
static int
rec_print_case(struct ctl *ctl, ProtobufCMessage *m, int full)
{
	const Axle__V1__CaseResponse *r = (const void *)m;
	char buf[512];

	if (ctl->json)
		return ctl_print_json(m);
	if (r->record == NULL)
		return ctl_fail(ctl, "INTERNAL", "the node sent no case");
	if (full) {
		rec_show_print(r->record);
	} else {
		recourse_case_describe(r->record, buf, sizeof(buf));
		ctl_put_safe(stdout, r->record->id);
		printf(" ");
		ctl_put_safe(stdout, buf);
		putchar('\n');
	}
	return CTL_OK;
}

/* --- actions ---------------------------------------------------------------------- */

enum rec_kind { RK_SHOW, RK_CLAIM, RK_RELEASE, RK_REDIRECT, RK_RETURN,
	RK_DISCARD, RK_ESCALATE, RK_ANNOTATE };

/* One row per sub-command that acts on a case. */
struct rec_action {
	const char *name;
	const char *method;
	enum rec_kind kind;
	int npos;			/* ID, and ADDRESS or TEXT */
	int reason_required;
};

static const struct rec_action rec_actions[] = {
	{ "show", "Show", RK_SHOW, 1, 0 },
	{ "claim", "Claim", RK_CLAIM, 1, 0 },
	{ "release", "Release", RK_RELEASE, 1, 0 },
	{ "redirect", "Redirect", RK_REDIRECT, 2, 0 },
	{ "return", "ReturnToSender", RK_RETURN, 1, 0 },
	{ "discard", "Discard", RK_DISCARD, 1, 1 },
	{ "escalate", "Escalate", RK_ESCALATE, 1, 0 },
	{ "annotate", "Annotate", RK_ANNOTATE, 2, 0 },
};

union rec_req {
	Axle__V1__ShowCaseRequest show;
	Axle__V1__ClaimCaseRequest claim;
	Axle__V1__ReleaseCaseRequest release;
	Axle__V1__RedirectCaseRequest redirect;
	Axle__V1__ReturnCaseRequest ret;
	Axle__V1__DiscardCaseRequest discard;
	Axle__V1__EscalateCaseRequest escalate;
	Axle__V1__AnnotateCaseRequest annotate;
};

/* Builds the request of action a in u from the options (strings borrowed). */
static ProtobufCMessage *
rec_action_request(const struct rec_action *a, const struct rec_opts *o,
    union rec_req *u)
{
	char *id = (char *)o->pos[0], *why = (char *)(o->why ? o->why : "");

	switch (a->kind) {
	case RK_SHOW:
		axle__v1__show_case_request__init(&u->show);
		u->show.id = id;
		u->show.with_payload = o->payload != 0;
		u->show.reason = why;
		return &u->show.base;
	case RK_CLAIM:
		axle__v1__claim_case_request__init(&u->claim);
		u->claim.id = id;
		return &u->claim.base;
	case RK_RELEASE:
		axle__v1__release_case_request__init(&u->release);
		u->release.id = id;
		u->release.reason = why;
		return &u->release.base;
	case RK_REDIRECT:
		axle__v1__redirect_case_request__init(&u->redirect);
		u->redirect.id = id;
		u->redirect.to = (char *)o->pos[1];
		u->redirect.reason = why;
		return &u->redirect.base;
	case RK_RETURN:
		axle__v1__return_case_request__init(&u->ret);
		u->ret.id = id;
		u->ret.reason = why;
		return &u->ret.base;
	case RK_DISCARD:
		axle__v1__discard_case_request__init(&u->discard);
		u->discard.id = id;
		u->discard.reason = why;
		return &u->discard.base;
	case RK_ESCALATE:
		axle__v1__escalate_case_request__init(&u->escalate);
		u->escalate.id = id;
		u->escalate.reason = why;
		return &u->escalate.base;
	case RK_ANNOTATE:
	default:
		axle__v1__annotate_case_request__init(&u->annotate);
		u->annotate.id = id;
		u->annotate.note = (char *)o->pos[1];
		return &u->annotate.base;
	}
}

static int
rec_act(struct ctl *ctl, const struct rec_action *a, const struct rec_opts *o)
{
	union rec_req u;
	char path[64];
	ProtobufCMessage *m;
	int rc;

	if (o->npos != a->npos) {
		char msg[80];

		snprintf(msg, sizeof(msg), "cases %s takes %s", a->name,
		    a->npos == 1 ? "ID" : strcmp(a->name, "redirect") == 0 ?
		    "ID ADDRESS" : "ID TEXT");
		return rec_usage(msg);
	}
	if (o->payload && a->kind != RK_SHOW)
		return rec_usage("--payload goes with cases show only");
	if (a->kind == RK_SHOW && o->why != NULL && !o->payload)
		return rec_usage("cases show takes --reason only with --payload "
		    "(why the payload is needed; it is recorded)");
	if (a->reason_required && (o->why == NULL || o->why[0] == '\0'))
		return rec_usage("cases discard needs --reason: say why the "
		    "message is dropped (it is audited)");
	snprintf(path, sizeof(path), REC_SVC "%s", a->method);
	rc = ctl_call(ctl, path, rec_action_request(a, o, &u),
	    &axle__v1__case_response__descriptor, &m);
	if (rc != CTL_OK)
		return rc;
	rc = rec_print_case(ctl, m, strcmp(a->name, "show") == 0);
	pb_free(m);
	return rc;
}

static int
cmd_cases(struct ctl *ctl, int argc, char **argv)
{
	struct rec_opts o;

	if (argc < 2)
		return rec_usage("cases needs a sub-command");
	if (rec_parse(ctl, argc, argv, 2, &o) != 0)
		return CTL_USAGE;
	if (strcmp(argv[1], "list") == 0)
		return rec_list(ctl, &o);
	for (size_t i = 0; i < sizeof(rec_actions) / sizeof(rec_actions[0]); i++)
		if (strcmp(argv[1], rec_actions[i].name) == 0)
			return rec_act(ctl, &rec_actions[i], &o);
	fprintf(stderr, "axlectl: unknown sub-command cases %s\n", argv[1]);
	return rec_usage("see the usage");
}

const struct ctl_cmd ctl_recourse_cmds[] = {
	{ "cases", "list|show|claim|release|...", "list and resolve this node's "
	    "recourse cases (admin)", true, cmd_cases },
};
const size_t ctl_recourse_ncmds = sizeof(ctl_recourse_cmds) /
    sizeof(ctl_recourse_cmds[0]);
