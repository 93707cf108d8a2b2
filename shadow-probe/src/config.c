// SPDX-License-Identifier: Apache-2.0
/* Configuration file -> map entries. See config.h and README.md for the format. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "config.h"
#include "json_stream.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *shadow_method_name(__u8 m)
{
	static const char *names[] = {"", "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"};
	return m < sizeof(names) / sizeof(names[0]) ? names[m] : "";
}

const char *shadow_verdict_name(__u8 v)
{
	static const char *names[] = {"none", "allow", "deny", "audit"};
	return v < 4 ? names[v] : "none";
}

static int parse_method(const char *s)
{
	for (int m = 1; m <= SHADOW_M_OPTIONS; m++)
		if (!strcasecmp(s, shadow_method_name(m)))
			return m;
	return -1;
}

static int parse_cidr(const char *s, __u32 *addr, __u8 *plen)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", s);
	char *slash = strchr(buf, '/');
	int p = 32;
	if (slash) {
		*slash = 0;
		char *end;
		long v = strtol(slash + 1, &end, 10);
		if (*end || v < 0 || v > 32)
			return -1;
		p = (int)v;
	}
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	__u32 mask = p ? htonl(~0U << (32 - p)) : 0;
	*addr = a.s_addr & mask;
	*plen = (__u8)p;
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long jint(json_t *o, const char *k, long long dflt)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* An optional peer identity (policy[], l7[]): absent or null is 0, any peer. Anything else must be an integer in
 * range: a string or a negative number read as "absent" would widen a rule to every peer. -1 if it is not. */
static int jpeer(json_t *o, __u32 *out)
{
	json_t *v = json_object_get(o, "identity");
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffLL)
		return -1;
	*out = (__u32)json_integer_value(v);
	return 0;
}

/* A table size setting: absent, the default; else a power of two 2^(bits + shift) with bits in [min, max]. */
static int table_bits(json_t *st, const char *k, __u32 min, __u32 dflt, __u32 max, __u32 shift, __u32 *bits, char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(st, k);
	*bits = dflt;
	if (!v)
		return 0;
	json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
	for (__u32 b = min; b <= max; b++)
		if (n == (json_int_t)1 << (b + shift)) {
			*bits = b;
			return 0;
		}
	return fail(err, errlen, "settings.%s must be a power of two from %llu to %llu (default %llu)", k,
		    1ULL << (min + shift), 1ULL << (max + shift), 1ULL << (dflt + shift));
}

/* pods by name, for the rules that name one: sorted once, so a config of many rules over many pods is not a scan per
 * rule. The first pod listed under a name wins, as the scan had it. */
struct pod_names {
	const struct cfg_pod **by_name;
	size_t n;
};

static int pod_name_cmp(const void *x, const void *y)
{
	const struct cfg_pod *a = *(const struct cfg_pod *const *)x, *b = *(const struct cfg_pod *const *)y;
	int c = strcmp(a->name, b->name);
	return c ? c : (a->ep > b->ep) - (a->ep < b->ep);
}

static void pod_names_index(const struct shadow_config *c, struct pod_names *ix)
{
	ix->n = c->n_pods;
	ix->by_name = malloc((c->n_pods + 1) * sizeof(*ix->by_name));
	for (size_t i = 0; i < c->n_pods; i++)
		ix->by_name[i] = &c->pods[i];
	qsort(ix->by_name, ix->n, sizeof(*ix->by_name), pod_name_cmp);
}

