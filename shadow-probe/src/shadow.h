/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shadow.h: the one ABI between the shadow-probe BPF programs, the loader and the TypeScript decoder
 * (src/adapters/probe/records.ts, checked by test/unit/probe-abi.test.ts against tests/abi_layout.c).
 *
 * Rules: every struct is fixed width with explicit padding and no implicit holes; records (*_rec) are a
 * multiple of 8 bytes.
 * Byte order: IPv4 addresses are in network byte order (as on the wire); ports, identities and every other
 * integer are in host byte order (little-endian on the machines we support), except inside LPM keys, where
 * multi-byte fields are big-endian so that prefix lengths mean "leading bits".
 * Changing a layout is a breaking change: bump SHADOW_ABI_VERSION.
 */
#ifndef SHADOW_H
#define SHADOW_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SHADOW_ABI_VERSION 4

#define SHADOW_PATH_MAX 128      /* path bytes kept per request (power of two: used as a mask) */
#define SHADOW_L7_RULES_MAX 8    /* in-kernel L7 rules per (endpoint, port) */
#define SHADOW_L7_PATH_MAX 64    /* longest path literal matched in the kernel */
#define SHADOW_LAT_BUCKETS 20    /* latency histogram buckets, bounds in SHADOW_LAT_BOUNDS_NS */
#define SHADOW_STATUS_CLASSES 6  /* 0: unparsed, 1xx..5xx */
#define SHADOW_POLICY_PREFIX_FULL 80 /* identity(32) + ep(16) + dir(8) + proto(8) + dport(16) */
#define SHADOW_POLICY_PREFIX_PROTO 56 /* entries for "any protocol": identity + ep + dir */
#define SHADOW_WORLD_IDENTITY 2  /* Cilium's reserved:world, for peers missing from the ipcache */

/* Upper bounds of the latency buckets in nanoseconds; the last bucket is +Inf. They contain Istio's default
 * histogram bounds (0.5, 1, 5, 10, 25 ... ms) so a probe histogram can be compared with Envoy's, plus finer
 * bounds below 0.5 ms where sidecar overhead lives. */
#define SHADOW_LAT_BOUNDS_NS                                                                              \
	{ 25000ULL, 50000ULL, 100000ULL, 250000ULL, 500000ULL, 1000000ULL, 5000000ULL, 10000000ULL,       \
	  25000000ULL, 50000000ULL, 100000000ULL, 250000000ULL, 500000000ULL, 1000000000ULL,              \
	  2500000000ULL, 5000000000ULL, 10000000000ULL, 30000000000ULL, 60000000000ULL, ~0ULL }

enum shadow_rec_type {
	SHADOW_REC_FLOW = 1, /* first packet of a flow: L3/L4 verdict (tc) */
	SHADOW_REC_HTTP = 2, /* one HTTP request/response with latency and L7 verdict (tc wire leg or cgroup_skb app leg) */
	SHADOW_REC_CONN = 3, /* TCP connection lifecycle (sock_ops) */
	SHADOW_REC_EDGE = 4, /* loader only (raw output): one aggregated edge, summed over CPUs */
	SHADOW_REC_METRICS = 5, /* loader only (raw output): the probe's own counters */
};

enum shadow_dir { SHADOW_DIR_INGRESS = 0, SHADOW_DIR_EGRESS = 1 };

enum shadow_verdict {
	SHADOW_VERDICT_NONE = 0,  /* not evaluated (e.g. no L7 rules for this port) */
	SHADOW_VERDICT_ALLOW = 1,
	SHADOW_VERDICT_DENY = 2,  /* would be dropped if the policy were enforced */
	SHADOW_VERDICT_AUDIT = 3, /* matched an audit-mode rule: would be denied, reported as audited */
};

enum shadow_action { SHADOW_ACT_ALLOW = 1, SHADOW_ACT_DENY = 2, SHADOW_ACT_AUDIT = 3 };

