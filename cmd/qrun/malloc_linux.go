//go:build linux && cgo

package main

/*
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// qrun's threads share glibc's main malloc arena. By default each thread
// that first allocates or frees in C (every Go runtime thread does, as it
// starts through pthread_create) gets an arena of its own: 64 MB of
// address space mapped, trimmed and protected, about 0.2 ms of a short
// command's start on a 2-core VM, four times over. qrun's C allocations are
// SQLite's, one connection at a time, so one arena costs no contention.
// A constructor runs before the Go runtime starts any thread.
__attribute__((constructor)) static void qrun_one_malloc_arena(void) {
#ifdef __GLIBC__
	mallopt(M_ARENA_MAX, 1);
#endif
}

// qrun_malloc_arenas counts glibc's arenas (malloc_info lists one <heap>
// each), or -1 without glibc.
static int qrun_malloc_arenas(void) {
#ifdef __GLIBC__
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) {
		return -1;
	}
	malloc_info(0, f);
	fclose(f);
	int n = 0;
	for (char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++) {
		n++;
	}
	free(buf);
	return n;
#else
	return -1;
#endif
}
*/
import "C"

// mallocArenas is the number of glibc malloc arenas (-1 without glibc).
func mallocArenas() int { return int(C.qrun_malloc_arenas()) }
