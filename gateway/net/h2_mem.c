/* h2_mem.c -- nghttp2's allocator for one session: big blocks mapped alone, the frame buffer released while quiet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gateway/net/h2_mem.h"

/*
 * A block of at least this many bytes gets its own mapping. nghttp2 makes
 * three per session: the frame buffer (16 KiB, written a few bytes at a
 * time), the stream map (4 KiB, untouched until a stream opens) and, rarely,
 * a long header or frame. malloc would hand back pages other connections
 * touched; a fresh mapping costs only the pages written.
 */
#define BIG	4096

static size_t
page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

static struct net_h2_mem_block *
block_of(struct net_h2_mem *m, const void *p)
{
	for (unsigned i = 0; i < m->nblk; i++)
		if (m->blk[i].p == p)
			return &m->blk[i];
	return NULL;
}

/* A fresh mapping of n bytes (zeroed), or NULL: then the caller uses malloc. */
static void *
block_new(struct net_h2_mem *m, size_t n, bool outbound)
{
	struct net_h2_mem_block *b;
	size_t len = page_round(n);
	void *p;

	if (m->nblk == NET_H2_MEM_BLOCKS)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	b = &m->blk[m->nblk++];
	b->p = p;
	b->len = len;
	b->outbound = outbound;
	return p;
}

static void
block_free(struct net_h2_mem *m, struct net_h2_mem_block *b)
{
	munmap(b->p, b->len);
	*b = m->blk[--m->nblk];
}

static void *
mem_malloc(size_t n, void *ud)
{
	void *p = n >= BIG ? block_new(ud, n, false) : NULL;

	return p != NULL ? p : malloc(n);
}

static void
mem_free(void *p, void *ud)
{
	struct net_h2_mem_block *b;

	if (p == NULL)
		return;
	if ((b = block_of(ud, p)) != NULL)
		block_free(ud, b);
	else
		free(p);
}

static void *
mem_calloc(size_t nmemb, size_t size, void *ud)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	if (nmemb * size >= BIG && (p = block_new(ud, nmemb * size, false)) != NULL)
		return p;		/* mappings come zeroed */
	return calloc(nmemb, size);
}

/* A malloc'd block stays with malloc; a mapped one moves when it must grow or shrink below BIG. */
static void *
mem_realloc(void *p, size_t n, void *ud)
{
	struct net_h2_mem *m = ud;
	struct net_h2_mem_block *b = p != NULL ? block_of(m, p) : NULL;
	size_t old;
	void *q;

	if (p == NULL) {	/* nghttp2_buf's first reserve: how frame buffers are made */
		q = n >= BIG ? block_new(m, n, m->sending) : NULL;
		return q != NULL ? q : malloc(n);
	}
	if (b == NULL)
		return realloc(p, n);
	if (n >= BIG && n <= b->len)
		return p;
	old = b->len;
	q = n >= BIG ? block_new(m, n, b->outbound) : NULL;
	if (q == NULL && (q = malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	block_free(m, b);	/* still in its slot: block_new only appends */
	return q;
}

void
net_h2_mem_init(struct net_h2_mem *m, nghttp2_mem *mem)
{
	memset(m, 0, sizeof(*m));
	mem->mem_user_data = m;
	mem->malloc = mem_malloc;
	mem->free = mem_free;
	mem->calloc = mem_calloc;
	mem->realloc = mem_realloc;
}

void
net_h2_mem_send_begin(struct net_h2_mem *m)
{
	m->sending = true;
	m->released = false;
}

void
net_h2_mem_send_end(struct net_h2_mem *m)
{
	m->sending = false;
}

size_t
net_h2_mem_release(struct net_h2_mem *m)
{
	size_t n = 0;

	if (m->released)
		return 0;
	for (unsigned i = 0; i < m->nblk; i++)
		if (m->blk[i].outbound && madvise(m->blk[i].p, m->blk[i].len, MADV_DONTNEED) == 0)
			n += m->blk[i].len;
	m->released = true;
	return n;
}

size_t
net_h2_mem_resident(const struct net_h2_mem *m)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = 0;
	unsigned char vec[64];

	for (unsigned i = 0; i < m->nblk; i++) {
		size_t pages = m->blk[i].len / pg;

		if (!m->blk[i].outbound || pages > sizeof(vec) || mincore(m->blk[i].p, m->blk[i].len, vec) != 0)
			continue;
		for (size_t j = 0; j < pages; j++)
			n += vec[j] & 1;
	}
	return n;
}
