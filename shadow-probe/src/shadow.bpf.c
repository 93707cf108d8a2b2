// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/*
 * shadow-probe BPF programs: observe pod traffic next to the live sidecars and compute the verdict a
 * Cilium-style policy would give, without ever enforcing it. Every program returns "pass".
 *
 *  shadow_tc (sched_cls): L3/L4 verdict on the first packet of a flow with a CT map, wire-leg HTTP (plaintext
 *      only) with latency and L7 verdict. On the pod's eth0 it sits on both hooks and takes the direction from
 *      the hook. On a host-side veth the stubs shadow_tc_to_pod (egress hook) and shadow_tc_from_pod (ingress
 *      hook) name the direction and tail-call it. Either way a request's four wire-leg runs share one JIT image.
 *  shadow_cg_egress (cgroup_skb/egress): app-leg HTTP on the loopback hop between sidecar and app. Egress
 *      alone sees both halves of the hop: the request leaves the client socket, the response the server one.
 *  shadow_sockops (sockops): connection lifecycle, srtt, bytes, retransmits, folded into the edge map.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "shadow.h"

#define TC_ACT_OK 0
#define ETH_P_IP 0x0800
#define ETH_HLEN 14
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_CLOSE 7
#define AF_INET 2

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- configuration (rodata, set by the loader before load) ---- */
const volatile __u64 cfg_rate_per_cpu = 2000;   /* records per second per CPU (token bucket) */
const volatile __u64 cfg_burst = 200;           /* bucket depth, records */
const volatile __u32 cfg_sample_every = 1;      /* 1 in N HTTP records (aggregates see all) */
const volatile __u32 cfg_wakeup_every = 256;    /* each CPU forces a wakeup every N records it submits */
const volatile __u32 cfg_sidecar_uid = 1337;
const volatile __u16 cfg_outbound_port = 15001; /* sidecar outbound capture: app-leg requests to it are egress */
const volatile __u8 cfg_flow_records = 1;
const volatile __u64 cfg_ct_seed = 0;           /* CT set hash seed: random per loader */
/* table sizes (settings.ctFlows, settings.inflightSlots): the loader sets these and the maps' max_entries together */
const volatile __u32 cfg_ct_set_bits = SHADOW_CT_SET_BITS_DEFAULT;
const volatile __u32 cfg_inflight_pair_bits = SHADOW_INFLIGHT_PAIR_BITS_DEFAULT;
/* tests only: read the HTTP head through bpf_skb_load_bytes even when it is linear. BPF_PROG_TEST_RUN builds linear
 * skbs, while a socket's payload usually sits in page fragments; 0 (always, outside tests) removes the branch. */
const volatile __u8 cfg_head_via_helper = 0;

/* ---- maps (all bounded) ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} shadow_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct shadow_ipcache_key);
	__type(value, struct shadow_identity);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} shadow_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct shadow_policy_key);
	__type(value, struct shadow_policy_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} shadow_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct shadow_endpoint);
} shadow_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct shadow_endpoint);
} shadow_cgroups SEC(".maps");

/* The endpoint of the pod cgroup each shadow_cg_egress attachment sits on, written by the loader after every
 * reconcile (shadow.c cg_ep_sync): bpf_get_local_storage returns the running attachment's value, one line away,
 * where the socket's cgroup id plus a shadow_cgroups lookup took ~5 dependent cold lines (~4 % of the probe's time
 * in the lab). Zero (ep 0) until written, and in BPF_PROG_TEST_RUN: the program then looks the cgroup up and keeps
 * what it found there. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, struct bpf_cgroup_storage_key);
	__type(value, struct shadow_cg_state);
} shadow_cg_ep SEC(".maps");

/* CT: a set-associative array, see struct shadow_ct_set in shadow.h; mmaped by the loader's GC */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1u << SHADOW_CT_SET_BITS_DEFAULT); /* the loader sets 2^cfg_ct_set_bits */
	__type(key, __u32);
	__type(value, struct shadow_ct_set);
} shadow_ct SEC(".maps");

/* one byte per CT set, set by a program after it claims a slot there: the loader's GC reads only sets that are dirty
 * or held valid slots at their last sweep, so an idle or sparse table costs it next to nothing (shadow.h) */
__u8 shadow_ct_dirty[SHADOW_CT_SETS_MAX] SEC(".data.ctdirty");

/* original server port of inbound connections, by client endpoint: sock_ops sees the socket after the
 * REDIRECT (15006) and needs the service port (9080) to put bytes on the same edge as the requests */
struct orig_key {
	__u32 raddr;
	__u32 laddr;
	__u16 rport;
	__u16 _pad0;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct orig_key);
	__type(value, __u16);
} shadow_origport SEC(".maps");

/* L7 rule sets: see shadow_l7_hdr in shadow.h (two halves, open addressing, filled by the loader). The header is
 * a global in its own section (map "data_l7hdr"): the programs read it with direct loads instead of a lookup. */
struct shadow_l7_hdr shadow_l7_hdr SEC(".data.l7hdr");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * SHADOW_L7_SLOTS);
	__type(key, __u32);
	__type(value, struct shadow_l7_slot);
} shadow_l7_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * SHADOW_L7_SETS_MAX);
	__type(key, __u32);
	__type(value, struct shadow_l7_set);
} shadow_l7_sets SEC(".maps");

/* in-flight requests: 2-way set-associative by client endpoint (shadow_inflight_pair), an array because its
 * lookups are inlined (a hash lookup cost ~15-30 ns per request); mmapable so the loader scans and expires
 * entries whose response never came without a syscall per slot */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2u << SHADOW_INFLIGHT_PAIR_BITS_DEFAULT); /* the loader sets 2^(cfg_inflight_pair_bits + 1) */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct shadow_http_rec);
} shadow_inflight SEC(".maps");

/* edges (shadow.h): the aggregates, the index of their keys, the indices the loader freed, the header */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SHADOW_EDGES_MAX);
	__type(key, __u32);
	__type(value, struct shadow_edge_val);
} shadow_edges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHADOW_EDGES_MAX);
	__type(key, struct shadow_edge_key);
	__type(value, __u32);
} shadow_edge_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, SHADOW_EDGES_MAX);
	__type(value, __u32);
} shadow_edge_free SEC(".maps");

struct shadow_edge_hdr shadow_edge_hdr SEC(".data.edgehdr") = {.next = 1};

/* counters, token bucket and the tc direction word of each CPU (struct shadow_cpu). The two tc stubs hand their
 * direction to the shared body through that word rather than skb->cb, which later programs on the same hook may
 * read: an observer leaves the packet's metadata alone. The body runs right after the stub's store on the same
 * CPU (tail call, BH disabled). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shadow_cpu);
} shadow_cpu SEC(".maps");

int shadow_tc(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct __sk_buff *));
} shadow_tc_body SEC(".maps") = {
	.values = {[0] = (void *)&shadow_tc},
};


struct conn_start {
	__u64 ts_ns;
	__u16 ep;  /* active opens: endpoint of the connecting process's cgroup (0: not known) */
	__u8 dir;  /* active: egress, passive: ingress */
	__u8 leg;  /* app: an app's outbound connection that its sidecar captures (the socket sees the real server) */
	__u8 _pad0[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct conn_start);
} shadow_sk SEC(".maps");

static const __u64 lat_bounds[SHADOW_LAT_BUCKETS] = SHADOW_LAT_BOUNDS_NS;

/* ---- helpers ---- */

/* Copy len bytes at off: straight from the linear part of the packet when they are there (no helper call),
 * through bpf_skb_load_bytes when the skb is non-linear there. */
static __always_inline int load(struct __sk_buff *skb, __u32 off, void *dst, const __u32 len)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	off &= 0x3ff; /* headers live in the first KiB: gives the verifier a bound */
	if (data + off + len <= end) {
		/* word loads instead of byte loads (clang assumes nothing about the packet pointer's alignment and
		 * copies byte by byte otherwise); unaligned packet loads are allowed where the architecture handles
		 * them (x86, arm64), and the verifier rejects the program at load time where it does not */
		__builtin_memcpy(dst, __builtin_assume_aligned(data + off, 8), len);
		return 0;
	}
	return bpf_skb_load_bytes(skb, off, dst, len);
}
static __always_inline struct shadow_cpu *this_cpu(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&shadow_cpu, &zero);
}

/* count on the CPU's state a program run holds already (the hot paths look it up once per run) */
static __always_inline void bump(struct shadow_cpu *c, __u32 idx)
{
	c->counters[idx & (SHADOW_C__MAX - 1)] += 1; /* per-CPU: no atomic needed */
}

/* count where it is rare, looking the state up */
static __always_inline void count(__u32 idx)
{
	struct shadow_cpu *c = this_cpu();
	if (c)
		bump(c, idx);
}

