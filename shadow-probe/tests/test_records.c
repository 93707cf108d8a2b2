// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/*
 * Unit tests of src/records.c (userspace only, no BPF, no root):
 *  - every JSON line is byte for byte what the loader's printf formats gave before the hand-rolled writer (the
 *    formats are kept here as the reference), over random records: odd path bytes, every flag combination, values
 *    at their limits, out-of-range enums;
 *  - each line parses as JSON and carries the record's values (jansson);
 *  - legs_pair, which stops its scan early, pairs exactly as the full scan it replaced on random streams in the
 *    order the ring delivers them, and on hand-made cases.
 * Prints "N passed, N failed" like test_progs and exits non-zero on a failure.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "config.h"
#include "records.h"

static int passed, failed;

#define CHECK(cond, ...)                                                                                   \
	do {                                                                                               \
		if (!(cond)) {                                                                             \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);                               \
			fprintf(stderr, __VA_ARGS__);                                                      \
			fprintf(stderr, "\n");                                                             \
			return 1;                                                                          \
		}                                                                                          \
	} while (0)

static __u64 rng = 0x9e3779b97f4a7c15ULL;
static __u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- the reference: the printf formats of shadow.c before records.c (commit f874825) ---- */

struct sbuf {
	char b[4096];
	size_t n;
};
static void sp(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	s->n += vsnprintf(s->b + s->n, sizeof(s->b) - s->n, fmt, ap);
	va_end(ap);
}
static const char *ref_ip(__u32 addr, char *buf)
{
	inet_ntop(AF_INET, &addr, buf, INET_ADDRSTRLEN);
	return buf;
}
static void ref_json_str(struct sbuf *o, const char *s, size_t n)
{
	sp(o, "\"");
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\')
			sp(o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			sp(o, "\\u%04x", c);
		else
			sp(o, "%c", c);
	}
	sp(o, "\"");
}
static void ref_flags(struct sbuf *o, __u8 flags)
{
	static const char *names[] = {"reply", "midstream", "tls", "truncated", "nopolicy", "closing", "sidecar", "peer"};
	sp(o, ",\"flags\":[");
	int first = 1;
	for (int i = 0; i < 8; i++) {
		if (flags & (1 << i)) {
			sp(o, "%s\"%s\"", first ? "" : ",", names[i]);
			first = 0;
		}
	}
	sp(o, "]");
}
static void ref_http(struct sbuf *o, const struct shadow_http_rec *r, __u64 wall, const char *pod, __s64 overhead)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	sp(o, "{\"type\":\"http\",\"ts\":%llu,\"pod\":\"%s\",\"leg\":\"%s\",\"dir\":\"%s\",\"client\":\"%s:%u\","
	      "\"server\":\"%s:%u\",\"method\":\"%s\",\"path\":",
	   (unsigned long long)wall, pod, r->leg ? "app" : "wire", r->dir ? "egress" : "ingress",
	   ref_ip(r->client_addr, a), r->client_port, ref_ip(r->server_addr, b), r->server_port,
	   shadow_method_name(r->method));
	ref_json_str(o, r->path, r->path_len < SHADOW_PATH_MAX ? r->path_len : SHADOW_PATH_MAX);
	sp(o, ",\"status\":%u,\"latencyNs\":%llu,\"verdict\":\"%s\",\"where\":\"%s\",\"rule\":%u,\"remoteIdentity\":%u,"
	      "\"cgroupId\":%llu",
	   r->status, (unsigned long long)r->latency_ns, shadow_verdict_name(r->verdict), rec_where_name(r->where),
	   r->rule_id, r->remote_id, (unsigned long long)r->cgroup_id);
	if (overhead >= 0)
		sp(o, ",\"sidecarOverheadNs\":%lld", (long long)overhead);
	ref_flags(o, r->flags);
	sp(o, "}\n");
}
static void ref_flow(struct sbuf *o, const struct shadow_flow_rec *r, __u64 wall, const char *pod)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	sp(o, "{\"type\":\"flow\",\"ts\":%llu,\"pod\":\"%s\",\"dir\":\"%s\",\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\","
	      "\"dport\":%u,\"proto\":\"%s\",\"verdict\":\"%s\",\"where\":\"%s\",\"rule\":%u,\"remoteIdentity\":%u,"
	      "\"ifindex\":%u",
	   (unsigned long long)wall, pod, r->dir ? "egress" : "ingress", ref_ip(r->saddr, a), r->sport,
	   ref_ip(r->daddr, b), r->dport, rec_proto_name(r->proto), shadow_verdict_name(r->verdict),
	   rec_where_name(r->where), r->rule_id, r->remote_id, r->ifindex);
	ref_flags(o, r->flags);
	sp(o, "}\n");
}
static void ref_conn(struct sbuf *o, const struct shadow_conn_rec *r, __u64 wall, const char *pod)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	sp(o, "{\"type\":\"conn\",\"ts\":%llu,\"pod\":\"%s\",\"event\":\"%s\",\"local\":\"%s:%u\",\"remote\":\"%s:%u\","
	      "\"srttUs\":%u,\"retrans\":%u,\"bytesAcked\":%llu,\"bytesReceived\":%llu,\"durationNs\":%llu}\n",
	   (unsigned long long)wall, pod,
	   r->event == SHADOW_CONN_CLOSE ? "close" : r->event == SHADOW_CONN_ACTIVE ? "active" : "passive",
	   ref_ip(r->saddr, a), r->sport, ref_ip(r->daddr, b), r->dport, r->srtt_us, r->total_retrans,
	   (unsigned long long)r->bytes_acked, (unsigned long long)r->bytes_received, (unsigned long long)r->duration_ns);
}

