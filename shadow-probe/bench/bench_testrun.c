// SPDX-License-Identifier: Apache-2.0
/*
 * ns per packet with BPF_PROG_TEST_RUN (kernel-measured average over N repeats) for the packets that matter:
 * an HTTP request on the wire leg (CT hit + request parse + L7 verdict + in-flight update: the most expensive
 * steady-state packet), a bare ACK of a known flow, a new flow (policy lookups + CT insert + record) and an
 * HTTP request on the cgroup_skb app leg. The request packets run twice: as from another node, and as a sender on
 * this node sends them, stamped with their departure time, which the probe takes instead of reading the clock.
 * The tc cases run the body as it sits on a pod's eth0; hostveth_* run it behind a host-side veth's stub.
 * Baseline in the same run: an empty sched_cls program; "not a pod": one endpoint lookup, then pass.
 * Output: one JSON object per line; per case the min over ROUNDS (the program's own cost, in a round nothing else
 * disturbed) and the median (a typical round on the machine as it is: on this shared VM whole seconds run 1.3-1.4x
 * slower, the empty program too, though less). BENCH_ROUNDS=1: every round on stderr, with an empty program's
 * round right after it, to tell the program's cost from the machine's phases.
 * Usage: bench_testrun [REPEAT [ROUNDS [CASE | ab:CASE_A,CASE_B | tc_new_flow | cold]]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "shadow.h" /* before the skeleton: it names shadow.h types (the L7 header global) */
#include "shadow.skel.h"
#include "config.h"
#include "pkt.h"

static const char *CONFIG = "{"
	"\"pods\": [{\"name\": \"a\", \"ip\": \"10.0.0.1\", \"identity\": 1001, \"cgroupId\": %llu}],"
	"\"identities\": [{\"ip\": \"10.0.1.1\", \"identity\": 100}, {\"cidr\": \"10.0.0.0/8\", \"identity\": 50}],"
	"\"policy\": ["
	"  {\"pod\": \"a\", \"identity\": 100, \"direction\": \"ingress\", \"protocol\": \"TCP\", \"port\": 80, \"ruleId\": 1},"
	"  {\"pod\": \"a\", \"identity\": 0, \"direction\": \"ingress\", \"protocol\": \"TCP\", \"port\": 22, \"action\": \"deny\", \"ruleId\": 2}"
	"],"
	"\"l7\": ["
	"  {\"pod\": \"a\", \"port\": 80, \"method\": \"POST\", \"pathExact\": \"/login\", \"ruleId\": 3},"
	"  {\"pod\": \"a\", \"port\": 80, \"method\": \"GET\", \"pathPrefix\": \"/api/\", \"ruleId\": 4},"
	"  {\"pod\": \"a\", \"port\": 8080, \"method\": \"GET\", \"pathPrefix\": \"/api/\", \"ruleId\": 5}"
	"]}";

static unsigned long long self_cgroup_id(void)
{
	char line[512], path[700];
	FILE *f = fopen("/proc/self/cgroup", "r");
	unsigned long long id = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		struct stat st;
		snprintf(path, sizeof(path), "/sys/fs/cgroup/unified%s", line + 3);
		if (stat(path, &st) == 0)
			id = st.st_ino;
	}
	if (f)
		fclose(f);
	return id;
}

/* stamp: 0, or the departure time a local TCP sender puts on its segments (skb->tstamp, CLOCK_MONOTONIC): every
 * packet a pod on the node sends carries one, a packet from another node does not (the probe reads the clock then).
 * iif: the input interface. The body on a pod's eth0 takes the direction from it: the test run's device is lo
 * (ifindex 1), so IN (1) is a packet coming into the pod, OUT (0) one leaving it. The host-side stubs ignore it. */
enum { OUT = 0, IN = 1 };
static double bench_ctx(struct bpf_program *prog, const struct pkt *p, int repeat, __u64 stamp, __u32 iif)
{
	struct __sk_buff ctx = {.tstamp = stamp, .ingress_ifindex = iif};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .repeat = repeat,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o)) {
		fprintf(stderr, "failed to run %s: %s\n", bpf_program__name(prog), strerror(errno));
		exit(1);
	}
	return o.duration; /* kernel: average ns per run */
}

static double bench(struct bpf_program *prog, const struct pkt *p, int repeat, __u32 iif)
{
	return bench_ctx(prog, p, repeat, 0, iif);
}

