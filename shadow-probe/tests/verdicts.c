// SPDX-License-Identifier: Apache-2.0
/*
 * The real programs' and loader's verdicts for requests, for differential tests against a reference
 * (test/integration/probe-differential.test.ts). Loads the BPF object once, then reads stdin line by line:
 *   config FILE                          parse FILE and apply it (replaces the previous config)
 *   req PEER POD PORT TCP                one connection from PEER to POD:PORT
 *   req PEER POD PORT UDP                one datagram from PEER to POD:PORT (a new UDP flow)
 *   req PEER POD PORT METHOD PATH        a connection carrying one HTTP request
 *   mtls PEER POD PORT METHOD PATH       the same request as a meshed pod's sidecar handles it (below)
 * and answers each req with one line: "allow" or "deny" ("unparsed" for a request line the kernel does not parse, an
 * unknown method), then the parts it came from:
 *   flow=<verdict of the flow's first packet> [http=<L7 verdict>/<where>]
 * TCP, UDP: the flow's verdict (audit counts as deny: it would be denied). HTTP: deny at L3/L4 ends it; else the wire leg's
 * L7 verdict after the loader's userspace step (shadow_config_l7_user), as the loader prints it; "none" (the port
 * has no L7 rules) is an allow. Each request is a new connection into the pod through the tc body as it sits on
 * the pod's eth0: SYN (flow record), the request on it, the pod's response (HTTP record). Root; BPF_PROG_TEST_RUN.
 *
 * mtls: the wire carries TLS (the SYN, then a TLS record: a flow record, no HTTP on the wire), and the request reaches
 * the app on the pod's loopback hop, 127.0.0.6:<port> -> 127.0.0.1:PORT, through the cgroup_skb program as the pod's
 * cgroup sends it (the harness gives the pod its own cgroup id for that run), then the app's answer. The answer is
 * the loader's JSON lines of the records (the flow, and the app leg's HTTP record after the userspace step), then a
 * line "end": the caller joins them with an access log entry as `migrate shadow` does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "config.h"
#include "pkt.h"
#include "records.h"
#include "self_cgroup.h"
#include "shadow.skel.h"

static struct {
	int flow, http;
	struct shadow_flow_rec f;
	struct shadow_http_rec h;
} got;

static int on_rec(void *ctx, void *data, size_t size)
{
	(void)ctx;
	__u16 type = ((struct shadow_rec_hdr *)data)->type;
	if (type == SHADOW_REC_FLOW && size >= sizeof(got.f) && !got.flow) {
		memcpy(&got.f, data, sizeof(got.f));
		got.flow = 1;
	} else if (type == SHADOW_REC_HTTP && size >= sizeof(got.h) && !got.http) {
		memcpy(&got.h, data, sizeof(got.h));
		got.http = 1;
	}
	return 0;
}

static int run_tc(struct shadow_bpf *s, const struct pkt *p, int to_pod)
{
	/* the body reads the direction from the input interface: this one (lo in a test run) at ingress */
	struct __sk_buff ctx = {.ingress_ifindex = to_pod ? 1 : 0};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	return bpf_prog_test_run_opts(bpf_program__fd(s->progs.shadow_tc), &o);
}

static int run_cg(struct shadow_bpf *s, const struct pkt *p)
{
	/* the test run's device is lo: the hop the program watches */
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len, .repeat = 1);
	return bpf_prog_test_run_opts(bpf_program__fd(s->progs.shadow_cg_egress), &o);
}

/* The pod with address ip, or NULL. */
static const struct cfg_pod *pod_at(const struct shadow_config *c, const char *ip)
{
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return NULL;
	for (size_t i = 0; i < c->n_pods; i++)
		if (c->pods[i].addr == a.s_addr)
			return &c->pods[i];
	return NULL;
}

static const char *pod_name(const struct shadow_config *c, __u16 ep)
{
	return ep >= 1 && ep <= c->n_pods ? c->pods[ep - 1].name : "";
}

/* The wall clock's offset from the monotonic one, as the loader prints record times. */
static __u64 mono_to_real(void)
{
	struct timespec rt, mt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	return (rt.tv_sec - mt.tv_sec) * 1000000000ULL + (rt.tv_nsec - mt.tv_nsec);
}

