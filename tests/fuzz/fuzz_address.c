/* fuzz_address.c -- libFuzzer: address and identifier parsing, folding and prefix cover. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses in[0..len) as an address; checks what a success promises. Returns 0 or -1. */
static int
address(const char *in, size_t len, char out[ADDR_MAX_LEN + 1])
{
	char again[ADDR_MAX_LEN + 1], err[256];
	char *copy;
	int rc;

	/* An exact-size copy, so that reading one byte past len is caught. */
	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, in, len);
	rc = registry_address_parse(copy, len, out, err, sizeof(err));
	free(copy);
	if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	if (rc != 0)
		return -1;
	/* Folding keeps the length; a folded address parses to itself. */
	if (strlen(out) != len || registry_address_parse(out, len, again, err,
	    sizeof(err)) != 0 || strcmp(again, out) != 0)
		abort();
	if (!registry_address_covers(out, out) || registry_address_labels(out) == 0)
		abort();
	return 0;
}

static void
identifier(const char *in, size_t len)
{
	char addr[ADDR_MAX_LEN + 1], local[ADDR_LOCAL_MAX + 1], err[256];
	char *copy;

	if ((copy = malloc(len + 1)) == NULL)
		return;
	memcpy(copy, in, len);
	if (registry_identifier_parse(copy, len, addr, local, err,
	    sizeof(err)) == 0) {
		if (strlen(addr) + 1 + strlen(local) != len ||
		    strchr(local, ':') != NULL)
			abort();
	}
	free(copy);
}

/* Both parsed: cover is label-aligned and antisymmetric. */
static void
covers(const char *a, const char *b)
{
	int ab = registry_address_covers(a, b), ba = registry_address_covers(b, a);

	if (ab && ba && strcmp(a, b) != 0)
		abort();
	if (ab && registry_address_labels(a) > registry_address_labels(b))
		abort();
	if (ab && strcmp(a, b) != 0 && b[strlen(a)] != '.')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *sep = memchr(in, '\n', size);
	char a[ADDR_MAX_LEN + 1], b[ADDR_MAX_LEN + 1];
	char *raw;

	(void)address(in, size, a);
	identifier(in, size);
	if (sep != NULL) {
		size_t alen = (size_t)(sep - in);
		int okb = address(sep + 1, size - alen - 1, b);

		identifier(sep + 1, size - alen - 1);
		if (address(in, alen, a) == 0 && okb == 0)
			covers(a, b);
	}
	/* cover on unparsed text must not fault either (callers pass stored strings) */
	if ((raw = malloc(size + 1)) != NULL) {
		memcpy(raw, data, size);
		raw[size] = '\0';
		if (sep != NULL)
			raw[sep - in] = '\0';
		(void)registry_address_covers(raw, sep ? raw + (sep - in) + 1 : raw);
		(void)registry_address_labels(raw);
		free(raw);
	}
	return 0;
}
