// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the config's streamed parse (config.c over json_stream.c): members in any order, members that are not
 * ours stepped over, errors that name the line, the array and the element, and a parse of a big config that never
 * holds the whole document's tree. Userspace only: no root, no kernel.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "config.h"
#include "json_stream.h"

static int failed, passed;

#define CHECK(cond, ...)                                                                                               \
	do {                                                                                                           \
		if (cond) {                                                                                            \
			passed++;                                                                                      \
		} else {                                                                                               \
			failed++;                                                                                      \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                    \
			printf(__VA_ARGS__);                                                                           \
			printf("\n");                                                                                  \
		}                                                                                                      \
	} while (0)

static const char *PODS = "\"pods\": [{\"name\": \"a\", \"ip\": \"10.0.0.1\"}, {\"name\": \"b\", \"ip\": \"10.0.0.2\"}]";

static void order_free(void)
{
	/* rules that name pods before the pods, settings last, members that are not ours in between */
	char j[2048];
	snprintf(j, sizeof(j),
		 "{\"l7\": [{\"pod\": \"b\", \"port\": 80, \"pathPrefix\": \"/x\"}],\n"
		 " \"extra\": [1, {\"deep\": [2, [3]]}, \"s]\", null, -1.5e3, true],\n"
		 " \"policy\": [{\"pod\": \"b\", \"direction\": \"ingress\", \"port\": 80}, {\"direction\": \"egress\"}],\n"
		 " \"note\": \"a } in a string\", \"n\": 12, \"f\": false, \"o\": {\"pods\": []},\n"
		 " %s, \"identities\": null,\n"
		 " \"settings\": {\"rate\": 7, \"burst\": 3}}\n",
		 PODS);
	struct shadow_config c;
	char err[300] = "";
	CHECK(shadow_config_parse(j, &c, err, sizeof(err)) == 0, "any order: %s", err);
	CHECK(c.n_pods == 2 && c.pods[1].ep == 2 && !strcmp(c.pods[1].name, "b"), "pods: %zu", c.n_pods);
	CHECK(c.n_rules == 2 && c.rules[0].ep == 2 && c.rules[1].ep == 0 && c.rules[1].rule_id == 2,
	      "policy before the pods names pod b: %zu rules, ep %u", c.n_rules, c.n_rules ? c.rules[0].ep : 0);
	CHECK(c.n_l7 == 1 && c.l7[0].ep == 2 && c.l7[0].kind == SHADOW_PATH_PREFIX, "l7 before the pods names pod b");
	CHECK(c.n_ids == 0 && c.ids && c.rate == 7 && c.burst == 3, "null identities, settings last: %zu ids, rate %llu",
	      c.n_ids, (unsigned long long)c.rate);
	/* the arrays keep a zeroed element after the last, as calloc(n + 1) did */
	CHECK(c.pods[2].name[0] == 0 && c.rules[2].dir == 0 && c.l7[1].port == 0, "zeroed spare elements");
	shadow_config_free(&c);

	/* many elements: grown past the first allocation, in order */
	size_t cap = 1 << 20, o = 0;
	char *big = malloc(cap);
	o += snprintf(big + o, cap - o, "{\"identities\": [");
	for (int i = 0; i < 5000; i++)
		o += snprintf(big + o, cap - o, "%s{\"ip\": \"10.1.%d.%d\", \"identity\": %d}", i ? "," : "", i >> 8, i & 255,
			      100 + i);
	snprintf(big + o, cap - o, "], %s}", PODS);
	CHECK(shadow_config_parse(big, &c, err, sizeof(err)) == 0, "5000 identities: %s", err);
	int inorder = c.n_ids == 5000;
	for (size_t i = 0; inorder && i < c.n_ids; i++)
		inorder = c.ids[i].identity == 100 + i;
	CHECK(inorder, "5000 identities in order (%zu)", c.n_ids);
	shadow_config_free(&c);
	free(big);
}

