// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/*
 * JSON lines of the records and the pairing of a request's two legs (records.h).
 *
 * The lines are appended by hand rather than with printf: at the lab's maximum rate vfprintf and its callees were
 * ~40 % of the loader's CPU, ~5 µs per record in all (bench/RESULTS.md, session 13). The bytes are the same as
 * the printf formats gave; tests/test_records.c compares the two.
 */
#include <string.h>
#include "config.h"
#include "records.h"

const char *rec_proto_name(__u8 proto)
{
	return proto == 6 ? "TCP" : proto == 17 ? "UDP" : proto == 1 ? "ICMP" : "OTHER";
}

const char *rec_where_name(__u8 w)
{
	return w == SHADOW_WHERE_KERNEL ? "kernel" : w == SHADOW_WHERE_USER ? "user" : "none";
}

/* ---- the writer: a cursor into a buffer the caller sized (REC_JSON_MAX) ---- */

#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

/* a NUL-terminated name: a pod's (< CFG_NAME_MAX bytes, config.c) or one of the fixed ones */
static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static char *put_u64(char *p, __u64 v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_s64(char *p, __s64 v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, -(__u64)v);
	}
	return put_u64(p, v);
}

/* dotted quad of an address in network order (inet_ntop's form) */
static char *put_ip(char *p, __u32 addr)
{
	const __u8 *b = (const __u8 *)&addr;
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = put_u64(p, b[i]);
	}
	return p;
}

/* "ip:port" with the quotes */
static char *put_endpoint(char *p, __u32 addr, __u16 port)
{
	*p++ = '"';
	p = put_ip(p, addr);
	*p++ = ':';
	p = put_u64(p, port);
	*p++ = '"';
	return p;
}

/* a JSON string of at most n bytes of s, up to its first NUL: quote and backslash escaped, bytes outside printable
 * ASCII as \u00XX */
static char *put_json_str(char *p, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	*p++ = '"';
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = c;
		} else if (c < 0x20 || c >= 0x7f) {
			p = LIT(p, "\\u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		} else {
			*p++ = c;
		}
	}
	*p++ = '"';
	return p;
}

static char *put_flags(char *p, __u8 flags)
{
	static const char *names[] = {"reply", "midstream", "tls", "truncated", "nopolicy", "closing", "sidecar", "peer"};
	p = LIT(p, ",\"flags\":[");
	int first = 1;
	for (int i = 0; i < 8; i++) {
		if (!(flags & (1 << i)))
			continue;
		if (!first)
			*p++ = ',';
		*p++ = '"';
		p = put_str(p, names[i]);
		*p++ = '"';
		first = 0;
	}
	*p++ = ']';
	return p;
}

static char *put_head(char *p, const char *type_lit, size_t type_len, __u64 wall, const char *pod)
{
	memcpy(p, type_lit, type_len);
	p += type_len;
	p = put_u64(p, wall);
	p = LIT(p, ",\"pod\":\"");
	p = put_str(p, pod);
	*p++ = '"';
	return p;
}

size_t rec_json_http(char *out, const struct shadow_http_rec *r, __u64 wall, const char *pod, __s64 overhead)
{
	static const char head[] = "{\"type\":\"http\",\"ts\":";
	char *p = put_head(out, head, sizeof(head) - 1, wall, pod);
	p = r->leg ? LIT(p, ",\"leg\":\"app\"") : LIT(p, ",\"leg\":\"wire\"");
	p = r->dir ? LIT(p, ",\"dir\":\"egress\"") : LIT(p, ",\"dir\":\"ingress\"");
	p = LIT(p, ",\"client\":");
	p = put_endpoint(p, r->client_addr, r->client_port);
	p = LIT(p, ",\"server\":");
	p = put_endpoint(p, r->server_addr, r->server_port);
	p = LIT(p, ",\"method\":\"");
	p = put_str(p, shadow_method_name(r->method));
	p = LIT(p, "\",\"path\":");
	p = put_json_str(p, r->path, r->path_len < SHADOW_PATH_MAX ? r->path_len : SHADOW_PATH_MAX);
	p = LIT(p, ",\"status\":");
	p = put_u64(p, r->status);
	p = LIT(p, ",\"latencyNs\":");
	p = put_u64(p, r->latency_ns);
	p = LIT(p, ",\"verdict\":\"");
	p = put_str(p, shadow_verdict_name(r->verdict));
	p = LIT(p, "\",\"where\":\"");
	p = put_str(p, rec_where_name(r->where));
	p = LIT(p, "\",\"rule\":");
	p = put_u64(p, r->rule_id);
	p = LIT(p, ",\"remoteIdentity\":");
	p = put_u64(p, r->remote_id);
	p = LIT(p, ",\"cgroupId\":");
	p = put_u64(p, r->cgroup_id);
	if (overhead >= 0) {
		p = LIT(p, ",\"sidecarOverheadNs\":");
		p = put_s64(p, overhead);
	}
	p = put_flags(p, r->flags);
	p = LIT(p, "}\n");
	return p - out;
}