/* the full scan legs_pair replaced (shadow.c pair_legs before records.c) */
static __s64 ref_pair(struct legs *l, const struct shadow_http_rec *r)
{
	__u64 end = r->hdr.ts_ns, start = end - r->latency_ns;
	if (r->leg == SHADOW_LEG_APP) {
		struct legs_recent *a = &l->recent[l->next++ % LEGS_RECENT];
		a->start_ns = start;
		a->end_ns = end;
		a->ep = r->ep;
		a->method = r->method;
		a->used = 0;
		a->path_len = r->path_len;
		memcpy(a->path, r->path, SHADOW_PATH_MAX);
		return -1;
	}
	struct legs_recent *best = NULL;
	for (unsigned i = 0; i < LEGS_RECENT; i++) {
		struct legs_recent *a = &l->recent[i];
		if (a->used || a->ep != r->ep || a->method != r->method || a->path_len != r->path_len ||
		    a->start_ns < start || a->end_ns > end ||
		    memcmp(a->path, r->path, r->path_len < SHADOW_PATH_MAX ? r->path_len : SHADOW_PATH_MAX))
			continue;
		if (!best || a->start_ns < best->start_ns)
			best = a;
	}
	if (!best)
		return -1;
	best->used = 1;
	return (__s64)r->latency_ns - (__s64)(best->end_ns - best->start_ns);
}

/* ---- random records ---- */

static __u64 rnd_u64(void)
{
	switch (rnd() % 4) {
	case 0:
		return 0;
	case 1:
		return ~0ULL;
	case 2:
		return rnd() % 1000;
	default:
		return rnd();
	}
}

static void rnd_path(char *path, __u16 *len)
{
	static const char odd[] = {'"', '\\', '\n', '\t', 0x01, 0x1f, 0x7f, (char)0x80, (char)0xff, ' ', '/', 0};
	memset(path, 0, SHADOW_PATH_MAX);
	__u32 n = rnd() % (SHADOW_PATH_MAX + 1);
	for (__u32 i = 0; i < n; i++)
		path[i] = rnd() % 4 ? (char)('a' + rnd() % 26) : odd[rnd() % sizeof(odd)];
	/* path_len may claim more than SHADOW_PATH_MAX (clipped) or stop before a NUL */
	*len = rnd() % 8 == 0 ? SHADOW_PATH_MAX + rnd() % 100 : n;
}

static const char *pods[] = {"", "reviews", "a-pod-name-of-sixty-three-characters-which-is-the-most-cfg-hasx"};