/* Where the verdict was computed. */
enum shadow_where { SHADOW_WHERE_NONE = 0, SHADOW_WHERE_KERNEL = 1, SHADOW_WHERE_USER = 2 };

enum shadow_leg {
	SHADOW_LEG_WIRE = 0, /* pod eth0 / host veth: what the client sees, sidecar included */
	SHADOW_LEG_APP = 1,  /* loopback hop between sidecar and app: what the app costs */
};

enum shadow_method {
	SHADOW_M_ANY = 0, /* in rules: any method; in records: unknown */
	SHADOW_M_GET = 1,
	SHADOW_M_POST = 2,
	SHADOW_M_PUT = 3,
	SHADOW_M_DELETE = 4,
	SHADOW_M_HEAD = 5,
	SHADOW_M_PATCH = 6,
	SHADOW_M_OPTIONS = 7,
};

enum shadow_path_kind {
	SHADOW_PATH_ANY = 0,
	SHADOW_PATH_EXACT = 1,
	SHADOW_PATH_PREFIX = 2,
	SHADOW_PATH_SUFFIX = 3,
	SHADOW_PATH_REGEX = 4, /* never matched in the kernel: the loader evaluates it */
};

/* flags in records and CT entries */
#define SHADOW_F_REPLY 0x01     /* flow record: first packet seen was a reply (CT entry from before us) */
#define SHADOW_F_MIDSTREAM 0x02 /* TCP flow picked up without a SYN */
#define SHADOW_F_TLS 0x04       /* payload starts with a TLS record: bytes counted, L7 skipped */
#define SHADOW_F_TRUNC 0x08     /* path longer than SHADOW_PATH_MAX: truncated */
#define SHADOW_F_NOPOLICY 0x10  /* endpoint has no policy in this direction: allowed by default */
#define SHADOW_F_CLOSING 0x20   /* FIN or RST seen */
#define SHADOW_F_SIDECAR 0x40   /* socket owned by the sidecar uid */
#define SHADOW_F_PEER 0x80      /* HTTP, set by the loader: the port's L7 rules differ by peer, this leg does not know the
				 * peer (the app leg: the sidecar's hop comes from 127.0.0.6) and only the peer could tell,
				 * so the verdict stays "none" */

/* Per-CPU counters, exported as the probe's own metrics. */
enum shadow_counter {
	SHADOW_C_PACKETS = 0,
	SHADOW_C_FLOWS_NEW,
	SHADOW_C_RINGBUF_FULL,
	SHADOW_C_RATELIMITED,
	SHADOW_C_CT_FULL,
	SHADOW_C_CT_CREATED,
	SHADOW_C_PARSE_FAIL,
	SHADOW_C_HTTP_REQUESTS,
	SHADOW_C_HTTP_RESPONSES,
	SHADOW_C_HTTP_UNMATCHED, /* response without an in-flight request */
	SHADOW_C_INFLIGHT_EVICTED, /* a pending request pushed out of its in-flight slot pair by another client's */
	SHADOW_C_TLS,
	SHADOW_C_SAMPLED_OUT,
	SHADOW_C_NON_IPV4,
	SHADOW_C_NO_ENDPOINT,
	SHADOW_C_CONN_CLOSED,
	SHADOW_C__MAX = 16,
};

struct shadow_rec_hdr {
	__u16 type;   /* enum shadow_rec_type */
	__u16 size;   /* sizeof the whole record */
	__u32 cpu;
	__u64 ts_ns;  /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
};

struct shadow_flow_rec {
	struct shadow_rec_hdr hdr;
	__u32 saddr;  /* network order */
	__u32 daddr;  /* network order */
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 dir;     /* enum shadow_dir, from the endpoint's point of view */
	__u8 verdict; /* enum shadow_verdict */
	__u8 where;   /* enum shadow_where */
	__u32 rule_id; /* the rule that decided; 0 = default (no match, or no policy) */
	__u32 remote_id; /* identity of the peer from the ipcache */
	__u32 ifindex;
	__u16 ep;     /* endpoint (pod) index from the config, 1-based */
	__u8 flags;   /* SHADOW_F_* */
	__u8 _pad0;
};

struct shadow_http_rec {
	struct shadow_rec_hdr hdr;
	__u32 client_addr; /* network order */
	__u32 server_addr; /* network order */
	__u16 client_port;
	__u16 server_port;
	__u16 ep;
	__u8 leg;          /* enum shadow_leg */
	__u8 method;       /* enum shadow_method */
	__u16 status;      /* HTTP status code, 0 if not parsed */
	__u16 path_len;    /* bytes valid in path */
	__u8 verdict;      /* L7 verdict, enum shadow_verdict */
	__u8 where;        /* enum shadow_where */
	__u8 dir;          /* enum shadow_dir: ingress = the endpoint serves, egress = it calls */
	__u8 flags;
	__u32 rule_id;     /* L7 rule that decided (0 = none matched) */
	__u32 remote_id;   /* peer identity (wire leg); 0 on the app leg */
	__u64 latency_ns;  /* first response byte - first request byte, on this leg */
	__u64 cgroup_id;   /* app leg: cgroup of the socket; wire leg: 0 */
	char path[SHADOW_PATH_MAX];
};

enum shadow_conn_event { SHADOW_CONN_ACTIVE = 1, SHADOW_CONN_PASSIVE = 2, SHADOW_CONN_CLOSE = 3 };

struct shadow_conn_rec {
	struct shadow_rec_hdr hdr;
	__u32 saddr; /* local, network order */
	__u32 daddr; /* remote, network order */
	__u16 sport; /* local */
	__u16 dport; /* remote */
	__u8 event;  /* enum shadow_conn_event */
	__u8 state;  /* TCP state (close events) */
	__u16 ep;
	__u32 srtt_us;
	__u32 total_retrans;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u64 duration_ns; /* close events: since established */
};

/* ---- maps ---- */

struct shadow_ipcache_key { /* LPM: peer IP -> identity */
	__u32 prefixlen;
	__u32 addr; /* network order */
};

struct shadow_identity {
	__u32 identity;
	__u32 _pad0;
};

struct shadow_policy_key { /* LPM, Cilium-style; see SHADOW_POLICY_PREFIX_* */
	__u32 prefixlen;
	__u32 identity; /* big-endian; 0 = any peer */
	__u16 ep;       /* big-endian */
	__u8 dir;
	__u8 proto;     /* 0 with prefixlen SHADOW_POLICY_PREFIX_PROTO = any */
	__u16 dport;    /* big-endian; port ranges are expanded into prefixes */
	__u16 _pad0;
};

struct shadow_policy_val {
	__u32 rule_id;
	__u8 action; /* enum shadow_action */
	__u8 _pad0[3];
};

#define SHADOW_EP_POLICY_INGRESS 0x01 /* the endpoint has ingress policy: a miss is a deny */
#define SHADOW_EP_POLICY_EGRESS 0x02
#define SHADOW_EP_SIDECAR 0x04 /* the pod has a sidecar that captures its outbound connections */
/* with POLICY_*: the entries are looked up but a miss is an allow (flagged nopolicy), for an endpoint whose policies
 * keep default allow (Cilium's enableDefaultDeny false: a DENY policy alone) */
#define SHADOW_EP_MISS_ALLOW_INGRESS 0x08
#define SHADOW_EP_MISS_ALLOW_EGRESS 0x10

struct shadow_endpoint { /* values of shadow_endpoints (key: pod IPv4, network order) and shadow_cgroups (key: cgroup id) */
	__u16 ep;
	__u8 flags; /* SHADOW_EP_* */
	__u8 _pad0;
	__u32 identity;
	__u32 addr; /* network order */
	__u32 _pad1;
};

/* The cgroup storage of each shadow_cg_egress attachment: the pod's endpoint (written by the loader after every
 * reconcile) and the app leg's L7 rule set cache, one per request direction (inbound: the app's port; outbound:
 * the last server port called). */
struct shadow_cg_state {
	struct shadow_endpoint ep;
	__u64 l7_cache[2]; /* [dir]: SHADOW_L7_CACHE_* */
	__u64 edge_cache_in; /* the edge index of inbound requests (remote identity 0): SHADOW_EDGE_CACHE */
};

/* CT keyed from the endpoint's side: both directions of a flow map to the same key, one lookup per packet; the
 * local address is the endpoint's, so the key is unique per endpoint's view of a flow.
 *
 * The table is a set-associative array (BPF_MAP_TYPE_ARRAY of 2^cfg_ct_set_bits sets of SHADOW_CT_WAYS slots,
 * mmapable), not an LRU hash: the lookup is a multiplicative hash and one small global function that compares
 * each way's two key words (no jhash, no bucket line before the element line), and a known flow's packet touches
 * one cache line, its slot's first (and, with payload, the wire-leg request kept right after it).
 * A slot is claimed with a compare-and-swap on its second key word, which holds the slot's state and a generation
 * that every claim bumps, so the loader's GC (a compare-and-swap too, through mmap) never frees a reused slot.
 * A new flow takes a free way of its set, else evicts the way used least recently (SHADOW_C_CT_FULL).
 * After a claim the program sets its set's byte in shadow_ct_dirty (a global in section .data.ctdirty); the loader's
 * GC reads a set only when that byte is set or the set held valid slots at its last sweep (ct_gc.h). */
struct shadow_ct_key {
	__u32 raddr; /* remote, network order */
	__u32 laddr; /* local (the endpoint), network order */
	__u16 rport;
	__u16 lport;
	__u8 proto;
	__u8 state;  /* in a slot: enum shadow_ct_state; 0 in a key to look up */
	__u16 gen;   /* in a slot: bumped by every claim; 0 in a key to look up */
};

enum shadow_ct_state {
	SHADOW_CT_FREE = 0,
	SHADOW_CT_BUSY = 1,  /* claimed, being written */
	SHADOW_CT_VALID = 2,
};

/* the key's second word (from rport on, little-endian): ports and protocol in bits 0-39, state 40-47, gen 48-63 */
#define SHADOW_CT_W1_KEY 0xffffffffffULL
#define SHADOW_CT_W1_STATE_SHIFT 40
#define SHADOW_CT_W1_GEN_SHIFT 48

/* With the key, one cache line: all a known flow's packet reads and writes in its entry. */
struct shadow_ct_val {
	__u64 last_ns; /* CLOCK_MONOTONIC of the last packet (coarse clock unless the packet carried payload) */
	__u64 l7_cache; /* the flow's L7 rule set, cached for its requests: SHADOW_L7_CACHE_* */
	__u32 remote_id;
	__u16 ep;
	__u8 flags;
	__u8 dir;       /* direction of the packet that created the entry */
	__u32 pkts[2];  /* [0] original direction, [1] reply; wraps at 2^32: for inspection, not reported */
	__u64 edge_cache; /* the edge index of the flow's requests: SHADOW_EDGE_CACHE */
	__u32 rule_id;  /* the L4 verdict's rule, and the verdict, of the flow's first packet */
	__u8 verdict;
	__u8 _pad0[3];
};

/* A CT slot: the entry, then the flow's wire-leg HTTP request in flight. HTTP/1.x answers a connection's requests in
 * order, so one per flow; kept next to the entry a packet of the flow has just read, it needs no table of its own,
 * no claim and no other cold line (the shared in-flight array, whose slot was last written on the other CPU, cost
 * ~12 % of the probe's time on the wire leg). ep 0: none (a new flow's claim clears it). */
struct shadow_ct_slot {
	struct shadow_ct_key key;
	struct shadow_ct_val val;
	struct shadow_http_rec wire;
};
_Static_assert(sizeof(struct shadow_ct_slot) == 256, "a CT slot: the entry's cache line, then the request's three");

#define SHADOW_CT_WAYS 8
/* The table's size is the config's settings.ctFlows, fixed at load (rodata cfg_ct_set_bits and the map's max_entries,
 * set by the loader): 2^bits sets of 8 slots of 256 bytes. Like Cilium's bpf-ct-global-*-max, it is the node's
 * capacity of concurrent flows; past it a new flow evicts the least recent of its set. */
#define SHADOW_CT_SET_BITS_MIN 10     /* 8,192 flows, 2 MiB */
#define SHADOW_CT_SET_BITS_DEFAULT 13 /* 65,536 flows, 16 MiB */
#define SHADOW_CT_SET_BITS_MAX 17     /* 1,048,576 flows, 256 MiB */
#define SHADOW_CT_SETS_MAX (1u << SHADOW_CT_SET_BITS_MAX)

struct shadow_ct_set {
	struct shadow_ct_slot way[SHADOW_CT_WAYS];
};

/* the set of a key's two words (the second without state and gen); seed: random per loader (rodata cfg_ct_seed),
 * so nobody outside can aim many flows at one set. Programs, loader and tests must agree. */
static inline __u32 shadow_ct_set_of(__u64 w0, __u64 w1, __u64 seed, __u32 set_bits)
{
	__u64 h = (w0 ^ seed) * 0x9E3779B97F4A7C15ULL ^ (w1 & SHADOW_CT_W1_KEY) * 0xC2B2AE3D27D4EB4FULL;
	h ^= h >> 29;
	return (__u32)((h * 0xBF58476D1CE4E5B9ULL) >> ((64 - set_bits) & 63));
}
#define SHADOW_CT_L7_NONE 0xffffu

/* A cached L7 rule set (a CT entry's, or an app leg's in its cgroup storage): (l7 generation + 1) << 32 |
 * server port << 16 | set index in that generation's half, or SHADOW_CT_L7_NONE for none; 0: not looked up yet.
 * One word, so a racing writer never tears it. */
#define SHADOW_L7_CACHE_GEN(c) ((c) >> 32)
#define SHADOW_L7_CACHE_PORT(c) (((c) >> 16) & 0xffff)
#define SHADOW_L7_CACHE_SET(c) ((c) & 0xffff)

/* In-kernel L7 rule sets: an open-addressed table filled by the loader (array lookups are inlined by the
 * verifier; a hash map lookup cost ~25 ns per request). Two halves: the loader fills the one the programs do not
 * read, then bumps shadow_l7_hdr.gen, so a live reload never exposes a half-written set. */
#define SHADOW_L7_SETS_MAX 4096      /* (endpoint, port, direction) sets per half */
#define SHADOW_L7_SLOT_BITS 14
#define SHADOW_L7_SLOTS (1 << SHADOW_L7_SLOT_BITS) /* index slots per half: load factor <= 1/4 */
#define SHADOW_L7_PROBES 8           /* linear probes per lookup; the loader picks a seed that places every key */

struct shadow_l7_hdr { /* a global in section .data.l7hdr (direct loads, no map lookup) */
	__u32 gen;     /* publish count: the programs read half gen & 1 */
	__u32 seed[2]; /* hash seed of each half */
	__u32 _pad0;
};

struct shadow_l7_slot { /* shadow_l7_index[half * SHADOW_L7_SLOTS + slot] */
	__u16 ep;   /* 0: empty (endpoints are 1-based) */
	__u16 port;
	__u8 dir;   /* ingress: requests the endpoint serves; egress: requests it makes */
	__u8 _pad0;
	__u16 set;  /* index into the half's sets */
};

struct shadow_l7_rule {
	__u32 rule_id;
	__u8 method; /* enum shadow_method, 0 = any */
	__u8 kind;   /* enum shadow_path_kind */
	__u8 len;    /* bytes of path used */
	__u8 _pad0;
	char path[SHADOW_L7_PATH_MAX];
};

struct shadow_l7_set { /* shadow_l7_sets[half * SHADOW_L7_SETS_MAX + set] */
	__u32 n;
	__u16 has_regex; /* some rule must be evaluated in userspace */
	__u16 per_peer;  /* the rules differ by peer (l7[].identity): userspace decides every request, as Cilium's
			  * Envoy does with per-selector HTTP rules; the kernel holds none of them */
	struct shadow_l7_rule rules[SHADOW_L7_RULES_MAX];
};

/* index slot of (ep, port, dir) at probe 0: multiplicative hash; loader and programs must agree */
static inline __u32 shadow_l7_hash(__u32 seed, __u16 ep, __u16 port, __u8 dir)
{
	__u32 k = ((__u32)ep << 16 | port) ^ ((__u32)dir << 31) ^ seed;
	return (__u32)((k * 0x9E3779B97F4A7C15ULL) >> (64 - SHADOW_L7_SLOT_BITS));
}

/* App-leg requests in flight (the wire leg's live in the CT slot of their flow): a 2-way set-associative array
 * keyed by the client endpoint (address, port, endpoint, leg),
 * which is stored in the slot's record and compared. A request whose pair holds two other pending requests
 * evicts the older one (SHADOW_C_INFLIGHT_EVICTED). Its size is the config's settings.inflightSlots, fixed at load
 * (rodata cfg_inflight_pair_bits and the map's max_entries): 2^(bits + 1) slots of 192 bytes. */
#define SHADOW_INFLIGHT_PAIR_BITS_MIN 12     /* 8,192 slots, 1.5 MiB */
#define SHADOW_INFLIGHT_PAIR_BITS_DEFAULT 15 /* 65,536 slots, 12 MiB */
#define SHADOW_INFLIGHT_PAIR_BITS_MAX 18     /* 524,288 slots, 96 MiB */

/* first slot of the pair for a client endpoint (even index) */
static inline __u32 shadow_inflight_pair(__u32 client_addr, __u16 client_port, __u16 ep, __u8 leg, __u32 pair_bits)
{
	__u64 k = ((__u64)client_addr << 32 | (__u32)client_port << 16 | ep) ^ ((__u64)leg << 63);
	return (__u32)((k * 0x9E3779B97F4A7C15ULL) >> ((64 - pair_bits) & 63)) << 1;
}

/*
 * Edges: per-CPU aggregates in an array (shadow_edges), found through a hash of their keys (shadow_edge_index). A
 * flow's responses all go to one edge, so the index is looked up once and cached where the packet already reads (the
 * flow's CT entry; the app leg's cgroup storage): the per-CPU LRU hash this replaced cost a call, a hash, a bucket
 * line and an element line per response, ~17 % of the probe's time in the lab. Index 0 (SHADOW_EDGE_OVERFLOW) takes
 * what finds no free index, so nothing is dropped; the loader reports it as the overflow edge. Under pressure the
 * loader frees idle edges (src/edge_gc.h): it deletes their keys and bumps shadow_edge_hdr.epoch, which invalidates
 * every cached index, and only a dump later zeroes them and hands them back through shadow_edge_free.
 */
#define SHADOW_EDGES_MAX 8192
#define SHADOW_EDGE_OVERFLOW 0
struct shadow_edge_hdr { /* a global in section .data.edgehdr (direct loads, no map lookup) */
	__u64 next;  /* the next never used index (1-based: 0 is the overflow edge); 64-bit for the BPF CAS */
	__u64 epoch; /* bumped by the loader whenever it frees indices */
};
/* A cached edge index: (epoch + 1) << 37 | request direction << 36 | server port << 20 | index; 0: none. The port and
 * direction are part of the tag: they complete the edge key where the cache sits (the rest is fixed there). */
#define SHADOW_EDGE_CACHE_TAG(epoch, dir, port)                                                              \
	((((__u64)(epoch) + 1) << 37) | ((__u64)((dir) & 1) << 36) | ((__u64)(port) << 20))
#define SHADOW_EDGE_CACHE_IDX(c) ((__u32)((c) & 0xfffff))
#define SHADOW_EDGE_CACHE_TAG_OF(c) ((c) & ~0xfffffULL)

struct shadow_edge_key {
	__u32 remote_id;
	__u16 ep;
	__u16 port;  /* server port */
	__u8 dir;
	__u8 leg;
	__u8 proto;
	__u8 _pad0;
};

/* Per CPU; summed by the loader. Ordered by who writes it: an answered request writes line 0 (requests, latency
 * sum, its status class) and one word of line 1 (its L7 verdict, with the histogram's first buckets) or line 2 (the
 * buckets from 0.5 ms on); flows and connections write the rest. In declaration order, a response wrote four lines
 * of a cold value; now two or three. */
struct shadow_edge_val {
	__u64 requests;
	__u64 lat_sum_ns;
	__u64 status[SHADOW_STATUS_CLASSES];    /* [0] unparsed, [1..5] 1xx..5xx */
	__u64 verdicts_l7[4];                   /* requests by L7 verdict (none: no L7 rules on the port) */
	__u64 lat_bucket[SHADOW_LAT_BUCKETS];
	__u64 flows;
	__u64 verdicts_l4[4];                   /* flows by L4 verdict (enum shadow_verdict) */
	__u64 bytes_sent;                       /* from sock_ops at close, seen from the endpoint */
	__u64 bytes_received;
	__u64 conns_closed;
	__u64 retrans;
};
_Static_assert(__builtin_offsetof(struct shadow_edge_val, verdicts_l7) == 64, "a response's second line");

struct shadow_rate { /* per-CPU token bucket for records */
	__u64 tokens; /* scaled by 1e9 */
	__u64 last_ns;
};

/* All of a CPU's own state in one per-CPU value (map shadow_cpu, one entry), so a program run touches one map and
 * two cache lines for it: line 0 holds the token bucket, the tc stubs' direction word and counters 0-4 (packets
 * among them), line 1 counters 5-12 (the HTTP ones). As separate maps, each value plus each map's pointer table
 * was a cold line of its own in the lab (perf: ~4 % of the probe's time on the packet counter alone). */
struct shadow_cpu {
	struct shadow_rate rate;
	__u32 tc_dir;                  /* 1 + direction, from a host-side veth's tc stub to the body; 0: none */
	__u32 emitted;                 /* records submitted since this CPU last forced a wakeup (emit) */
	__u64 counters[SHADOW_C__MAX]; /* enum shadow_counter */
};

/* ---- records the loader writes (raw output), never the kernel ---- */

struct shadow_edge_rec {
	struct shadow_rec_hdr hdr; /* ts_ns: CLOCK_MONOTONIC of the dump */
	struct shadow_edge_key key;
	__u32 _pad0;
	struct shadow_edge_val val;
};

struct shadow_metrics_rec {
	struct shadow_rec_hdr hdr;
	__u64 counters[SHADOW_C__MAX]; /* enum shadow_counter, summed over CPUs */
	__u64 ct_entries;              /* live CT entries at the dump */
	__u64 ct_gc_deleted;           /* entries the loader's GC removed so far */
	__u64 user_l7_evaluated;       /* HTTP records whose verdict the loader computed (regex rules) */
	__u64 records_out;             /* records written to stdout */
	__u64 records_dropped;         /* records dropped because the stdout reader fell behind (output.h) */
};

#endif /* SHADOW_H */
