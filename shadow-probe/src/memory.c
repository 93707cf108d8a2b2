// SPDX-License-Identifier: Apache-2.0
/* What loading the probe charges to its memory cgroup, and what the cgroup allows (see memory.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "memory.h"

#define PAGE 4096ULL
#define R8(x) (((__u64)(x) + 7) & ~7ULL)
#define MIB(x) (((x) + (1ULL << 20) - 1) >> 20) /* rounded up: a figure to set a limit by */
#define MIB1(x) ((double)(x) / (1 << 20))           /* the parts, to a tenth */
#define HTAB_ELEM 48ULL   /* struct htab_elem without key and value */
#define HTAB_BUCKET 16ULL /* struct bucket */
/* a trie entry's node (64-byte slab object) with a share of the intermediate nodes and the allocator's per-CPU
 * caches: 12,000 identities raised the loader cgroup's kernel memory by 1.7 MiB, ~145 bytes each */
#define LPM_NODE 160ULL

static __u64 pow2_ceil(__u64 x)
{
	__u64 p = 1;
	while (p < x)
		p <<= 1;
	return p;
}

/* One map's memory once created, after the kernel's map_mem_usage for its type. Maps filled later count what the
 * config puts in them: the LPM tries their share of its entries (the kernel's memlock counts less: only the
 * entries' own bytes), the storage maps a page (an entry per pod or socket, allocated as they come). */
static __u64 map_bytes(const struct bpf_map *m, int ncpu, __u64 lpm_entries_share)
{
	__u64 n = bpf_map__max_entries(m), k = bpf_map__key_size(m), v = bpf_map__value_size(m);
	int prealloc = !(bpf_map__map_flags(m) & BPF_F_NO_PREALLOC);
	switch (bpf_map__type(m)) {
	case BPF_MAP_TYPE_ARRAY:
		return bpf_map__map_flags(m) & BPF_F_MMAPABLE ? (n * R8(v) + PAGE - 1) / PAGE * PAGE + PAGE : n * R8(v);
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		return n * (R8(v) * ncpu + 8);
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH: {
		__u64 buckets = pow2_ceil(n) * HTAB_BUCKET;
		if (!prealloc)
			return buckets;
		__u64 elems = n + (bpf_map__type(m) == BPF_MAP_TYPE_HASH ? (__u64)ncpu : 0); /* + a spare per CPU */
		return buckets + elems * (HTAB_ELEM + R8(k) + R8(v));
	}
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return pow2_ceil(n) * HTAB_BUCKET + (prealloc ? n * (HTAB_ELEM + R8(k) + 8 + R8(v) * ncpu) : 0);
	case BPF_MAP_TYPE_LPM_TRIE:
		return lpm_entries_share * LPM_NODE;
	case BPF_MAP_TYPE_RINGBUF:
		return n + 4 * PAGE + (n / PAGE + 4) * 8;
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
		return (n + 1) * v;
	case BPF_MAP_TYPE_SK_STORAGE:
	case BPF_MAP_TYPE_CGROUP_STORAGE:
	case BPF_MAP_TYPE_PROG_ARRAY:
		return PAGE;
	default:
		return n * (R8(k) + R8(v));
	}
}

void shadow_mem_estimate(struct bpf_object *obj, int ncpu, __u64 lpm_entries, struct shadow_mem_need *out)
{
	memset(out, 0, sizeof(*out));
	out->ncpu = ncpu > 0 ? ncpu : 1;
	int tries = 0;
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj)
		tries += bpf_map__type(m) == BPF_MAP_TYPE_LPM_TRIE;
	bpf_object__for_each_map(m, obj) {
		__u64 b = map_bytes(m, out->ncpu, tries ? lpm_entries / tries : 0);
		const char *name = bpf_map__name(m);
		if (!strcmp(name, "shadow_ct"))
			out->ct += b;
		else if (!strcmp(name, "shadow_inflight"))
			out->inflight += b;
		else if (!strcmp(name, "shadow_edges"))
			out->edges += b;
		else if (!strcmp(name, "shadow_events"))
			out->ring += b;
		else
			out->other += b;
		out->maps += b;
	}
}

