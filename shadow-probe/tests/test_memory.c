// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of memory.c's cgroup reading and verdict, on FAKE cgroup trees: a temporary directory stands in for
 * the cgroup mounts, and fake /proc/self/cgroup and mountinfo files point into it. No root, no kernel. The
 * estimate itself is checked against the kernel's own count in test_progs (memory_estimate).
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "memory.h"
#include "config.h"

static int failed, passed;
static char root[256];

#define CHECK(cond, ...)                                                                                               \
	do {                                                                                                           \
		if (cond) {                                                                                            \
			passed++;                                                                                      \
		} else {                                                                                               \
			failed++;                                                                                      \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                    \
			printf(__VA_ARGS__);                                                                           \
			printf("\n");                                                                                  \
		}                                                                                                      \
	} while (0)

static void put(const char *rel, const char *text)
{
	char path[512], dir[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(dir, 0755);
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* writes the fake /proc files: cgroup lines, then mountinfo lines with @ replaced by the fake root */
static void procs(const char *cgroup, const char *mountinfo)
{
	put("proc/cgroup", cgroup);
	char buf[4096] = "";
	for (const char *s = mountinfo; *s; s++) {
		if (*s == '@')
			strcat(buf, root);
		else
			strncat(buf, s, 1);
	}
	put("proc/mountinfo", buf);
}

static int room(struct shadow_mem_room *r)
{
	char c[512], m[512];
	snprintf(c, sizeof(c), "%s/proc/cgroup", root);
	snprintf(m, sizeof(m), "%s/proc/mountinfo", root);
	return shadow_mem_room(c, m, r);
}

static int ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);
	return a >= b && !strcmp(s + a - b, tail);
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/test_memory.XXXXXX");
	if (!mkdtemp(root))
		return 2;
	struct shadow_mem_room r;

	/* v2, a kubelet tree: the pod's limit (ancestor of the container) is the tightest room, not the container's
	 * "max" nor the larger kubepods limit higher up */
	put("v2/kubepods/memory.max", "1073741824\n");
	put("v2/kubepods/memory.current", "524288000\n");
	put("v2/kubepods/podA/memory.max", "104857600\n");
	put("v2/kubepods/podA/memory.current", "10485760\n");
	put("v2/kubepods/podA/ctr/memory.max", "max\n");
	put("v2/kubepods/podA/ctr/memory.current", "2097152\n");
	procs("0::/kubepods/podA/ctr\n", "30 25 0:26 / @/v2 rw,nosuid - cgroup2 cgroup2 rw\n");
	CHECK(room(&r) == 0 && r.found, "v2: a limit found");
	CHECK(r.limit == 104857600 && r.usage == 10485760 && ends_with(r.path, "/v2/kubepods/podA"),
	      "v2: the pod's limit, got %llu/%llu at %s", r.limit, r.usage, r.path);

	/* v1 memory in a line of several controllers, beside an unrelated v2 mount: the "unlimited" huge number is
	 * no limit, the parent's 64 MiB is */
	put("v1/a/b/memory.limit_in_bytes", "9223372036854771712\n");
	put("v1/a/b/memory.usage_in_bytes", "1048576\n");
	put("v1/a/memory.limit_in_bytes", "67108864\n");
	put("v1/a/memory.usage_in_bytes", "4194304\n");
	put("v1/memory.limit_in_bytes", "9223372036854771712\n");
	procs("5:devices:/\n4:cpu,memory:/a/b\n0::/\n",
	      "40 25 0:30 / @/v1 rw - cgroup cgroup rw,cpu,memory\n41 25 0:31 / @/v2empty rw - cgroup2 cgroup2 rw\n");
	CHECK(room(&r) == 0 && r.found && r.limit == 67108864 && r.usage == 4194304 && ends_with(r.path, "/v1/a"),
	      "v1: the parent's limit, got found %d %llu at %s", r.found, r.limit, r.path);

	/* the working set: inactive page cache (which the kernel reclaims before it fails a charge) is not in use.
	 * v1 takes the hierarchical total_inactive_file, not the cgroup's own inactive_file; a stat larger than the
	 * usage (the two files are not read at one instant) leaves 0, not a wrapped number */
	put("v1/a/memory.stat", "cache 3145728\ninactive_file 1024\ntotal_inactive_file 3145728\n");
	CHECK(room(&r) == 0 && r.found && r.usage == 1048576 && r.cache == 3145728,
	      "v1: usage less total_inactive_file, got %llu (cache %llu)", r.usage, r.cache);
	put("v1/a/memory.stat", "total_inactive_file 99999999\n");
	CHECK(room(&r) == 0 && r.usage == 0 && r.cache == 4194304, "v1: clamped, got %llu (cache %llu)", r.usage, r.cache);
	put("v2/kubepods/podA/memory.stat", "anon 2097152\nfile 8388608\nactive_file 1048576\ninactive_file 7340032\n");
	procs("0::/kubepods/podA/ctr\n", "30 25 0:26 / @/v2 rw,nosuid - cgroup2 cgroup2 rw\n");
	CHECK(room(&r) == 0 && r.usage == 10485760 - 7340032 && r.cache == 7340032 && ends_with(r.path, "/v2/kubepods/podA"),
	      "v2: usage less inactive_file, got %llu (cache %llu) at %s", r.usage, r.cache, r.path);
	/* the cache decides which ancestor is tightest: kubepods' 500 MiB of usage is mostly cache, so podA stays */
	put("v2/kubepods/memory.current", "1063256064\n"); /* 1,014 MiB: 10 MiB of room, were cache counted */
	put("v2/kubepods/memory.stat", "inactive_file 1048576000\n");
	CHECK(room(&r) == 0 && ends_with(r.path, "/v2/kubepods/podA"), "v2: cache left out per level, got %s", r.path);
	put("v2/kubepods/memory.stat", "inactive_file 0\n");
	CHECK(room(&r) == 0 && ends_with(r.path, "/v2/kubepods") && r.cache == 0, "v2: no cache, kubepods tightest, got %s",
	      r.path);
	put("v2/kubepods/memory.current", "524288000\n");

	/* a container with its own cgroup namespace: its path is "/", the mount's root is its cgroup */
	put("ns/memory.max", "536870912\n");
	put("ns/memory.current", "3145728\n");
	procs("0::/\n", "50 25 0:26 / @/ns ro - cgroup2 cgroup2 rw\n");
	CHECK(room(&r) == 0 && r.found && r.limit == 536870912 && ends_with(r.path, "/ns"),
	      "cgroupns: the mount root's limit, got %llu at %s", r.limit, r.path);

	/* a bind mount of a subtree (mount root /kubepods/podB): paths are taken relative to it, and a mount of
	 * another subtree is skipped */
	put("bind/memory.max", "209715200\n");
	put("bind/memory.current", "0\n");
	put("bind/ctr/memory.max", "max\n");
	put("pfxB/memory.max", "1048576\n"); /* where a mount of /kubepods/pod would lead if taken as a prefix */
	procs("0::/kubepods/podB/ctr\n", "60 25 0:26 /kubepods/podB @/bind rw - cgroup2 cgroup2 rw\n"
					  "61 25 0:26 /kubepods/pod @/pfx rw - cgroup2 cgroup2 rw\n");
	CHECK(room(&r) == 0 && r.found && r.limit == 209715200 && ends_with(r.path, "/bind"),
	      "bind mount: the subtree root's limit, got %llu at %s", r.limit, r.path);

	/* no limit anywhere */
	put("free/memory.max", "max\n");
	procs("0::/\n", "70 25 0:26 / @/free rw - cgroup2 cgroup2 rw\n");
	CHECK(room(&r) == 0 && !r.found, "no limit: none found");

	/* no /proc files: an error, not a guess */
	char bad[512];
	snprintf(bad, sizeof(bad), "%s/nothing", root);
	CHECK(shadow_mem_room(bad, bad, &r) < 0, "missing files: an error");

	/* the verdict: the default tables' figures against 40 and 100 MiB */
	struct shadow_mem_need need = {.ct = 16 << 20, .inflight = 12 << 20, .edges = 5 << 20, .ring = 4 << 20,
				       .other = 8 << 20, .ncpu = 2};
	need.maps = need.ct + need.inflight + need.edges + need.ring + need.other;
	char msg[1536];
	struct shadow_mem_room small = {.found = 1, .limit = 40 << 20, .usage = 2 << 20, .path = "/sys/fs/cgroup/x"};
	CHECK(shadow_mem_verdict(&need, &small, msg, sizeof(msg)) == 1, "40 MiB: refused");
	/* 45 MiB of maps + the load's 12 + the 2 in use */
	CHECK(strstr(msg, "at least 60 MiB") && strstr(msg, "/sys/fs/cgroup/x") && strstr(msg, "allows 40 MiB") &&
		      strstr(msg, "settings.ctFlows"),
	      "40 MiB: names the cgroup, the limit and the figure to set: %s", msg);
	struct shadow_mem_room big = {.found = 1, .limit = 100 << 20, .usage = 2 << 20, .path = "/x"};
	CHECK(shadow_mem_verdict(&need, &big, msg, sizeof(msg)) == 0 && strstr(msg, "needs ~57 MiB"),
	      "100 MiB: fits: %s", msg);
	struct shadow_mem_room none = {0};
	CHECK(shadow_mem_verdict(&need, &none, msg, sizeof(msg)) == 0 && strstr(msg, "no memory limit"), "no limit: fits");

	/* a reload: before the parse, then before the first write (16,000 entries added of 20,000: 2.44 MiB of trie,
	 * 20,000 x 96 B of translation + 1 MiB = 2.83 MiB, 5.27 MiB in all) */
	struct shadow_mem_room tight = {.found = 1, .limit = 100 << 20, .usage = 97 << 20, .path = "/sys/fs/cgroup/pod"};
	struct shadow_mem_reload sw = {.added = 16000, .entries = 20000};
	CHECK(shadow_mem_reload_verdict(&sw, &tight, msg, sizeof(msg)) == 1 && strstr(msg, "adds 16000 trie entries (2.4 MiB") &&
		      strstr(msg, "translation needs 2.8 MiB") && strstr(msg, "allows 100 MiB with 97.0 MiB in use") &&
		      strstr(msg, "at least 104 MiB"),
	      "a switch past the limit: refused with its parts and the figure: %s", msg);
	tight.cache = 5 << 20;
	CHECK(shadow_mem_reload_verdict(&sw, &tight, msg, sizeof(msg)) == 1 &&
		      strstr(msg, "with 97.0 MiB in use (not counting 5.0 MiB of inactive page cache)"),
	      "the cache left out is named: %s", msg);
	tight.cache = 0;
	tight.usage = 94 << 20; /* 6 MiB free */
	CHECK(shadow_mem_reload_verdict(&sw, &tight, msg, sizeof(msg)) == 0, "a switch with room: fits: %s", msg);
	struct shadow_mem_reload parse = {.parse = 10 << 20};
	CHECK(shadow_mem_reload_verdict(&parse, &tight, msg, sizeof(msg)) == 1 && strstr(msg, "parsing it needs ~11.0 MiB") &&
		      strstr(msg, "at least 106 MiB"),
	      "a parse past the limit: refused with the figure: %s", msg);
	CHECK(shadow_mem_reload_verdict(&parse, &none, msg, sizeof(msg)) == 0 && strstr(msg, "no memory limit"),
	      "a reload without a limit: fits: %s", msg);

	/* config.c's figures for a reload: the parse's estimate bounds what jansson takes (measured here, in this
	 * process's heap), and the entries a switch adds are the keys the running config lacks */
	size_t cap = 64 << 20, o = 0;
	char *json = malloc(cap);
	o += (size_t)snprintf(json + o, cap - o, "{\"pods\": [{\"name\": \"p\", \"ip\": \"10.0.0.1\", \"identity\": 5}], "
			      "\"identities\": [");
	for (int i = 0; i < 16000; i++)
		o += (size_t)snprintf(json + o, cap - o, "%s{\"ip\": \"10.%d.%d.%d\", \"identity\": %d}", i ? ", " : "", 1 + (i >> 16),
				      (i >> 8) & 255, i & 255, 1000 + i);
	o += (size_t)snprintf(json + o, cap - o, "], \"policy\": [");
	for (int i = 0; i < 400; i++)
		o += (size_t)snprintf(json + o, cap - o, "%s{\"identity\": %d, \"direction\": \"ingress\", \"protocol\": \"TCP\", "
				      "\"port\": 1, \"endPort\": 65535, \"action\": \"allow\", \"ruleId\": %d}", i ? ", " : "", 1000 + i, i + 1);
	snprintf(json + o, cap - o, "]}");
	size_t est = shadow_config_parse_need(json);
	struct shadow_config few, many;
	char err[300];
	/* what the parse keeps (its arrays) is under the estimate of its peak; the peak itself is test_config's */
	struct mallinfo2 m0 = mallinfo2();
	CHECK(shadow_config_parse(json, &many, err, sizeof(err)) == 0, "parse: %s", err);
	struct mallinfo2 m1 = mallinfo2();
	CHECK(m1.uordblks - m0.uordblks <= est && est <= (1 << 20), "parse estimate %zu bytes against the %zu the parse keeps",
	      est, m1.uordblks - m0.uordblks);
	CHECK(shadow_config_parse("{\"pods\": [{\"name\": \"p\", \"ip\": \"10.0.0.1\", \"identity\": 5}], \"identities\": "
				  "[{\"ip\": \"10.1.0.0\", \"identity\": 1000}]}", &few, err, sizeof(err)) == 0, "parse: %s", err);
	/* 15,999 identities and 400 rules x 16 port prefixes are new; the pod's /32 and 10.1.0.0 are in both */
	CHECK(shadow_config_lpm_added(&few, &many) == 15999 + 400 * 16, "added %zu, want %d", shadow_config_lpm_added(&few, &many),
	      15999 + 400 * 16);
	CHECK(shadow_config_lpm_added(&many, &few) == 0 && shadow_config_lpm_added(&many, &many) == 0,
	      "nothing added going smaller or to the same config");
	shadow_config_free(&few);
	shadow_config_free(&many);
	free(json);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		return 2;
	printf("test_memory: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
