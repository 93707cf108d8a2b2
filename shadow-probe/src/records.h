/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * What the loader makes of each record from the ring: its JSON line, and for an inbound request the pairing of its
 * wire leg with the app leg it contains (sidecar overhead = wire - app). Userspace only, no BPF: the loader prints
 * with these and tests/test_records.c checks them against the printf formats they replaced.
 */
#ifndef SHADOW_RECORDS_H
#define SHADOW_RECORDS_H
#include <stddef.h>
#include "shadow.h"

/* Longest line: the fixed fields (~420 bytes), a pod name (CFG_NAME_MAX) and a path of SHADOW_PATH_MAX bytes
 * that may all need \u00XX escapes (6 bytes each). */
#define REC_JSON_MAX 2048

const char *rec_proto_name(__u8 proto);
const char *rec_where_name(__u8 where);

/* The JSON line of a record, newline included, into out (REC_JSON_MAX bytes); returns its length. wall: the
 * record's time on CLOCK_REALTIME. pod: the endpoint's name. overhead: the paired sidecar overhead, < 0 for none. */
size_t rec_json_http(char *out, const struct shadow_http_rec *r, __u64 wall, const char *pod, __s64 overhead);
size_t rec_json_flow(char *out, const struct shadow_flow_rec *r, __u64 wall, const char *pod);
size_t rec_json_conn(char *out, const struct shadow_conn_rec *r, __u64 wall, const char *pod);

/* Recent inbound app-leg requests, to pair each inbound wire-leg request with the app-leg request inside it. The two
 * legs have different client endpoints (the client, then 127.0.0.6), so the pair is: same pod, method and path, the
 * app leg's [start, end] inside the wire leg's. App records come first (their response precedes the wire response);
 * each is used once, the earliest-starting candidate first. */
#define LEGS_RECENT 256
struct legs_recent {
	__u64 start_ns, end_ns;
	__u16 ep;
	__u8 method;
	__u8 used;
	__u16 path_len;
	char path[SHADOW_PATH_MAX];
};
struct legs {
	struct legs_recent recent[LEGS_RECENT];
	unsigned next;
};

/* App leg: remembered, returns -1. Wire leg: the sidecar overhead in ns (wire latency - app latency), or -1 when no
 * app leg pairs with it (records are sampled and rate-limited, so both legs of a request are not always there). */
__s64 legs_pair(struct legs *l, const struct shadow_http_rec *r);
#endif