static void errors(void)
{
	static const char *bad[][2] = {
		{"[]", "line 1: the top level must be an object"},
		{"", "line 1: the top level must be an object, found the end of the document"},
		{"{\"pods\": [],\n\n \"pods\": []}", "line 3: \"pods\" is given twice"},
		{"{\"settings\": {}, \"settings\": {}}", "\"settings\" is given twice"},
		{"{\"pods\": {}}", "pods must be an array"},
		{"{\"policy\": 5}", "policy must be an array"},
		{"{\"settings\": [1]}", "settings must be an object"},
		{"{\"pods\": [1]}", "pods[0]: must be an object"},
		{"{\"identities\": [{\"ip\": \"10.0.0.1\", \"identity\": 1}, \"x\"]}", "identities[1]: must be an object"},
		{"{\"pods\": [],\n \"identities\": [\n  {\"ip\": \"10.0.0.1\",\n   \"identity\" 1}]}", "line 4: "},
		{"{\"pods\": [] \"l7\": []}", "line 1: expected ',' or '}' after a member, found '\"'"},
		{"{\"pods\": [{\"name\": \"a\", \"ip\": \"10.0.0.1\"} {\"name\": \"b\"}]}", "expected ',' or ']' after an element"},
		{"{\"pods\": [{\"name\": \"a\", \"ip\": \"10.0.0.1\"},]}", "line 1: "},
		{"{\"pods\": [{\"name\": \"a\", \"ip\": \"10.0.0.1\"}", "found the end of the document"},
		{"{} {}", "'{' after the top-level object"},
		{"{\"pods\" []}", "expected ':' after \"pods\""},
		{"{pods: []}", "expected a member name"},
		{"{\"x\": tru}", "line 1: "},
		{"{\"policy\": [{\"pod\": \"zz\", \"direction\": \"ingress\"}], \"pods\": []}", "policy[0]: unknown pod zz"},
		{"{\"l7\": [{\"port\": 80}, {\"port\": 80, \"pathRegex\": \"([\"}]}", "l7[1]: invalid regex"},
		/* a peer given as a string or a negative number is refused, not read as "any peer" */
		{"{\"policy\": [{\"direction\": \"ingress\", \"identity\": \"100\"}], \"pods\": []}",
		 "policy[0]: identity must be a number from 0 (any peer)"},
		{"{\"l7\": [{\"port\": 80, \"identity\": -1}], \"pods\": []}", "l7[0]: identity must be a number"},
		{"{\"pods\": [{\"name\": \"a\", \"ip\": \"10.0.0.1\", \"defaultDeny\": true}]}", "pods[0] (a): defaultDeny must be an object"},
		{"{\"pods\": [{\"name\": \"a\", \"ip\": \"10.0.0.1\", \"defaultDeny\": {\"ingress\": 1}}]}",
		 "pods[0] (a): defaultDeny.ingress must be true or false"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shadow_config c;
		char err[300] = "";
		int r = shadow_config_parse(bad[i][0], &c, err, sizeof(err));
		CHECK(r != 0 && strstr(err, bad[i][1]), "%s: want \"%s\", got %d \"%s\"", bad[i][0], bad[i][1], r, err);
		/* a failed parse frees what it had read: nothing to free, nothing leaked into c */
		CHECK(!c.pods && !c.ids && !c.rules && !c.l7 && !c.n_pods && !c.n_l7, "%s: left %zu pods", bad[i][0], c.n_pods);
	}
}

/* The stream reader on its own: keys, a value read whole, and a mark to come back to. */
static void stream(void)
{
	const char *t = "{\"a\": [1, 2],\n \"b\": {\"c\": \"d\"}, \"e\": [{\"f\": 1}]}";
	struct jstream s;
	char key[16], err[200] = "";
	json_t *v, *el;
	CHECK(jstream_open(&s, t, strlen(t), err, sizeof(err)) == 0, "open: %s", err);
	CHECK(jstream_member(&s, key, sizeof(key)) == 1 && !strcmp(key, "a"), "key a");
	struct jstream_mark m = jstream_tell(&s);
	CHECK(jstream_skip(&s) == 0, "skip a");
	CHECK(jstream_member(&s, key, sizeof(key)) == 1 && !strcmp(key, "b") && s.line == 2, "key b on line 2 (%d)", s.line);
	v = jstream_value(&s);
	CHECK(v && !strcmp(json_string_value(json_object_get(v, "c")), "d"), "b whole");
	json_decref(v);
	/* a member not read is stepped over by the next jstream_member */
	CHECK(jstream_member(&s, key, sizeof(key)) == 1 && !strcmp(key, "e"), "key e");
	CHECK(jstream_member(&s, key, sizeof(key)) == 0, "end after e");
	jstream_seek(&s, m);
	long sum = 0;
	CHECK(jstream_array(&s) == 1, "a is an array");
	while (jstream_element(&s, &el) > 0) {
		sum += json_integer_value(el);
		json_decref(el);
	}
	CHECK(sum == 3 && s.line == 1, "a's elements again after the mark: %ld", sum);
}

/* Random damage to a valid config (bytes changed, removed, inserted; the text cut short), seeded: whatever the stream
 * reader accepts, jansson accepts as one document too, so no damage gets through between the pieces it parses. Run
 * under AddressSanitizer by hand as well (gcc -fsanitize=address, same sources): no read past the text. */
static void damaged(void)
{
	const char *base = "{\"settings\": {\"rate\": 5},\n \"pods\": [{\"name\": \"a\", \"ip\": \"10.0.0.1\", \"identity\": 7},"
			   " {\"name\": \"b\", \"ip\": \"10.0.0.2\"}],\n \"identities\": [{\"cidr\": \"10.9.0.0/16\", \"identity\": 9}],\n"
			   " \"policy\": [{\"pod\": \"a\", \"direction\": \"ingress\", \"protocol\": \"TCP\", \"port\": 80, \"action\": \"deny\"}],\n"
			   " \"x\": [1, \"s\", null, {\"y\": [true]}],\n \"l7\": [{\"port\": 80, \"method\": \"GET\", \"pathExact\": \"/q\"}]}";
	static const char pick[] = "{}[]\",: \n0a\\-e.tfn";
	size_t blen = strlen(base), accepted = 0, wrong = 0;
	char text[1024];
	unsigned seed = 12345;
	for (int it = 0; it < 20000; it++) {
		memcpy(text, base, blen + 1);
		size_t len = blen;
		int edits = 1 + (int)(rand_r(&seed) % 3);
		for (int e = 0; e < edits && len > 1; e++) {
			size_t at = (size_t)rand_r(&seed) % len;
			switch (rand_r(&seed) % 4) {
			case 0: text[at] = pick[rand_r(&seed) % (sizeof(pick) - 1)]; break;
			case 1: memmove(text + at, text + at + 1, len - at); len--; break;
			case 2:
				if (len + 1 < sizeof(text)) {
					memmove(text + at + 1, text + at, len - at + 1);
					text[at] = pick[rand_r(&seed) % (sizeof(pick) - 1)];
					len++;
				}
				break;
			default: text[at] = 0; len = at; break;
			}
		}
		struct shadow_config c;
		char err[300];
		int ours = shadow_config_parse(text, &c, err, sizeof(err)) == 0;
		if (ours)
			shadow_config_free(&c);
		json_error_t je;
		json_t *whole = json_loads(text, 0, &je);
		accepted += ours;
		if (ours && !(whole && json_is_object(whole)) && wrong++ < 3)
			printf("accepted what jansson refuses (%s): %s\n", je.text, text);
		json_decref(whole);
	}
	printf("test_config: 20,000 damaged configs, %zu accepted (each one JSON object to jansson too)\n", accepted);
	CHECK(!wrong && accepted > 100, "20,000 damaged configs: %zu accepted, %zu of them not one JSON object", accepted, wrong);
}

/* Peak heap of a parse, in a child: ru_maxrss over the text's own footprint. */
static long parse_peak_kib(const char *text, size_t *need)
{
	*need = shadow_config_parse_need(text);
	int fd[2];
	if (pipe(fd))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		struct rusage r0, r1;
		getrusage(RUSAGE_SELF, &r0);
		struct shadow_config c;
		char err[300];
		long peak = -1;
		if (shadow_config_parse(text, &c, err, sizeof(err)) == 0) {
			getrusage(RUSAGE_SELF, &r1);
			peak = r1.ru_maxrss - r0.ru_maxrss;
		} else {
			fprintf(stderr, "parse: %s\n", err);
		}
		if (write(fd[1], &peak, sizeof(peak)) != sizeof(peak))
			_exit(1);
		_exit(0);
	}
	long peak = -1;
	close(fd[1]);
	if (read(fd[0], &peak, sizeof(peak)) != sizeof(peak))
		peak = -1;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return peak;
}

