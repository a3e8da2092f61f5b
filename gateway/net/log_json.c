/* log_json.c -- an event line's key=value pairs as JSON members (pure; [log] format = json). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gateway/net/log_json.h"
#include "proto/text.h"

static bool
put(char *out, size_t len, size_t *o, const char *s, size_t n)
{
	if (*o + n + 1 > len)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return true;
}

static bool
put_esc_byte(char *out, size_t len, size_t *o, unsigned char c)
{
	char u[8];

	if (c == '"')
		return put(out, len, o, "\\\"", 2);
	if (c == '\\')
		return put(out, len, o, "\\\\", 2);
	if (c < 0x20 || c >= 0x7f) {
		snprintf(u, sizeof(u), "\\u%04x", c);
		return put(out, len, o, u, 6);
	}
	return put(out, len, o, (const char *)&c, 1);
}

int
net_log_json_str(char *out, size_t len, size_t *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!put_esc_byte(out, len, o, (unsigned char)s[i]))
			return 0;
	return 1;
}

/* A quoted value at s (after the opening quote): its decoded bytes go out as a JSON string. */
static bool
put_quoted(char *out, size_t len, size_t *o, const char **sp)
{
	const char *s = *sp;

	while (*s != '\0' && *s != '"') {
		unsigned char c = (unsigned char)*s++;

		if (c == '\\' && *s == 'x' && axle_hexval(s[1]) >= 0 && axle_hexval(s[2]) >= 0) {
			c = (unsigned char)(axle_hexval(s[1]) * 16 + axle_hexval(s[2]));
			s += 3;
		} else if (c == '\\' && (*s == '"' || *s == '\\')) {
			c = (unsigned char)*s++;
		}
		if (!put_esc_byte(out, len, o, c))
			return false;
	}
	if (*s == '"')
		s++;
	*sp = s;
	return true;
}

static bool
is_number(const char *v, size_t n)
{
	size_t i = v[0] == '-' ? 1 : 0;

	if (n == i || n - i > 18 || (v[i] == '0' && n - i > 1))
		return false;
	for (; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

static bool
key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* One member from s; false (and *o unchanged) if it did not fit. */
static bool
member(const char **sp, char *out, size_t len, size_t *o, const char **unparsed,
    size_t *unparsed_n)
{
	const char *s = *sp, *k = s, *v;
	size_t at = *o, kn, vn;

	while (key_char(*s))
		s++;
	kn = (size_t)(s - k);
	if (kn == 0 || *s != '=') {		/* not key=value: keep it aside */
		const char *e = s;

		while (*e != '\0' && *e != ' ')
			e++;
		if (e == k)
			e++;
		if (*unparsed == NULL)
			*unparsed = k;
		*unparsed_n = (size_t)(e - *unparsed);
		*sp = e;
		return true;
	}
	s++;
	if (!put(out, len, o, ",\"", 2) || !put(out, len, o, k, kn) ||
	    !put(out, len, o, "\":", 2))
		goto cut;
	if (*s == '"') {
		s++;
		if (!put(out, len, o, "\"", 1) || !put_quoted(out, len, o, &s) ||
		    !put(out, len, o, "\"", 1))
			goto cut;
	} else {
		v = s;
		while (*s != '\0' && *s != ' ')
			s++;
		vn = (size_t)(s - v);
		if (is_number(v, vn)) {
			if (!put(out, len, o, v, vn))
				goto cut;
		} else if (!put(out, len, o, "\"", 1) ||
		    !net_log_json_str(out, len, o, v, vn) || !put(out, len, o, "\"", 1)) {
			goto cut;
		}
	}
	*sp = s;
	return true;
cut:
	*o = at;
	out[at] = '\0';
	return false;
}

size_t
net_log_kv_json(const char *kv, char *out, size_t len)
{
	const char *s = kv != NULL ? kv : "", *unparsed = NULL;
	size_t o = 0, unparsed_n = 0;
	bool cut = false;

	if (len == 0)
		return 0;
	out[0] = '\0';
	while (*s != '\0' && !cut) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		cut = !member(&s, out, len, &o, &unparsed, &unparsed_n);
	}
	if (!cut && unparsed != NULL) {
		size_t at = o;

		if (!put(out, len, &o, ",\"unparsed\":\"", 13) ||
		    !net_log_json_str(out, len, &o, unparsed, unparsed_n) ||
		    !put(out, len, &o, "\"", 1)) {
			o = at;
			out[o] = '\0';
			cut = true;
		}
	}
	if (cut)
		put(out, len, &o, ",\"cut\":true", 11);
	return o;
}
