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