size_t rec_json_flow(char *out, const struct shadow_flow_rec *r, __u64 wall, const char *pod)
{
	static const char head[] = "{\"type\":\"flow\",\"ts\":";
	char *p = put_head(out, head, sizeof(head) - 1, wall, pod);
	p = r->dir ? LIT(p, ",\"dir\":\"egress\"") : LIT(p, ",\"dir\":\"ingress\"");
	p = LIT(p, ",\"src\":\"");
	p = put_ip(p, r->saddr);
	p = LIT(p, "\",\"sport\":");
	p = put_u64(p, r->sport);
	p = LIT(p, ",\"dst\":\"");
	p = put_ip(p, r->daddr);
	p = LIT(p, "\",\"dport\":");
	p = put_u64(p, r->dport);
	p = LIT(p, ",\"proto\":\"");
	p = put_str(p, rec_proto_name(r->proto));
	p = LIT(p, "\",\"verdict\":\"");
	p = put_str(p, shadow_verdict_name(r->verdict));
	p = LIT(p, "\",\"where\":\"");
	p = put_str(p, rec_where_name(r->where));
	p = LIT(p, "\",\"rule\":");
	p = put_u64(p, r->rule_id);
	p = LIT(p, ",\"remoteIdentity\":");
	p = put_u64(p, r->remote_id);
	p = LIT(p, ",\"ifindex\":");
	p = put_u64(p, r->ifindex);
	p = put_flags(p, r->flags);
	p = LIT(p, "}\n");
	return p - out;
}

size_t rec_json_conn(char *out, const struct shadow_conn_rec *r, __u64 wall, const char *pod)
{
	static const char head[] = "{\"type\":\"conn\",\"ts\":";
	char *p = put_head(out, head, sizeof(head) - 1, wall, pod);
	p = LIT(p, ",\"event\":\"");
	p = put_str(p, r->event == SHADOW_CONN_CLOSE ? "close" : r->event == SHADOW_CONN_ACTIVE ? "active" : "passive");
	p = LIT(p, "\",\"local\":");
	p = put_endpoint(p, r->saddr, r->sport);
	p = LIT(p, ",\"remote\":");
	p = put_endpoint(p, r->daddr, r->dport);
	p = LIT(p, ",\"srttUs\":");
	p = put_u64(p, r->srtt_us);
	p = LIT(p, ",\"retrans\":");
	p = put_u64(p, r->total_retrans);
	p = LIT(p, ",\"bytesAcked\":");
	p = put_u64(p, r->bytes_acked);
	p = LIT(p, ",\"bytesReceived\":");
	p = put_u64(p, r->bytes_received);
	p = LIT(p, ",\"durationNs\":");
	p = put_u64(p, r->duration_ns);
	p = LIT(p, "}\n");
	return p - out;
}

/* ---- the two legs of an inbound request ---- */

/* App records reach the ring in the order their responses left (one ring; a record is reserved in the same
 * program run that stamps it), so the scan goes from the newest back and stops at the first app leg that ended this
 * long before the wire leg started: older ones cannot lie inside it. The slack covers two CPUs' records crossing in
 * the ring, which takes microseconds. At the lab's maximum rate the scan of all LEGS_RECENT entries was ~12 % of
 * the loader's CPU. */
#define LEGS_ORDER_SLACK_NS 10000000ULL

__s64 legs_pair(struct legs *l, const struct shadow_http_rec *r)
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
	size_t plen = r->path_len < SHADOW_PATH_MAX ? r->path_len : SHADOW_PATH_MAX;
	for (unsigned k = 1; k <= LEGS_RECENT; k++) {
		struct legs_recent *a = &l->recent[(l->next - k) % LEGS_RECENT];
		if (a->end_ns + LEGS_ORDER_SLACK_NS < start)
			break; /* this one and every older one ended before the wire leg started (never-used slots: 0) */
		if (a->used || a->ep != r->ep || a->method != r->method || a->path_len != r->path_len ||
		    a->start_ns < start || a->end_ns > end || memcmp(a->path, r->path, plen))
			continue;
		if (!best || a->start_ns < best->start_ns)
			best = a;
	}
	if (!best)
		return -1;
	best->used = 1;
	return (__s64)r->latency_ns - (__s64)(best->end_ns - best->start_ns);
}
