/* SPDX-License-Identifier: Apache-2.0 */
/* The loader's configuration file (JSON, see README.md) and its translation into map entries. Shared by the
 * loader and the BPF_PROG_TEST_RUN tests, so the tests exercise the same translation the probe uses. */
#ifndef SHADOW_CONFIG_H
#define SHADOW_CONFIG_H

#include <regex.h>
#include <stddef.h>
#include <linux/types.h>
#include "shadow.h"

#define CFG_NAME_MAX 64
#define CFG_PATH_MAX 256

struct cfg_pod {
	char name[CFG_NAME_MAX];
	char netns[CFG_PATH_MAX];    /* name under /run/netns, or an absolute path; empty: host netns */
	char ifname[32];             /* interface inside netns (to_pod on ingress, from_pod on egress) */
	char host_ifname[32];        /* alternatively the host-side veth (hooks swapped) */
	char host_netns[CFG_PATH_MAX]; /* where that veth lives (empty: the host netns) */
	char cgroup[CFG_PATH_MAX];   /* cgroup v2 path (absolute, or relative to the cgroup2 mount) */
	__u64 cgroup_id;             /* "cgroupId": used as is when given (tests, or a path not visible here) */
	int has_cgroup_id;
	__u32 addr;                  /* network order */
	__u32 identity;
	/* "sidecar": true or an object (the lab's pods.json): 1, outbound goes through it; false or null: 0, the pod
	 * has none, so it has no app leg and gets no cgroup_skb program; absent: -1, not known, treated as having an
	 * app leg (cgroup_skb attached) but not a captured outbound (a config written before the field existed) */
	int sidecar;
	/* "defaultDeny": {"ingress": bool, "egress": bool}, per direction 1 or 0, as Cilium's enableDefaultDeny settles
	 * it for the endpoint; -1 (absent): default deny once any policy entry names the direction for this pod */
	int default_deny[2];
	__u16 ep;                    /* 1-based index */
	/* named only by "ip" and/or "uid" (no netns/ifname/hostIfname/cgroup/cgroupId): resolved on this node by
	 * discover.c, which fills netns, ifname and cgroup when found */
	char uid[64];
	int discover, discovered, found, addr_from_discovery, ifindex;
};

struct cfg_identity {
	__u32 addr; /* network order */
	__u8 plen;
	__u32 identity;
};

struct cfg_policy {
	__u32 identity; /* 0 = any peer */
	__u16 ep;       /* 0 = every pod */
	__u8 dir;
	__u8 proto;     /* 0 = any */
	__u16 port;     /* 0 = any */
	__u16 end_port;
	__u8 action;
	__u32 rule_id;
};

struct cfg_l7 {
	__u16 ep;   /* 0 = every pod */
	__u16 port;
	__u8 dir;   /* "direction": ingress (default) or egress */
	__u8 method;
	__u8 kind;
	char path[CFG_PATH_MAX];
	__u32 rule_id;
	__u32 identity; /* the peer it applies to (the client of an ingress request, the server of an egress one); 0 = any */
	regex_t re; /* kind == SHADOW_PATH_REGEX */
	int re_ok;
};

struct cfg_l7_ref {
	__u64 key; /* ep << 24 | port << 8 | dir */
	__u32 i;   /* index in l7[] */
};

struct shadow_config {
	struct cfg_pod *pods;
	size_t n_pods;
	struct cfg_identity *ids;
	size_t n_ids;
	struct cfg_policy *rules;
	size_t n_rules;
	struct cfg_l7 *l7;
	size_t n_l7;
	/* the L7 rules by (pod, port, direction), then config order: the loader's userspace step looks up the rules of a
	 * record's key instead of scanning them all (one record per request on a port whose rules name peers) */
	struct cfg_l7_ref *l7_by_key;
	/* settings (rodata: take effect at start only) */
	__u64 rate;          /* records per second, all CPUs */
	__u64 burst;
	__u32 sample_every;
	__u16 outbound_port;
	__u32 interval_ms;   /* edge/metrics dump period */
	__u32 ct_set_bits;   /* settings.ctFlows = 8 << ct_set_bits (shadow.h) */
	__u32 inflight_pair_bits; /* settings.inflightSlots = 2 << inflight_pair_bits */
};

