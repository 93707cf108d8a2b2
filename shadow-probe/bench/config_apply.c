// SPDX-License-Identifier: Apache-2.0
/*
 * Time and memory of turning a config into map entries (config.c), the loader's work at start and on every reload,
 * on configs from small to the tables' capacity. The maps are real (same types and sizes as the probe's, created
 * here, no programs), so the kernel's part of an update is in the figures.
 *
 *   config_apply [CASE...]   cases: rules:N (N port-range rules on one pod), pods:P:R (R rules on each of P pods,
 *                            as rules for every pod), named:P:R (R rules naming one of P pods each), l7:P:R (R L7
 *                            rules for every one of P pods, 8 per port), peerl7:P:R (R L7 rules naming a peer on
 *                            each of P pods: every request decided by the loader, timed as l7_user_ns), ids:N (N
 *                            identities), nested:N (N allows under N denies), random:N:SEED (see make())
 *
 * Prints one JSON line per case: parse and apply milliseconds (first apply into empty maps, then the same config
 * again, as a reload that changes nothing), the LPM entries written and the peak RSS of a process that did only
 * that case (each case runs in its own child).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "config.h"

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int lpm(const char *name, __u32 ks, __u32 vs, __u32 max)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	return bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, ks, vs, max, &o);
}

static int maps(struct shadow_map_fds *f)
{
	f->ipcache = lpm("shadow_ipcache", sizeof(struct shadow_ipcache_key), sizeof(struct shadow_identity), 16384);
	f->policy = lpm("shadow_policy", sizeof(struct shadow_policy_key), sizeof(struct shadow_policy_val), 65536);
	f->endpoints = bpf_map_create(BPF_MAP_TYPE_HASH, "shadow_endpoin", 4, sizeof(struct shadow_endpoint), 4096, NULL);
	f->cgroups = bpf_map_create(BPF_MAP_TYPE_HASH, "shadow_cgroups", 8, sizeof(struct shadow_endpoint), 4096, NULL);
	f->l7_hdr = bpf_map_create(BPF_MAP_TYPE_ARRAY, "data_l7hdr", 4, sizeof(struct shadow_l7_hdr), 1, NULL);
	f->l7_index = bpf_map_create(BPF_MAP_TYPE_ARRAY, "shadow_l7_index", 4, sizeof(struct shadow_l7_slot),
				     2 * SHADOW_L7_SLOTS, NULL);
	f->l7_sets = bpf_map_create(BPF_MAP_TYPE_ARRAY, "shadow_l7_sets", 4, sizeof(struct shadow_l7_set),
				    2 * SHADOW_L7_SETS_MAX, NULL);
	return f->ipcache < 0 || f->policy < 0 || f->endpoints < 0 || f->cgroups < 0 || f->l7_hdr < 0 || f->l7_index < 0 ||
	       f->l7_sets < 0;
}

struct buf {
	char *s;
	size_t n, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k >= 0 && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		b->cap = b->cap * 2 + 4096;
		b->s = realloc(b->s, b->cap);
	}
}

/* a config of the given shape; NULL if the case is not understood */
static char *make(const char *cs)
{
	unsigned a = 0, b = 0;
	struct buf j = {.s = malloc(4096), .cap = 4096};
	if (sscanf(cs, "rules:%u", &a) == 1) {
		/* ports 1-65535 expand to 16 prefixes per rule: 4,096 rules fill the policy trie */
		put(&j, "{\"pods\": [{\"name\": \"p\", \"ip\": \"10.0.0.1\"}], \"policy\": [");
		for (unsigned i = 0; i < a; i++)
			put(&j, "%s{\"pod\": \"p\", \"identity\": %u, \"direction\": \"ingress\", \"protocol\": \"TCP\", \"port\": 1, "
				"\"endPort\": 65535, \"action\": \"allow\", \"ruleId\": %u}", i ? ", " : "", 1000 + i, 1 + i);
	} else if (sscanf(cs, "pods:%u:%u", &a, &b) == 2) {
		put(&j, "{\"pods\": [");
		for (unsigned p = 0; p < a; p++)
			put(&j, "%s{\"name\": \"p%u\", \"ip\": \"10.1.%u.%u\"}", p ? ", " : "", p, p >> 8, p & 255);
		put(&j, "], \"policy\": [");
		for (unsigned i = 0; i < b; i++)
			put(&j, "%s{\"identity\": %u, \"direction\": \"%s\", \"protocol\": \"TCP\", \"port\": %u, \"action\": \"allow\", "
				"\"ruleId\": %u}", i ? ", " : "", 1000 + i / 4, i & 1 ? "egress" : "ingress", 8000 + i % 64, 1 + i);
	} else if (sscanf(cs, "named:%u:%u", &a, &b) == 2) {
		/* R rules, each naming one of P pods: the parse looks every rule's pod up by name */
		put(&j, "{\"pods\": [");
		for (unsigned p = 0; p < a; p++)
			put(&j, "%s{\"name\": \"ns-%u/pod-%u\", \"ip\": \"10.1.%u.%u\"}", p ? ", " : "", p % 97, p, p >> 8, p & 255);
		put(&j, "], \"policy\": [");
		for (unsigned i = 0; i < b; i++)
			put(&j, "%s{\"pod\": \"ns-%u/pod-%u\", \"identity\": %u, \"direction\": \"ingress\", \"protocol\": \"TCP\", "
				"\"port\": %u, \"action\": \"allow\", \"ruleId\": %u}", i ? ", " : "", (i % a) % 97, i % a, 1000 + i / a,
			    8000 + i % 16, 1 + i);
	} else if (sscanf(cs, "l7:%u:%u", &a, &b) == 2) {
		/* R L7 rules for every pod (none names one), 8 per port (the kernel's most per set): P x R/8 sets */
		put(&j, "{\"pods\": [");
		for (unsigned p = 0; p < a; p++)
			put(&j, "%s{\"name\": \"p%u\", \"ip\": \"10.1.%u.%u\"}", p ? ", " : "", p, p >> 8, p & 255);
		put(&j, "], \"l7\": [");
		for (unsigned i = 0; i < b; i++)
			put(&j, "%s{\"port\": %u, \"method\": \"GET\", \"pathPrefix\": \"/api/%u/\", \"ruleId\": %u}", i ? ", " : "",
			    8000 + i / 8, i, 1 + i);
	} else if (sscanf(cs, "peerl7:%u:%u", &a, &b) == 2) {
		/* R L7 rules on each of P pods, each naming a peer (ten ports, a peer per rule): the sets are per-peer, so the
		 * loader decides every request there in userspace (l7_user_ns) */
		put(&j, "{\"pods\": [");
		for (unsigned p = 0; p < a; p++)
			put(&j, "%s{\"name\": \"p%u\", \"ip\": \"10.1.%u.%u\"}", p ? ", " : "", p, p >> 8, p & 255);
		put(&j, "], \"l7\": [");
		for (unsigned p = 0, n = 0; p < a; p++)
			for (unsigned i = 0; i < b; i++, n++)
				put(&j, "%s{\"pod\": \"p%u\", \"port\": %u, \"identity\": %u, \"method\": \"GET\", "
					"\"pathPrefix\": \"/r%u\", \"ruleId\": %u}", n ? ", " : "", p, 8000 + i % 10, 1000 + i, i, 1 + n);
	} else if (sscanf(cs, "ids:%u", &a) == 1) {
		put(&j, "{\"pods\": [{\"name\": \"p\", \"ip\": \"10.0.0.1\"}], \"identities\": [");
		for (unsigned i = 0; i < a; i++)
			put(&j, "%s{\"ip\": \"10.%u.%u.%u\", \"identity\": %u}", i ? ", " : "", 2 + (i >> 16), (i >> 8) & 255, i & 255,
			    1000 + i);
	} else if (sscanf(cs, "nested:%u", &a) == 1) {
		/* a deny over a port range and an allow inside it, per peer: the allow must carry the deny */
		put(&j, "{\"pods\": [{\"name\": \"p\", \"ip\": \"10.0.0.1\"}], \"policy\": [");
		for (unsigned i = 0; i < a; i++)
			put(&j, "%s{\"pod\": \"p\", \"identity\": %u, \"direction\": \"ingress\", \"protocol\": \"TCP\", \"port\": 8000, "
				"\"endPort\": 8063, \"action\": \"deny\", \"ruleId\": %u}, {\"pod\": \"p\", \"identity\": %u, "
				"\"direction\": \"ingress\", \"protocol\": \"TCP\", \"port\": 8010, \"action\": \"allow\", \"ruleId\": %u}",
			    i ? ", " : "", 1000 + i, 1 + 2 * i, 1000 + i, 2 + 2 * i);
	} else if (sscanf(cs, "random:%u:%u", &a, &b) == 2) {
		/* overlapping port ranges of all three actions over a few peers (and any peer), in and out: nesting and
		 * duplicates everywhere, for comparing two builds' entries (CONFIG_APPLY_DUMP) */
		srand(b);
		put(&j, "{\"pods\": [{\"name\": \"p\", \"ip\": \"10.0.0.1\"}, {\"name\": \"q\", \"ip\": \"10.0.0.2\"}], \"policy\": [");
		static const char *act[] = {"allow", "deny", "audit"}, *proto[] = {"TCP", "UDP", ""};
		for (unsigned i = 0; i < a; i++) {
			unsigned lo = 1 + (unsigned)rand() % 200, hi = lo + (unsigned)rand() % (rand() % 4 ? 16 : 300);
			const char *pr = proto[rand() % 3];
			put(&j, "%s{%s\"identity\": %u, \"direction\": \"%s\"%s%s%s", i ? ", " : "",
			    rand() % 3 ? (rand() % 2 ? "\"pod\": \"p\", " : "\"pod\": \"q\", ") : "", (unsigned)rand() % 4,
			    rand() % 2 ? "ingress" : "egress", *pr ? ", \"protocol\": \"" : "", pr, *pr ? "\"" : "");
			if (rand() % 5)
				put(&j, ", \"port\": %u, \"endPort\": %u", lo, hi);
			put(&j, ", \"action\": \"%s\", \"ruleId\": %u}", act[rand() % 3], 1 + i);
		}
	} else {
		free(j.s);
		return NULL;
	}
	put(&j, "]}");
	return j.s;
}