/* 65,536 rules naming 4,096 pods: the whole document's jansson tree took ~75 MiB over the text; element by element
 * the parse holds the config's own arrays (~4 MiB of pods, 1.3 MiB of rules) and one rule's tree. */
static void big_parse_memory(void)
{
	size_t cap = 16 << 20, o = 0;
	char *j = malloc(cap);
	o += snprintf(j + o, cap - o, "{\"pods\": [");
	for (int p = 0; p < 4096; p++)
		o += snprintf(j + o, cap - o, "%s{\"name\": \"pod-%d\", \"ip\": \"10.%d.%d.%d\", \"identity\": %d}", p ? "," : "", p,
			      1 + (p >> 16), (p >> 8) & 255, p & 255, 1000 + p);
	o += snprintf(j + o, cap - o, "], \"policy\": [");
	for (int r = 0; r < 65536; r++)
		o += snprintf(j + o, cap - o,
			      "%s{\"pod\": \"pod-%d\", \"identity\": %d, \"direction\": \"ingress\", \"protocol\": \"TCP\", "
			      "\"port\": %d, \"action\": \"allow\", \"ruleId\": %d}",
			      r ? "," : "", r % 4096, 2000 + r % 512, 1 + r % 60000, r + 1);
	snprintf(j + o, cap - o, "]}");
	memset(j + o + 3, 'x', cap - o - 4); /* the text's pages are resident before the child's baseline */
	size_t need;
	long peak = parse_peak_kib(j, &need);
	printf("test_config: 65,536 rules over 4,096 pods (%zu KiB of text): parse peak %ld KiB, estimate %zu KiB\n", o >> 10, peak,
	       need >> 10);
	CHECK(peak > 0 && peak < 24 * 1024, "65,536 rules: the parse's peak %ld KiB (the whole document's tree: ~75 MiB)", peak);
	CHECK(peak > 0 && need >= (size_t)peak * 1024 && need <= (size_t)peak * 1024 * 3 + (4 << 20),
	      "estimate %zu KiB against the peak %ld KiB: an upper bound, not far above", need >> 10, peak);

	/* L7 regexes: glibc's compiled form is ~4 KiB each, which the estimate counts (the token count before did not) */
	o = 0;
	o += snprintf(j + o, cap - o, "{\"l7\": [");
	for (int r = 0; r < 4000; r++)
		o += snprintf(j + o, cap - o, "%s{\"port\": %d, \"pathRegex\": \"/api/v[0-9]+/items/%d/.*\"}", r ? "," : "", 1 + r % 100, r);
	snprintf(j + o, cap - o, "]}");
	peak = parse_peak_kib(j, &need);
	printf("test_config: 4,000 L7 regexes: parse peak %ld KiB, estimate %zu KiB\n", peak, need >> 10);
	CHECK(peak > 12 * 1024, "4,000 regexes take their room: %ld KiB", peak);
	CHECK(peak > 0 && need >= (size_t)peak * 1024 && need <= (size_t)peak * 1024 * 3 + (4 << 20),
	      "regexes: estimate %zu KiB against the peak %ld KiB", need >> 10, peak);
	free(j);
}