/* mtls: see the header. An error is one line on stdout, with no "end". */
static void mtls(struct shadow_bpf *s, struct ring_buffer *rb, struct shadow_config *cfg, const char *peer,
		 const char *pod, uint16_t port, const char *method, const char *path, unsigned sport)
{
	const struct cfg_pod *cp = pod_at(cfg, pod);
	static __u64 self_cg, wall_off;
	if (!self_cg)
		self_cg = self_cgroup_id(), wall_off = mono_to_real();
	struct shadow_endpoint ep;
	if (!cp || !cp->has_cgroup_id ||
	    bpf_map_lookup_elem(bpf_map__fd(s->maps.shadow_cgroups), &cp->cgroup_id, &ep) != 0) {
		printf("error %s is no pod with an app leg in the config (its cgroupId is not in shadow_cgroups)\n", pod);
		return;
	}
	/* this process's cgroup is the pod's for the app leg's packets */
	if (!self_cg || bpf_map_update_elem(bpf_map__fd(s->maps.shadow_cgroups), &self_cg, &ep, BPF_ANY)) {
		printf("error cannot give %s this process's cgroup (%llu): %s\n", pod, self_cg, strerror(errno));
		return;
	}
	memset(&got, 0, sizeof(got));
	ring_buffer__consume(rb);
	memset(&got, 0, sizeof(got));
	struct pkt p;
	char req[2200];
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method, path);
	/* the wire: SYN, then a TLS application-data record (nonzero length bytes: pkt_tcp takes a C string) */
	pkt_tcp(&p, peer, (uint16_t)sport, pod, port, TH_SYN, NULL);
	int e = run_tc(s, &p, 1);
	pkt_tcp(&p, peer, (uint16_t)sport, pod, port, TH_PSH | TH_ACK, "\x17\x03\x03\x01\x20" "ciphertext.......");
	e = e ?: run_tc(s, &p, 1);
	/* the app leg: the sidecar's connection to the app, from 127.0.0.6 (a source port of its own) */
	uint16_t asport = (uint16_t)(sport ^ 0x8000);
	pkt_tcp(&p, "127.0.0.6", asport, "127.0.0.1", port, TH_PSH | TH_ACK, req);
	e = e ?: run_cg(s, &p);
	pkt_tcp(&p, "127.0.0.1", port, "127.0.0.6", asport, TH_PSH | TH_ACK, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	e = e ?: run_cg(s, &p);
	ring_buffer__consume(rb);
	if (e || !got.flow) {
		printf("error no flow record (%s)\n", e ? strerror(errno) : "not emitted");
		return;
	}
	char line[REC_JSON_MAX + 1];
	size_t n = rec_json_flow(line, &got.f, got.f.hdr.ts_ns + wall_off, pod_name(cfg, got.f.ep));
	fwrite(line, 1, n, stdout);
	if (got.http) {
		shadow_config_l7_user(cfg, &got.h);
		n = rec_json_http(line, &got.h, got.h.hdr.ts_ns + wall_off, pod_name(cfg, got.h.ep), -1);
		fwrite(line, 1, n, stdout);
	}
	printf("end\n");
}

