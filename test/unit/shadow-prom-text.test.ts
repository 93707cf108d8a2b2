import { test } from 'node:test';
import assert from 'node:assert/strict';
import { istioDelta, parseIstioRequests } from '../../src/core/shadow/prom-text.js';

const line = (reporter: string, src: string, dst: string, code: string, v: number) =>
  `istio_requests_total{reporter="${reporter}",source_workload="${src}",destination_workload="${dst}",request_protocol="http",response_code="${code}",response_flags="-"} ${v}`;

test('istio_requests_total: destination reporter only, summed per edge and status class; deltas survive restarts', () => {
  const start = parseIstioRequests(['# TYPE istio_requests_total counter', line('destination', 'client', 'reviews', '200', 10), line('destination', 'client', 'reviews', '403', 2), line('source', 'client', 'reviews', '200', 99)].join('\n'));
  assert.deepEqual(start.get('client|reviews'), { '2xx': 10, '4xx': 2 });
  const end = parseIstioRequests([line('destination', 'client', 'reviews', '200', 25), line('destination', 'client', 'reviews', '201', 5), line('destination', 'client', 'reviews', '403', 1), 'istio_request_bytes_sum{reporter="destination"} 7'].join('\n'));
  // 403 went down from 2 to 1: the sidecar restarted, so the delta counts from 0.
  assert.deepEqual(istioDelta(start, end).get('client|reviews'), { '2xx': 20, '4xx': 1 });
});

test('Envoy RBAC counters: Istio stats tags, Envoy default tags and untagged names; dry-run; deltas per port', async () => {
  const { parseRbacStats, rbacDelta } = await import('../../src/core/shadow/prom-text.js');
  const istioTagged = parseRbacStats([
    '# TYPE envoy_http_inbound_0_0_0_0_9080_rbac counter',
    'envoy_http_inbound_0_0_0_0_9080_rbac{authz_enforce_result="allowed",app="reviews"} 40',
    'envoy_http_inbound_0_0_0_0_9080_rbac{authz_enforce_result="denied"} 3',
    'envoy_http_inbound_0_0_0_0_9080_rbac{authz_dry_run_action="deny",authz_dry_run_result="denied"} 7',
    'envoy_http_inbound_0_0_0_0_8080_rbac{authz_enforce_result="allowed"} 1',
    // outbound listeners and other HTTP stats are not RBAC decisions of this pod
    'envoy_http_outbound_0_0_0_0_9080_rbac{authz_enforce_result="denied"} 99',
    'envoy_http_inbound_0_0_0_0_9080_downstream_rq_total 50',
  ].join('\n'));
  assert.deepEqual(istioTagged.get(9080), { allowed: 40, denied: 3, dryRun: { 'deny:denied': 7 } });
  assert.deepEqual(istioTagged.get(8080), { allowed: 1, denied: 0, dryRun: {} });
  assert.equal(istioTagged.size, 2);
  const envoyDefault = parseRbacStats([
    'envoy_http_rbac_allowed{envoy_http_conn_manager_prefix="inbound_0.0.0.0_9080"} 5',
    'envoy_http_rbac_denied{envoy_http_conn_manager_prefix="inbound_0.0.0.0_9080"} 2',
    'envoy_http_rbac_istio_dry_run_allow_shadow_allowed{envoy_http_conn_manager_prefix="inbound_0.0.0.0_9080"} 4',
    'envoy_http_rbac_denied{envoy_http_conn_manager_prefix="outbound_0.0.0.0_9080"} 9',
  ].join('\n'));
  assert.deepEqual(envoyDefault.get(9080), { allowed: 5, denied: 2, dryRun: { 'allow:allowed': 4 } });
  const untagged = parseRbacStats('envoy_http_inbound_0_0_0_0_9080_rbac_allowed 12\nenvoy_http_inbound_0_0_0_0_9080_rbac_denied 1\n');
  assert.deepEqual(untagged.get(9080), { allowed: 12, denied: 1, dryRun: {} });
  // a sidecar restart resets counters: the delta counts from 0
  const d = rbacDelta(istioTagged, parseRbacStats('envoy_http_inbound_0_0_0_0_9080_rbac{authz_enforce_result="allowed"} 45\nenvoy_http_inbound_0_0_0_0_9080_rbac{authz_enforce_result="denied"} 2\n'));
  assert.deepEqual(d.get(9080), { allowed: 5, denied: 2, dryRun: {} });
  assert.equal(d.has(8080), false);
});