static int pod_ep(const struct pod_names *ix, const char *name)
{
	size_t lo = 0, hi = ix->n; /* the first entry whose name is not below name */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix->by_name[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ix->n && !strcmp(ix->by_name[lo]->name, name) ? ix->by_name[lo]->ep : -1;
}

static int settings_from(json_t *st, struct shadow_config *c, char *err, size_t errlen)
{
	c->rate = jint(st, "rate", c->rate);
	c->burst = jint(st, "burst", c->burst);
	c->sample_every = jint(st, "sampleEvery", c->sample_every);
	c->outbound_port = jint(st, "outboundPort", c->outbound_port);
	c->interval_ms = jint(st, "intervalMs", c->interval_ms);
	if (!c->sample_every)
		c->sample_every = 1;
	/* 8 ways per CT set, 2 slots per in-flight pair */
	if (table_bits(st, "ctFlows", SHADOW_CT_SET_BITS_MIN, SHADOW_CT_SET_BITS_DEFAULT, SHADOW_CT_SET_BITS_MAX, 3,
		       &c->ct_set_bits, err, errlen) ||
	    table_bits(st, "inflightSlots", SHADOW_INFLIGHT_PAIR_BITS_MIN, SHADOW_INFLIGHT_PAIR_BITS_DEFAULT,
		       SHADOW_INFLIGHT_PAIR_BITS_MAX, 1, &c->inflight_pair_bits, err, errlen))
		return -1;
	return 0;
}

static int pod_from(json_t *it, size_t i, struct cfg_pod *p, char *err, size_t errlen)
{
	const char *s;
	if (!(s = jstr(it, "name")))
		return fail(err, errlen, "pods[%zu]: name missing", i);
	snprintf(p->name, sizeof(p->name), "%s", s);
	if ((s = jstr(it, "netns")))
		snprintf(p->netns, sizeof(p->netns), "%s", s);
	if ((s = jstr(it, "ifname")))
		snprintf(p->ifname, sizeof(p->ifname), "%s", s);
	if ((s = jstr(it, "hostIfname")))
		snprintf(p->host_ifname, sizeof(p->host_ifname), "%s", s);
	if ((s = jstr(it, "hostNetns")))
		snprintf(p->host_netns, sizeof(p->host_netns), "%s", s);
	if ((s = jstr(it, "cgroup")))
		snprintf(p->cgroup, sizeof(p->cgroup), "%s", s);
	if ((s = jstr(it, "uid")))
		snprintf(p->uid, sizeof(p->uid), "%s", s);
	__u8 plen;
	s = jstr(it, "ip");
	if ((s || !p->uid[0]) && (!s || parse_cidr(s, &p->addr, &plen) || plen != 32))
		return fail(err, errlen, "pods[%zu] (%s): ip missing or not an IPv4 address (give ip, or uid to find it on the node)",
			    i, p->name);
	p->identity = jint(it, "identity", 0);
	json_t *sc = json_object_get(it, "sidecar");
	p->sidecar = !sc ? -1 : json_is_null(sc) || json_is_false(sc) ? 0 : 1;
	p->default_deny[SHADOW_DIR_INGRESS] = p->default_deny[SHADOW_DIR_EGRESS] = -1;
	json_t *dd = json_object_get(it, "defaultDeny");
	if (dd && !json_is_null(dd)) {
		if (!json_is_object(dd))
			return fail(err, errlen, "pods[%zu] (%s): defaultDeny must be an object like {\"ingress\": true}", i, p->name);
		static const char *const dirs[2] = {[SHADOW_DIR_INGRESS] = "ingress", [SHADOW_DIR_EGRESS] = "egress"};
		for (int d = 0; d < 2; d++) {
			json_t *v = json_object_get(dd, dirs[d]);
			if (!v || json_is_null(v))
				continue;
			if (!json_is_boolean(v))
				return fail(err, errlen, "pods[%zu] (%s): defaultDeny.%s must be true or false", i, p->name, dirs[d]);
			p->default_deny[d] = json_is_true(v);
		}
	}
	if (json_is_integer(json_object_get(it, "cgroupId"))) {
		p->cgroup_id = jint(it, "cgroupId", 0);
		p->has_cgroup_id = 1;
	}
	p->discover = !p->netns[0] && !p->ifname[0] && !p->host_ifname[0] && !p->cgroup[0] && !p->has_cgroup_id;
	return 0;
}

static int identity_from(json_t *it, size_t i, struct cfg_identity *d, char *err, size_t errlen)
{
	const char *s = jstr(it, "cidr");
	if (!s)
		s = jstr(it, "ip");
	if (!s || parse_cidr(s, &d->addr, &d->plen))
		return fail(err, errlen, "identities[%zu]: cidr or ip missing or invalid", i);
	long long id = jint(it, "identity", -1);
	if (id <= 0 || id > 0xffffffffLL)
		return fail(err, errlen, "identities[%zu]: identity must be a positive integer", i);
	d->identity = (__u32)id;
	return 0;
}

static int policy_from(json_t *it, size_t i, const struct pod_names *names, struct cfg_policy *r, char *err, size_t errlen)
{
	const char *s;
	if (jpeer(it, &r->identity))
		return fail(err, errlen, "policy[%zu]: identity must be a number from 0 (any peer) to 4294967295", i);
	if ((s = jstr(it, "pod"))) {
		int ep = pod_ep(names, s);
		if (ep < 0)
			return fail(err, errlen, "policy[%zu]: unknown pod %s", i, s);
		r->ep = ep;
	}
	s = jstr(it, "direction");
	if (!s || (strcmp(s, "ingress") && strcmp(s, "egress")))
		return fail(err, errlen, "policy[%zu]: direction must be ingress or egress", i);
	r->dir = !strcmp(s, "ingress") ? SHADOW_DIR_INGRESS : SHADOW_DIR_EGRESS;
	s = jstr(it, "protocol");
	if (!s || !strcasecmp(s, "ANY"))
		r->proto = 0;
	else if (!strcasecmp(s, "TCP"))
		r->proto = 6;
	else if (!strcasecmp(s, "UDP"))
		r->proto = 17;
	else if (!strcasecmp(s, "ICMP"))
		r->proto = 1;
	else
		return fail(err, errlen, "policy[%zu]: protocol must be TCP, UDP, ICMP or ANY", i);
	long long port = jint(it, "port", 0), end = jint(it, "endPort", 0);
	if (port < 0 || port > 65535 || end < 0 || end > 65535 || (end && end < port))
		return fail(err, errlen, "policy[%zu]: port/endPort out of range", i);
	r->port = port;
	r->end_port = end ? end : port;
	s = jstr(it, "action");
	if (!s || !strcmp(s, "allow"))
		r->action = SHADOW_ACT_ALLOW;
	else if (!strcmp(s, "deny"))
		r->action = SHADOW_ACT_DENY;
	else if (!strcmp(s, "audit"))
		r->action = SHADOW_ACT_AUDIT;
	else
		return fail(err, errlen, "policy[%zu]: action must be allow, deny or audit", i);
	r->rule_id = (__u32)jint(it, "ruleId", (long long)i + 1);
	return 0;
}

static int l7_from(json_t *it, size_t i, const struct pod_names *names, struct cfg_l7 *l, char *err, size_t errlen)
{
	const char *s;
	if ((s = jstr(it, "pod"))) {
		int ep = pod_ep(names, s);
		if (ep < 0)
			return fail(err, errlen, "l7[%zu]: unknown pod %s", i, s);
		l->ep = ep;
	}
	long long port = jint(it, "port", -1);
	if (port <= 0 || port > 65535)
		return fail(err, errlen, "l7[%zu]: port missing", i);
	l->port = port;
	s = jstr(it, "direction");
	if (s && strcmp(s, "ingress") && strcmp(s, "egress"))
		return fail(err, errlen, "l7[%zu]: direction must be ingress or egress", i);
	l->dir = s && !strcmp(s, "egress") ? SHADOW_DIR_EGRESS : SHADOW_DIR_INGRESS;
	if ((s = jstr(it, "method")) && strcmp(s, "*") && strcmp(s, "")) {
		int m = parse_method(s);
		if (m < 0)
			return fail(err, errlen, "l7[%zu]: unsupported method %s", i, s);
		l->method = m;
	}
	static const struct { const char *key; __u8 kind; } kinds[] = {
		{"pathExact", SHADOW_PATH_EXACT}, {"pathPrefix", SHADOW_PATH_PREFIX},
		{"pathSuffix", SHADOW_PATH_SUFFIX}, {"pathRegex", SHADOW_PATH_REGEX}};
	l->kind = SHADOW_PATH_ANY;
	for (size_t k = 0; k < 4; k++) {
		if ((s = jstr(it, kinds[k].key))) {
			l->kind = kinds[k].kind;
			snprintf(l->path, sizeof(l->path), "%s", s);
		}
	}
	/* literals too long for the kernel become anchored regexes evaluated in userspace */
	if (l->kind != SHADOW_PATH_ANY && l->kind != SHADOW_PATH_REGEX && strlen(l->path) >= SHADOW_L7_PATH_MAX) {
		char lit[CFG_PATH_MAX * 2 + 4] = {0};
		size_t o = 0;
		if (l->kind != SHADOW_PATH_SUFFIX)
			lit[o++] = '^';
		else
			lit[o++] = '.', lit[o++] = '*';
		for (const char *q = l->path; *q && o < sizeof(lit) - 4; q++) {
			if (strchr(".[]()*+?{}|^$\\", *q))
				lit[o++] = '\\';
			lit[o++] = *q;
		}
		if (l->kind == SHADOW_PATH_PREFIX)
			lit[o++] = '.', lit[o++] = '*';
		lit[o] = 0;
		snprintf(l->path, sizeof(l->path), "%s", lit);
		l->kind = SHADOW_PATH_REGEX;
	}
	if (l->kind == SHADOW_PATH_REGEX) {
		/* Envoy's safe_regex matches the whole path: anchor it */
		char anchored[CFG_PATH_MAX + 8];
		snprintf(anchored, sizeof(anchored), "^(%s)$", l->path);
		if (regcomp(&l->re, anchored, REG_EXTENDED | REG_NOSUB))
			return fail(err, errlen, "l7[%zu]: invalid regex %s", i, l->path);
		l->re_ok = 1;
	}
	if (jpeer(it, &l->identity))
		return fail(err, errlen, "l7[%zu]: identity must be a number from 0 (any peer) to 4294967295", i);
	l->rule_id = (__u32)jint(it, "ruleId", (long long)i + 1);
	return 0;
}

/* The config's arrays, in the order they are read; policy and l7 name pods, so they wait for the pods. */
enum cfg_array { CFG_PODS, CFG_IDS, CFG_POLICY, CFG_L7, CFG__ARRAYS };
static const char *const cfg_array_names[CFG__ARRAYS] = {"pods", "identities", "policy", "l7"};
static const size_t cfg_elem_size[CFG__ARRAYS] = {sizeof(struct cfg_pod), sizeof(struct cfg_identity),
						  sizeof(struct cfg_policy), sizeof(struct cfg_l7)};

struct cfg_parse {
	struct shadow_config *c;
	struct pod_names names;
	int names_ready;
	size_t cap[CFG__ARRAYS];
	char *err;
	size_t errlen;
};

/* the array's next element, zeroed, with a zeroed one after it (the old calloc(n + 1) layout); NULL: out of memory */
static void *cfg_push(struct cfg_parse *x, enum cfg_array a, void **arr, size_t n)
{
	size_t size = cfg_elem_size[a];
	if (n + 2 > x->cap[a]) {
		size_t cap = x->cap[a] ? x->cap[a] * 2 : 16;
		char *p = realloc(*arr, cap * size);
		if (!p)
			return NULL;
		memset(p + x->cap[a] * size, 0, (cap - x->cap[a]) * size);
		*arr = p;
		x->cap[a] = cap;
	}
	return (char *)*arr + n * size;
}

/* One element into its array; the array's count goes up only when it is whole. */
static int cfg_element(struct cfg_parse *x, enum cfg_array a, json_t *it, size_t i)
{
	struct shadow_config *c = x->c;
	if (!json_is_object(it))
		return fail(x->err, x->errlen, "%s[%zu]: must be an object", cfg_array_names[a], i);
	if ((a == CFG_POLICY || a == CFG_L7) && !x->names_ready) {
		pod_names_index(c, &x->names);
		x->names_ready = 1;
	}
	void **arr = a == CFG_PODS ? (void **)&c->pods : a == CFG_IDS ? (void **)&c->ids : a == CFG_POLICY ? (void **)&c->rules :
										      (void **)&c->l7;
	size_t *n = a == CFG_PODS ? &c->n_pods : a == CFG_IDS ? &c->n_ids : a == CFG_POLICY ? &c->n_rules : &c->n_l7;
	void *e = cfg_push(x, a, arr, *n);
	if (!e)
		return fail(x->err, x->errlen, "%s[%zu]: out of memory", cfg_array_names[a], i);
	int ret = a == CFG_PODS ? pod_from(it, i, e, x->err, x->errlen) :
		  a == CFG_IDS ? identity_from(it, i, e, x->err, x->errlen) :
		  a == CFG_POLICY ? policy_from(it, i, &x->names, e, x->err, x->errlen) :
				    l7_from(it, i, &x->names, e, x->err, x->errlen);
	if (ret) {
		if (a == CFG_L7)
			((struct cfg_l7 *)e)->re_ok = 0; /* nothing compiled is left behind a failed rule */
		memset(e, 0, cfg_elem_size[a]);
		return -1;
	}
	if (a == CFG_PODS)
		((struct cfg_pod *)e)->ep = (__u16)(*n + 1);
	(*n)++;
	return 0;
}

static int cfg_array(struct cfg_parse *x, struct jstream *js, enum cfg_array a)
{
	int r = jstream_array(js);
	if (r == -2)
		return fail(x->err, x->errlen, "line %d: %s must be an array", js->line, cfg_array_names[a]);
	if (r <= 0)
		return r;
	json_t *it;
	for (size_t i = 0; (r = jstream_element(js, &it)) > 0; i++) {
		int bad = cfg_element(x, a, it, i);
		json_decref(it);
		if (bad)
			return -1;
	}
	return r;
}

/* Element by element (json_stream.h): the parse holds the config's own arrays and one element's JSON tree, never the
 * whole document's. Members may come in any order; a policy or l7 array before the pods is read after them. */
static __u64 l7_key(__u16 ep, __u16 port, __u8 dir)
{
	return (__u64)ep << 24 | (__u64)port << 8 | dir;
}

static int l7_ref_cmp(const void *a, const void *b)
{
	const struct cfg_l7_ref *x = a, *y = b;
	return x->key != y->key ? (x->key < y->key ? -1 : 1) : (x->i < y->i ? -1 : x->i > y->i);
}

/* c->l7_by_key: every rule under its key, sorted by key and then config order */
static int l7_index(struct shadow_config *c)
{
	c->l7_by_key = malloc((c->n_l7 + 1) * sizeof(*c->l7_by_key));
	if (!c->l7_by_key)
		return -1;
	for (size_t i = 0; i < c->n_l7; i++)
		c->l7_by_key[i] = (struct cfg_l7_ref){.key = l7_key(c->l7[i].ep, c->l7[i].port, c->l7[i].dir), .i = (__u32)i};
	qsort(c->l7_by_key, c->n_l7, sizeof(*c->l7_by_key), l7_ref_cmp);
	return 0;
}

int shadow_config_parse(const char *text, struct shadow_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->rate = 2000; /* records per second in all: bounds the loader's CPU whatever the request rate */
	c->burst = 500;
	c->sample_every = 1;
	c->outbound_port = 15001;
	c->interval_ms = 5000;
	c->ct_set_bits = SHADOW_CT_SET_BITS_DEFAULT;
	c->inflight_pair_bits = SHADOW_INFLIGHT_PAIR_BITS_DEFAULT;
	struct cfg_parse x = {.c = c, .err = err, .errlen = errlen};
	struct jstream js;
	struct jstream_mark later[CFG__ARRAYS];
	int seen[CFG__ARRAYS] = {0}, settings_seen = 0, ret = -1, r;
	char key[64];
	if (jstream_open(&js, text, strlen(text), err, errlen))
		goto out;
	while ((r = jstream_member(&js, key, sizeof(key))) > 0) {
		int a = CFG__ARRAYS;
		for (int k = 0; k < CFG__ARRAYS; k++)
			if (!strcmp(key, cfg_array_names[k]))
				a = k;
		if ((a < CFG__ARRAYS && seen[a]) || (!strcmp(key, "settings") && settings_seen)) {
			fail(err, errlen, "line %d: \"%s\" is given twice", js.line, key);
			goto out;
		}
		if (!strcmp(key, "settings")) {
			settings_seen = 1;
			json_t *st = jstream_value(&js);
			if (!st)
				goto out;
			int bad = !json_is_object(st) && !json_is_null(st) ?
					  fail(err, errlen, "line %d: settings must be an object", js.line) :
					  json_is_object(st) && settings_from(st, c, err, errlen);
			json_decref(st);
			if (bad)
				goto out;
		} else if (a == CFG__ARRAYS) {
			if (jstream_skip(&js)) /* not ours: stepped over, as the whole-document parse ignored it */
				goto out;
		} else if ((a == CFG_POLICY || a == CFG_L7) && !seen[CFG_PODS]) {
			seen[a] = 2; /* after the pods, wherever they are */
			later[a] = jstream_tell(&js);
			if (jstream_skip(&js))
				goto out;
		} else {
			seen[a] = 1;
			if (cfg_array(&x, &js, a))
				goto out;
		}
	}
	if (r < 0)
		goto out;
	for (int a = CFG_POLICY; a <= CFG_L7; a++) {
		if (seen[a] != 2)
			continue;
		jstream_seek(&js, later[a]);
		if (cfg_array(&x, &js, a))
			goto out;
	}
	/* every array allocated, with its zeroed spare element, and without the growth's slack */
	void **arrs[CFG__ARRAYS] = {(void **)&c->pods, (void **)&c->ids, (void **)&c->rules, (void **)&c->l7};
	size_t ns[CFG__ARRAYS] = {c->n_pods, c->n_ids, c->n_rules, c->n_l7};
	for (int a = 0; a < CFG__ARRAYS; a++) {
		void *p = *arrs[a] ? realloc(*arrs[a], (ns[a] + 1) * cfg_elem_size[a]) : calloc(1, cfg_elem_size[a]);
		if (!p) {
			fail(err, errlen, "%s: out of memory", cfg_array_names[a]);
			goto out;
		}
		*arrs[a] = p;
	}
	if (l7_index(c)) {
		fail(err, errlen, "l7: out of memory");
		goto out;
	}
	ret = 0;
out:
	free(x.names.by_name);
	if (ret)
		shadow_config_free(c); /* a failed parse leaves nothing to free */
	return ret;
}

char *shadow_config_read(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	char chunk[8192];
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			buf = realloc(buf, cap);
		}
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		fail(err, errlen, "%s: empty file", path);
	else
		buf[len] = 0;
	return buf;
}