/* Reads one number from dir/file: 0 ok, -1 missing or "max" (no limit). */
static int read_num(const char *dir, const char *file, __u64 *v)
{
	char path[1100], buf[64];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int ok = fgets(buf, sizeof(buf), f) && buf[0] >= '0' && buf[0] <= '9';
	fclose(f);
	if (!ok)
		return -1;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

/* One key's value in dir/memory.stat ("key value" lines), or 0 */
static __u64 read_stat(const char *dir, const char *key)
{
	char path[1100], line[256];
	snprintf(path, sizeof(path), "%s/memory.stat", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t kl = strlen(key);
	__u64 v = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			v = strtoull(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Looks at dir and its ancestors up to the mount's root (mnt): the tightest room (limit - working set) is kept. */
static void walk(const char *mnt, const char *rel, const char *limit_file, const char *usage_file,
		 const char *inactive_key, struct shadow_mem_room *out)
{
	char r[512];
	snprintf(r, sizeof(r), "%s", rel);
	for (;;) {
		char dir[1024];
		snprintf(dir, sizeof(dir), "%s%s", mnt, r);
		__u64 limit, usage = 0;
		/* v1 says "no limit" with a huge number (PAGE_COUNTER_MAX pages) */
		if (!read_num(dir, limit_file, &limit) && limit < (1ULL << 60)) {
			read_num(dir, usage_file, &usage);
			__u64 cache = read_stat(dir, inactive_key);
			cache = cache < usage ? cache : usage;
			usage -= cache;
			__u64 room = limit > usage ? limit - usage : 0;
			if (!out->found || room < (out->limit > out->usage ? out->limit - out->usage : 0)) {
				out->found = 1;
				out->limit = limit;
				out->usage = usage;
				out->cache = cache;
				snprintf(out->path, sizeof(out->path), "%s", dir);
			}
		}
		char *slash = strrchr(r, '/');
		if (!slash || !r[0] || !strcmp(r, "/"))
			break;
		*slash = 0; /* the parent; "" is the mount's root */
	}
}

/* the process's path in a hierarchy: v2 ("0::/p") when v1ctl is NULL, else the v1 line naming that controller */
static int cgroup_path(const char *cgroup_file, const char *v1ctl, char *path, size_t n)
{
	FILE *f = fopen(cgroup_file, "r");
	if (!f)
		return -errno;
	char line[1024];
	int found = -ENOENT;
	while (found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = 0;
		const char *ctls = c1 + 1;
		int match = 0;
		if (!v1ctl) {
			match = !strcmp(line, "0") && !*ctls;
		} else {
			char tmp[256];
			snprintf(tmp, sizeof(tmp), "%s", ctls);
			for (char *save, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
				match |= !strcmp(t, v1ctl);
		}
		if (match) {
			snprintf(path, n, "%s", c2 + 1);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

int shadow_mem_room(const char *cgroup_file, const char *mountinfo_file, struct shadow_mem_room *out)
{
	memset(out, 0, sizeof(*out));
	char v2path[512], v1path[512];
	int has_v2 = cgroup_path(cgroup_file, NULL, v2path, sizeof(v2path)) == 0;
	int has_v1 = cgroup_path(cgroup_file, "memory", v1path, sizeof(v1path)) == 0;
	FILE *f = fopen(mountinfo_file, "r");
	if (!f)
		return -errno;
	char line[2048];
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint options [optional...] - fstype source superoptions */
		char root[512], mnt[512], fstype[64], super[512] = "";
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %*s %511s", fstype, super) < 1)
			continue;
		int v2 = has_v2 && !strcmp(fstype, "cgroup2");
		int v1 = 0;
		if (has_v1 && !strcmp(fstype, "cgroup"))
			for (char *save, *t = strtok_r(super, ",", &save); t; t = strtok_r(NULL, ",", &save))
				v1 |= !strcmp(t, "memory");
		if (!v1 && !v2)
			continue;
		/* the process's path relative to the mount's root ("/" in a container with its own cgroup namespace) */
		const char *path = v2 ? v2path : v1path;
		size_t rl = strcmp(root, "/") ? strlen(root) : 0;
		if (strncmp(path, root, rl) || (path[rl] && path[rl] != '/'))
			continue;
		const char *rel = path + rl;
		walk(mnt, !strcmp(rel, "/") ? "" : rel, v2 ? "memory.max" : "memory.limit_in_bytes",
		     v2 ? "memory.current" : "memory.usage_in_bytes", v2 ? "inactive_file" : "total_inactive_file", out);
	}
	fclose(f);
	return 0;
}

/* "4.2 MiB in use" and, when some was left out, the page cache that was */
static const char *in_use(const struct shadow_mem_room *room, char *buf, size_t n)
{
	if (room->cache >= (1ULL << 20) / 10)
		snprintf(buf, n, "%.1f MiB in use (not counting %.1f MiB of inactive page cache)", MIB1(room->usage),
			 MIB1(room->cache));
	else
		snprintf(buf, n, "%.1f MiB in use", MIB1(room->usage));
	return buf;
}

int shadow_mem_verdict(const struct shadow_mem_need *need, const struct shadow_mem_room *room, char *msg, size_t n)
{
	__u64 total = need->maps + SHADOW_LOAD_OVERHEAD;
	char parts[256];
	snprintf(parts, sizeof(parts),
		 "maps %.1f MiB (CT %.1f, in-flight %.1f, per-CPU edges %.1f over %d CPUs, ring %.1f, other %.1f) + %llu MiB "
		 "to load",
		 MIB1(need->maps), MIB1(need->ct), MIB1(need->inflight), MIB1(need->edges), need->ncpu, MIB1(need->ring),
		 MIB1(need->other), SHADOW_LOAD_OVERHEAD >> 20);
	if (!room->found) {
		snprintf(msg, n, "needs ~%llu MiB: %s; no memory limit", MIB(total), parts);
		return 0;
	}
	__u64 free = room->limit > room->usage ? room->limit - room->usage : 0;
	if (total <= free) {
		char cache[96] = "";
		if (room->cache >= (1ULL << 20) / 10)
			snprintf(cache, sizeof(cache), " (not counting %.1f MiB of inactive page cache)", MIB1(room->cache));
		snprintf(msg, n, "needs ~%llu MiB: %s; %llu MiB free under the memory limit of %s%s", MIB(total), parts,
			 free >> 20, room->path, cache);
		return 0;
	}
	char used[128];
	snprintf(msg, n,
		 "needs ~%llu MiB: %s, but the memory cgroup %s allows %llu MiB with %s, so the kernel would refuse the maps "
		 "or OOM-kill the probe while it loads. Raise the container's memory limit to at least %llu MiB, or lower "
		 "settings.ctFlows / settings.inflightSlots",
		 MIB(total), parts, room->path, room->limit >> 20, in_use(room, used, sizeof(used)),
		 MIB(room->usage + total) + 1);
	return 1;
}

__u64 shadow_mem_reload_need(const struct shadow_mem_reload *r)
{
	return r->parse + r->added * LPM_NODE + r->entries * SHADOW_RELOAD_KV_BYTES + SHADOW_RELOAD_SLACK;
}

int shadow_mem_reload_verdict(const struct shadow_mem_reload *r, const struct shadow_mem_room *room, char *msg, size_t n)
{
	__u64 need = shadow_mem_reload_need(r);
	__u64 free = room->found && room->limit > room->usage ? room->limit - room->usage : 0;
	char what[300];
	if (r->parse)
		snprintf(what, sizeof(what), "parsing it needs ~%.1f MiB (what writing it needs is checked after the parse)",
			 MIB1(need));
	else
		snprintf(what, sizeof(what), "it adds %llu trie entries (%.1f MiB; the running config's stay until the new ones "
			 "are in) and its translation needs %.1f MiB", (unsigned long long)r->added, MIB1(r->added * LPM_NODE),
			 MIB1(need - r->added * LPM_NODE));
	if (!room->found || need <= free) {
		snprintf(msg, n, "%s%s", what, room->found ? "" : ", no memory limit");
		return 0;
	}
	char used[128];
	snprintf(msg, n,
		 "%s, but the memory cgroup %s allows %llu MiB with %s, so the kernel could refuse the entries or OOM-kill the "
		 "probe halfway. Raise the container's memory limit to at least %llu MiB, or split the pods over more probe "
		 "configs",
		 what, room->path, room->limit >> 20, in_use(room, used, sizeof(used)), MIB(room->usage + need) + 1);
	return 1;
}

__u64 shadow_mem_loaded(struct bpf_object *obj)
{
	__u64 sum = 0;
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj) {
		char path[64], line[128];
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", bpf_map__fd(m));
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		unsigned long long v;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "memlock: %llu", &v) == 1)
				sum += v;
		fclose(f);
	}
	return sum;
}