/* "sidecar": whether the pod has an app leg (cgroup_skb) and a captured outbound (SHADOW_EP_SIDECAR); absent is
 * "not known", which keeps the app leg a config without the field always had */
static void sidecar_states(void)
{
	const char *j = "{\"pods\": [{\"name\": \"t\", \"ip\": \"10.0.0.1\", \"sidecar\": true},"
			" {\"name\": \"o\", \"ip\": \"10.0.0.2\", \"sidecar\": {\"uid\": 1337}},"
			" {\"name\": \"f\", \"ip\": \"10.0.0.3\", \"sidecar\": false},"
			" {\"name\": \"n\", \"ip\": \"10.0.0.4\", \"sidecar\": null},"
			" {\"name\": \"u\", \"ip\": \"10.0.0.5\"}]}";
	struct shadow_config c;
	char err[300] = "";
	CHECK(shadow_config_parse(j, &c, err, sizeof(err)) == 0, "sidecar states: %s", err);
	const int want[] = {1, 1, 0, 0, -1};
	for (size_t i = 0; i < 5 && i < c.n_pods; i++)
		CHECK(c.pods[i].sidecar == want[i], "pod %s: sidecar %d, want %d", c.pods[i].name, c.pods[i].sidecar, want[i]);
	shadow_config_free(&c);
}