int shadow_config_parse_file(const char *path, const char *text, struct shadow_config *c, char *err, size_t errlen)
{
	char inner[200];
	int ret = shadow_config_parse(text, c, inner, sizeof(inner));
	if (ret)
		fail(err, errlen, "%s: %s", path, inner);
	return ret;
}

int shadow_config_load(const char *path, struct shadow_config *c, char *err, size_t errlen)
{
	char *text = shadow_config_read(path, err, errlen);
	if (!text)
		return -1;
	int ret = shadow_config_parse_file(path, text, c, err, errlen);
	free(text);
	return ret;
}

/* What the parse holds at its peak, from one pass over the text with no allocation. shadow_config_parse reads element
 * by element, so:
 * - the config's own arrays, grown by doubling (a realloc may hold the old block and the new one: 3x), and the pods'
 *   name index;
 * - one element's jansson tree, the largest: jansson keeps each value and each member's key in an allocation of its
 *   own, 78-99 bytes per structural token measured (128 counted);
 * - glibc's compiled regex for each L7 path the kernel does not match (pathRegex, and literals of SHADOW_L7_PATH_MAX
 *   bytes or more): 3.9-11.6 KiB each measured, about 2 KiB plus 96 bytes per pattern byte; counted as 2 KiB plus 128
 *   per byte, anchors included. */