static int test_http_lines(void)
{
	for (int i = 0; i < 20000; i++) {
		struct shadow_http_rec r;
		memset(&r, 0, sizeof(r));
		r.client_addr = rnd();
		r.server_addr = rnd();
		r.client_port = rnd();
		r.server_port = rnd();
		r.leg = rnd() % 3;
		r.dir = rnd() % 3;
		r.method = rnd() % 10;
		r.status = rnd() % 3 ? 100 + rnd() % 500 : rnd();
		r.verdict = rnd() % 6;
		r.where = rnd() % 4;
		r.flags = i % 256;
		r.rule_id = rnd_u64();
		r.remote_id = rnd_u64();
		r.latency_ns = rnd_u64();
		r.cgroup_id = rnd_u64();
		rnd_path(r.path, &r.path_len);
		__u64 wall = rnd_u64();
		__s64 overhead = rnd() % 3 == 0 ? -1 : rnd() % 3 == 0 ? (__s64)(rnd() >> 1) : (__s64)(rnd() % 100000);
		const char *pod = pods[i % 3];
		struct sbuf want = {0};
		ref_http(&want, &r, wall, pod, overhead);
		char got[REC_JSON_MAX];
		size_t n = rec_json_http(got, &r, wall, pod, overhead);
		CHECK(n == want.n && !memcmp(got, want.b, n), "http record %d:\n got  %.*s want %s", i, (int)n, got, want.b);
	}
	return 0;
}

static int test_flow_and_conn_lines(void)
{
	for (int i = 0; i < 20000; i++) {
		struct shadow_flow_rec f;
		memset(&f, 0, sizeof(f));
		f.saddr = rnd();
		f.daddr = rnd();
		f.sport = rnd();
		f.dport = rnd();
		f.proto = (__u8[]){1, 6, 17, 0, 132}[rnd() % 5];
		f.dir = rnd() % 3;
		f.verdict = rnd() % 6;
		f.where = rnd() % 4;
		f.rule_id = rnd_u64();
		f.remote_id = rnd_u64();
		f.ifindex = rnd_u64();
		f.flags = i % 256;
		__u64 wall = rnd_u64();
		struct sbuf want = {0};
		ref_flow(&want, &f, wall, pods[i % 3]);
		char got[REC_JSON_MAX];
		size_t n = rec_json_flow(got, &f, wall, pods[i % 3]);
		CHECK(n == want.n && !memcmp(got, want.b, n), "flow record %d:\n got  %.*s want %s", i, (int)n, got, want.b);

		struct shadow_conn_rec c;
		memset(&c, 0, sizeof(c));
		c.saddr = rnd();
		c.daddr = rnd();
		c.sport = rnd();
		c.dport = rnd();
		c.event = rnd() % 5;
		c.srtt_us = rnd_u64();
		c.total_retrans = rnd_u64();
		c.bytes_acked = rnd_u64();
		c.bytes_received = rnd_u64();
		c.duration_ns = rnd_u64();
		struct sbuf want_c = {0};
		ref_conn(&want_c, &c, wall, pods[i % 3]);
		n = rec_json_conn(got, &c, wall, pods[i % 3]);
		CHECK(n == want_c.n && !memcmp(got, want_c.b, n), "conn record %d:\n got  %.*s want %s", i, (int)n, got,
		      want_c.b);
	}
	return 0;
}

