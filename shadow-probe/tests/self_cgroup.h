/* SPDX-License-Identifier: Apache-2.0 */
/* The calling process's cgroup v2 id. BPF_PROG_TEST_RUN gives a cgroup_skb program a dummy socket charged to the
 * caller's cgroup, so this is the id bpf_skb_cgroup_id() sees in a test run: a test makes a pod "send" a packet by
 * giving that pod this cgroup id. */
#ifndef SHADOW_SELF_CGROUP_H
#define SHADOW_SELF_CGROUP_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static inline unsigned long long self_cgroup_id(void)
{
	char line[512], path[700];
	FILE *f = fopen("/proc/self/cgroup", "r");
	unsigned long long id = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		struct stat st;
		snprintf(path, sizeof(path), "/sys/fs/cgroup/unified%s", line + 3);
		if (stat(path, &st) != 0) {
			snprintf(path, sizeof(path), "/sys/fs/cgroup%s", line + 3);
			if (stat(path, &st) != 0)
				break;
		}
		id = st.st_ino;
	}
	fclose(f);
	return id;
}

#endif