#define PARSE_BYTES_PER_TOKEN 128
#define PARSE_REGEX_BYTES(len) (2048 + 128 * ((size_t)(len) + 8))
size_t shadow_config_parse_need(const char *text)
{
	size_t n[CFG__ARRAYS] = {0}, tokens = 0, max_tokens = 0, regex = 0, slen = 0;
	int depth = 0, arr = -1, path = 0; /* arr: the top-level member being read; path: an L7 path's value comes next */
	int in_str = 0;
	const char *str = NULL; /* the last string's first byte */
	for (const char *p = text; *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"') {
				in_str = 0;
				slen = (size_t)(p - str);
				if (path == 1 || (path == 2 && slen >= SHADOW_L7_PATH_MAX))
					regex += PARSE_REGEX_BYTES(slen);
				path = 0;
			}
			continue;
		}
		switch (*p) {
		case '"':
			in_str = 1;
			str = p + 1;
			break;
		case ':':
			tokens++;
			if (depth == 1) {
				arr = -1;
				for (int a = 0; a < CFG__ARRAYS; a++)
					if (str && slen == strlen(cfg_array_names[a]) && !memcmp(str, cfg_array_names[a], slen))
						arr = a;
			} else if (depth == 3 && arr == CFG_L7 && str && slen >= 8 && !memcmp(str, "path", 4)) {
				path = slen == 9 && !memcmp(str, "pathRegex", 9) ? 1 : 2;
			}
			break;
		case '{':
		case '[':
			if (depth == 2 && arr >= 0 && *p == '{') {
				n[arr]++;
				tokens = 0;
			}
			depth++;
			tokens++;
			break;
		case '}':
		case ']':
			if (--depth == 2 && tokens > max_tokens)
				max_tokens = tokens;
			break;
		case ',':
			tokens++;
			path = 0;
			break;
		}
	}
	size_t need = (max_tokens + 1) * PARSE_BYTES_PER_TOKEN + regex + n[CFG_PODS] * sizeof(void *) + 65536;
	for (int a = 0; a < CFG__ARRAYS; a++)
		need += 3 * n[a] * cfg_elem_size[a];
	need += n[CFG_L7] * sizeof(struct cfg_l7_ref); /* l7_by_key */
	return need;
}

void shadow_config_free(struct shadow_config *c)
{
	for (size_t i = 0; i < c->n_l7; i++)
		if (c->l7[i].re_ok)
			regfree(&c->l7[i].re);
	free(c->pods);
	free(c->ids);
	free(c->rules);
	free(c->l7);
	free(c->l7_by_key);
	memset(c, 0, sizeof(*c));
}

/* ---- map synchronisation ---- */

/* Entries to write, one array per map: [key, zero-padded to 16 bytes][insertion order][value], vs bytes of value. The
 * stride follows the map's value, so a policy entry takes 32 bytes here rather than the size of the largest value
 * (an L7 rule set, ~600 bytes): a config that fills the policy trie stays at a few MiB while it is translated. */
#define KV_KEY 16

struct kvs {
	unsigned char *a;
	size_t n, cap;
	size_t ks, vs;
};

static size_t kv_stride(const struct kvs *s)
{
	return KV_KEY + 4 + ((s->vs + 3) & ~(size_t)3);
}

static unsigned char *kv_key(const struct kvs *s, size_t i)
{
	return s->a + i * kv_stride(s);
}

static __u32 *kv_seq(const struct kvs *s, size_t i)
{
	return (__u32 *)(kv_key(s, i) + KV_KEY);
}

static void *kv_val(const struct kvs *s, size_t i)
{
	return kv_key(s, i) + KV_KEY + 4;
}

static size_t g_cmp_ks;

/* by key, then insertion order (qsort is not stable) */
static int kv_cmp_seq(const void *x, const void *y)
{
	int c = memcmp(x, y, g_cmp_ks);
	if (c)
		return c;
	__u32 a = *(const __u32 *)((const unsigned char *)x + KV_KEY), b = *(const __u32 *)((const unsigned char *)y + KV_KEY);
	return a < b ? -1 : a > b;
}

/* appends (index returned); a key added twice is resolved by kvs_dedup */
static size_t kvs_add(struct kvs *s, const void *key, const void *val)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->a = realloc(s->a, s->cap * kv_stride(s));
	}
	size_t i = s->n++;
	memset(kv_key(s, i), 0, kv_stride(s));
	memcpy(kv_key(s, i), key, s->ks);
	*kv_seq(s, i) = (__u32)i;
	memcpy(kv_val(s, i), val, s->vs);
	return i;
}

/* Sort by key and keep one entry per key: of the entries added under one key, the first, replaced by each later
 * one that wins(later, kept) says beats it. O(n log n): deduplicating as entries were added was a scan per entry,
 * which took seconds for a config near the tables' capacity. */