/* The line is JSON and says what the record holds (not only what the old format said). */
static int test_http_line_parses(void)
{
	struct shadow_http_rec r;
	memset(&r, 0, sizeof(r));
	r.client_addr = htonl(0x0ae90005); /* 10.233.0.5 */
	r.server_addr = htonl(0x7f000001);
	r.client_port = 40001;
	r.server_port = 9080;
	r.leg = SHADOW_LEG_APP;
	r.method = 2; /* POST */
	r.status = 403;
	r.verdict = SHADOW_VERDICT_DENY;
	r.where = SHADOW_WHERE_KERNEL;
	r.rule_id = 7;
	r.latency_ns = 9223372036854775807ULL; /* jansson's largest integer */
	r.flags = SHADOW_F_TRUNC;
	const char path[] = "/a\"b\\c\x01\xff";
	memcpy(r.path, path, sizeof(path) - 1);
	r.path_len = sizeof(path) - 1;
	char line[REC_JSON_MAX];
	size_t n = rec_json_http(line, &r, 1795324456907428829ULL, "reviews", 1234);
	CHECK(n > 0 && line[n - 1] == '\n', "no newline at the end");
	json_error_t e;
	json_t *j = json_loadb(line, n, 0, &e);
	CHECK(j, "not JSON (%s): %.*s", e.text, (int)n, line);
	int ok = !strcmp(json_string_value(json_object_get(j, "client")), "10.233.0.5:40001") &&
		 !strcmp(json_string_value(json_object_get(j, "server")), "127.0.0.1:9080") &&
		 !strcmp(json_string_value(json_object_get(j, "method")), "POST") &&
		 !strcmp(json_string_value(json_object_get(j, "verdict")), "deny") &&
		 !strcmp(json_string_value(json_object_get(j, "leg")), "app") &&
		 !strcmp(json_string_value(json_object_get(j, "path")), "/a\"b\\c\x01\xc3\xbf") &&
		 json_integer_value(json_object_get(j, "status")) == 403 &&
		 json_integer_value(json_object_get(j, "latencyNs")) == 9223372036854775807LL &&
		 json_integer_value(json_object_get(j, "sidecarOverheadNs")) == 1234 &&
		 !strcmp(json_string_value(json_array_get(json_object_get(j, "flags"), 0)), "truncated");
	json_decref(j);
	CHECK(ok, "a field does not carry the record's value: %.*s", (int)n, line);
	return 0;
}

/* ---- legs ---- */

static struct shadow_http_rec leg_rec(__u8 leg, __u16 ep, __u8 method, const char *path, __u64 start, __u64 end)
{
	struct shadow_http_rec r;
	memset(&r, 0, sizeof(r));
	r.leg = leg;
	r.ep = ep;
	r.method = method;
	r.dir = SHADOW_DIR_INGRESS;
	r.path_len = strlen(path);
	memcpy(r.path, path, r.path_len);
	r.hdr.ts_ns = end;
	r.latency_ns = end - start;
	return r;
}

static int test_legs_cases(void)
{
	static struct legs l;
	memset(&l, 0, sizeof(l));
	const __u64 ms = 1000000, t = 1000000 * ms;
	struct shadow_http_rec app1 = leg_rec(SHADOW_LEG_APP, 1, 1, "/x", t + 2 * ms, t + 5 * ms);
	struct shadow_http_rec app2 = leg_rec(SHADOW_LEG_APP, 1, 1, "/x", t + 1 * ms, t + 6 * ms);
	struct shadow_http_rec other = leg_rec(SHADOW_LEG_APP, 1, 1, "/y", t + 1 * ms, t + 6 * ms);
	CHECK(legs_pair(&l, &app1) == -1 && legs_pair(&l, &app2) == -1 && legs_pair(&l, &other) == -1,
	      "an app leg returned an overhead");
	struct shadow_http_rec wire = leg_rec(SHADOW_LEG_WIRE, 1, 1, "/x", t, t + 7 * ms);
	/* both app legs lie inside; the one that started first pairs: 7 ms - 5 ms */
	CHECK(legs_pair(&l, &wire) == (__s64)(2 * ms), "first pair: want 2 ms");
	CHECK(legs_pair(&l, &wire) == (__s64)(4 * ms), "second pair: want the other app leg (7 - 3 ms)");
	CHECK(legs_pair(&l, &wire) == -1, "an app leg was used twice");
	/* another pod, method, or a wire leg that does not contain the app leg: no pair */
	struct shadow_http_rec app3 = leg_rec(SHADOW_LEG_APP, 1, 1, "/z", t + 20 * ms, t + 22 * ms);
	legs_pair(&l, &app3);
	struct shadow_http_rec w_ep = leg_rec(SHADOW_LEG_WIRE, 2, 1, "/z", t + 19 * ms, t + 23 * ms);
	struct shadow_http_rec w_m = leg_rec(SHADOW_LEG_WIRE, 1, 2, "/z", t + 19 * ms, t + 23 * ms);
	struct shadow_http_rec w_late = leg_rec(SHADOW_LEG_WIRE, 1, 1, "/z", t + 21 * ms, t + 23 * ms);
	CHECK(legs_pair(&l, &w_ep) == -1 && legs_pair(&l, &w_m) == -1 && legs_pair(&l, &w_late) == -1,
	      "paired across pods, methods, or with an app leg that started before the wire leg");
	/* an app leg far older than the stop point is not reached, and could not pair anyway */
	struct shadow_http_rec w_old = leg_rec(SHADOW_LEG_WIRE, 1, 1, "/z", t + 500 * ms, t + 501 * ms);
	CHECK(legs_pair(&l, &w_old) == -1, "paired with an app leg that ended before the wire leg began");
	return 0;
}