/* Token bucket per CPU. Cilium rate-limits notifications the same way and counts what it drops. */
static __always_inline int rate_ok(struct shadow_cpu *c, __u64 now)
{
	struct shadow_rate *r = &c->rate;
	__u64 cap = cfg_burst * 1000000000ULL;
	/* a sender's stamp (packet_time) may be a little older than the last packet's time on this CPU: no refill then,
	 * rather than an underflow that would fill the bucket */
	__u64 last = r->last_ns;
	__u64 elapsed = now > last ? now - last : 0;
	if (elapsed > 1000000000ULL * 10)
		elapsed = 1000000000ULL * 10;
	__u64 t = r->tokens + elapsed * cfg_rate_per_cpu;
	if (t > cap)
		t = cap;
	if (now > last)
		r->last_ns = now;
	if (t < 1000000000ULL) {
		r->tokens = t;
		bump(c, SHADOW_C_RATELIMITED);
		return 0;
	}
	r->tokens = t - 1000000000ULL;
	return 1;
}

/* Submit without a wakeup (a wakeup per event costs ~800 ns here); the loader drains at least every 250 ms, and
 * each CPU forces one wakeup every cfg_wakeup_every records it submits (~48 KiB of HTTP records), so a burst
 * cannot sit in the ring for a whole timer period. A wakeup is a self-IPI, ~1-5 µs in a VM, so it stays rare. The
 * count lives in the CPU's own line that rate_ok has just touched. It replaced a bpf_ringbuf_query of the unread
 * data per record, which read the consumer position the loader writes from the other CPU: ~3 % of the probe's
 * samples in the lab. */
static __always_inline void emit(struct shadow_cpu *c, void *rec, __u32 size)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (++c->emitted >= cfg_wakeup_every) {
		c->emitted = 0;
		flags = BPF_RB_FORCE_WAKEUP;
	}
	if (bpf_ringbuf_output(&shadow_events, rec, size, flags))
		bump(c, SHADOW_C_RINGBUF_FULL);
}

/* The departure time a local TCP sender stamped on the packet, or 0. TCP stamps every segment with it on
 * CLOCK_MONOTONIC (EDT), and the stamp survives the veth into another netns, the bridge and the forward path, so
 * every packet a pod on this node sends carries it. Taking it instead of reading the clock saves an lfence and
 * rdtsc per payload packet: 35-45 ns of the test run's ~150 for a request (bench/RESULTS.md, session 9). Any other
 * stamp is past 2^60 ns (2006): a receive time on CLOCK_REALTIME or a transmit time on TAI. The value decides, not
 * skb->tstamp_type: cgroup_skb cannot read the type and BPF_PROG_TEST_RUN cannot set it. At tc ingress the kernel
 * hands a delivery time to a program only if the program reads the type (else 0): tc_handle does. */
static __always_inline __u64 packet_time(struct __sk_buff *skb)
{
	__u64 ts = skb->tstamp;
	return ts < (1ULL << 60) ? ts : 0;
}

static __always_inline __u32 lookup_identity(__u32 addr)
{
	struct shadow_ipcache_key k = {.prefixlen = 32, .addr = addr};
	struct shadow_identity *id = bpf_map_lookup_elem(&shadow_ipcache, &k);
	return id ? id->identity : SHADOW_WORLD_IDENTITY;
}

static __always_inline int action_rank(__u8 action)
{
	/* deny wins over audit wins over allow */
	return action == SHADOW_ACT_DENY ? 3 : action == SHADOW_ACT_AUDIT ? 2 : action == SHADOW_ACT_ALLOW ? 1 : 0;
}

/* Cilium-style: look up the exact peer identity, then identity 0 (any); deny wins; a miss is a deny when
 * the endpoint has policy in that direction (unless its policies keep default allow), an allow when it has none. */
static __always_inline __u8 policy_verdict(const struct shadow_endpoint *ep, __u8 dir, __u32 remote_id,
					   __u8 proto, __u16 dport, __u32 *rule_id, __u8 *flags)
{
	__u8 need = dir == SHADOW_DIR_INGRESS ? SHADOW_EP_POLICY_INGRESS : SHADOW_EP_POLICY_EGRESS;
	if (!(ep->flags & need)) {
		*rule_id = 0;
		*flags |= SHADOW_F_NOPOLICY;
		return SHADOW_VERDICT_ALLOW;
	}
	struct shadow_policy_key k = {
		.prefixlen = SHADOW_POLICY_PREFIX_FULL,
		.identity = bpf_htonl(remote_id),
		.ep = bpf_htons(ep->ep),
		.dir = dir,
		.proto = proto,
		.dport = bpf_htons(dport),
	};
	struct shadow_policy_val *a = bpf_map_lookup_elem(&shadow_policy, &k);
	k.identity = 0;
	struct shadow_policy_val *b = bpf_map_lookup_elem(&shadow_policy, &k);
	struct shadow_policy_val *w = a;
	if (b && (!a || action_rank(b->action) > action_rank(a->action)))
		w = b;
	if (!w) {
		*rule_id = 0;
		if (ep->flags & (dir == SHADOW_DIR_INGRESS ? SHADOW_EP_MISS_ALLOW_INGRESS : SHADOW_EP_MISS_ALLOW_EGRESS)) {
			*flags |= SHADOW_F_NOPOLICY;
			return SHADOW_VERDICT_ALLOW;
		}
		return SHADOW_VERDICT_DENY;
	}
	*rule_id = w->rule_id;
	if (w->action == SHADOW_ACT_DENY)
		return SHADOW_VERDICT_DENY;
	if (w->action == SHADOW_ACT_AUDIT)
		return SHADOW_VERDICT_AUDIT;
	return SHADOW_VERDICT_ALLOW;
}

/* The index of key's edge: its entry in shadow_edge_index, else a new one (an index the loader freed, else the next
 * never used), else SHADOW_EDGE_OVERFLOW when every index is taken. A global function: only a flow's first response
 * (and a new flow, a closed connection) gets here, so its code stays out of the per-request path. */
__noinline __u32 shadow_edge_index_of(struct shadow_edge_key *k)
{
	if (!k)
		return SHADOW_EDGE_OVERFLOW;
	__u32 *have = bpf_map_lookup_elem(&shadow_edge_index, k);
	if (have)
		return *have;
	__u32 idx = SHADOW_EDGE_OVERFLOW;
	if (bpf_map_pop_elem(&shadow_edge_free, &idx)) {
		/* a compare-and-swap, not a fetch-and-add: this clang emits XADD with a result only for -mcpu=v3, which
		 * made the verifier work 45 % harder on the tc body (RESULTS, session 6). Four tries: losing all four to
		 * other CPUs creating edges at the same moment sends this response to the overflow edge. */
		__u64 n = *(volatile __u64 *)&shadow_edge_hdr.next;
		for (int i = 0; i < 4 && n < SHADOW_EDGES_MAX; i++) {
			__u64 seen = __sync_val_compare_and_swap(&shadow_edge_hdr.next, n, n + 1);
			if (seen == n) {
				idx = (__u32)n;
				break;
			}
			n = seen;
		}
	}
	if (idx == SHADOW_EDGE_OVERFLOW || idx >= SHADOW_EDGES_MAX)
		return SHADOW_EDGE_OVERFLOW;
	if (bpf_map_update_elem(&shadow_edge_index, k, &idx, BPF_NOEXIST)) {
		/* another CPU created this edge first: hand the index back and use theirs */
		bpf_map_push_elem(&shadow_edge_free, &idx, 0);
		have = bpf_map_lookup_elem(&shadow_edge_index, k);
		return have ? *have : SHADOW_EDGE_OVERFLOW;
	}
	return idx;
}

static __always_inline struct shadow_edge_val *edge_at(__u32 idx)
{
	return bpf_map_lookup_elem(&shadow_edges, &idx);
}

/* This CPU's aggregate of key's edge. cache (NULL: none): a word caching the index, valid while its tag (the
 * loader's epoch, key's direction and port) matches; the rest of the key must be fixed where the cache lives. */
static __always_inline struct shadow_edge_val *edge_get(struct shadow_edge_key *k, __u64 *cache)
{
	if (!cache)
		return edge_at(shadow_edge_index_of(k));
	__u64 tag = SHADOW_EDGE_CACHE_TAG(*(volatile __u64 *)&shadow_edge_hdr.epoch, k->dir, k->port);
	__u64 c = *(volatile __u64 *)cache;
	if (SHADOW_EDGE_CACHE_TAG_OF(c) == tag)
		return edge_at(SHADOW_EDGE_CACHE_IDX(c));
	__u32 idx = shadow_edge_index_of(k);
	if (idx != SHADOW_EDGE_OVERFLOW)
		*(volatile __u64 *)cache = tag | idx;
	return edge_at(idx);
}

/* ---- CT (set-associative array, shadow.h) ---- */

static __always_inline volatile __u64 *ct_w1(struct shadow_ct_slot *s)
{
	return (volatile __u64 *)&s->key.rport;
}

/* The way of the valid slot holding key (w0, w1) in its set, or -1; w1 has state and gen 0. A global function:
 * the verifier checks it once, and its result is a number it does not know, so the caller's state does not split
 * eight ways on which slot matched (inlined, that pushed the tc body past the verifier's 1M instruction limit). */