/* every entry of the LPM maps as text, sorted by the kernel's key order: two builds can be compared with cmp */
static int dump_maps(const char *dir, const char *cs, const struct shadow_map_fds *f)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.entries", dir, cs);
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == ':')
			*p = '_';
	FILE *o = fopen(path, "w");
	if (!o) {
		perror(path);
		return 1;
	}
	struct shadow_policy_key k, *prev = NULL;
	struct shadow_policy_val v;
	while (bpf_map_get_next_key(f->policy, prev, &k) == 0) {
		if (bpf_map_lookup_elem(f->policy, &k, &v) == 0)
			fprintf(o, "policy %u %08x %04x %u %u %04x action %u rule %u\n", k.prefixlen, k.identity, k.ep, k.dir, k.proto,
				k.dport, v.action, v.rule_id);
		static struct shadow_policy_key cur;
		cur = k;
		prev = &cur;
	}
	struct shadow_ipcache_key ik, *iprev = NULL;
	struct shadow_identity iv;
	while (bpf_map_get_next_key(f->ipcache, iprev, &ik) == 0) {
		if (bpf_map_lookup_elem(f->ipcache, &ik, &iv) == 0)
			fprintf(o, "ipcache %u %08x identity %u\n", ik.prefixlen, ik.addr, iv.identity);
		static struct shadow_ipcache_key icur;
		icur = ik;
		iprev = &icur;
	}
	struct shadow_endpoint ev;
	__u32 ek, *eprev = NULL;
	while (bpf_map_get_next_key(f->endpoints, eprev, &ek) == 0) {
		if (bpf_map_lookup_elem(f->endpoints, &ek, &ev) == 0)
			fprintf(o, "endpoint %08x ep %u flags %u\n", ek, ev.ep, ev.flags);
		static __u32 ecur;
		ecur = ek;
		eprev = &ecur;
	}
	return fclose(o) != 0;
}