static void kvs_dedup(struct kvs *s, int (*wins)(const void *later, const void *kept))
{
	size_t st = kv_stride(s), out = 0;
	g_cmp_ks = s->ks;
	qsort(s->a, s->n, st, kv_cmp_seq);
	for (size_t i = 0; i < s->n; i++) {
		if (out && !memcmp(kv_key(s, out - 1), kv_key(s, i), s->ks)) {
			if (wins(kv_val(s, i), kv_val(s, out - 1)))
				memcpy(kv_val(s, out - 1), kv_val(s, i), s->vs);
			continue;
		}
		if (out != i)
			memcpy(kv_key(s, out), kv_key(s, i), st);
		out++;
	}
	s->n = out;
}

/* on a sorted, deduplicated array */
static void *kvs_find_val(const struct kvs *s, const void *key)
{
	unsigned char probe[KV_KEY] = {0};
	memcpy(probe, key, s->ks);
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(kv_key(s, mid), probe, s->ks);
		if (!c)
			return kv_val(s, mid);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int later_wins(const void *later, const void *kept)
{
	(void)later;
	(void)kept;
	return 1;
}

/* update every wanted entry (s: deduplicated by kvs_dedup, so sorted by key), then delete every entry that is not
 * wanted */
static int sync_map(int fd, struct kvs *s, const char *name, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n; i++) {
		if (bpf_map_update_elem(fd, kv_key(s, i), kv_val(s, i), BPF_ANY)) {
			int e = errno;
			fail(err, errlen, "failed to update map %s: %s", name, strerror(e));
			return -e;
		}
	}
	unsigned char cur[KV_KEY], next[KV_KEY];
	size_t stale_cap = 64, stale_n = 0;
	unsigned char *stale = malloc(stale_cap * KV_KEY);
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (!kvs_find_val(s, next)) {
			if (stale_n == stale_cap) {
				stale_cap *= 2;
				stale = realloc(stale, stale_cap * KV_KEY);
			}
			memcpy(stale + stale_n++ * KV_KEY, next, s->ks);
		}
		memcpy(cur, next, s->ks);
		prev = cur;
	}
	for (size_t i = 0; i < stale_n; i++)
		bpf_map_delete_elem(fd, stale + i * KV_KEY);
	free(stale);
	return 0;
}

static int act_rank(__u8 a)
{
	return a == SHADOW_ACT_DENY ? 3 : a == SHADOW_ACT_AUDIT ? 2 : a == SHADOW_ACT_ALLOW ? 1 : 0;
}

/* appends; the same key twice is resolved by kvs_dedup(.., stronger_action): the stronger action wins */
static void policy_add(struct kvs *s, __u32 identity, __u16 ep, __u8 dir, __u8 proto, __u16 port, __u32 plen,
		       __u8 action, __u32 rule_id)
{
	struct shadow_policy_key k = {.prefixlen = plen, .identity = htonl(identity), .ep = htons(ep), .dir = dir,
				      .proto = proto, .dport = htons(port)};
	struct shadow_policy_val v = {.rule_id = rule_id, .action = action};
	kvs_add(s, &k, &v);
}

static int stronger_action(const void *later, const void *kept)
{
	return act_rank(((const struct shadow_policy_val *)later)->action) >
	       act_rank(((const struct shadow_policy_val *)kept)->action);
}

/* Deny precedence across nesting: an LPM lookup returns only the longest match, so an entry nested inside a wider
 * entry of a stronger action (same peer) must carry that action itself. pol: deduplicated. For each entry, its
 * wider entries are found by masking its key to each prefix length in use and looking that up, rather than by
 * testing every pair (quadratic: ~20 s for a full trie). Of the wider entries, the strongest action wins, the
 * nearest among equals; all against the entries as configured, so the result does not depend on the order. */
static void policy_nest(struct kvs *pol)
{
	unsigned char used[SHADOW_POLICY_PREFIX_FULL + 1] = {0};
	struct shadow_policy_val *orig = malloc((pol->n ? pol->n : 1) * sizeof(*orig));
	for (size_t i = 0; i < pol->n; i++) {
		const struct shadow_policy_key *e = (const struct shadow_policy_key *)kv_key(pol, i);
		if (e->prefixlen <= SHADOW_POLICY_PREFIX_FULL)
			used[e->prefixlen] = 1;
		memcpy(&orig[i], kv_val(pol, i), sizeof(orig[i]));
	}
	size_t st = kv_stride(pol);
	for (size_t i = 0; i < pol->n; i++) {
		const struct shadow_policy_key *e = (const struct shadow_policy_key *)kv_key(pol, i);
		const struct shadow_policy_val *best = NULL;
		int rank = act_rank(orig[i].action);
		for (int len = (int)e->prefixlen - 1; len >= 0; len--) {
			if (!used[len])
				continue;
			struct shadow_policy_key d = *e;
			unsigned char *b = (unsigned char *)&d + 4; /* the key's data after prefixlen, big-endian fields */
			for (int bit = len; bit < SHADOW_POLICY_PREFIX_FULL; bit++)
				b[bit / 8] &= (unsigned char)~(0x80 >> (bit % 8));
			d.prefixlen = (__u32)len;
			void *v = kvs_find_val(pol, &d);
			if (!v)
				continue;
			size_t j = (size_t)((unsigned char *)v - KV_KEY - 4 - pol->a) / st;
			if (act_rank(orig[j].action) > rank) {
				rank = act_rank(orig[j].action);
				best = &orig[j];
			}
		}
		if (best)
			memcpy(kv_val(pol, i), best, sizeof(*best));
	}
	free(orig);
}

static void policy_expand(struct kvs *s, const struct cfg_policy *r, __u16 ep)
{
	if (!r->proto && !r->port) {
		policy_add(s, r->identity, ep, r->dir, 0, 0, SHADOW_POLICY_PREFIX_PROTO, r->action, r->rule_id);
		return;
	}
	/* a port without a protocol means TCP and UDP, as in Cilium */
	__u8 protos[2] = {r->proto, 0};
	int np = 1;
	if (!r->proto) {
		protos[0] = 6;
		protos[1] = 17;
		np = 2;
	}
	for (int pi = 0; pi < np; pi++) {
		if (!r->port) {
			policy_add(s, r->identity, ep, r->dir, protos[pi], 0, SHADOW_POLICY_PREFIX_PROTO + 8, r->action,
				   r->rule_id);
			continue;
		}
		/* a port range becomes the minimal set of aligned power-of-two blocks, each one LPM prefix */
		__u32 lo = r->port, hi = r->end_port;
		while (lo <= hi) {
			__u32 size = lo ? (lo & -lo) : 65536;
			while (lo + size - 1 > hi)
				size >>= 1;
			__u32 bits = 0;
			while ((1U << bits) < size)
				bits++;
			policy_add(s, r->identity, ep, r->dir, protos[pi], (__u16)lo, SHADOW_POLICY_PREFIX_FULL - bits,
				   r->action, r->rule_id);
			lo += size;
		}
	}
}

