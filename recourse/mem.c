/* mem.c -- the recourse allocator and its failure-injection hook. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "recourse/mem.h"

/* 0: never fail; else allocations left before failing (1: the next). */
static _Atomic unsigned long mem_countdown;
static _Atomic int mem_hit;

static int
mem_should_fail(void)
{
	unsigned long n = atomic_load(&mem_countdown);

	if (n == 0)
		return 0;
	if (n == 1) {
		atomic_store(&mem_hit, 1);
		return 1;	/* stays at 1: every later allocation fails too */
	}
	atomic_store(&mem_countdown, n - 1);
	return 0;
}

void *
recourse_mem_alloc(size_t n)
{
	return mem_should_fail() ? NULL : malloc(n ? n : 1);
}

void *
recourse_mem_calloc(size_t n, size_t size)
{
	return mem_should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *
recourse_mem_realloc(void *p, size_t n)
{
	return mem_should_fail() ? NULL : realloc(p, n ? n : 1);
}

void
recourse_mem_free(void *p)
{
	free(p);
}

char *
recourse_mem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = recourse_mem_alloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

void
recourse_mem_fail_after(unsigned long n)
{
	atomic_store(&mem_hit, 0);
	atomic_store(&mem_countdown, n);
}

int
recourse_mem_failed(void)
{
	return atomic_load(&mem_hit);
}
