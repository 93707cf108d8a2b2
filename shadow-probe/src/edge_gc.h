/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * The edge table from userspace (shadow.h, "Edges"): an edge summed over CPUs, and the GC that frees idle edges when
 * the table runs full. Userspace only: the loader runs a step after every dump, and the BPF tests run it on the real
 * maps.
 */
#ifndef SHADOW_EDGE_GC_H
#define SHADOW_EDGE_GC_H
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "shadow.h"

/* Edge idx summed over ncpu CPUs into *out (scratch: ncpu values). 0, or -errno. */
static inline int shadow_edge_sum(int edges_fd, __u32 idx, int ncpu, struct shadow_edge_val *scratch,
				  struct shadow_edge_val *out)
{
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(edges_fd, &idx, scratch))
		return -errno;
	for (int c = 0; c < ncpu; c++) {
		__u64 *d = (__u64 *)out, *s = (__u64 *)&scratch[c];
		for (size_t w = 0; w < sizeof(*out) / 8; w++)
			d[w] += s[w];
	}
	return 0;
}

/* Anything that counts: an edge whose activity did not move since the last dump is idle. */
static inline __u64 shadow_edge_activity(const struct shadow_edge_val *v)
{
	return v->requests + v->flows + v->conns_closed;
}

/* One live edge as a dump saw it. */
struct shadow_edge_live {
	struct shadow_edge_key key;
	__u32 idx;
	__u64 activity;
};

/* What the GC keeps between dumps (~300 KiB). */
struct shadow_edge_gc {
	__u64 steps;                                   /* GC steps so far (one per dump) */
	__u64 activity[SHADOW_EDGES_MAX];              /* per index, at the last dump */
	__u64 changed_at[SHADOW_EDGES_MAX];            /* the step at which that last moved */
	__u32 n_pending;                               /* out of the index since the last step, not yet handed back */
	struct shadow_edge_live pending[SHADOW_EDGES_MAX];
	__u64 freed;                                   /* indices handed back so far */
};

/* Called by the dump for every live edge, before the step. */
static inline void shadow_edge_gc_note(struct shadow_edge_gc *g, __u32 idx, __u64 activity)
{
	if (idx >= SHADOW_EDGES_MAX)
		return;
	if (g->activity[idx] != activity || !g->changed_at[idx]) {
		g->activity[idx] = activity;
		g->changed_at[idx] = g->steps + 1;
	}
}

typedef void (*shadow_edge_final_fn)(void *ctx, const struct shadow_edge_key *k, const struct shadow_edge_val *v);

static int shadow_edge_gc_older(const void *a, const void *b, void *arg)
{
	const struct shadow_edge_gc *g = arg;
	__u64 x = g->changed_at[((const struct shadow_edge_live *)a)->idx];
	__u64 y = g->changed_at[((const struct shadow_edge_live *)b)->idx];
	return x < y ? -1 : x > y;
}

/*
 * One step, after a dump that saw the n live edges in live[] (noted with shadow_edge_gc_note):
 * 1. The indices taken out of the index at the previous step are handed back. A dump has passed since the epoch
 *    moved, so no program still adds to them through a stale cache. Counts that arrived after their last report go
 *    out through final() (nothing is lost); then each is zeroed and pushed onto the free queue.
 * 2. If more than 7/8 of the table is taken, the edges that have been idle longest (two dumps at least) leave the
 *    index until 3/4 is: their keys are deleted, then the epoch is bumped so that every cached index is looked up
 *    again. The indices wait for the next step.
 * epoch: shadow_edge_hdr.epoch (mmaped). Returns the number of edges taken out of the index, or -errno.
 */
static inline int shadow_edge_gc_step(struct shadow_edge_gc *g, int index_fd, int edges_fd, int free_fd,
				      __u64 *epoch, int ncpu, struct shadow_edge_live *live, __u32 n,
				      shadow_edge_final_fn final, void *ctx)
{
	g->steps++;
	struct shadow_edge_val *scratch = calloc(ncpu, sizeof(*scratch));
	if (!scratch)
		return -ENOMEM;
	int err = 0;
	for (__u32 i = 0; i < g->n_pending; i++) {
		struct shadow_edge_live *e = &g->pending[i];
		struct shadow_edge_val v;
		if (shadow_edge_sum(edges_fd, e->idx, ncpu, scratch, &v) == 0 && shadow_edge_activity(&v) != e->activity &&
		    final)
			final(ctx, &e->key, &v);
		memset(scratch, 0, ncpu * sizeof(*scratch));
		if (bpf_map_update_elem(edges_fd, &e->idx, scratch, BPF_ANY) ||
		    bpf_map_update_elem(free_fd, NULL, &e->idx, BPF_ANY)) {
			err = -errno;
			continue; /* not handed back: the index stays unused, which is safe */
		}
		g->activity[e->idx] = 0;
		g->changed_at[e->idx] = 0;
		g->freed++;
	}
	g->n_pending = 0;
	free(scratch);
	if (err)
		return err;
	if ((__u64)n * 8 <= (__u64)SHADOW_EDGES_MAX * 7)
		return 0;
	qsort_r(live, n, sizeof(*live), shadow_edge_gc_older, g);
	__u32 want = n - SHADOW_EDGES_MAX * 3 / 4, took = 0;
	for (__u32 i = 0; i < n && took < want; i++) {
		if (live[i].idx == SHADOW_EDGE_OVERFLOW || live[i].idx >= SHADOW_EDGES_MAX)
			continue; /* never in the index; skipped for safety */
		if (g->steps - g->changed_at[live[i].idx] < 2)
			break; /* sorted: the rest moved more recently */
		if (bpf_map_delete_elem(index_fd, &live[i].key))
			continue;
		live[i].activity = g->activity[live[i].idx];
		g->pending[g->n_pending++] = live[i];
		took++;
	}
	if (took)
		__atomic_fetch_add(epoch, 1, __ATOMIC_SEQ_CST);
	return (int)took;
}
#endif