/* Place every key of the half within SHADOW_L7_PROBES slots of its hash (linear probing); 0 if it fits. */
static int l7_place(struct kvs *l7, __u32 seed, struct shadow_l7_slot *index)
{
	memset(index, 0, SHADOW_L7_SLOTS * sizeof(*index));
	for (size_t i = 0; i < l7->n; i++) {
		struct shadow_l7_slot k;
		memcpy(&k, kv_key(l7, i), sizeof(k));
		__u32 h = shadow_l7_hash(seed, k.ep, k.port, k.dir);
		int placed = 0;
		for (__u32 n = 0; n < SHADOW_L7_PROBES && !placed; n++) {
			struct shadow_l7_slot *s = &index[(h + n) & (SHADOW_L7_SLOTS - 1)];
			if (!s->ep) {
				*s = k;
				s->set = (__u16)i;
				placed = 1;
			}
		}
		if (!placed)
			return -1;
	}
	return 0;
}

/* Publish the L7 sets: write them and their index into the half the programs do not read, then flip
 * shadow_l7_hdr.gen to flip halves. Each program run reads one half only, so a reload never shows a half-written
 * table; flows that cached a set under an older generation look it up again. */
static int l7_publish(const struct shadow_map_fds *fds, struct kvs *l7, char *err, size_t errlen)
{
	if (l7->n > SHADOW_L7_SETS_MAX)
		return fail(err, errlen, "too many l7 rule sets: %zu (pod, port, direction) combinations, at most %d; "
			    "merge rules or split the pods over several probes", l7->n, SHADOW_L7_SETS_MAX);
	__u32 zero = 0;
	struct shadow_l7_hdr hdr;
	if (bpf_map_lookup_elem(fds->l7_hdr, &zero, &hdr))
		return fail(err, errlen, "failed to read map shadow_l7_hdr: %s", strerror(errno));
	__u32 half = (hdr.gen + 1) & 1;
	struct shadow_l7_slot *index = malloc(SHADOW_L7_SLOTS * sizeof(*index));
	__u32 *keys = malloc(SHADOW_L7_SLOTS * sizeof(*keys));
	int ret = 0;
	__u32 seed = hdr.seed[half], tries = 0;
	/* at a load factor <= 1/4 the first seed almost always places every key; else try others */
	while (l7_place(l7, seed, index)) {
		seed = seed * 1103515245u + 12345u;
		if (++tries == 1000) {
			ret = fail(err, errlen, "failed to place %zu l7 rule sets in the kernel's table (%d probes)", l7->n,
				   SHADOW_L7_PROBES);
			goto out;
		}
	}
	for (size_t i = 0; i < l7->n; i++) {
		__u32 k = half * SHADOW_L7_SETS_MAX + (__u32)i;
		if (bpf_map_update_elem(fds->l7_sets, &k, kv_val(l7, i), BPF_ANY)) {
			ret = fail(err, errlen, "failed to update map shadow_l7_sets: %s", strerror(errno));
			goto out;
		}
	}
	for (__u32 i = 0; i < SHADOW_L7_SLOTS; i++)
		keys[i] = half * SHADOW_L7_SLOTS + i;
	__u32 count = SHADOW_L7_SLOTS;
	if (bpf_map_update_batch(fds->l7_index, keys, index, &count, NULL)) {
		ret = fail(err, errlen, "failed to update map shadow_l7_index: %s", strerror(errno));
		goto out;
	}
	/* seed first, then the flip: a program that reads the new active half finds its seed already there */
	hdr.seed[half] = seed;
	if (bpf_map_update_elem(fds->l7_hdr, &zero, &hdr, BPF_ANY)) {
		ret = fail(err, errlen, "failed to update map shadow_l7_hdr: %s", strerror(errno));
		goto out;
	}
	hdr.gen += 1;
	if (bpf_map_update_elem(fds->l7_hdr, &zero, &hdr, BPF_ANY))
		ret = fail(err, errlen, "failed to update map shadow_l7_hdr: %s", strerror(errno));
out:
	free(index);
	free(keys);
	return ret;
}

/* A pod that discovery looked for and did not find on this node. One config serves every node of a DaemonSet, so
 * most of its pods are elsewhere: their policy entries, L7 sets and endpoint entries would only fill this node's
 * tables (a cluster of a few thousand pods overflowed them on every node). Their own /32 identities stay: they are
 * peers. When one of them starts here, discovery reports a change and the config is applied again. */
static int pod_elsewhere(const struct cfg_pod *p)
{
	return p->discover && p->discovered && !p->found;
}

/* the config's identities and its policy rules expanded per pod into port prefixes, deduplicated: the LPM entries it
 * asks for (the pods' own /32 identities come on top, when they are found) */
static void lpm_entries(const struct shadow_config *c, struct kvs *ipc, struct kvs *pol)
{
	for (size_t i = 0; i < c->n_ids; i++) {
		struct shadow_ipcache_key k = {.prefixlen = c->ids[i].plen, .addr = c->ids[i].addr};
		struct shadow_identity v = {.identity = c->ids[i].identity};
		kvs_add(ipc, &k, &v);
	}
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct cfg_policy *r = &c->rules[i];
		if (r->ep) {
			if (r->ep <= c->n_pods && !pod_elsewhere(&c->pods[r->ep - 1]))
				policy_expand(pol, r, r->ep);
		} else {
			for (size_t p = 0; p < c->n_pods; p++)
				if (!pod_elsewhere(&c->pods[p]))
					policy_expand(pol, r, c->pods[p].ep);
		}
	}
	kvs_dedup(ipc, later_wins);
	kvs_dedup(pol, stronger_action);
}

size_t shadow_config_lpm_entries(const struct shadow_config *c)
{
	struct kvs ipc = {.ks = sizeof(struct shadow_ipcache_key), .vs = sizeof(struct shadow_identity)};
	struct kvs pol = {.ks = sizeof(struct shadow_policy_key), .vs = sizeof(struct shadow_policy_val)};
	lpm_entries(c, &ipc, &pol);
	size_t n = ipc.n + pol.n + c->n_pods;
	free(ipc.a);
	free(pol.a);
	return n;
}

/* the tries' keys of a config, the pods' own addresses included as apply writes them */
static void lpm_keys(const struct shadow_config *c, struct kvs *ipc, struct kvs *pol)
{
	lpm_entries(c, ipc, pol);
	for (size_t p = 0; p < c->n_pods; p++) {
		if (!c->pods[p].addr || !c->pods[p].identity)
			continue;
		struct shadow_ipcache_key k = {.prefixlen = 32, .addr = c->pods[p].addr};
		struct shadow_identity id = {.identity = c->pods[p].identity};
		kvs_add(ipc, &k, &id);
	}
	kvs_dedup(ipc, later_wins);
}

static size_t keys_missing(const struct kvs *from, const struct kvs *in)
{
	size_t n = 0;
	for (size_t i = 0; i < from->n; i++)
		n += !kvs_find_val(in, kv_key(from, i));
	return n;
}

size_t shadow_config_lpm_added(const struct shadow_config *prev, const struct shadow_config *next)
{
	struct kvs ipc[2] = {{.ks = sizeof(struct shadow_ipcache_key), .vs = sizeof(struct shadow_identity)},
			     {.ks = sizeof(struct shadow_ipcache_key), .vs = sizeof(struct shadow_identity)}};
	struct kvs pol[2] = {{.ks = sizeof(struct shadow_policy_key), .vs = sizeof(struct shadow_policy_val)},
			     {.ks = sizeof(struct shadow_policy_key), .vs = sizeof(struct shadow_policy_val)}};
	lpm_keys(prev, &ipc[0], &pol[0]);
	lpm_keys(next, &ipc[1], &pol[1]);
	size_t n = keys_missing(&ipc[1], &ipc[0]) + keys_missing(&pol[1], &pol[0]);
	for (int i = 0; i < 2; i++) {
		free(ipc[i].a);
		free(pol[i].a);
	}
	return n;
}