static __u64 mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* Cold runs: what a program run costs when the caches hold other work's lines, as in place (a request every ms
 * or so, between an app, its sidecar and the kernel). Before each run, read a buffer larger than the cache
 * level to flush: 2 MiB empties L1/L2 (512 KiB per core here) and leaves L3; 64 MiB empties L3 (32 MiB) too.
 * Two more flushes read the same 6144 lines (384 KiB, most of L2), once from 96 pages and once a line from each of
 * 6144 pages, which also empties the TLBs: the difference is what the run's page walks cost.
 * One packet per run (repeat 1); the empty program under the same flush is the baseline. */
static volatile uint64_t sink;
static size_t flush_stride = 64;
static void flush_caches(const uint8_t *buf, size_t len)
{
	uint64_t s = 0;
	for (size_t i = 0; i < len; i += flush_stride)
		s += buf[i];
	sink += s;
}

static double run1(int fd, const struct pkt *p, __u32 iif)
{
	struct __sk_buff ctx = {.ingress_ifindex = iif};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .repeat = 1, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	if (bpf_prog_test_run_opts(fd, &o)) {
		fprintf(stderr, "failed to run a cold case: %s\n", strerror(errno));
		exit(1);
	}
	return o.duration;
}

static int drop_record(void *ctx, void *data, size_t size) { return 0; }
/* drained before each run, as the loader does; NULL: left unread (BENCH_COLD_UNDRAINED=1, a loader behind) */
static struct ring_buffer *cold_rb;

/* mean ns of prog_a on a (and of prog_b on b, run right after it: a response after its request), each after a flush;
 * a comes into the pod (input interface lo), b leaves it */
static void cold_pair(int fd_a, const struct pkt *a, int fd_b, const struct pkt *b, const uint8_t *buf, size_t len,
		      int iters, double *mean_a, double *mean_b)
{
	double sa = 0, sb = 0;
	for (int i = 0; i < iters; i++) {
		if (cold_rb)
			ring_buffer__consume(cold_rb);
		flush_caches(buf, len);
		sa += run1(fd_a, a, IN);
		if (fd_b >= 0) {
			if (cold_rb)
				ring_buffer__consume(cold_rb);
			flush_caches(buf, len);
			sb += run1(fd_b, b, OUT);
		}
	}
	*mean_a = sa / iters;
	*mean_b = fd_b >= 0 ? sb / iters : 0;
}

struct bench_case {
	const char *name;
	struct bpf_program *prog;
	struct pkt *p;
	int stamped; /* the packet carries its sender's departure time (a sender on this node) */
	__u32 iif;   /* IN: into the pod, OUT: out of it (the body on a pod's eth0 reads it; see bench_ctx) */
};

/* an empty sched_cls program: the test-run loop's own cost, the floor every case stands on */
static int floor_fd = -1;
static double run_floor(const struct pkt *p, int repeat)
{
	struct __sk_buff ctx = {.ingress_ifindex = IN};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .repeat = repeat, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	return floor_fd >= 0 && !bpf_prog_test_run_opts(floor_fd, &o) ? (double)o.duration : -1;
}