__noinline int shadow_ct_find(struct shadow_ct_set *set, __u64 w0, __u64 w1)
{
	if (!set)
		return -1;
	__u64 want = w1 | (__u64)SHADOW_CT_VALID << SHADOW_CT_W1_STATE_SHIFT;
	for (int w = 0; w < SHADOW_CT_WAYS; w++) {
		struct shadow_ct_slot *s = &set->way[w];
		if ((*ct_w1(s) & (SHADOW_CT_W1_KEY | 0xffULL << SHADOW_CT_W1_STATE_SHIFT)) == want &&
		    *(__u64 *)&s->key == w0)
			return w;
	}
	return -1;
}

/* Claims a slot for a new flow and returns its way: the first free way, else the valid way used least recently,
 * which is evicted (counted as SHADOW_C_CT_FULL). The slot is left busy with its key written; the caller fills
 * the value and publishes it with ct_publish. -1: another CPU claimed the same slot first (this packet goes
 * untracked, the next one tries again). A global function, like shadow_ct_find. */
__noinline int shadow_ct_claim(struct shadow_ct_set *set, __u64 w0, __u64 w1)
{
	if (!set)
		return -1;
	int pick = -1;
	__u64 seen = 0, oldest = ~0ULL;
	for (int w = 0; w < SHADOW_CT_WAYS; w++) {
		struct shadow_ct_slot *s = &set->way[w];
		__u64 x = *ct_w1(s);
		__u8 st = x >> SHADOW_CT_W1_STATE_SHIFT;
		if (st == SHADOW_CT_FREE) {
			pick = w;
			seen = x;
			break;
		}
		if (st == SHADOW_CT_VALID && s->val.last_ns < oldest) {
			oldest = s->val.last_ns;
			pick = w;
			seen = x;
		}
	}
	if (pick < 0)
		return -1; /* every way busy: only while eight CPUs create flows in one set at once */
	struct shadow_ct_slot *s = &set->way[pick & (SHADOW_CT_WAYS - 1)];
	__u64 gen = ((seen >> SHADOW_CT_W1_GEN_SHIFT) + 1) & 0xffff;
	__u64 busy = w1 | (__u64)SHADOW_CT_BUSY << SHADOW_CT_W1_STATE_SHIFT | gen << SHADOW_CT_W1_GEN_SHIFT;
	if (__sync_val_compare_and_swap((__u64 *)ct_w1(s), seen, busy) != seen)
		return -1;
	if ((__u8)(seen >> SHADOW_CT_W1_STATE_SHIFT) == SHADOW_CT_VALID)
		count(SHADOW_C_CT_FULL);
	*(__u64 *)&s->key = w0;
	return pick;
}

/* busy -> valid, after the value is written (an atomic add: ordered after those stores on every architecture) */
static __always_inline void ct_publish(struct shadow_ct_slot *s)
{
	__sync_fetch_and_add((__u64 *)ct_w1(s), (__u64)(SHADOW_CT_VALID - SHADOW_CT_BUSY) << SHADOW_CT_W1_STATE_SHIFT);
}

static __always_inline void observe_latency(struct shadow_edge_val *v, __u64 lat)
{
	v->lat_sum_ns += lat;
	for (int i = 0; i < SHADOW_LAT_BUCKETS; i++) {
		if (lat <= lat_bounds[i]) {
			v->lat_bucket[i]++;
			return;
		}
	}
}

/* ---- HTTP/1.x ---- */

/* the first n bytes of a string as a little-endian word, and the mask of n bytes */
#define LEW(str, n)                                                                                         \
	((__u64)(str)[0] | (n > 1 ? (__u64)(str)[1] << 8 : 0) | (n > 2 ? (__u64)(str)[2] << 16 : 0) |           \
	 (n > 3 ? (__u64)(str)[3] << 24 : 0) | (n > 4 ? (__u64)(str)[4] << 32 : 0) |                           \
	 (n > 5 ? (__u64)(str)[5] << 40 : 0) | (n > 6 ? (__u64)(str)[6] << 48 : 0) | (n > 7 ? (__u64)(str)[7] << 56 : 0))
#define LEMASK(n) ((n) >= 8 ? ~0ULL : (1ULL << ((n) * 8)) - 1)
#define IS_WORD(w, str) (((w) & LEMASK(sizeof(str) - 1)) == LEW(str, sizeof(str) - 1))

/* Method from the first 8 payload bytes (w, little-endian): one masked compare per method instead of a chain of
 * byte compares. Returns the method and the length of "METHOD " or 0. */
static __always_inline __u8 parse_method(__u64 w, __u32 *skip)
{
	if (IS_WORD(w, "GET ")) { *skip = 4; return SHADOW_M_GET; }
	if (IS_WORD(w, "POST ")) { *skip = 5; return SHADOW_M_POST; }
	if (IS_WORD(w, "PUT ")) { *skip = 4; return SHADOW_M_PUT; }
	if (IS_WORD(w, "DELETE ")) { *skip = 7; return SHADOW_M_DELETE; }
	if (IS_WORD(w, "HEAD ")) { *skip = 5; return SHADOW_M_HEAD; }
	if (IS_WORD(w, "PATCH ")) { *skip = 6; return SHADOW_M_PATCH; }
	if (IS_WORD(w, "OPTIONS ")) { *skip = 8; return SHADOW_M_OPTIONS; }
	return 0;
}

/* "HTTP/1.x NNN": w0 = bytes 0-7, w1 = bytes 8-11 */
static __always_inline int is_status(__u64 w0, __u32 w1)
{
	__u8 d0 = w1 >> 8, d1 = w1 >> 16, d2 = w1 >> 24;
	return IS_WORD(w0, "HTTP/1.") && (w1 & 0xff) == ' ' && d0 >= '1' && d0 <= '5' && d1 >= '0' && d1 <= '9' &&
	       d2 >= '0' && d2 <= '9';
}

/* Compare a rule literal with the path 8 bytes at a time. off: where in the path the literal must sit (0 for
 * exact/prefix, path_len - len for suffix). Bytes past the path are zero in the record and in the rule. */
static __always_inline int l7_literal_match(const struct shadow_l7_rule *r, const struct shadow_http_rec *rec, __u32 off)
{
	__u32 len = r->len;
	for (__u32 k = 0; k < SHADOW_L7_PATH_MAX / 8; k++) {
		__u32 lo = k * 8;
		if (lo >= len)
			break;
		/* rule paths and record paths sit at 8-byte aligned offsets: say so, or clang loads byte by byte */
		__u64 want = *(const __u64 *)__builtin_assume_aligned(&r->path[lo], 8);
		__u32 po = (off + lo) & (SHADOW_PATH_MAX - 1);
		if (po > SHADOW_PATH_MAX - 8)
			return 0; /* cannot happen for a literal that fits the path; keeps the load in bounds */
		__u64 got = *(const __u64 *)__builtin_assume_aligned(&rec->path[po], 8);
		if (len - lo < 8) {
			__u64 mask = (1ULL << ((len - lo) * 8)) - 1;
			got &= mask;
			want &= mask;
		}
		if (got != want)
			return 0;
	}
	return 1;
}

/* The rule set of (ep, port, dir) in half gen & 1, or NULL (*si: its index there): at most SHADOW_L7_PROBES inlined
 * array reads; an empty slot ends the probe (the loader placed every key within SHADOW_L7_PROBES of its hash). */
static __always_inline struct shadow_l7_set *l7_set_find(__u32 gen, __u16 ep, __u16 port, __u8 dir, __u32 *si)
{
	__u32 half = gen & 1;
	__u32 i = shadow_l7_hash(shadow_l7_hdr.seed[half], ep, port, dir);
	for (__u32 n = 0; n < SHADOW_L7_PROBES; n++) {
		__u32 idx = half * SHADOW_L7_SLOTS + ((i + n) & (SHADOW_L7_SLOTS - 1));
		struct shadow_l7_slot *s = bpf_map_lookup_elem(&shadow_l7_index, &idx);
		if (!s || !s->ep)
			return NULL;
		if (s->ep == ep && s->port == port && s->dir == dir) {
			*si = s->set & (SHADOW_L7_SETS_MAX - 1);
			__u32 k = half * SHADOW_L7_SETS_MAX + *si;
			return bpf_map_lookup_elem(&shadow_l7_sets, &k);
		}
	}
	return NULL;
}

/* The rule set of a request: from the cache word when it was filled under the current generation for the same
 * server port (a set is a function of the endpoint, server port and direction; a CT entry's cache serves one flow,
 * an app leg's one direction of its pod), else looked up and cached. cache: NULL for none. */
static __always_inline struct shadow_l7_set *l7_set_of(__u64 *cache, __u16 ep, __u16 port, __u8 dir)
{
	__u32 gen = *(volatile __u32 *)&shadow_l7_hdr.gen;
	__u64 c = cache ? *cache : 0;
	__u32 si = SHADOW_CT_L7_NONE;
	if (SHADOW_L7_CACHE_GEN(c) == (__u64)gen + 1 && SHADOW_L7_CACHE_PORT(c) == port) {
		si = SHADOW_L7_CACHE_SET(c);
		if (si == SHADOW_CT_L7_NONE)
			return NULL;
		__u32 k = (gen & 1) * SHADOW_L7_SETS_MAX + (si & (SHADOW_L7_SETS_MAX - 1));
		return bpf_map_lookup_elem(&shadow_l7_sets, &k);
	}
	struct shadow_l7_set *set = l7_set_find(gen, ep, port, dir, &si);
	if (cache)
		*cache = ((__u64)gen + 1) << 32 | (__u64)port << 16 | (set ? si : SHADOW_CT_L7_NONE);
	return set;
}

