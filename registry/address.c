/* address.c -- parsing, case folding and prefix tests of addresses and identifiers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "registry/address.h"
#include "proto/text.h"

/*
 * Copies a label for display in a reason: a person must see exactly which
 * bytes were wrong, so anything not printable becomes \xNN.
 */
static const char *
show(char *buf, size_t buflen, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/* Explains why byte c may not be in a label. */
static void
bad_label_byte(const char *label, size_t llen, size_t lno, size_t at,
    char *err, size_t errlen)
{
	char shown[ADDR_LABEL_MAX * 4 + 8];
	unsigned char c = (unsigned char)label[at];

	show(shown, sizeof(shown), label, llen < ADDR_LABEL_MAX ? llen : ADDR_LABEL_MAX);
	if (c >= 0x20 && c < 0x7f)
		axle_seterr(err, errlen, "label %zu (\"%s\") byte %zu: '%c' is not "
		    "allowed (use a-z, 0-9, '-')", lno, shown, at, c);
	else
		axle_seterr(err, errlen, "label %zu (\"%s\") byte %zu: control byte "
		    "0x%02x is not allowed (use a-z, 0-9, '-')", lno, shown, at, c);
}

/* Finds the first byte >= 0x80: reported on its own, with its address offset. */
static int
check_ascii(const char *in, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)in[i] >= 0x80) {
			axle_seterr(err, errlen, "non-ASCII byte 0x%02x at byte %zu "
			    "(addresses are ASCII)", (unsigned char)in[i], i);
			return -1;
		}
	return 0;
}

/* Validates and folds one label (1-based number lno) into out. */
static int
parse_label(const char *label, size_t llen, size_t lno, char *out,
    char *err, size_t errlen)
{
	char shown[ADDR_LABEL_MAX * 4 + 8];

	for (size_t i = 0; i < llen; i++) {
		char c = label[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			bad_label_byte(label, llen, lno, i, err, errlen);
			return -1;
		}
		out[i] = c;
	}
	if (llen > ADDR_LABEL_MAX) {
		axle_seterr(err, errlen, "label %zu is %zu bytes, the limit is %d",
		    lno, llen, ADDR_LABEL_MAX);
		return -1;
	}
	if (label[0] == '-' || label[llen - 1] == '-') {
		show(shown, sizeof(shown), label, llen);
		axle_seterr(err, errlen, "label %zu (\"%s\") %s with '-'", lno, shown,
		    label[0] == '-' ? "starts" : "ends");
		return -1;
	}
	return 0;
}

/* Rejects the empty address and empty labels before looking inside labels. */
static int
check_dots(const char *in, size_t len, char *err, size_t errlen)
{
	size_t lno = 1;

	if (len == 0) {
		axle_seterr(err, errlen, "address is empty");
		return -1;
	}
	if (in[0] == '.') {
		axle_seterr(err, errlen, "leading dot");
		return -1;
	}
	if (in[len - 1] == '.') {
		axle_seterr(err, errlen, "trailing dot");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '.')
			continue;
		lno++;
		if (in[i + 1] == '.') {
			axle_seterr(err, errlen, "label %zu is empty (two dots at byte %zu)",
			    lno, i);
			return -1;
		}
	}
	return 0;
}

int
registry_address_parse(const char *in, size_t len, char *out,
    char *err, size_t errlen)
{
	size_t start = 0, lno = 1;

	out[0] = '\0';
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > ADDR_MAX_LEN) {
		axle_seterr(err, errlen, "address is %zu bytes, the limit is %d",
		    len, ADDR_MAX_LEN);
		return -1;
	}
	if (check_dots(in, len, err, errlen) != 0 ||
	    check_ascii(in, len, err, errlen) != 0)
		return -1;
	while (start <= len) {
		const char *dot = memchr(in + start, '.', len - start);
		size_t end = dot != NULL ? (size_t)(dot - in) : len;

		if (parse_label(in + start, end - start, lno, out + start,
		    err, errlen) != 0) {
			out[0] = '\0';
			return -1;
		}
		if (end < len)
			out[end] = '.';
		start = end + 1;
		lno++;
	}
	out[len] = '\0';
	return 0;
}

/* Checks a local id: 1-128 bytes of 0x21-0x7e except ':'. */
static int
check_local(const char *s, size_t len, char *err, size_t errlen)
{
	if (len == 0) {
		axle_seterr(err, errlen, "local id is empty");
		return -1;
	}
	if (len > ADDR_LOCAL_MAX) {
		axle_seterr(err, errlen, "local id is %zu bytes, the limit is %d",
		    len, ADDR_LOCAL_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ':') {
			axle_seterr(err, errlen, "local id byte %zu: a second ':' is "
			    "not allowed", i);
			return -1;
		}
		if (c == ' ') {
			axle_seterr(err, errlen, "local id byte %zu: space is not "
			    "allowed", i);
			return -1;
		}
		if (c < 0x21 || c > 0x7e) {
			axle_seterr(err, errlen, "local id byte %zu: byte 0x%02x is not "
			    "allowed (use printable ASCII)", i, c);
			return -1;
		}
	}
	return 0;
}

int
registry_identifier_parse(const char *in, size_t len, char *addr_out,
    char *local_out, char *err, size_t errlen)
{
	const char *colon = memchr(in, ':', len);
	size_t alen, llen;
	char why[160];

	addr_out[0] = '\0';
	local_out[0] = '\0';
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (colon == NULL) {
		axle_seterr(err, errlen, "missing ':' between address and local id");
		return -1;
	}
	alen = (size_t)(colon - in);
	llen = len - alen - 1;
	if (registry_address_parse(in, alen, addr_out, why, sizeof(why)) != 0) {
		axle_seterr(err, errlen, "address part: %s", why);
		return -1;
	}
	if (check_local(colon + 1, llen, err, errlen) != 0) {
		addr_out[0] = '\0';
		return -1;
	}
	memcpy(local_out, colon + 1, llen);
	local_out[llen] = '\0';
	return 0;
}

bool
registry_address_covers(const char *prefix, const char *addr)
{
	size_t plen;

	/* The empty prefix is not an address; covering everything would fail open. */
	if (prefix == NULL || addr == NULL || prefix[0] == '\0')
		return false;
	plen = strlen(prefix);
	if (strncmp(prefix, addr, plen) != 0)
		return false;
	return addr[plen] == '\0' || addr[plen] == '.';
}

size_t
registry_address_labels(const char *addr)
{
	size_t n = 1;

	if (addr == NULL || addr[0] == '\0')
		return 0;
	for (const char *p = addr; *p != '\0'; p++)
		if (*p == '.')
			n++;
	return n;
}