static double run_case(const struct bench_case *c, int repeat)
{
	return bench_ctx(c->prog, c->p, repeat, c->stamped ? mono_ns() : 0, c->iif);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

/* "ab:A,B": cases A and B in alternating rounds (A first in even rounds, B first in odd ones), so that the machine's
 * drift (another tenant, frequency) falls on both alike; reports each one's min and median and the median of the
 * per-round ratio B/A with its quartiles. For a change worth a few ns, where whole runs differ by tens. */
static int ab_pair(const struct bench_case *cases, size_t n, const char *spec, int repeat, int rounds)
{
	char a[64], *b;
	snprintf(a, sizeof(a), "%s", spec);
	b = strchr(a, ',');
	if (!b || rounds < 4) {
		fprintf(stderr, "ab: want ab:CASE_A,CASE_B and at least 4 rounds\n");
		return 2;
	}
	*b++ = 0;
	const struct bench_case *ca = NULL, *cb = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(cases[i].name, a))
			ca = &cases[i];
		if (!strcmp(cases[i].name, b))
			cb = &cases[i];
	}
	if (!ca || !cb) {
		fprintf(stderr, "ab: no case named %s\n", ca ? b : a);
		return 2;
	}
	double *va = calloc(rounds, sizeof(double)), *vb = calloc(rounds, sizeof(double)), *vr = calloc(rounds, sizeof(double));
	for (int r = 0; r < rounds; r++) {
		if (r & 1) {
			vb[r] = run_case(cb, repeat);
			va[r] = run_case(ca, repeat);
		} else {
			va[r] = run_case(ca, repeat);
			vb[r] = run_case(cb, repeat);
		}
		vr[r] = vb[r] / va[r];
	}
	qsort(va, rounds, sizeof(double), cmp_double);
	qsort(vb, rounds, sizeof(double), cmp_double);
	qsort(vr, rounds, sizeof(double), cmp_double);
	printf("{\"case\": \"ab\", \"a\": \"%s\", \"b\": \"%s\", \"repeat\": %d, \"rounds\": %d, \"a_ns_min\": %.0f, "
	       "\"a_ns_median\": %.0f, \"b_ns_min\": %.0f, \"b_ns_median\": %.0f, \"ratio_b_a_median\": %.3f, "
	       "\"ratio_q1\": %.3f, \"ratio_q3\": %.3f}\n",
	       a, b, repeat, rounds, va[0], va[rounds / 2], vb[0], vb[rounds / 2], vr[rounds / 2], vr[rounds / 4],
	       vr[3 * rounds / 4]);
	free(va);
	free(vb);
	free(vr);
	return 0;
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 50;
	if (repeat < 1 || rounds < 1) {
		fprintf(stderr, "bench_testrun: REPEAT and ROUNDS must be positive numbers (got %s, %s)\n",
			argc > 1 ? argv[1] : "-", argc > 2 ? argv[2] : "-");
		return 2;
	}
	const int print_rounds = getenv("BENCH_ROUNDS") && !strcmp(getenv("BENCH_ROUNDS"), "1");
	/* one case by name (for perf record), others skipped; or "ab:A,B", two cases in alternating rounds (ab_pair) */
	const char *only = argc > 3 ? argv[3] : NULL;
	char err[256], cfgtext[4096];
	if (geteuid() != 0) {
		printf("{\"skipped\": \"not root\"}\n");
		return 0;
	}
	struct shadow_config cfg;
	snprintf(cfgtext, sizeof(cfgtext), CONFIG, self_cgroup_id());
	if (shadow_config_parse(cfgtext, &cfg, err, sizeof(err))) {
		fprintf(stderr, "failed to parse config: %s\n", err);
		return 1;
	}
	struct shadow_bpf *skel = shadow_bpf__open();
	if (!skel) {
		fprintf(stderr, "failed to open skeleton: %s\n", strerror(errno));
		return 1;
	}
	/* records as the probe runs by default: rate-limited, so the steady state is "bucket empty" after burst */
	if (shadow_bpf__load(skel)) {
		fprintf(stderr, "failed to load skeleton: %s\n", strerror(errno));
		return 1;
	}
	/* verifier budget used per program (limit 1,000,000): inlining trades against it */
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
			printf("{\"case\": \"verifier\", \"prog\": \"%s\", \"verified_insns\": %u, \"xlated_insns\": %u, "
			       "\"jited_bytes\": %u}\n", bpf_program__name(prog), info.verified_insns, info.xlated_prog_len / 8,
			       info.jited_prog_len);
	}
	struct shadow_map_fds fds = SHADOW_MAP_FDS(skel);
	if (shadow_config_apply(&cfg, &fds, err, sizeof(err))) {
		fprintf(stderr, "failed to apply config: %s\n", err);
		return 1;
	}
	struct pkt req, ack, syn, nopod, appreq, resp, tls;
	const char *http = "GET /api/v1/items HTTP/1.1\r\nHost: a\r\n\r\n";
	pkt_tcp(&req, "10.0.1.1", 40000, "10.0.0.1", 80, TH_PSH | TH_ACK, http);
	pkt_tcp(&ack, "10.0.1.1", 40000, "10.0.0.1", 80, TH_ACK, NULL);
	pkt_tcp(&syn, "10.0.1.1", 40001, "10.0.0.1", 22, TH_SYN, NULL);
	pkt_tcp(&nopod, "10.0.1.1", 40002, "10.9.9.9", 80, TH_SYN, NULL);
	pkt_tcp(&resp, "10.0.0.1", 80, "10.0.1.1", 40000, TH_PSH | TH_ACK, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	pkt_tcp(&appreq, "127.0.0.6", 50000, "127.0.0.1", 8080, TH_PSH | TH_ACK, http);
	/* a TLS application-data record on a flow already marked TLS (mTLS between sidecars: every wire packet) */
	pkt_tcp(&tls, "10.0.1.1", 40003, "10.0.0.1", 80, TH_PSH | TH_ACK,
		"\x17\x03\x03\x01\x40 encrypted bytes stand here, never parsed as HTTP ...........");
	struct bench_case cases[] = {
		/* tc on the pod's eth0 (how the loader attaches to pods): the body itself */
		{"tc_http_request", skel->progs.shadow_tc, &req, 0, IN},
		{"tc_http_request_stamped", skel->progs.shadow_tc, &req, 1, IN},
		{"tc_ack_known_flow", skel->progs.shadow_tc, &ack, 0, IN},
		{"tc_not_a_pod", skel->progs.shadow_tc, &nopod, 0, IN},
		{"tc_http_response_no_request", skel->progs.shadow_tc, &resp, 0, OUT},
		{"tc_tls_data_known_flow", skel->progs.shadow_tc, &tls, 0, IN},
		/* tc on a host-side veth: the stub names the direction and tail-calls the body */
		{"hostveth_tc_http_request", skel->progs.shadow_tc_to_pod, &req, 0, IN},
		{"hostveth_tc_http_request_stamped", skel->progs.shadow_tc_to_pod, &req, 1, IN},
		{"cgroup_skb_http_request", skel->progs.shadow_cg_egress, &appreq, 0, OUT},
		{"cgroup_skb_http_request_stamped", skel->progs.shadow_cg_egress, &appreq, 1, OUT},
	};
	const size_t ncases = sizeof(cases) / sizeof(cases[0]);
	/* baseline in the same run: an empty sched_cls program (the test-run loop's own cost) */
	{
		struct bpf_insn insns[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
					   {.code = BPF_JMP | BPF_EXIT}};
		floor_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "shadow_floor", "GPL", insns, 2, NULL);
		double best = 1e18, sum = 0;
		for (int r = 0; r < rounds && floor_fd >= 0; r++) {
			double ns = run_floor(&req, repeat);
			sum += ns;
			if (ns < best)
				best = ns;
		}
		printf("{\"case\": \"baseline_empty_program\", \"bytes\": %u, \"repeat\": %d, \"rounds\": %d, "
		       "\"ns_per_packet_min\": %.0f, \"ns_per_packet_mean\": %.1f}\n",
		       req.len, repeat, rounds, best, sum / rounds);
	}
	/* warm: create the CT entries of the request flow and of the TLS flow (its first record marks it TLS) */
	bench(skel->progs.shadow_tc, &req, 1, IN);
	bench(skel->progs.shadow_tc, &tls, 1, IN);
	if (only && !strncmp(only, "ab:", 3))
		return ab_pair(cases, ncases, only + 3, repeat, rounds);
	for (size_t i = 0; i < ncases; i++) {
		if (only && strcmp(only, cases[i].name))
			continue;
		double *v = calloc(rounds, sizeof(double)), sum = 0;
		if (!v)
			return 1;
		for (int r = 0; r < rounds; r++) {
			v[r] = run_case(&cases[i], repeat);
			sum += v[r];
			if (print_rounds) /* every round on stderr, in order, with the empty program right after */
				fprintf(stderr, "%s round %d: %.0f empty %.0f\n", cases[i].name, r, v[r], run_floor(cases[i].p, repeat));
		}
		qsort(v, rounds, sizeof(double), cmp_double);
		/* min: the program's own cost, in the round nothing else disturbed (interrupts, the hypervisor taking the
		 * vCPU or its sibling thread); median: a typical round on this machine as it is */
		printf("{\"case\": \"%s\", \"bytes\": %u, \"repeat\": %d, \"rounds\": %d, \"ns_per_packet_min\": %.0f, "
		       "\"ns_per_packet_median\": %.0f, \"ns_per_packet_mean\": %.1f, \"sender_stamp\": %s}\n",
		       cases[i].name, cases[i].p->len, repeat, rounds, v[0], v[rounds / 2], sum / rounds,
		       cases[i].stamped ? "true" : "false");
		free(v);
	}
	/* new flow: one packet per run with a fresh source port, CT insert, two policy lookups, record */
	if (!only || !strcmp(only, "tc_new_flow")) {
		int n = 20000;
		double sum = 0;
		for (int i = 0; i < n; i++) {
			pkt_tcp(&syn, "10.0.1.1", (uint16_t)(1024 + i), "10.0.0.1", 22, TH_SYN, NULL);
			sum += bench(skel->progs.shadow_tc, &syn, 1, IN);
		}
		/* repeat=1 timing includes the timer and a cold start: the same loop over the empty program is its baseline */
		struct bpf_insn insns[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
					   {.code = BPF_JMP | BPF_EXIT}};
		int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "shadow_floor", "GPL", insns, 2, NULL);
		double base = 0;
		for (int i = 0; i < n && fd >= 0; i++) {
			struct __sk_buff ctx = {.ingress_ifindex = IN}; /* as the SYN's */
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = syn.b, .data_size_in = syn.len, .repeat = 1,
				    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
			bpf_prog_test_run_opts(fd, &o);
			base += o.duration;
		}
		if (fd >= 0)
			close(fd);
		printf("{\"case\": \"baseline_empty_program_repeat1\", \"bytes\": %u, \"repeat\": 1, \"rounds\": %d, \"ns_per_packet_mean\": %.1f}\n",
		       syn.len, n, base / n);
		printf("{\"case\": \"tc_new_flow\", \"bytes\": %u, \"repeat\": 1, \"rounds\": %d, \"ns_per_packet_mean\": %.1f, "
		       "\"net_of_repeat1_baseline\": %.1f}\n",
		       syn.len, n, sum / n, (sum - base) / n);
	}
	/* cold: the request/response pair of one keep-alive flow, the ACK, the app-leg request, the empty program */
	if (!only || !strcmp(only, "cold")) {
		const size_t sizes[] = {2 << 20, 64 << 20, 6144 * 64, 6144 * (4096 + 64)};
		const size_t strides[] = {64, 64, 64, 4096 + 64};
		const char *names[] = {"l1l2_flushed", "l3_flushed", "6144_lines_96_pages", "6144_lines_6144_pages"};
		size_t big = sizes[1];
		uint8_t *buf = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED) {
			fprintf(stderr, "failed to map the flush buffer: %s\n", strerror(errno));
			return 1;
		}
		memset(buf, 1, big);
		/* BENCH_COLD_UNDRAINED=1: nobody reads the ring (a loader that fell behind) */
		int undrained = getenv("BENCH_COLD_UNDRAINED") && !strcmp(getenv("BENCH_COLD_UNDRAINED"), "1");
		cold_rb = undrained ? NULL : ring_buffer__new(bpf_map__fd(skel->maps.shadow_events), drop_record, NULL, NULL);
		if (!cold_rb && !undrained) {
			fprintf(stderr, "failed to open the ring buffer: %s\n", strerror(errno));
			return 1;
		}
		struct bpf_insn insns[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
					   {.code = BPF_JMP | BPF_EXIT}};
		int empty = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "shadow_floor", "GPL", insns, 2, NULL);
		int to = bpf_program__fd(skel->progs.shadow_tc), from = to;
		int cg = bpf_program__fd(skel->progs.shadow_cg_egress);
		for (int k = 0; k < 4; k++) {
			int iters = k == 1 ? 400 : 4000;
			flush_stride = strides[k];
			double e, rq, rs, ak, ap, unused;
			cold_pair(empty, &req, -1, NULL, buf, sizes[k], iters, &e, &unused);
			cold_pair(to, &req, from, &resp, buf, sizes[k], iters, &rq, &rs);
			cold_pair(to, &ack, -1, NULL, buf, sizes[k], iters, &ak, &unused);
			cold_pair(cg, &appreq, -1, NULL, buf, sizes[k], iters, &ap, &unused);
			printf("{\"case\": \"cold_%s%s\", \"flush_bytes\": %zu, \"flush_lines\": %zu, \"runs\": %d, \"empty_program\": %.0f, "
			       "\"tc_http_request\": %.0f, \"tc_http_response\": %.0f, \"tc_ack_known_flow\": %.0f, "
			       "\"cgroup_skb_http_request\": %.0f}\n",
			       names[k], undrained ? "_undrained" : "", sizes[k], sizes[k] / strides[k], iters, e, rq, rs, ak, ap);
		}
		if (cold_rb)
			ring_buffer__free(cold_rb);
		munmap(buf, big);
		if (empty >= 0)
			close(empty);
	}
	if (floor_fd >= 0)
		close(floor_fd);
	shadow_bpf__destroy(skel);
	shadow_config_free(&cfg);
	return 0;
}
