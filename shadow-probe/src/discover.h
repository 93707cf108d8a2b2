/* SPDX-License-Identifier: Apache-2.0 */
/* Pod discovery on this node: pods named in the config only by IP and/or UID are resolved to their network
 * namespace, interface and cgroup, the way kubelet lays them out (see discover.c). One config can then serve
 * every node of a DaemonSet: each probe attaches to the pods it finds and skips the others. */
#ifndef SHADOW_DISCOVER_H
#define SHADOW_DISCOVER_H

#include <stdio.h>
#include "config.h"

struct shadow_discover_opts {
	const char *cgroup_root; /* the cgroup v2 mount as this process sees it (a container mounts the host's) */
	const char *pods_cgroup; /* subtree holding the pods, relative to cgroup_root; NULL: kubepods.slice or kubepods */
	const char *proc_root;   /* /proc of the host pid namespace (hostPID) */
};

/* Resolve every pod with pod->discover set: fills netns (a /proc/<pid>/ns/net path), ifname and cgroup (an
 * absolute path), sets found, and the ip when only the UID was given. prev (the config before a reload, or
 * NULL to compare with c's own previous resolution) keeps a path stable while its netns is the same one, and
 * decides what is logged: a pod is logged only when its resolution changes. When out is not NULL, a
 * {"type":"discovery"} JSON line lists every discovered pod whenever something changed. Returns 1 if any
 * resolution changed, 0 if none, -1 if there is no cgroup v2 mount (message in err). A missing pods cgroup is
 * logged once and means no pod is here. */
int shadow_discover(struct shadow_config *c, const struct shadow_config *prev, const struct shadow_discover_opts *o,
		    FILE *out, char *err, size_t errlen);

/* The cgroup v2 mount of this process: /sys/fs/cgroup/unified (hybrid) or /sys/fs/cgroup; NULL if none. */
const char *shadow_cgroup2_root(void);

#endif