/* L7 verdict for a request: allow-list semantics (Cilium/Envoy): allowed if any rule matches, denied if none
 * does; exact/prefix/suffix in the kernel; if a regex rule exists and nothing matched here, userspace decides.
 * Inlined: with the index probe gone from known flows (cached set) and the slow path split out, the programs
 * verify in ~180k instructions with it inlined (limit 1M); the call cost ~6 ns. */
static __always_inline int shadow_l7_verdict(struct shadow_http_rec *rec, __u16 ep, __u16 port, __u64 *l7_cache)
{
	if (!rec)
		return 0;
	struct shadow_l7_set *set = l7_set_of(l7_cache, ep, port, rec->dir);
	if (!set) {
		rec->verdict = SHADOW_VERDICT_NONE;
		rec->where = SHADOW_WHERE_NONE;
		return 0;
	}
	if (set->per_peer) {
		rec->verdict = SHADOW_VERDICT_NONE;
		rec->where = SHADOW_WHERE_USER;
		rec->rule_id = 0;
		return 0;
	}
	__u32 n = set->n;
	for (__u32 i = 0; i < SHADOW_L7_RULES_MAX; i++) {
		if (i >= n)
			break;
		const struct shadow_l7_rule *r = &set->rules[i];
		if (r->method && r->method != rec->method)
			continue;
		if (r->kind == SHADOW_PATH_REGEX)
			continue;
		if (r->kind == SHADOW_PATH_EXACT && (r->len != rec->path_len || (rec->flags & SHADOW_F_TRUNC)))
			continue;
		if ((r->kind == SHADOW_PATH_PREFIX || r->kind == SHADOW_PATH_SUFFIX) && r->len > rec->path_len)
			continue;
		if (r->kind == SHADOW_PATH_SUFFIX && (rec->flags & SHADOW_F_TRUNC))
			continue; /* the end of the path was cut: cannot tell here */
		if (r->kind != SHADOW_PATH_ANY &&
		    !l7_literal_match(r, rec, r->kind == SHADOW_PATH_SUFFIX ? rec->path_len - r->len : 0))
			continue;
		rec->verdict = SHADOW_VERDICT_ALLOW;
		rec->where = SHADOW_WHERE_KERNEL;
		rec->rule_id = r->rule_id;
		return 0;
	}
	rec->rule_id = 0;
	if (set->has_regex) {
		rec->verdict = SHADOW_VERDICT_NONE;
		rec->where = SHADOW_WHERE_USER;
	} else {
		rec->verdict = SHADOW_VERDICT_DENY;
		rec->where = SHADOW_WHERE_KERNEL;
	}
	return 0;
}

static __always_inline __u32 status_class(__u16 status)
{
	__u32 c = status / 100;
	if (c > 5)
		c = 0;
	return c & 7; /* the mask gives the verifier a bound clang's range folding would hide */
}

/* Bytes that end a path, as the high bit of each byte: '?' and anything below '!' (' ', '\r', '\n', '\t', NUL: none
 * may appear raw in a request target). Borrows only run upward, so the lowest flagged byte is exact; bytes >= 0x80
 * are never flagged. Two word tests instead of one per delimiter. */
static __always_inline __u64 first_delim(__u64 w)
{
	__u64 q = w ^ 0x3f3f3f3f3f3f3f3fULL;
	return ((w - 0x2121212121212121ULL) & ~w & 0x8080808080808080ULL) |
	       ((q - 0x0101010101010101ULL) & ~q & 0x8080808080808080ULL);
}

/* index of the lowest byte whose high bit is set (little-endian: the first character); BPF has no ctz */
static __always_inline __u32 byte_index(__u64 m)
{
	__u32 i = 0;
	if (!(m & 0xffffffffULL)) {
		i += 4;
		m >>= 32;
	}
	if (!(m & 0xffffULL)) {
		i += 2;
		m >>= 16;
	}
	if (!(m & 0xffULL))
		i += 1;
	return i;
}

/* end of the path within [from_word*8, limit): first ' ', '?', '\r' or '\n', 8 bytes at a time; limit if none */
static __always_inline __u32 path_end(struct shadow_http_rec *rec, __u32 from_word, __u32 limit)
{
	__u64 *w = (__u64 *)rec->path;
	for (__u32 k = from_word; k < SHADOW_PATH_MAX / 8; k++) {
		if (k * 8 >= limit)
			break;
		__u64 m = first_delim(w[k]);
		if (m) {
			__u32 idx = k * 8 + byte_index(m);
			return idx < limit ? idx : limit;
		}
	}
	return limit;
}

static __always_inline __u64 low_bytes(__u64 v, __u32 n)
{
	return n >= 8 ? v : v & ((1ULL << ((n & 7) * 8)) - 1);
}

/* Common case of the request path, straight-line: a path shorter than 24 bytes. v0..v2: the 24 bytes from the
 * path's start, as words; known: how many of them are payload (past that they are zero or padding). Stores the path
 * masked at its end and zeroes the previous path's tail (below prev). Returns the path length, or -1 when no
 * delimiter shows within the known bytes (the caller then takes the general paths). */
static __always_inline int path_words(struct shadow_http_rec *rec, __u64 v0, __u64 v1, __u64 v2, __u32 known,
				      __u32 avail, __u32 prev)
{
	__u64 m0 = first_delim(v0), m1 = first_delim(v1), m2 = first_delim(v2);
	__u32 plen;
	if (m0)
		plen = byte_index(m0);
	else if (m1)
		plen = 8 + byte_index(m1);
	else if (m2)
		plen = 16 + byte_index(m2);
	else
		return -1;
	if (plen >= known && known < avail)
		return -1; /* a zero past the loaded bytes, not the path's end */
	if (plen > avail) /* Ethernet padding past the payload */
		plen = avail;
	__u64 *w = (__u64 *)rec->path;
	w[0] = low_bytes(v0, plen);
	w[1] = plen > 8 ? low_bytes(v1, plen - 8) : 0;
	w[2] = plen > 16 ? low_bytes(v2, plen - 16) : 0;
	for (__u32 j = 3; j < SHADOW_PATH_MAX / 8; j++) {
		if (j * 8 >= prev)
			break;
		*(volatile __u64 *)&w[j] = 0; /* volatile: clang would make it a memset call, which BPF has not */
	}
	return plen;
}

/* the path window straight from the linear packet data: three word loads and one bounds check */
static __always_inline int path_window(struct __sk_buff *skb, struct shadow_http_rec *rec, __u32 off, __u32 avail,
				       __u32 prev)
{
	void *data = (void *)(long)skb->data, *dend = (void *)(long)skb->data_end;
	__u64 *p = data + (off & 0x3ff);
	if ((void *)(p + 3) > dend)
		return -1;
	return path_words(rec, p[0], p[1], p[2], 24, avail, prev);
}

/* The path window from the first HTTP_HEAD bytes of the payload, loaded once (buf, n of them valid): a socket's
 * payload usually sits in page fragments, not in the linear data, so on the wire and app legs alike the head and
 * the start of the path come from one bpf_skb_load_bytes instead of two plus the general slow path. skip: length
 * of "METHOD " (4..8), so the 24 path bytes are words 0..3 shifted by skip bytes. */
#define HTTP_HEAD 32
static __always_inline int path_from_head(struct shadow_http_rec *rec, const __u64 *buf, __u32 n, __u32 skip,
					  __u32 avail, __u32 prev)
{
	__u32 sh = (skip & 7) * 8; /* skip == 8 (OPTIONS): word aligned */
	__u64 v0, v1, v2;
	if (skip >= 8) {
		v0 = buf[1];
		v1 = buf[2];
		v2 = buf[3];
	} else {
		v0 = buf[0] >> sh | buf[1] << (64 - sh);
		v1 = buf[1] >> sh | buf[2] << (64 - sh);
		v2 = buf[2] >> sh | buf[3] << (64 - sh);
	}
	return path_words(rec, v0, v1, v2, n > skip ? n - skip : 0, avail, prev);
}

/* General fast path for the request path (paths of 24 bytes and more, or near the end of the data): read it 8 bytes
 * at a time straight from the linear packet data, find its end, store each word once (masked at the end) and zero the previous path's tail up to prev. Returns the path length,
 * or -1 when the path runs into the end of the linear data (the caller then takes the bpf_skb_load_bytes path;
 * words written here lie below the returned max via *written). A complete request line always ends inside the
 * packet (" HTTP/1.x" follows the path). A global function: the verifier checks it once, not once per caller
 * state, which keeps the combined program well under the instruction limit. */