int shadow_config_apply(const struct shadow_config *c, const struct shadow_map_fds *fds, char *err, size_t errlen)
{
	int ret = 0;
	struct kvs ipc = {.ks = sizeof(struct shadow_ipcache_key), .vs = sizeof(struct shadow_identity)};
	struct kvs pol = {.ks = sizeof(struct shadow_policy_key), .vs = sizeof(struct shadow_policy_val)};
	struct kvs eps = {.ks = 4, .vs = sizeof(struct shadow_endpoint)};
	struct kvs cgs = {.ks = 8, .vs = sizeof(struct shadow_endpoint)};
	struct kvs l7 = {.ks = sizeof(struct shadow_l7_slot), .vs = sizeof(struct shadow_l7_set)};
	_Static_assert(sizeof(struct shadow_l7_slot) <= KV_KEY, "kv keys are at most 16 bytes");
	/* which directions have policy: for every pod (rules without a pod), and per pod */
	__u8 all_flags = 0, *ep_flags = calloc(c->n_pods + 1, 1);

	lpm_entries(c, &ipc, &pol);
	/* A deny nested inside an allow is longer and wins on its own; an allow nested inside a deny must carry it
	 * (policy_nest). The peer-specific and any-peer lookups are combined in the kernel. */
	policy_nest(&pol);
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct cfg_policy *r = &c->rules[i];
		__u8 f = r->dir == SHADOW_DIR_INGRESS ? SHADOW_EP_POLICY_INGRESS : SHADOW_EP_POLICY_EGRESS;
		if (!r->ep)
			all_flags |= f;
		else if (r->ep <= c->n_pods)
			ep_flags[r->ep] |= f;
	}
	for (size_t p = 0; p < c->n_pods; p++) {
		const struct cfg_pod *pod = &c->pods[p];
		if (!pod->addr)
			continue; /* named by uid only and not found on this node */
		__u8 policy = all_flags | ep_flags[pod->ep];
		static const __u8 dir_flag[2] = {[SHADOW_DIR_INGRESS] = SHADOW_EP_POLICY_INGRESS,
						 [SHADOW_DIR_EGRESS] = SHADOW_EP_POLICY_EGRESS};
		static const __u8 miss_allow[2] = {[SHADOW_DIR_INGRESS] = SHADOW_EP_MISS_ALLOW_INGRESS,
						   [SHADOW_DIR_EGRESS] = SHADOW_EP_MISS_ALLOW_EGRESS};
		/* the config's word on default deny wins over "has an entry": true with no entry denies everything;
		 * false keeps the entries (a deny still denies) but lets a miss pass */
		for (int d = 0; d < 2; d++) {
			if (pod->default_deny[d] == 1)
				policy |= dir_flag[d];
			else if (pod->default_deny[d] == 0 && (policy & dir_flag[d]))
				policy |= miss_allow[d];
		}
		struct shadow_endpoint v = {.ep = pod->ep, .identity = pod->identity, .addr = pod->addr,
					    .flags = (pod->sidecar == 1 ? SHADOW_EP_SIDECAR : 0) | policy};
		if (pod->identity) {
			struct shadow_ipcache_key k = {.prefixlen = 32, .addr = pod->addr};
			struct shadow_identity id = {.identity = pod->identity};
			kvs_add(&ipc, &k, &id);
		}
		if (pod_elsewhere(pod))
			continue; /* a peer here, not an endpoint */
		kvs_add(&eps, &pod->addr, &v);
		if (pod->has_cgroup_id) {
			kvs_add(&cgs, &pod->cgroup_id, &v);
		} else if (pod->cgroup[0]) {
			struct stat st;
			char path[CFG_PATH_MAX + 64];
			if (pod->cgroup[0] == '/')
				snprintf(path, sizeof(path), "%s", pod->cgroup);
			else
				snprintf(path, sizeof(path), "/sys/fs/cgroup/unified/%s", pod->cgroup);
			if (stat(path, &st) == 0) {
				__u64 id = st.st_ino; /* cgroup v2: the directory's inode number is the cgroup id */
				kvs_add(&cgs, &id, &v);
			}
		}
	}
	/* Two passes: rules scoped to a peer (l7[].identity) first, so that their sets are marked per-peer before any
	 * rule is copied into the kernel: such a set defers every request to userspace and holds no rules (and so
	 * never hits the kernel's SHADOW_L7_RULES_MAX, which per-peer rules, one per peer identity, easily would). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c->n_l7; i++) {
			const struct cfg_l7 *r = &c->l7[i];
			if ((pass == 0) != (r->identity != 0))
				continue;
			for (size_t p = 0; p < c->n_pods; p++) {
				__u16 ep = c->pods[p].ep;
				if ((r->ep && r->ep != ep) || pod_elsewhere(&c->pods[p]))
					continue;
				struct shadow_l7_slot k = {.ep = ep, .port = r->port, .dir = r->dir};
				size_t e = l7.n;
				for (size_t j = 0; j < l7.n && e == l7.n; j++)
					if (!memcmp(kv_key(&l7, j), &k, sizeof(k)))
						e = j;
				if (e == l7.n) {
					if (l7.n == SHADOW_L7_SETS_MAX) { /* refused now, before the scans grow past the table */
						ret = fail(err, errlen, "too many l7 rule sets: more than %d (pod, port, direction) "
							   "combinations; merge rules or split the pods over several probes",
							   SHADOW_L7_SETS_MAX);
						goto out;
					}
					struct shadow_l7_set empty;
					memset(&empty, 0, sizeof(empty));
					e = kvs_add(&l7, &k, &empty);
				}
				struct shadow_l7_set *set = kv_val(&l7, e);
				if (r->identity) {
					set->per_peer = 1;
					continue;
				}
				if (set->per_peer)
					continue;
				if (r->kind == SHADOW_PATH_REGEX) {
					set->has_regex = 1;
					continue; /* the kernel does not see regexes: it defers to userspace */
				}
				if (set->n >= SHADOW_L7_RULES_MAX) {
					ret = fail(err, errlen, "failed to add l7 rule %u: more than %d kernel rules for pod %s port %u",
						   r->rule_id, SHADOW_L7_RULES_MAX, c->pods[p].name, r->port);
					goto out;
				}
				struct shadow_l7_rule *kr = &set->rules[set->n++];
				kr->rule_id = r->rule_id;
				kr->method = r->method;
				kr->kind = r->kind;
				kr->len = (__u8)strlen(r->path);
				memcpy(kr->path, r->path, kr->len);
			}
		}
	}
	/* a pod's own address may also be listed as an identity: the pod's wins (added later) */
	kvs_dedup(&ipc, later_wins);
	kvs_dedup(&eps, later_wins);
	kvs_dedup(&cgs, later_wins);
	/* Every table must hold what this config writes, checked before the first write: a map that fills up halfway
	 * would leave old and new entries side by side. */
	{
		const struct {
			int fd;
			size_t n;
			const char *map, *what;
		} need[] = {
			{fds->ipcache, ipc.n, "shadow_ipcache", "identities (CIDRs, and the pods' own addresses)"},
			{fds->policy, pol.n, "shadow_policy", "policy entries (rules expanded per pod and into port prefixes)"},
			{fds->endpoints, eps.n, "shadow_endpoints", "pods"},
			{fds->cgroups, cgs.n, "shadow_cgroups", "pod cgroups"},
		};
		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);
			if (bpf_obj_get_info_by_fd(need[i].fd, &info, &len) == 0 && need[i].n > info.max_entries) {
				ret = fail(err, errlen, "the config needs %zu %s, map %s holds %u: nothing was changed; split the "
					   "pods over more probe configs or use fewer, wider rules", need[i].n, need[i].what,
					   need[i].map, info.max_entries);
				goto out;
			}
		}
	}
	if ((ret = sync_map(fds->ipcache, &ipc, "shadow_ipcache", err, errlen)) ||
	    (ret = sync_map(fds->policy, &pol, "shadow_policy", err, errlen)) ||
	    (ret = sync_map(fds->endpoints, &eps, "shadow_endpoints", err, errlen)) ||
	    (ret = sync_map(fds->cgroups, &cgs, "shadow_cgroups", err, errlen)) ||
	    (ret = l7_publish(fds, &l7, err, errlen)))
		goto out;
