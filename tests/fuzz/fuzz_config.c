/* fuzz_config.c -- libFuzzer: axled.conf loading (through a temporary file, as axled reads it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/net/hostport.h"
#include "gateway/node/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[PATH_MAX];

/* One file for the whole run, removed at exit. */
static void
cleanup(void)
{
	char dir[PATH_MAX];

	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

static int
setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX - 16];

	snprintf(dir, sizeof(dir), "%s/axle-fuzz-config-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/axled.conf", dir);
	atexit(cleanup);
	return 0;
}

/* What a successful load promises: every string terminated, the region an address. */
static void
check_loaded(const struct gw_config *cfg)
{
	char addr[ADDR_MAX_LEN + 1], err[256];

	if (memchr(cfg->federation, '\0', sizeof(cfg->federation)) == NULL ||
	    memchr(cfg->region, '\0', sizeof(cfg->region)) == NULL ||
	    cfg->federation[0] == '\0' || cfg->npeers > GW_MAX_PEERS ||
	    registry_address_parse(cfg->region, strlen(cfg->region), addr, err,
	    sizeof(err)) != 0)
		abort();
	for (size_t i = 0; i < cfg->npeers; i++)
		if (cfg->peers[i].region[0] == '\0' ||
		    strcmp(cfg->peers[i].region, cfg->region) == 0)
			abort();
}

static void
hostport(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), host[NET_HOST_MAX + 1], port[NET_PORT_MAX + 1];
	char small[4];
	const char *why;

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	/* A refusal always says why (hostport.h). */
	why = NULL;
	if (net_hostport_split(s, host, sizeof(host), port, sizeof(port), &why) != 0 &&
	    why == NULL)
		abort();
	why = NULL;
	if (net_hostport_split(s, small, sizeof(small), port, 2, &why) != 0 &&
	    why == NULL)
		abort();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_config cfg;	/* large: keep it off the stack */
	char err[1024];
	FILE *fp;

	if (path[0] == '\0' && setup() != 0)
		abort();
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, fp) != size)
		abort();
	if (fclose(fp) != 0)
		abort();
	memset(err, 0x55, sizeof(err));
	if (gw_config_load(path, &cfg, err, sizeof(err)) == 0)
		check_loaded(&cfg);
	else if (memchr(err, '\0', sizeof(err)) == NULL ||
	    strncmp(err, path, strlen(path)) != 0)
		abort();	/* every error is "FILE:LINE: message" */
	if (size < 300)
		hostport(data, size);
	return 0;
}
