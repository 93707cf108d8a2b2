/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What loading the probe charges to its memory cgroup, and what the cgroup allows.
 *
 * The kernel charges BPF maps (and the verifier's working memory) to the loader's memory cgroup. When a
 * container's limit cannot hold them, the load either fails with ENOMEM or, for per-CPU maps and the verifier,
 * wakes the cgroup's OOM killer: the probe dies with no message and its DaemonSet pod crash-loops as OOMKilled.
 * So the loader compares an estimate with the room its cgroup has before it loads, and refuses with the figures.
 */
#ifndef SHADOW_MEMORY_H
#define SHADOW_MEMORY_H

#include <linux/types.h>
#include <stddef.h>

struct bpf_object;

/* Memory a load needs beyond its maps: the verifier's states, BTF, the JIT images and the loader's own heap.
 * Measured on kernel 6.18 (peak cgroup usage of `--check` minus its maps' memlock): 8.7-9.2 MiB for the
 * default and the smallest tables. Rounded up for other kernels and builds. */
#define SHADOW_LOAD_OVERHEAD (12ULL << 20)

/* The maps' memory, by the kernel's own accounting of each map type (kernel/bpf: map_mem_usage), for an
 * object opened and sized but not loaded; lpm_entries: what the config puts in the LPM tries (identities and
 * policy entries), which allocate per entry. */
struct shadow_mem_need {
	__u64 ct, inflight, edges, ring, other;
	__u64 maps;  /* the sum */
	int ncpu;    /* possible CPUs: per-CPU maps take a copy for each */
};

/* The tightest memory limit over the process's cgroup and its ancestors, cgroup v2 (memory.max) and v1
 * (memory.limit_in_bytes) alike, with that cgroup's usage. found 0: no limit anywhere.
 * usage is the working set, as the kubelet counts it: the cgroup's usage less its inactive page cache
 * (memory.stat inactive_file, v1 total_inactive_file), which the kernel reclaims before it fails a charge. Both
 * usage files count page cache, so a probe that had read a large file would otherwise be refused for memory the
 * kernel would give it. */
struct shadow_mem_room {
	int found;
	__u64 limit, usage;
	__u64 cache; /* the inactive page cache left out of usage */
	char path[1024]; /* the limiting cgroup's directory */
};

void shadow_mem_estimate(struct bpf_object *obj, int ncpu, __u64 lpm_entries, struct shadow_mem_need *out);

/* cgroup_file, mountinfo_file: /proc/self/cgroup and /proc/self/mountinfo (other paths for tests). 0, or -errno
 * when neither file can be read. */
int shadow_mem_room(const char *cgroup_file, const char *mountinfo_file, struct shadow_mem_room *out);

/* 0: the load fits (msg gets a one-line summary), 1: it does not (msg says what to raise, and to what). */
int shadow_mem_verdict(const struct shadow_mem_need *need, const struct shadow_mem_room *room, char *msg, size_t n);

/* A reload's memory beyond what the running probe holds, checked twice: before the parse (parse: what parsing the
 * file takes, the rest 0), then before the first write (parse 0, since the parsed config is in the cgroup's usage by
 * then): the trie entries the switch adds (the running config's stay until the new ones are in) and its translation
 * in the loader's heap, for entries LPM entries in all. */
struct shadow_mem_reload {
	__u64 parse, added, entries;
};
#define SHADOW_RELOAD_KV_BYTES 96ULL      /* an entry of the translation (32 bytes) through its array's doublings */
#define SHADOW_RELOAD_SLACK (1ULL << 20) /* the rest: endpoint, cgroup and L7 arrays, stale keys, the config's arrays */
__u64 shadow_mem_reload_need(const struct shadow_mem_reload *r);

/* 0: the reload fits (msg: a summary), 1: it does not (msg: what to raise, and to what) */
int shadow_mem_reload_verdict(const struct shadow_mem_reload *r, const struct shadow_mem_room *room, char *msg, size_t n);

/* After the load: the maps' memory by the kernel's count (memlock in each map's fdinfo). */
__u64 shadow_mem_loaded(struct bpf_object *obj);

#endif