static int run(const char *cs)
{
	char *json = make(cs);
	if (!json) {
		fprintf(stderr, "config_apply: case %s not understood (rules:N, pods:P:R, named:P:R, l7:P:R, peerl7:P:R, ids:N, nested:N, "
			"random:N:SEED)\n", cs);
		return 2;
	}
	struct shadow_map_fds fds;
	if (maps(&fds)) {
		perror("config_apply: bpf_map_create (root needed)");
		return 2;
	}
	char err[700] = "";
	struct shadow_config c;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (shadow_config_parse(json, &c, err, sizeof(err))) {
		fprintf(stderr, "config_apply: %s: parse: %s\n", cs, err);
		return 1;
	}
	double parse = ms_since(&t0);
	free(json);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t entries = shadow_config_lpm_entries(&c);
	double count = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r1 = shadow_config_apply(&c, &fds, err, sizeof(err));
	double first = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r2 = r1 ? r1 : shadow_config_apply(&c, &fds, err, sizeof(err));
	double again = ms_since(&t0);
	if (r1 || r2) {
		fprintf(stderr, "config_apply: %s: apply: %s\n", cs, err);
		return 1;
	}
	const char *dump = getenv("CONFIG_APPLY_DUMP");
	if (dump && dump_maps(dump, cs, &fds))
		return 1;
	/* the loader's userspace L7 step for one record of the middle pod's fourth port (where the kernel deferred) */
	struct shadow_http_rec rec = {.ep = (__u16)(c.n_pods / 2 + 1), .server_port = 8003, .dir = SHADOW_DIR_INGRESS,
				      .where = SHADOW_WHERE_USER, .remote_id = 1003, .method = SHADOW_M_GET, .path_len = 4};
	memcpy(rec.path, "/r3x", 4);
	const int reps = 20000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < reps; i++) {
		struct shadow_http_rec r = rec;
		shadow_config_l7_user(&c, &r);
	}
	double l7_user_ns = ms_since(&t0) * 1e6 / reps;
	printf("{\"case\": \"%s\", \"rules\": %zu, \"identities\": %zu, \"l7\": %zu, \"lpm_entries\": %zu, \"parse_ms\": %.1f, "
	       "\"count_ms\": %.1f, \"apply_ms\": %.1f, \"reapply_ms\": %.1f, \"l7_user_ns\": %.0f",
	       cs, c.n_rules, c.n_ids, c.n_l7, entries, parse, count, first, again, l7_user_ns);
	fflush(stdout);
	shadow_config_free(&c);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *dflt[] = {"rules:256", "rules:1024", "rules:4000", "pods:64:512", "pods:512:64", "ids:16000",
				     "nested:1000", "nested:8000"};
	int n = argc > 1 ? argc - 1 : (int)(sizeof(dflt) / sizeof(dflt[0]));
	int bad = 0;
	for (int i = 0; i < n; i++) {
		const char *cs = argc > 1 ? argv[i + 1] : dflt[i];
		pid_t pid = fork();
		if (pid == 0)
			_exit(run(cs));
		int st;
		struct rusage ru;
		if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			bad = 1;
			continue;
		}
		printf(", \"peak_rss_mib\": %.1f}\n", ru.ru_maxrss / 1024.0);
		fflush(stdout);
	}
	return bad;
}