struct shadow_map_fds {
	int ipcache, policy, endpoints, cgroups, l7_hdr, l7_index, l7_sets;
};

/* the map fds of a loaded skeleton (struct shadow_bpf *) */
#define SHADOW_MAP_FDS(skel)                                                                                   \
	((struct shadow_map_fds){bpf_map__fd((skel)->maps.shadow_ipcache), bpf_map__fd((skel)->maps.shadow_policy), \
				 bpf_map__fd((skel)->maps.shadow_endpoints), bpf_map__fd((skel)->maps.shadow_cgroups), \
				 bpf_map__fd((skel)->maps.data_l7hdr), bpf_map__fd((skel)->maps.shadow_l7_index), \
				 bpf_map__fd((skel)->maps.shadow_l7_sets)})

/* Size the CT and in-flight tables of an opened, not yet loaded skeleton (struct shadow_bpf *) as the config says:
 * the programs' hash (rodata) and the maps' max_entries together. 0 or -errno. */
#define SHADOW_SIZE_TABLES(skel, c)                                                                            \
	((skel)->rodata->cfg_ct_set_bits = (c)->ct_set_bits,                                                    \
	 (skel)->rodata->cfg_inflight_pair_bits = (c)->inflight_pair_bits,                                      \
	 bpf_map__set_max_entries((skel)->maps.shadow_ct, 1u << (c)->ct_set_bits)                               \
		 ?: bpf_map__set_max_entries((skel)->maps.shadow_inflight, 2u << (c)->inflight_pair_bits))

/* Parse a JSON document; on error returns -1 with a message in err. */
int shadow_config_parse(const char *json, struct shadow_config *c, char *err, size_t errlen);
int shadow_config_load(const char *path, struct shadow_config *c, char *err, size_t errlen);
/* shadow_config_load in two steps, for a caller that checks the parse's memory in between: the file's text (free it;
 * NULL with err on failure), then its parse, with errors prefixed by path */
char *shadow_config_read(const char *path, char *err, size_t errlen);
int shadow_config_parse_file(const char *path, const char *text, struct shadow_config *c, char *err, size_t errlen);
/* what parsing text takes in the heap at its peak, from one pass over it (an upper estimate) */
size_t shadow_config_parse_need(const char *text);
void shadow_config_free(struct shadow_config *c);

/* Bring the maps to exactly the state the config describes: update what is wanted, delete the rest. Safe
 * while the programs run (each entry changes atomically). Returns 0 or -errno with a message in err. */
int shadow_config_apply(const struct shadow_config *c, const struct shadow_map_fds *fds, char *err, size_t errlen);

/* Applies next over maps that hold prev; if it fails halfway, writes prev back so the maps never stay a mix of the
 * two. 0, or the error of next (with the outcome of the write-back) in err. */
int shadow_config_switch(const struct shadow_config *prev, const struct shadow_config *next,
			 const struct shadow_map_fds *fds, char *err, size_t errlen);

/* How many LPM entries (identities, expanded policy) shadow_config_apply will write: what the tries will hold. */
size_t shadow_config_lpm_entries(const struct shadow_config *c);

/* How many LPM entries a switch from prev to next adds: next's keys that prev's maps do not hold. The tries hold both
 * sets at the peak of the switch, which writes the new entries before it deletes the stale ones. */
size_t shadow_config_lpm_added(const struct shadow_config *prev, const struct shadow_config *next);

/* Userspace L7 verdict for a record the kernel deferred (regex rules, or a port whose rules name peers). Returns 1 if
 * it looked: the verdict is then allow or deny, or none with SHADOW_F_PEER when only the peer, which the record does
 * not know, could tell. */
int shadow_config_l7_user(const struct shadow_config *c, struct shadow_http_rec *rec);

const char *shadow_method_name(__u8 m);
const char *shadow_verdict_name(__u8 v);

#endif