__noinline int shadow_path_fast(struct __sk_buff *skb, struct shadow_http_rec *rec, __u32 off, __u32 avail, __u32 prev)
{
	if (!rec)
		return -1;
	void *data = (void *)(long)skb->data, *dend = (void *)(long)skb->data_end;
	__u8 *p = (__u8 *)data + (off & 0x3ff);
	__u64 *w = (__u64 *)rec->path;
	__u32 plen = SHADOW_PATH_MAX, k;
	for (k = 0; k < SHADOW_PATH_MAX / 8; k++) {
		__u32 lo = k * 8;
		if (lo >= avail) {
			plen = avail;
			break;
		}
		if ((void *)(p + lo + 8) > dend)
			return -(int)(lo + 1); /* -(bytes written + 1) */
		__u64 v = *(__u64 *)(p + lo);
		__u64 m = first_delim(v);
		__u32 idx = m ? lo + byte_index(m) : lo + 8;
		if (idx > avail)
			idx = avail;
		if (idx < lo + 8) {
			plen = idx;
			w[k] = v & ((1ULL << (((idx - lo) & 7) * 8)) - 1);
			break;
		}
		w[k] = v;
	}
	for (__u32 j = 0; j < SHADOW_PATH_MAX / 8; j++) {
		__u32 lo = j * 8;
		if (lo >= prev)
			break;
		if (lo >= plen)
			w[j] = 0;
	}
	return plen;
}

/* Slow path for the request path, when it runs past the linear packet data: bpf_skb_load_bytes in two halves,
 * scan, set path_len and zero what follows the path. prev: bytes of the path area that may be non-zero. Returns
 * the path length, or -1 when the bytes cannot be read (the slot is then marked answered). A global function:
 * rare, and verified once instead of once per caller state. */
__noinline int shadow_path_slow(struct __sk_buff *skb, struct shadow_http_rec *rec, __u32 off, __u32 avail, __u32 prev)
{
	if (!rec)
		return -1;
	avail &= 0xff; /* the caller's bounds, restated for the verifier: avail <= SHADOW_PATH_MAX, prev too */
	if (avail > SHADOW_PATH_MAX)
		avail = SHADOW_PATH_MAX;
	if (prev > SHADOW_PATH_MAX)
		prev = SHADOW_PATH_MAX;
	__u32 half = avail < SHADOW_PATH_MAX / 2 ? avail : SHADOW_PATH_MAX / 2;
	if (half < 1 || bpf_skb_load_bytes(skb, off, rec->path, half & (SHADOW_PATH_MAX / 2 - 1) ? half & (SHADOW_PATH_MAX / 2 - 1) : SHADOW_PATH_MAX / 2)) {
		rec->status = 1; /* not pending */
		rec->path_len = SHADOW_PATH_MAX; /* bytes past it may be non-zero now: the next request zeroes them */
		return -1;
	}
	__u32 loaded = half;
	__u32 plen = path_end(rec, 0, half);
	if (plen == half && avail > half) {
		__u32 rest = avail - half; /* 1..64 */
		if (bpf_skb_load_bytes(skb, off + half, rec->path + SHADOW_PATH_MAX / 2,
				       rest & (SHADOW_PATH_MAX / 2 - 1) ? rest & (SHADOW_PATH_MAX / 2 - 1) : SHADOW_PATH_MAX / 2)) {
			rec->status = 1;
			rec->path_len = SHADOW_PATH_MAX;
			return -1;
		}
		loaded = avail;
		plen = path_end(rec, SHADOW_PATH_MAX / 16, avail);
	}
	if (plen == SHADOW_PATH_MAX)
		rec->flags |= SHADOW_F_TRUNC;
	rec->path_len = plen;
	/* zero what follows the path (rest of the request line, or the previous path), so records are
	 * deterministic and suffix matching can read whole words */
	__u32 end = loaded > prev ? loaded : prev;
	__u64 *w = (__u64 *)rec->path;
	for (__u32 k = 0; k < SHADOW_PATH_MAX / 8; k++) {
		__u32 lo = k * 8;
		if (lo >= end)
			break;
		if (lo + 8 <= plen)
			continue;
		if (lo >= plen)
			w[k] = 0;
		else
			w[k] &= (1ULL << ((plen - lo) * 8)) - 1;
	}
	return plen;
}

struct tcp_view {
	__u32 saddr, daddr;
	__u16 sport, dport;
	__u32 payload_off; /* offset of the TCP payload from the start of the skb data */
	__u32 payload_len;
};

static __always_inline int inflight_is(const struct shadow_http_rec *r, __u32 addr, __u16 port, __u16 ep, __u8 leg)
{
	return r->client_addr == addr && r->client_port == port && r->ep == ep && r->leg == leg;
}

/* a slot is pending from its request until its response (status != 0); ep == 0: empty (or expired by the loader) */
static __always_inline int inflight_pending(const struct shadow_http_rec *r)
{
	return r->ep && !r->status;
}

/* the in-flight slot of a client endpoint, or NULL */
static __always_inline struct shadow_http_rec *inflight_find(__u32 addr, __u16 port, __u16 ep, __u8 leg)
{
	__u32 i = shadow_inflight_pair(addr, port, ep, leg, cfg_inflight_pair_bits);
	struct shadow_http_rec *r = bpf_map_lookup_elem(&shadow_inflight, &i);
	if (r && inflight_is(r, addr, port, ep, leg))
		return r;
	i |= 1;
	r = bpf_map_lookup_elem(&shadow_inflight, &i);
	return r && inflight_is(r, addr, port, ep, leg) ? r : NULL;
}

/* the slot a new request of this client endpoint goes to: its own, else a free or answered one of the pair,
 * else the older of two pending requests, which is lost and counted */
static __always_inline struct shadow_http_rec *inflight_claim(__u32 addr, __u16 port, __u16 ep, __u8 leg)
{
	__u32 i = shadow_inflight_pair(addr, port, ep, leg, cfg_inflight_pair_bits);
	struct shadow_http_rec *a = bpf_map_lookup_elem(&shadow_inflight, &i);
	if (!a)
		return NULL;
	if (inflight_is(a, addr, port, ep, leg))
		return a;
	i |= 1;
	struct shadow_http_rec *b = bpf_map_lookup_elem(&shadow_inflight, &i);
	if (!b)
		return NULL;
	if (inflight_is(b, addr, port, ep, leg) || !inflight_pending(b))
		return b;
	if (!inflight_pending(a))
		return a;
	count(SHADOW_C_INFLIGHT_EVICTED);
	return a->hdr.ts_ns <= b->hdr.ts_ns ? a : b;
}

/*
 * One HTTP step for a TCP packet with payload. base_ts: now. ep/leg/dir: who observes.
 * A request ("GET /x HTTP/1.1") opens an in-flight entry keyed by the client endpoint; the first response
 * ("HTTP/1.1 200") closes it: latency, edge aggregate, sampled record. own: the wire leg's entry, in the flow's
 * CT slot (leg is a constant at each call, so each program keeps one kind of record pointer: one verifier state).
 */
