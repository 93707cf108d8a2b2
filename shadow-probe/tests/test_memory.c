// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of memory.c's cgroup reading and verdict, on FAKE cgroup trees: a temporary directory stands in for
 * the cgroup mounts, and fake /proc/self/cgroup and mountinfo files point into it. No root, no kernel. The
 * estimate itself is checked against the kernel's own count in test_progs (memory_estimate).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "memory.h"

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

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		return 2;
	printf("test_memory: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
