/*
 * h2_mem.h -- the memory of one nghttp2 session, so that an idle connection
 * costs little: blocks of a page or more are mapped on their own (pages never
 * written cost nothing), and the frame buffer, whose bytes are dead whenever
 * the session has nothing to send, is handed back to the kernel while the
 * connection is quiet (net_h2_mem_release).
 */
#ifndef AXLE_GW_H2_MEM_H
#define AXLE_GW_H2_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include <nghttp2/nghttp2.h>

#define NET_H2_MEM_BLOCKS	8	/* mapped blocks tracked; more go to malloc */

struct net_h2_mem {
	struct net_h2_mem_block {
		void *p;
		size_t len;		/* mapped length (whole pages) */
		bool outbound;		/* allocated while serializing frames: the frame buffer */
	} blk[NET_H2_MEM_BLOCKS];
	unsigned nblk;
	bool sending;			/* inside session creation or nghttp2_session_mem_send */
	bool released;			/* outbound blocks handed back since the last send */
};

/*
 * Prepares m (zeroed or not) and fills mem to hand to nghttp2_session_*_new3.
 * m must outlive the session. Set m->sending around the session's creation
 * and every nghttp2_session_mem_send call (net_h2_mem_send_begin/end).
 */
void net_h2_mem_init(struct net_h2_mem *m, nghttp2_mem *mem);

void net_h2_mem_send_begin(struct net_h2_mem *m);
void net_h2_mem_send_end(struct net_h2_mem *m);

/*
 * Hands the outbound blocks' pages back to the kernel. Only while the session
 * has nothing to send (nghttp2_session_want_write() == 0): the frame buffer
 * holds no live byte then, and nghttp2 writes before it reads it again.
 * Returns the bytes released (0 if nothing was mapped or already released).
 */
size_t net_h2_mem_release(struct net_h2_mem *m);

/* Pages of the outbound blocks (the frame buffer) resident in memory now (tests). */
size_t net_h2_mem_resident(const struct net_h2_mem *m);

#endif