static __always_inline void http_step(struct shadow_cpu *c, struct __sk_buff *skb, struct tcp_view *t, __u16 ep,
				      __u8 leg, __u8 dir_req, __u32 remote_id, __u8 *ct_flags, __u64 now_precise,
				      __u64 *l7_cache, struct shadow_http_rec *own, __u64 *edge_cache)
{
	/* the first HTTP_HEAD payload bytes, as words: straight from the packet when they are in the linear data,
	 * else one bpf_skb_load_bytes of what there is (zeroes past it) */
	__u64 head[HTTP_HEAD / 8] = {};
	__u32 n = 0; /* head bytes loaded by the helper (0: the payload is linear here, read it in place) */
	if (t->payload_len < 12) {
		if (t->payload_len >= 1 && load(skb, t->payload_off, head, 1) == 0 &&
		    ((head[0] & 0xff) == 0x16 || (head[0] & 0xff) == 0x17) && ct_flags)
			*ct_flags |= SHADOW_F_TLS;
		return;
	}
	{
		void *data = (void *)(long)skb->data, *dend = (void *)(long)skb->data_end;
		__u32 po = t->payload_off & 0x3ff;
		if (!cfg_head_via_helper && data + po + 12 <= dend) {
			__builtin_memcpy(head, __builtin_assume_aligned(data + po, 8), 12);
		} else {
			n = t->payload_len < HTTP_HEAD ? t->payload_len : HTTP_HEAD;
			if (bpf_skb_load_bytes(skb, t->payload_off, head, n & (HTTP_HEAD - 1) ? n & (HTTP_HEAD - 1) : HTTP_HEAD)) {
				bump(c, SHADOW_C_PARSE_FAIL);
				return;
			}
		}
	}
	__u8 b0 = head[0] & 0xff;
	if (b0 == 0x16 || b0 == 0x17) { /* TLS handshake / application data: count bytes, skip L7 */
		if (ct_flags && !(*ct_flags & SHADOW_F_TLS)) {
			*ct_flags |= SHADOW_F_TLS;
			bump(c, SHADOW_C_TLS);
		}
		return;
	}
	__u64 now;
	__u32 w1 = (__u32)head[1];
	if (is_status(head[0], w1)) {
		/* the wire leg's request waits in its flow's CT slot, the app leg's in the shared array */
		struct shadow_http_rec *rec = leg == SHADOW_LEG_WIRE ?
			(own && inflight_is(own, t->daddr, t->dport, ep, leg) ? own : NULL) :
			inflight_find(t->daddr, t->dport, ep, leg);
		if (!rec || rec->status) { /* no request seen, or already answered */
			bump(c, SHADOW_C_HTTP_UNMATCHED);
			return;
		}
		now = now_precise ? now_precise : bpf_ktime_get_ns();
		bump(c, SHADOW_C_HTTP_RESPONSES);
		__u16 status = (((w1 >> 8) & 0xff) - '0') * 100 + (((w1 >> 16) & 0xff) - '0') * 10 + ((w1 >> 24) - '0');
		rec->status = status;
		/* the two ends' times may come from different sources (a sender's stamp, the clock at the hook) */
		rec->latency_ns = now > rec->hdr.ts_ns ? now - rec->hdr.ts_ns : 0;
		rec->hdr.ts_ns = now;
		struct shadow_edge_key ek = {.remote_id = rec->remote_id, .ep = ep, .port = rec->server_port,
					     .dir = rec->dir, .leg = leg, .proto = IPPROTO_TCP};
		/* the wire leg's cache sits in the flow's CT entry; the app leg's in its pod's storage, for inbound
		 * requests only (an outbound app leg's remote identity varies and is not part of the tag) */
		struct shadow_edge_val *ev = edge_get(&ek, leg == SHADOW_LEG_WIRE || !ek.remote_id ? edge_cache : NULL);
		if (ev) {
			ev->requests++;
			ev->verdicts_l7[rec->verdict & 3]++;
			ev->status[status_class(status)]++;
			observe_latency(ev, rec->latency_ns);
		}
		if (cfg_sample_every > 1 && bpf_get_prandom_u32() % cfg_sample_every) {
			bump(c, SHADOW_C_SAMPLED_OUT);
			return;
		}
		if (rate_ok(c, now))
			emit(c, rec, sizeof(*rec));
		return;
	}
	__u32 skip = 0;
	__u8 method = parse_method(head[0], &skip);
	if (!method)
		return; /* a continuation segment or not HTTP */
	/* The slot of a keep-alive connection is reused in place: no allocation, no 192-byte copy per request. */
	struct shadow_http_rec *rec = leg == SHADOW_LEG_WIRE ? own : inflight_claim(t->saddr, t->sport, ep, leg);
	if (!rec)
		return;
	now = now_precise ? now_precise : bpf_ktime_get_ns();
	rec->hdr.type = SHADOW_REC_HTTP;
	rec->hdr.size = sizeof(*rec);
	rec->hdr.cpu = bpf_get_smp_processor_id();
	rec->hdr.ts_ns = now;
	rec->client_addr = t->saddr;
	rec->server_addr = t->daddr;
	rec->client_port = t->sport;
	rec->server_port = t->dport;
	rec->ep = ep;
	rec->leg = leg;
	rec->method = method;
	rec->status = 0;
	rec->dir = dir_req;
	rec->flags = 0;
	rec->remote_id = remote_id;
	rec->latency_ns = 0;
	rec->cgroup_id = leg == SHADOW_LEG_APP ? bpf_skb_cgroup_id(skb) : 0; /* requests only: responses never need it */
	rec->rule_id = 0;
	/* path: from after "METHOD " to the next space, at most SHADOW_PATH_MAX bytes, straight into the entry.
	 * Most paths are short: load and scan the first half, the second only when needed. */
	__u32 avail = t->payload_len - skip;
	if (avail > SHADOW_PATH_MAX)
		avail = SHADOW_PATH_MAX;
	__u32 off = t->payload_off + skip;
	__u32 prev = rec->path_len; /* bytes past the previous path are already zero */
	int fp = n ? path_from_head(rec, head, n, skip, avail, prev) : path_window(skb, rec, off, avail, prev);
	if (fp < 0)
		fp = shadow_path_fast(skb, rec, off, avail, prev);
	if (fp >= 0) {
		__u32 plen = fp & 0xff;
		if (plen >= SHADOW_PATH_MAX) {
			plen = SHADOW_PATH_MAX;
			rec->flags |= SHADOW_F_TRUNC;
		}
		rec->path_len = plen;
		shadow_l7_verdict(rec, ep, t->dport, l7_cache);
		bump(c, SHADOW_C_HTTP_REQUESTS);
		return;
	}
	if ((__u32)(-fp - 1) > prev)
		prev = -fp - 1; /* words the fast path wrote before it ran out of linear data */
	if (shadow_path_slow(skb, rec, off, avail, prev) < 0) {
		bump(c, SHADOW_C_PARSE_FAIL);
		return;
	}
	shadow_l7_verdict(rec, ep, t->dport, l7_cache);
	bump(c, SHADOW_C_HTTP_REQUESTS);
}

/* ---- tc: L3/L4 with CT, wire-leg HTTP ---- */