/* The loader's userspace L7 step on a port whose rules name peers (l7[].identity), on a default-deny pod and on one
 * whose policies keep default allow (pods[].defaultDeny false), where a peer no rule names is not held to them */
static void l7_user_per_peer(void)
{
	const char *j = "{\"pods\": [{\"name\": \"dd\", \"ip\": \"10.0.0.1\"},"
			" {\"name\": \"da\", \"ip\": \"10.0.0.2\", \"defaultDeny\": {\"ingress\": false}}],"
			" \"l7\": [{\"pod\": \"dd\", \"port\": 80, \"identity\": 100, \"pathPrefix\": \"/a\", \"ruleId\": 1},"
			"        {\"pod\": \"da\", \"port\": 80, \"identity\": 100, \"pathPrefix\": \"/a\", \"ruleId\": 2}]}";
	struct shadow_config c;
	char err[300] = "";
	CHECK(shadow_config_parse(j, &c, err, sizeof(err)) == 0, "per-peer config: %s", err);
	static const struct {
		__u16 ep;
		__u32 peer;
		const char *path;
		__u8 verdict;
		int peer_flag;
	} cases[] = {
		{1, 100, "/a/x", SHADOW_VERDICT_ALLOW, 0}, {1, 100, "/b", SHADOW_VERDICT_DENY, 0},
		{1, 200, "/a/x", SHADOW_VERDICT_DENY, 0},  /* default deny: another peer's rule does not apply */
		{1, 0, "/a/x", SHADOW_VERDICT_NONE, 1},    /* the app leg: only the peer could tell */
		{1, 0, "/b", SHADOW_VERDICT_DENY, 0},      /* no peer's rule matches */
		{2, 100, "/b", SHADOW_VERDICT_DENY, 0},    /* default allow: a named peer still answers to its rules */
		{2, 200, "/b", SHADOW_VERDICT_NONE, 0},    /* ... a peer no rule names passes, with no L7 verdict */
		{2, 0, "/b", SHADOW_VERDICT_NONE, 1},      /* ... so the app leg cannot deny it either */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shadow_http_rec r = {.ep = cases[i].ep, .server_port = 80, .dir = SHADOW_DIR_INGRESS, .where = SHADOW_WHERE_USER,
					    .remote_id = cases[i].peer, .path_len = (__u16)strlen(cases[i].path)};
		memcpy(r.path, cases[i].path, r.path_len);
		CHECK(shadow_config_l7_user(&c, &r) == 1 && r.verdict == cases[i].verdict && !!(r.flags & SHADOW_F_PEER) == cases[i].peer_flag,
		      "case %zu (pod %u, peer %u, %s): verdict %u flag %d", i, cases[i].ep, cases[i].peer, cases[i].path, r.verdict,
		      !!(r.flags & SHADOW_F_PEER));
	}
	shadow_config_free(&c);
}

int main(void)
{
	l7_user_per_peer();
	order_free();
	sidecar_states();
	errors();
	stream();
	damaged();
	big_parse_memory();
	printf("test_config: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