out:
	free(ipc.a);
	free(pol.a);
	free(eps.a);
	free(cgs.a);
	free(l7.a);
	free(ep_flags);
	return ret;
}

int shadow_config_switch(const struct shadow_config *prev, const struct shadow_config *next,
			 const struct shadow_map_fds *fds, char *err, size_t errlen)
{
	int ret = shadow_config_apply(next, fds, err, errlen);
	if (!ret)
		return 0;
	/* a write that failed halfway (out of memory) leaves a mix of both: write the running config back */
	char back[300];
	size_t used = strlen(err);
	if (shadow_config_apply(prev, fds, back, sizeof(back)))
		snprintf(err + used, errlen - used, "; and writing the running config back failed too: %s", back);
	else
		snprintf(err + used, errlen - used, " (the running config stays)");
	return ret;
}

/* A literal rule on a path as the kernel keeps it (cut at SHADOW_PATH_MAX: then exact and suffix rules cannot tell,
 * as in the kernel) */
static int l7_literal_user(const struct cfg_l7 *r, const char *path, size_t len, int trunc)
{
	size_t n = strlen(r->path);
	switch (r->kind) {
	case SHADOW_PATH_ANY:
		return 1;
	case SHADOW_PATH_EXACT:
		return !trunc && n == len && !memcmp(path, r->path, n);
	case SHADOW_PATH_PREFIX:
		return n <= len && !memcmp(path, r->path, n);
	case SHADOW_PATH_SUFFIX:
		return !trunc && n <= len && !memcmp(path + len - n, r->path, n);
	}
	return 0;
}

/* The rules of a record's key (its pod's, and those for every pod) in config order: two runs of l7_by_key merged. */
struct l7_runs {
	const struct cfg_l7_ref *p[2], *end[2];
};

static void l7_run(const struct shadow_config *c, __u64 key, const struct cfg_l7_ref **p, const struct cfg_l7_ref **end)
{
	size_t lo = 0, hi = c->n_l7;
	while (lo < hi) { /* the first ref with this key or above */
		size_t mid = lo + (hi - lo) / 2;
		if (c->l7_by_key[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	*p = *end = c->l7_by_key + lo;
	while (*end < c->l7_by_key + c->n_l7 && (*end)->key == key)
		(*end)++;
}

static void l7_runs_of(const struct shadow_config *c, const struct shadow_http_rec *rec, struct l7_runs *r)
{
	l7_run(c, l7_key(rec->ep, rec->server_port, rec->dir), &r->p[0], &r->end[0]);
	if (rec->ep)
		l7_run(c, l7_key(0, rec->server_port, rec->dir), &r->p[1], &r->end[1]);
	else
		r->p[1] = r->end[1] = NULL;
}

static const struct cfg_l7 *l7_next(const struct shadow_config *c, struct l7_runs *r)
{
	int a = r->p[0] < r->end[0], b = r->p[1] < r->end[1];
	if (!a && !b)
		return NULL;
	int k = !a || (b && r->p[1]->i < r->p[0]->i);
	return &c->l7[(r->p[k]++)->i];
}

int shadow_config_l7_user(const struct shadow_config *c, struct shadow_http_rec *rec)
{
	if (rec->where != SHADOW_WHERE_USER)
		return 0;
	char path[SHADOW_PATH_MAX + 1];
	size_t len = rec->path_len < SHADOW_PATH_MAX ? rec->path_len : SHADOW_PATH_MAX;
	memcpy(path, rec->path, SHADOW_PATH_MAX);
	path[len] = 0;
	int trunc = !!(rec->flags & SHADOW_F_TRUNC);
	struct l7_runs runs;
	const struct cfg_l7 *r;
	/* A port whose rules name peers: the kernel deferred the request whole (literals included). A rule applies to
	 * the request's peer when it names none or names that one; a leg that does not know its peer (the app leg,
	 * remote_id 0) can still allow by a rule for any peer, or deny when no rule of any peer matches. */
	int per_peer = 0, named = 0;
	l7_runs_of(c, rec, &runs);
	while ((r = l7_next(c, &runs))) {
		per_peer |= r->identity != 0;
		named |= !r->identity || r->identity == rec->remote_id;
	}
	/* On a pod whose policies keep default allow (pods[].defaultDeny false), a peer no rule names is not held to the
	 * rules at all (Cilium redirects only the peers its L7 rules select): the known peer passes with no L7 verdict,
	 * and an unknown one can be denied by nobody's rule. */
	int free_others = per_peer && rec->ep && rec->ep <= c->n_pods && c->pods[rec->ep - 1].default_deny[rec->dir & 1] == 0;
	if (free_others && rec->remote_id && !named) {
		rec->verdict = SHADOW_VERDICT_NONE;
		rec->rule_id = 0;
		return 1;
	}
	/* undecided: the peer is not known and a rule of another peer matched, or (default allow) it may be one no rule
	 * names, which passes */
	int maybe = free_others && !rec->remote_id;
	l7_runs_of(c, rec, &runs);
	while ((r = l7_next(c, &runs))) {
		if (r->method && r->method != rec->method)
			continue;
		if (!per_peer && r->kind != SHADOW_PATH_REGEX)
			continue; /* the kernel has tried it */
		if (r->kind == SHADOW_PATH_REGEX ? !r->re_ok || regexec(&r->re, path, 0, NULL, 0) : !l7_literal_user(r, path, len, trunc))
			continue;
		if (r->identity && r->identity != rec->remote_id) {
			maybe |= !rec->remote_id;
			continue;
		}
		rec->verdict = SHADOW_VERDICT_ALLOW;
		rec->rule_id = r->rule_id;
		return 1;
	}
	rec->rule_id = 0;
	if (maybe) {
		rec->verdict = SHADOW_VERDICT_NONE;
		rec->flags |= SHADOW_F_PEER;
		return 1;
	}
	rec->verdict = SHADOW_VERDICT_DENY;
	return 1;
}
