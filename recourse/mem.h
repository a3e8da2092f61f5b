/* mem.h -- the recourse library's allocator, with a hook that fails the n-th allocation (for tests). */
#ifndef AXLE_RECOURSE_MEM_H
#define AXLE_RECOURSE_MEM_H

#include <stddef.h>

/*
 * Every allocation the recourse library makes itself goes through these, so
 * that tests reach each ENOMEM path (STYLE.md "Allocation failure is
 * tested"). Memory from pb_unpack/pb_pack (proto/pb.h) is not counted: it is
 * freed with pb_free / free(). Same contracts as malloc, calloc, realloc,
 * free and strdup.
 */
void *recourse_mem_alloc(size_t n);
void *recourse_mem_calloc(size_t n, size_t size);
void *recourse_mem_realloc(void *p, size_t n);
void recourse_mem_free(void *p);
char *recourse_mem_strdup(const char *s);

/*
 * Test hook: the n-th allocation from now fails (1: the next one), and so
 * does every later one until the hook is reset; n == 0 turns failing off.
 * Process-wide: use it only in single-threaded tests.
 */
void recourse_mem_fail_after(unsigned long n);
/* Whether an allocation failed because of the hook since it was last set. */
int recourse_mem_failed(void);

#endif