static int quiet(enum libbpf_print_level l, const char *f, va_list a)
{
	return l == LIBBPF_WARN ? vfprintf(stderr, f, a) : 0;
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "verdicts: not root (BPF_PROG_TEST_RUN needs CAP_BPF and CAP_NET_ADMIN)\n");
		return 77;
	}
	libbpf_set_print(quiet);
	char err[512];
	/* tables sized once, for every config to come: a CT far larger than the connections a run makes */
	struct shadow_config sizing;
	if (shadow_config_parse("{\"settings\": {\"ctFlows\": 262144}}", &sizing, err, sizeof(err))) {
		fprintf(stderr, "verdicts: %s\n", err);
		return 1;
	}
	struct shadow_bpf *s = shadow_bpf__open();
	if (!s || (s->rodata->cfg_rate_per_cpu = 100000000, s->rodata->cfg_burst = 10000000, SHADOW_SIZE_TABLES(s, &sizing)) ||
	    shadow_bpf__load(s)) {
		fprintf(stderr, "verdicts: failed to load the BPF programs: %s\n", strerror(errno));
		return 1;
	}
	shadow_config_free(&sizing);
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(s->maps.shadow_events), on_rec, NULL, NULL);
	struct shadow_map_fds fds = SHADOW_MAP_FDS(s);
	struct shadow_config cfg = {0};
	int have_cfg = 0;
	char line[4096];
	unsigned sport = 1024;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		static char a[6][1024];
		memset(a, 0, sizeof(a));
		int n = sscanf(line, "%1023s %1023s %1023s %1023s %1023s %1023s", a[0], a[1], a[2], a[3], a[4], a[5]);
		if (n == 2 && !strcmp(a[0], "config")) {
			if (have_cfg)
				shadow_config_free(&cfg);
			have_cfg = 0;
			if (shadow_config_load(a[1], &cfg, err, sizeof(err)) || shadow_config_apply(&cfg, &fds, err, sizeof(err))) {
				printf("error %s\n", err);
				continue;
			}
			have_cfg = 1;
			printf("ok\n");
			continue;
		}
		int is_mtls = n == 6 && !strcmp(a[0], "mtls");
		if (n < 5 || (strcmp(a[0], "req") && !is_mtls) || !have_cfg) {
			printf("error bad line (want: config FILE | req PEER POD PORT TCP|UDP|METHOD [PATH] | mtls PEER POD PORT METHOD PATH): %s\n", line);
			continue;
		}
		const char *peer = a[1], *pod = a[2];
		uint16_t port = (uint16_t)atoi(a[3]);
		int udp = !strcmp(a[4], "UDP");
		int http = !udp && strcmp(a[4], "TCP") != 0;
		if (++sport > 65535) { /* the ports come round again: forget every flow, so each request is a new one */
			sport = 1024;
			static struct shadow_ct_set empty;
			for (__u32 i = 0; i < bpf_map__max_entries(s->maps.shadow_ct); i++)
				bpf_map_update_elem(bpf_map__fd(s->maps.shadow_ct), &i, &empty, BPF_ANY);
		}
		if (is_mtls) {
			mtls(s, rb, &cfg, peer, pod, port, a[4], a[5], sport);
			continue;
		}
		memset(&got, 0, sizeof(got));
		ring_buffer__consume(rb);
		memset(&got, 0, sizeof(got));
		struct pkt p;
		if (udp)
			pkt_build(&p, peer, (uint16_t)sport, pod, port, 17, 0, "q", 1);
		else
			pkt_tcp(&p, peer, (uint16_t)sport, pod, port, TH_SYN, NULL);
		int e = run_tc(s, &p, 1);
		if (!e && http) {
			char req[2200];
			snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", a[4], n == 6 ? a[5] : "/");
			pkt_tcp(&p, peer, (uint16_t)sport, pod, port, TH_PSH | TH_ACK, req);
			e = run_tc(s, &p, 1);
			pkt_tcp(&p, pod, port, peer, (uint16_t)sport, TH_PSH | TH_ACK, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			e = e ?: run_tc(s, &p, 0);
		}
		ring_buffer__consume(rb);
		if (!e && got.flow && http && !got.http) { /* a request line the kernel does not parse (an unknown method) */
			printf("unparsed flow=%s\n", shadow_verdict_name(got.f.verdict));
			continue;
		}
		if (e || !got.flow || (http && !got.http)) {
			printf("error no %s record (%s)\n", !got.flow ? "flow" : "HTTP", e ? strerror(errno) : "not emitted");
			continue;
		}
		__u8 fv = got.f.verdict;
		int deny = fv == SHADOW_VERDICT_DENY || fv == SHADOW_VERDICT_AUDIT;
		if (!http || deny) {
			printf("%s flow=%s\n", deny ? "deny" : "allow", shadow_verdict_name(fv));
			continue;
		}
		shadow_config_l7_user(&cfg, &got.h);
		__u8 hv = got.h.verdict;
		printf("%s flow=%s http=%s/%s\n", hv == SHADOW_VERDICT_DENY || hv == SHADOW_VERDICT_AUDIT ? "deny" : "allow",
		       shadow_verdict_name(fv), shadow_verdict_name(hv), got.h.where == SHADOW_WHERE_USER ? "user" : got.h.where == SHADOW_WHERE_KERNEL ? "kernel" : "none");
	}
	if (have_cfg)
		shadow_config_free(&cfg);
	ring_buffer__free(rb);
	shadow_bpf__destroy(s);
	return 0;
}