static __always_inline int tc_handle(struct shadow_cpu *c, struct __sk_buff *skb, __u8 dir)
{
	bump(c, SHADOW_C_PACKETS);
	if (skb->protocol != bpf_htons(ETH_P_IP)) {
		bump(c, SHADOW_C_NON_IPV4);
		return TC_ACT_OK;
	}
	struct iphdr ip;
	if (load(skb, ETH_HLEN, &ip, sizeof(ip))) {
		bump(c, SHADOW_C_PARSE_FAIL);
		return TC_ACT_OK;
	}
	__u32 ihl = ip.ihl * 4;
	__u32 tot = bpf_ntohs(ip.tot_len);
	if (ip.version != 4 || ihl < 20 || tot < ihl) {
		bump(c, SHADOW_C_PARSE_FAIL);
		return TC_ACT_OK;
	}
	if (bpf_ntohs(ip.frag_off) & 0x1fff) /* non-first fragment: no ports */
		return TC_ACT_OK;
	struct tcp_view t = {.saddr = ip.saddr, .daddr = ip.daddr};
	__u8 tcp_flags = 0;
	__u32 l4 = ETH_HLEN + ihl;
	if (ip.protocol == IPPROTO_TCP) {
		struct tcphdr th;
		if (load(skb, l4, &th, sizeof(th))) {
			bump(c, SHADOW_C_PARSE_FAIL);
			return TC_ACT_OK;
		}
		__u32 doff = th.doff * 4;
		if (doff < 20 || ihl + doff > tot) {
			bump(c, SHADOW_C_PARSE_FAIL);
			return TC_ACT_OK;
		}
		t.sport = bpf_ntohs(th.source);
		t.dport = bpf_ntohs(th.dest);
		t.payload_off = l4 + doff;
		t.payload_len = tot - ihl - doff;
		if (t.payload_off + t.payload_len > skb->len) { /* truncated capture: parse what is there */
			t.payload_len = skb->len > t.payload_off ? skb->len - t.payload_off : 0;
		}
		tcp_flags = ((__u8 *)&th)[13];
	} else if (ip.protocol == IPPROTO_UDP) {
		struct udphdr uh;
		if (load(skb, l4, &uh, sizeof(uh))) {
			bump(c, SHADOW_C_PARSE_FAIL);
			return TC_ACT_OK;
		}
		t.sport = bpf_ntohs(uh.source);
		t.dport = bpf_ntohs(uh.dest);
	} else if (ip.protocol != IPPROTO_ICMP) {
		/* other protocols: evaluated with ports 0 */
	}

	__u32 local = dir == SHADOW_DIR_INGRESS ? t.daddr : t.saddr;
	__u32 remote = dir == SHADOW_DIR_INGRESS ? t.saddr : t.daddr;
	/* CT first: the local address is the endpoint's, so a hit also tells which endpoint this is and the
	 * endpoint map is only read for new flows */
	struct shadow_ct_key ck = {.raddr = remote, .laddr = local, .rport = dir == SHADOW_DIR_INGRESS ? t.sport : t.dport,
				   .lport = dir == SHADOW_DIR_INGRESS ? t.dport : t.sport, .proto = ip.protocol};
	__u64 cw0 = *(__u64 *)&ck, cw1 = *(__u64 *)&ck.rport;
	__u32 cset_i = shadow_ct_set_of(cw0, cw1, cfg_ct_seed, cfg_ct_set_bits);
	struct shadow_ct_set *cset = bpf_map_lookup_elem(&shadow_ct, &cset_i);
	int cway = shadow_ct_find(cset, cw0, cw1);
	struct shadow_ct_slot *cslot = NULL;
	if (cset && cway >= 0) {
		barrier_var(cset); /* keep the arithmetic after the null check, where the verifier wants it */
		cslot = &cset->way[cway & (SHADOW_CT_WAYS - 1)];
	}
	struct shadow_ct_val *ct = cslot ? &cslot->val : NULL;
	/* one time per packet: the sender's stamp when there is one (packet_time). Else CT ages on the cheap coarse
	 * clock, but a TCP packet with payload may be an HTTP request or response whose latency needs the precise one,
	 * so those read only the precise one (same CLOCK_MONOTONIC base) and hand it to http_step. Not for a flow known
	 * to carry TLS (mTLS between sidecars: every wire packet), whose payload is never parsed: ~10-15 ns saved. */
	(void)*(volatile __u8 *)&skb->tstamp_type; /* the read that makes tc ingress hand over delivery times */
	__u64 now = packet_time(skb);
	if (!now)
		now = ip.protocol == IPPROTO_TCP && t.payload_len && !(ct && (ct->flags & SHADOW_F_TLS)) ?
			      bpf_ktime_get_ns() : bpf_ktime_get_coarse_ns();
	int reply = ct && ct->dir != dir;
	struct shadow_endpoint *ep = NULL;
	__u16 ep_id;
	if (ct) {
		ep_id = ct->ep;
	} else {
		ep = bpf_map_lookup_elem(&shadow_endpoints, &local);
		if (!ep) {
			bump(c, SHADOW_C_NO_ENDPOINT);
			return TC_ACT_OK;
		}
		ep_id = ep->ep;
	}
	__u32 remote_id;
	__u8 flags = 0;
	if (ct) {
		remote_id = ct->remote_id;
		ct->last_ns = now;
		/* plain adds: a flow is mostly handled on one CPU, and an atomic costs more than a rare lost count */
		ct->pkts[reply & 1] += 1;
		flags = ct->flags;
	} else {
		/* new flow: evaluate once, like Cilium; replies then hit the CT entry */
		remote_id = lookup_identity(remote);
		if (ip.protocol == IPPROTO_TCP && (tcp_flags & 0x12) != 0x02)
			flags |= SHADOW_F_MIDSTREAM; /* not a bare SYN: picked up mid-connection */
		__u32 rule_id = 0;
		__u8 verdict = policy_verdict(ep, dir, remote_id, ip.protocol, t.dport, &rule_id, &flags);
		int nway = shadow_ct_claim(cset, cw0, cw1);
		if (cset && nway >= 0) {
			cslot = &cset->way[nway & (SHADOW_CT_WAYS - 1)];
			ct = &cslot->val;
			ct->last_ns = now;
			ct->l7_cache = 0;
			ct->remote_id = remote_id;
			ct->ep = ep_id;
			ct->flags = flags;
			ct->dir = dir;
			ct->pkts[0] = 1;
			ct->pkts[1] = 0;
			ct->edge_cache = 0;
			ct->rule_id = rule_id;
			ct->verdict = verdict;
			cslot->wire.ep = 0; /* no request in flight (the slot's previous flow may have left one) */
			ct_publish(cslot);
			/* after the publish: a sweep that cleared the byte before this store finds it set again, one after
			 * it sees the slot valid (ct_gc.h) */
			*(volatile __u8 *)&shadow_ct_dirty[cset_i & (SHADOW_CT_SETS_MAX - 1)] = 1;
			bump(c, SHADOW_C_CT_CREATED);
		} else {
			bump(c, SHADOW_C_CT_FULL);
		}
		reply = 0;
		bump(c, SHADOW_C_FLOWS_NEW);
		if (dir == SHADOW_DIR_INGRESS && ip.protocol == IPPROTO_TCP) {
			struct orig_key ok = {.raddr = remote, .laddr = local, .rport = t.sport};
			bpf_map_update_elem(&shadow_origport, &ok, &t.dport, BPF_ANY);
		}
		struct shadow_edge_key ek = {.remote_id = remote_id, .ep = ep_id, .port = t.dport, .dir = dir,
					     .leg = SHADOW_LEG_WIRE, .proto = ip.protocol};
		/* a flow opened by its request has its responses' edge: cache it in the new entry */
		struct shadow_edge_val *ev = edge_get(&ek, ct ? &ct->edge_cache : NULL);
		if (ev) {
			ev->flows++;
			ev->verdicts_l4[verdict & 3]++;
		}
		if (cfg_flow_records && rate_ok(c, now)) {
			struct shadow_flow_rec r = {
				.hdr = {.type = SHADOW_REC_FLOW, .size = sizeof(r), .cpu = bpf_get_smp_processor_id(), .ts_ns = now},
				.saddr = t.saddr, .daddr = t.daddr, .sport = t.sport, .dport = t.dport,
				.proto = ip.protocol, .dir = dir, .verdict = verdict, .where = SHADOW_WHERE_KERNEL,
				.rule_id = rule_id, .remote_id = remote_id, .ifindex = skb->ifindex, .ep = ep_id, .flags = flags,
			};
			emit(c, &r, sizeof(r));
		}
	}
	if (ip.protocol == IPPROTO_TCP) {
		if (ct && (tcp_flags & 0x05)) /* FIN or RST: let the loader's GC expire it soon */
			ct->flags |= SHADOW_F_CLOSING;
		if (t.payload_len && !(flags & SHADOW_F_TLS)) {
			__u8 nf = flags;
			/* the request direction is the flow's original one: to the pod = the pod serves (ingress) */
			__u8 dir_req = reply ? dir ^ 1 : dir;
			/* a request in the flow's own direction may use the flow's cached L7 set (same server port) */
			if (cslot) /* the request in flight lives in the flow's slot: an untracked packet is not followed */
				http_step(c, skb, &t, ep_id, SHADOW_LEG_WIRE, dir_req, remote_id, &nf, now,
					  reply ? NULL : &cslot->val.l7_cache, &cslot->wire, &cslot->val.edge_cache);
			if (cslot && nf != flags)
				ct->flags |= nf & SHADOW_F_TLS;
		}
	}
	return TC_ACT_OK;
}

/*
 * One body for both directions. Per request the wire leg runs four times (the client pod's egress, the server
 * pod's ingress, and back); with one JIT image per direction, the server's ingress run found its image cold right
 * after the client's egress run had warmed the other one. A/B in one lab run at 1000/s (bench/lab-overhead.sh
 * --baseline): 2-8 % less BPF time per program run and a 1-2 % lower p50 than two images.
 *
 * On the pod's eth0 (the usual attachment) the body is attached to both hooks itself and reads the direction off
 * the hook: at tc ingress the kernel has just set the packet's input interface (skb_iif) to this one, and a packet
 * leaving a pod was made in the pod (skb_iif 0) unless the pod forwards it back out of the interface it came in by,
 * which pods do not do. That spares the stub and its tail call: ~10 ns per packet in the test run.
 *
 * A host-side veth sees a pod's hairpin traffic (into the node and straight back out of the same veth: a pod
 * calling a service that picks the pod itself), so there the hook is the only truth: the stubs below name the
 * direction in a per-CPU word (1 + dir; 0 = none) and tail-call the body (a patched direct jump), which takes the
 * word and clears it, so that a run attached directly never reads a stale one.
 */
SEC("tc")
int shadow_tc(struct __sk_buff *skb)
{
	struct shadow_cpu *c = this_cpu();
	if (!c)
		return TC_ACT_OK;
	__u32 stub_dir = c->tc_dir;
	__u8 dir;
	if (stub_dir) {
		c->tc_dir = 0;
		dir = stub_dir == 1 + SHADOW_DIR_INGRESS ? SHADOW_DIR_INGRESS : SHADOW_DIR_EGRESS;
	} else {
		dir = skb->ingress_ifindex == skb->ifindex ? SHADOW_DIR_INGRESS : SHADOW_DIR_EGRESS;
	}
	tc_handle(c, skb, dir);
	return TC_ACT_OK;
}

static __always_inline int tc_enter(struct __sk_buff *skb, __u32 dir)
{
	struct shadow_cpu *c = this_cpu();
	if (c) {
		c->tc_dir = 1 + dir;
		bpf_tail_call_static(skb, &shadow_tc_body, 0);
		c->tc_dir = 0; /* reached only if the body is missing */
	}
	return TC_ACT_OK; /* pass, as always */
}

/* host-side veth: its egress hook (into the pod) */
SEC("tc")
int shadow_tc_to_pod(struct __sk_buff *skb)
{
	return tc_enter(skb, SHADOW_DIR_INGRESS);
}

/* host-side veth: its ingress hook (out of the pod) */
SEC("tc")
int shadow_tc_from_pod(struct __sk_buff *skb)
{
	return tc_enter(skb, SHADOW_DIR_EGRESS);
}

/* ---- cgroup_skb: app leg on the loopback hop ---- */

#define SHADOW_CG_LEVELS 8

static __always_inline struct shadow_endpoint *cgroup_endpoint_ancestor(struct __sk_buff *skb)
{
	for (int level = 1; level <= SHADOW_CG_LEVELS; level++) {
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, level);
		if (!id)
			return NULL;
		struct shadow_endpoint *ep = bpf_map_lookup_elem(&shadow_cgroups, &id);
		if (ep)
			return ep;
	}
	return NULL;
}

