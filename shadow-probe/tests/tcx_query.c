// SPDX-License-Identifier: Apache-2.0
/* Which BPF programs are attached with tcx to an interface of a network namespace (bpftool 7.1 does not list
 * tcx): tcx_query NETNS_PATH IFNAME -> {"ifindex":N,"ingress":[prog ids],"egress":[prog ids]}. Used by the lab
 * tests to check that the probe attached to the right interface of the right pod. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define TCX_INGRESS 46 /* BPF_TCX_INGRESS/EGRESS of uapi 6.6+, passed through by libbpf 1.1 */
#define TCX_EGRESS 47

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: tcx_query NETNS_PATH IFNAME\n");
		return 2;
	}
	int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET)) {
		perror(argv[1]);
		return 1;
	}
	unsigned ifindex = if_nametoindex(argv[2]);
	if (!ifindex) {
		perror(argv[2]);
		return 1;
	}
	printf("{\"ifindex\":%u", ifindex);
	for (int w = 0; w < 2; w++) {
		__u32 ids[64], n = 64;
		LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = n);
		int err = bpf_prog_query_opts((int)ifindex, w ? TCX_EGRESS : TCX_INGRESS, &q);
		printf(",\"%s\":[", w ? "egress" : "ingress");
		for (__u32 i = 0; !err && i < q.prog_cnt; i++)
			printf("%s%u", i ? "," : "", ids[i]);
		printf("]");
	}
	printf("}\n");
	return 0;
}
