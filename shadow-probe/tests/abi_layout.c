// SPDX-License-Identifier: Apache-2.0
/* Prints the layout of every shadow.h record as JSON: {"struct": {"size": N, "fields": {"name": [offset, size]}}}
 * plus the enum constants the decoder uses. test/unit/probe-abi.test.ts compares it with the TypeScript table. */
#include <stddef.h>
#include <stdio.h>
#include "shadow.h"

static int first_struct = 1, first_field;

#define BEGIN(T)                                                                                   \
	do {                                                                                       \
		printf("%s\"%s\":{\"size\":%zu,\"fields\":{", first_struct ? "" : ",", #T, sizeof(struct T)); \
		first_struct = 0;                                                                  \
		first_field = 1;                                                                   \
	} while (0)
#define F(T, f)                                                                                    \
	do {                                                                                       \
		printf("%s\"%s\":[%zu,%zu]", first_field ? "" : ",", #f, offsetof(struct T, f),      \
		       sizeof(((struct T *)0)->f));                                               \
		first_field = 0;                                                                   \
	} while (0)
#define END() printf("}}")

int main(void)
{
	printf("{\"structs\":{");
	BEGIN(shadow_rec_hdr);
	F(shadow_rec_hdr, type); F(shadow_rec_hdr, size); F(shadow_rec_hdr, cpu); F(shadow_rec_hdr, ts_ns);
	END();
	BEGIN(shadow_flow_rec);
	F(shadow_flow_rec, hdr); F(shadow_flow_rec, saddr); F(shadow_flow_rec, daddr); F(shadow_flow_rec, sport);
	F(shadow_flow_rec, dport); F(shadow_flow_rec, proto); F(shadow_flow_rec, dir); F(shadow_flow_rec, verdict);
	F(shadow_flow_rec, where); F(shadow_flow_rec, rule_id); F(shadow_flow_rec, remote_id); F(shadow_flow_rec, ifindex);
	F(shadow_flow_rec, ep); F(shadow_flow_rec, flags); F(shadow_flow_rec, _pad0);
	END();
	BEGIN(shadow_http_rec);
	F(shadow_http_rec, hdr); F(shadow_http_rec, client_addr); F(shadow_http_rec, server_addr);
	F(shadow_http_rec, client_port); F(shadow_http_rec, server_port); F(shadow_http_rec, ep); F(shadow_http_rec, leg);
	F(shadow_http_rec, method); F(shadow_http_rec, status); F(shadow_http_rec, path_len); F(shadow_http_rec, verdict);
	F(shadow_http_rec, where); F(shadow_http_rec, dir); F(shadow_http_rec, flags); F(shadow_http_rec, rule_id);
	F(shadow_http_rec, remote_id); F(shadow_http_rec, latency_ns); F(shadow_http_rec, cgroup_id); F(shadow_http_rec, path);
	END();
	BEGIN(shadow_conn_rec);
	F(shadow_conn_rec, hdr); F(shadow_conn_rec, saddr); F(shadow_conn_rec, daddr); F(shadow_conn_rec, sport);
	F(shadow_conn_rec, dport); F(shadow_conn_rec, event); F(shadow_conn_rec, state); F(shadow_conn_rec, ep);
	F(shadow_conn_rec, srtt_us); F(shadow_conn_rec, total_retrans); F(shadow_conn_rec, bytes_acked);
	F(shadow_conn_rec, bytes_received); F(shadow_conn_rec, duration_ns);
	END();
	BEGIN(shadow_edge_key);
	F(shadow_edge_key, remote_id); F(shadow_edge_key, ep); F(shadow_edge_key, port); F(shadow_edge_key, dir);
	F(shadow_edge_key, leg); F(shadow_edge_key, proto); F(shadow_edge_key, _pad0);
	END();
	BEGIN(shadow_edge_val);
	F(shadow_edge_val, flows); F(shadow_edge_val, requests); F(shadow_edge_val, verdicts_l4); F(shadow_edge_val, verdicts_l7); F(shadow_edge_val, status);
	F(shadow_edge_val, bytes_sent); F(shadow_edge_val, bytes_received); F(shadow_edge_val, conns_closed);
	F(shadow_edge_val, retrans); F(shadow_edge_val, lat_sum_ns); F(shadow_edge_val, lat_bucket);
	END();
	BEGIN(shadow_edge_rec);
	F(shadow_edge_rec, hdr); F(shadow_edge_rec, key); F(shadow_edge_rec, _pad0); F(shadow_edge_rec, val);
	END();
	BEGIN(shadow_metrics_rec);
	F(shadow_metrics_rec, hdr); F(shadow_metrics_rec, counters); F(shadow_metrics_rec, ct_entries);
	F(shadow_metrics_rec, ct_gc_deleted); F(shadow_metrics_rec, user_l7_evaluated); F(shadow_metrics_rec, records_out); F(shadow_metrics_rec, records_dropped);
	END();
	printf("},\"constants\":{\"SHADOW_ABI_VERSION\":%d,\"SHADOW_PATH_MAX\":%d,\"SHADOW_LAT_BUCKETS\":%d,"
	       "\"SHADOW_STATUS_CLASSES\":%d,\"SHADOW_C__MAX\":%d,\"SHADOW_REC_FLOW\":%d,\"SHADOW_REC_HTTP\":%d,"
	       "\"SHADOW_REC_CONN\":%d,\"SHADOW_REC_EDGE\":%d,\"SHADOW_REC_METRICS\":%d}",
	       SHADOW_ABI_VERSION, SHADOW_PATH_MAX, SHADOW_LAT_BUCKETS, SHADOW_STATUS_CLASSES, SHADOW_C__MAX,
	       SHADOW_REC_FLOW, SHADOW_REC_HTTP, SHADOW_REC_CONN, SHADOW_REC_EDGE, SHADOW_REC_METRICS);
	static const unsigned long long bounds[SHADOW_LAT_BUCKETS] = SHADOW_LAT_BOUNDS_NS;
	printf(",\"latencyBoundsNs\":[");
	for (int i = 0; i < SHADOW_LAT_BUCKETS - 1; i++)
		printf("%s%llu", i ? "," : "", bounds[i]);
	printf("]}\n");
	return 0;
}