/* Random streams in ring order: requests on a few pods and paths, overlapping, app records delivered when their
 * response leaves with up to 1 ms of disorder (far more than two CPUs cause, far less than the slack), a share of
 * either leg dropped (the rate limit). The early stop must pair exactly as the full scan (with no slack it does not:
 * checked by hand). */
static int test_legs_equal_full_scan(void)
{
	for (int run = 0; run < 40; run++) {
		static struct legs fast, full;
		memset(&fast, 0, sizeof(fast));
		memset(&full, 0, sizeof(full));
		enum { N = 6000 };
		static struct shadow_http_rec ev[2 * N];
		static __u64 key[2 * N];
		int m = 0;
		__u64 now = 5000000000ULL;
		const char *paths[] = {"/reviews/1", "/reviews/2", "/ratings", "/"};
		for (int i = 0; i < N; i++) {
			now += rnd() % (run % 2 ? 2000000 : 300000); /* up to 2 ms or 0.3 ms between request starts */
			__u64 ws = now, as = ws + 20000 + rnd() % 200000, ae = as + 1000 + rnd() % 3000000,
			      we = ae + 10000 + rnd() % 200000;
			__u16 ep = 1 + rnd() % 3;
			__u8 method = 1 + rnd() % 2;
			const char *path = paths[rnd() % 4];
			int drop = rnd() % 4; /* 0: app dropped, 1: wire dropped */
			if (drop != 0) {
				ev[m] = leg_rec(SHADOW_LEG_APP, ep, method, path, as, ae);
				key[m++] = ae + rnd() % 1000000;
			}
			if (drop != 1) {
				ev[m] = leg_rec(SHADOW_LEG_WIRE, ep, method, path, ws, we);
				key[m++] = we + rnd() % 1000000;
			}
		}
		/* ring order: by the (jittered) time the response left */
		for (int i = 1; i < m; i++)
			for (int j = i; j > 0 && key[j - 1] > key[j]; j--) {
				struct shadow_http_rec tr = ev[j];
				ev[j] = ev[j - 1];
				ev[j - 1] = tr;
				__u64 tk = key[j];
				key[j] = key[j - 1];
				key[j - 1] = tk;
			}
		int paired = 0;
		for (int i = 0; i < m; i++) {
			__s64 a = legs_pair(&fast, &ev[i]), b = ref_pair(&full, &ev[i]);
			CHECK(a == b, "run %d, record %d of %d: early stop %lld, full scan %lld", run, i, m, (long long)a,
			      (long long)b);
			paired += a >= 0;
		}
		CHECK(paired > N / 4, "run %d: only %d pairs: the stream does not test pairing", run, paired);
	}
	return 0;
}

int main(void)
{
	struct {
		const char *name;
		int (*fn)(void);
	} cases[] = {
		{"http lines equal the printf format", test_http_lines},
		{"flow and conn lines equal the printf formats", test_flow_and_conn_lines},
		{"an http line is JSON with the record's values", test_http_line_parses},
		{"legs: pairing rules", test_legs_cases},
		{"legs: the early stop pairs as the full scan", test_legs_equal_full_scan},
	};
	int n = sizeof(cases) / sizeof(cases[0]);
	for (int i = 0; i < n; i++) {
		if (cases[i].fn() == 0) {
			passed++;
			printf("ok   %s\n", cases[i].name);
		} else {
			failed++;
			printf("FAIL %s\n", cases[i].name);
		}
	}
	printf("records: %d passed, %d failed, 0 skipped\n", passed, failed);
	return failed ? 1 : 0;
}