SEC("cgroup_skb/egress")
int shadow_cg_egress(struct __sk_buff *skb)
{
	struct shadow_cpu *c = this_cpu();
	if (!c)
		return 1;
	bump(c, SHADOW_C_PACKETS);
	/* only the hop inside the pod: out through lo (ifindex 1 in every netns). An outbound call redirected to the
	 * sidecar goes pod IP -> 127.0.0.1:15001, and the sidecar's answer, un-NATed before this hook, real server
	 * -> pod IP: both leave through lo, as does anything to 127/8 or the pod's own address. Checked before any
	 * load: every packet the pod sends by eth0 passes here too. */
	if (skb->ifindex != 1 || skb->protocol != bpf_htons(ETH_P_IP))
		return 1;
	struct iphdr ip;
	if (load(skb, 0, &ip, sizeof(ip))) {
		bump(c, SHADOW_C_PARSE_FAIL);
		return 1;
	}
	if (ip.protocol != IPPROTO_TCP)
		return 1;
	__u32 ihl = ip.ihl * 4;
	__u32 tot = bpf_ntohs(ip.tot_len);
	if (ip.version != 4 || ihl < 20 || tot < ihl) {
		bump(c, SHADOW_C_PARSE_FAIL);
		return 1;
	}
	struct tcphdr th;
	if (load(skb, ihl, &th, sizeof(th))) {
		bump(c, SHADOW_C_PARSE_FAIL);
		return 1;
	}
	__u32 doff = th.doff * 4;
	if (doff < 20 || ihl + doff > tot) {
		bump(c, SHADOW_C_PARSE_FAIL);
		return 1;
	}
	struct tcp_view t = {.saddr = ip.saddr, .daddr = ip.daddr, .sport = bpf_ntohs(th.source),
			     .dport = bpf_ntohs(th.dest), .payload_off = ihl + doff, .payload_len = tot - ihl - doff};
	if (t.payload_off + t.payload_len > skb->len)
		t.payload_len = skb->len > t.payload_off ? skb->len - t.payload_off : 0;
	if (!t.payload_len)
		return 1;
	struct shadow_cg_state *st = bpf_get_local_storage(&shadow_cg_ep, 0);
	struct shadow_endpoint *ep = &st->ep;
	if (!ep->ep) { /* the loader has not written this attachment's endpoint (yet) */
		__u64 cg = bpf_skb_cgroup_id(skb);
		ep = bpf_map_lookup_elem(&shadow_cgroups, &cg);
		if (!ep) /* a container's cgroup below the pod's: walk the ancestors from the root down */
			ep = cgroup_endpoint_ancestor(skb);
		if (!ep) {
			bump(c, SHADOW_C_NO_ENDPOINT);
			return 1;
		}
		/* keep it for the attachment's next packets (until the loader's sync; and in BPF_PROG_TEST_RUN, whose
		 * storage starts at zero). Only the word with the endpoint number, and only over zero: a value the loader
		 * wrote meanwhile wins, so a lookup in the previous config's map cannot overwrite the new numbering. */
		__sync_val_compare_and_swap((__u64 *)&st->ep, 0, *(__u64 *)ep);
	}
	/* a request to the sidecar's outbound listener is the app calling out; anything else on the hop is the
	 * sidecar delivering an inbound request to the app */
	__u8 dir_req = SHADOW_DIR_INGRESS;
	__u32 remote_id = 0;
	if (t.dport == cfg_outbound_port) {
		dir_req = SHADOW_DIR_EGRESS;
		/* the real server: iptables rewrote the packets, not the app's socket, whose destination is still
		 * the one the app connected to */
		struct bpf_sock *sk = skb->sk;
		if (sk)
			sk = bpf_sk_fullsock(sk);
		if (sk && sk->dst_ip4 && sk->dst_ip4 != t.daddr) {
			t.daddr = sk->dst_ip4;
			t.dport = bpf_ntohs(sk->dst_port);
			remote_id = lookup_identity(t.daddr);
		}
	}
	http_step(c, skb, &t, ep->ep, SHADOW_LEG_APP, dir_req, remote_id, 0, packet_time(skb), &st->l7_cache[dir_req & 1], NULL,
		  &st->edge_cache_in);
	return 1;
}

/* ---- sock_ops: connection lifecycle ---- */

SEC("sockops")
int shadow_sockops(struct bpf_sock_ops *skops)
{
	if (skops->family != AF_INET)
		return 1;
	__u32 op = skops->op;
	struct bpf_sock *sk = skops->sk;
	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		/* process context: current is the connecting process, so its cgroup names the endpoint; this is what
		 * lets loopback connections (sidecar <-> app) be attributed at close, when current is arbitrary */
		if (!sk)
			return 1;
		struct conn_start *cs = bpf_sk_storage_get(&shadow_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (cs) {
			__u64 cg = bpf_get_current_cgroup_id();
			struct shadow_endpoint *e = bpf_map_lookup_elem(&shadow_cgroups, &cg);
			__u32 uid = (__u32)bpf_get_current_uid_gid();
			cs->ep = e ? e->ep : 0;
			cs->dir = SHADOW_DIR_EGRESS;
			cs->leg = e && (e->flags & SHADOW_EP_SIDECAR) && uid != cfg_sidecar_uid ? SHADOW_LEG_APP : SHADOW_LEG_WIRE;
		}
		return 1;
	}
	if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB || op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
		if (sk) {
			struct conn_start *cs = bpf_sk_storage_get(&shadow_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
			if (cs) {
				cs->ts_ns = bpf_ktime_get_ns();
				cs->dir = op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ? SHADOW_DIR_EGRESS : SHADOW_DIR_INGRESS;
			}
		}
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
		return 1;
	}
	if (op != BPF_SOCK_OPS_STATE_CB || skops->args[1] != TCP_CLOSE)
		return 1;
	struct shadow_cpu *c = this_cpu();
	if (!c)
		return 1;
	bump(c, SHADOW_C_CONN_CLOSED);
	__u32 local = skops->local_ip4;
	__u32 remote = skops->remote_ip4;
	struct conn_start *cs = sk ? bpf_sk_storage_get(&shadow_sk, sk, 0, 0) : NULL;
	__u8 leg = SHADOW_LEG_WIRE;
	__u16 ep_id = 0;
	__u32 remote_id = 0;
	if ((bpf_ntohl(remote) >> 24) == 127 || remote == local) {
		/* the hop inside the pod: known for the side that connected (the other side is the same hop) */
		leg = SHADOW_LEG_APP;
		ep_id = cs ? cs->ep : 0;
	} else if (cs && cs->leg == SHADOW_LEG_APP) {
		/* the app calling out through its sidecar: the socket names the real server, the bytes went to lo */
		leg = SHADOW_LEG_APP;
		ep_id = cs->ep;
		remote_id = lookup_identity(remote);
	} else {
		struct shadow_endpoint *e = bpf_map_lookup_elem(&shadow_endpoints, &local);
		ep_id = e ? e->ep : 0;
	}
	if (!ep_id)
		return 1;
	__u64 now = bpf_ktime_get_ns();
	__u64 start = cs ? cs->ts_ns : 0;
	__u16 lport = (__u16)skops->local_port;
	__u16 rport = bpf_ntohl(skops->remote_port); /* big-endian port in the upper half */
	/* who opened it; without storage (opened before we attached) the lower port is the server's */
	__u8 dir = cs ? cs->dir : lport < rport ? SHADOW_DIR_INGRESS : SHADOW_DIR_EGRESS;
	__u16 port = dir == SHADOW_DIR_INGRESS ? lport : rport;
	if (leg == SHADOW_LEG_WIRE && dir == SHADOW_DIR_INGRESS) {
		struct orig_key ok = {.raddr = remote, .laddr = local, .rport = rport};
		__u16 *orig = bpf_map_lookup_elem(&shadow_origport, &ok);
		if (orig) {
			port = *orig;
			bpf_map_delete_elem(&shadow_origport, &ok);
		}
	}
	struct shadow_edge_key ek = {.remote_id = leg == SHADOW_LEG_WIRE ? lookup_identity(remote) : remote_id,
				     .ep = ep_id, .port = port, .dir = dir, .leg = leg, .proto = IPPROTO_TCP};
	struct shadow_edge_val *ev = edge_get(&ek, NULL);
	if (ev) {
		ev->conns_closed++;
		ev->bytes_sent += skops->bytes_acked;
		ev->bytes_received += skops->bytes_received;
		ev->retrans += skops->total_retrans;
	}
	if (!rate_ok(c, now))
		return 1;
	struct shadow_conn_rec r = {
		.hdr = {.type = SHADOW_REC_CONN, .size = sizeof(r), .cpu = bpf_get_smp_processor_id(), .ts_ns = now},
		.saddr = local, .daddr = remote, .sport = lport, .dport = rport,
		.event = SHADOW_CONN_CLOSE, .state = TCP_CLOSE, .ep = ep_id,
		.srtt_us = skops->srtt_us >> 3, .total_retrans = skops->total_retrans,
		.bytes_acked = skops->bytes_acked, .bytes_received = skops->bytes_received,
		.duration_ns = start ? now - start : 0,
	};
	emit(c, &r, sizeof(r));
	return 1;
}
