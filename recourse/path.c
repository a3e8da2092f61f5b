/* path.c -- escalation path loop refusal and parent-chain cycle detection. */
#include <stdio.h>
#include <string.h>

#include "recourse/path.h"
#include "recourse/rc.h"

int
recourse_path_contains(char *const *path, size_t n, const char *region)
{
	for (size_t i = 0; i < n; i++)
		if (path[i] != NULL && strcmp(path[i], region) == 0)
			return 1;
	return 0;
}

void
recourse_path_format(char *const *path, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? " -> " : "",
		    path[i]);
		if (w < 0 || (size_t)w >= len - off) {
			if (len >= 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
		off += (size_t)w;
	}
}

int
recourse_path_check_append(char *const *path, size_t n, const char *region,
    char *why, size_t whylen)
{
	char p[256];

	if (region == NULL || region[0] == '\0')
		return recourse_why(why, whylen, RECOURSE_EINVAL,
		    "no region to escalate to");
	if (!recourse_path_contains(path, n, region))
		return RECOURSE_OK;
	recourse_path_format(path, n, p, sizeof(p));
	return recourse_why(why, whylen, RECOURSE_ELOOP, "%s is already on this "
	    "case's path %s: escalating there would be a loop", region, p);
}

/* Index of node in links, or -1. */
static long
chain_find(const struct recourse_parent_link *links, size_t n, const char *node)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(links[i].node, node) == 0)
			return (long)i;
	return -1;
}

static int
chain_check_entries(const struct recourse_parent_link *links, size_t n,
    char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		const char *pi = links[i].parent ? links[i].parent : "";

		if (links[i].node == NULL || links[i].node[0] == '\0')
			return recourse_why(why, whylen, RECOURSE_EINVAL,
			    "parent map entry %zu has no node name", i + 1);
		if (strcmp(links[i].node, pi) == 0)
			return recourse_why(why, whylen, RECOURSE_ELOOP,
			    "%s names itself as its parent", pi);
		for (size_t j = 0; j < i; j++) {
			const char *pj = links[j].parent ? links[j].parent : "";
			if (strcmp(links[i].node, links[j].node) == 0 &&
			    strcmp(pi, pj) != 0)
				return recourse_why(why, whylen, RECOURSE_EINVAL,
				    "%s is given two parents: \"%s\" and \"%s\"",
				    links[i].node, pj, pi);
		}
	}
	return RECOURSE_OK;
}

/* Follows parents from start; ELOOP with the cycle spelled out if it returns. */
static int
chain_walk(const struct recourse_parent_link *links, size_t n, size_t start,
    char *why, size_t whylen)
{
	char buf[512];
	size_t off, steps = 0;
	long at = (long)start;

	while (at >= 0 && steps <= n) {
		const char *parent = links[at].parent;
		if (parent == NULL || parent[0] == '\0')
			return RECOURSE_OK;
		at = chain_find(links, n, parent);
		steps++;
		if (at == (long)start)
			break;
	}
	if (at != (long)start)
		return RECOURSE_OK;	/* ends, or joins a cycle found from its own start */
	off = (size_t)snprintf(buf, sizeof(buf), "%s", links[start].node);
	at = (long)start;
	for (size_t i = 0; i < steps && off < sizeof(buf); i++) {
		at = chain_find(links, n, links[at].parent);
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, " -> %s",
		    links[at].node);
	}
	return recourse_why(why, whylen, RECOURSE_ELOOP,
	    "parent chain %s is a cycle", buf);
}

int
recourse_parent_chain_check(const struct recourse_parent_link *links,
    size_t n, char *why, size_t whylen)
{
	int rc;

	if (n > 0 && links == NULL)
		return recourse_why(why, whylen, RECOURSE_EINVAL, "no parent map");
	if ((rc = chain_check_entries(links, n, why, whylen)) != RECOURSE_OK)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = chain_walk(links, n, i, why, whylen)) != RECOURSE_OK)
			return rc;
	return RECOURSE_OK;
}
