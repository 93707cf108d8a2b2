// Traffic no sidecar handles (core/shadow/bypass.ts), judged against today's "allowed": UDP, pods without a
// sidecar, inbound ports a sidecar does not intercept. Pure core, fed hand-made probe records (fakes of the loader's
// JSON lines); the lab test in test/integration/shadow-lab.test.ts sends the real traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShadowJoiner } from '../../src/core/shadow/join.js';
import { buildShadowResult, DEFAULT_TOLERANCE } from '../../src/core/shadow/diff.js';
import { bypassReason } from '../../src/core/shadow/bypass.js';
import { inboundCapture } from '../../src/core/istio/capture.js';
import { renderShadowMarkdown, renderShadowText } from '../../src/render/shadow.js';
import type { JoinInputs } from '../../src/core/shadow/join.js';
import type { ProbeEdge, ProbeFlow, ProbeHttp, ShadowPod } from '../../src/core/shadow/types.js';

const T0 = Date.UTC(2026, 10, 23, 6, 0, 0, 0);
const pods: ShadowPod[] = [
  { name: 'client', namespace: 'bookinfo', ip: '10.0.0.20', identity: 1004, sidecar: false },
  { name: 'ratings', namespace: 'bookinfo', ip: '10.0.0.14', identity: 1003, sidecar: true, inbound: { include: '*', exclude: [9081] } },
  { name: 'reviews', namespace: 'bookinfo', ip: '10.0.0.13', identity: 1002, sidecar: true },
];
const inputs: JoinInputs = {
  namespace: 'bookinfo', pods, gaps: [], selectedBy: { ratings: ['CiliumNetworkPolicy/bookinfo/istio-ratings-viewer'], client: ['CiliumNetworkPolicy/bookinfo/all'] },
  rules: [{ id: 7, policy: 'CiliumNetworkPolicy/bookinfo/all', rule: 'ingress[0].toPorts[0].rules.http[0]' }],
  l7: [{ pod: 'client', port: 9080, method: 'GET', pathPrefix: '/ok', ruleId: 7 }],
  identities: [...pods.map((p) => ({ ip: p.ip, identity: p.identity })), { cidr: '192.0.2.0/24', identity: 16777217 }],
};
const result = (j: ShadowJoiner) => buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 10_000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [] });

function flow(pod: ShadowPod, src: string, sport: number, dport: number, proto: string, verdict: ProbeFlow['verdict'], remoteIdentity: number, rule = 0): ProbeFlow {
  return { type: 'flow', ts: (T0 + sport) * 1e6, pod: pod.name, dir: 'ingress', src, sport, dst: pod.ip, dport, proto, verdict, where: 'kernel', rule, remoteIdentity, flags: [] };
}
function request(pod: ShadowPod, client: string, port: number, path: string, verdict: ProbeHttp['verdict'], where: ProbeHttp['where'], rule = 0): ProbeHttp {
  return { type: 'http', ts: (T0 + 100) * 1e6, pod: pod.name, leg: 'wire', dir: 'ingress', client, server: `${pod.ip}:${port}`, method: 'GET', path, status: 200, latencyNs: 1e6, verdict, where, rule, remoteIdentity: 1002, flags: [] };
}
function edge(ts: number, pod: ShadowPod, port: number, proto: string, flows: number, denied: number, remoteIdentity: number): ProbeEdge {
  return { type: 'edge', ts, pod: pod.name, dir: 'ingress', leg: 'wire', remoteIdentity, port, proto, flows, requests: 0, flowVerdicts: { none: 0, allow: flows - denied, deny: denied, audit: 0 }, l7Verdicts: { none: 0, allow: 0, deny: 0, audit: 0 }, status: {}, bytesSent: 0, bytesReceived: 0, latencySumNs: 0 };
}
const [client, ratings, reviews] = pods as [ShadowPod, ShadowPod, ShadowPod];

test('bypassReason: what a sidecar handles, what it does not, and what is not judged', () => {
  assert.equal(bypassReason(reviews, 9080, 'TCP'), null);
  assert.equal(bypassReason(reviews, 53, 'UDP'), 'not-tcp');
  assert.equal(bypassReason(reviews, 0, 'OTHER'), 'not-tcp');
  assert.equal(bypassReason(reviews, 0, 'ICMP'), null, 'ICMP errors of allowed connections pass in Cilium: not judged');
  assert.equal(bypassReason(client, 9080, 'TCP'), 'no-sidecar');
  assert.equal(bypassReason(ratings, 9081, 'TCP'), 'not-intercepted');
  assert.equal(bypassReason(ratings, 9080, 'TCP'), null);
  assert.equal(bypassReason(ratings, 15020, 'TCP'), null, "the sidecar's own ports go with it");
  assert.equal(bypassReason({ ...reviews, inbound: { include: [9080], exclude: [] } }, 8080, 'TCP'), 'not-intercepted');
  assert.equal(bypassReason(undefined, 9080, 'UDP'), null);
});

test("inboundCapture: Istio's include/exclude annotations, and a bad port named", () => {
  assert.equal(inboundCapture('p', undefined), undefined);
  assert.equal(inboundCapture('p', { other: 'x' }), undefined);
  assert.deepEqual(inboundCapture('p', { 'traffic.sidecar.istio.io/excludeInboundPorts': '9081, 9090' }), { include: '*', exclude: [9081, 9090] });
  assert.deepEqual(inboundCapture('p', { 'traffic.sidecar.istio.io/includeInboundPorts': '*' }), { include: '*', exclude: [] });
  assert.deepEqual(inboundCapture('p', { 'traffic.sidecar.istio.io/includeInboundPorts': '' }), { include: [], exclude: [] }, 'empty: no inbound redirect');
  assert.deepEqual(inboundCapture('p', { 'traffic.sidecar.istio.io/includeInboundPorts': '9080,8443' }), { include: [9080, 8443], exclude: [] });
  assert.throws(() => inboundCapture('web-1', { 'traffic.sidecar.istio.io/excludeInboundPorts': '9081,http' }), /pod web-1: annotation traffic.sidecar.istio.io\/excludeInboundPorts: "http" is not a port/);
});

test('UDP to a sidecar pod that the translated policy denies: an outage risk, exit 10', () => {
  const j = new ShadowJoiner(inputs);
  j.addProbe(flow(ratings, '10.0.0.13', 5001, 5353, 'UDP', 'deny', 1002));
  j.addProbe(flow(ratings, '10.0.0.13', 5002, 5353, 'UDP', 'deny', 1002));
  j.addProbe(flow(reviews, '10.0.0.20', 5003, 5353, 'UDP', 'allow', 1004, 0));
  j.addProbe(flow(reviews, '10.0.0.20', 5004, 0, 'ICMP', 'deny', 1004));
  j.flush(Infinity);
  const r = result(j);
  assert.equal(r.bypass.flowSource, 'records');
  assert.deepEqual(r.bypass.edges.map((e) => [e.edge, e.reason, e.flows, e.flowsDenied]), [
    ['client -> reviews:5353/udp', 'not-tcp', 1, 0],
    ['reviews -> ratings:5353/udp', 'not-tcp', 2, 2],
  ]);
  assert.equal(r.summary.bypassWouldDeny, 2);
  assert.equal(r.summary.unexpectedDisagreements, 2);
  assert.equal(r.summary.outcome, 'disagreements');
  assert.equal(r.summary.exitCode, 10);
  const d = r.disagreements.find((x) => x.edge === 'reviews -> ratings:5353/udp')!;
  assert.equal(d.class, 'ebpf-would-deny');
  assert.equal(d.risk, 'outage');
  assert.equal(d.expected, false);
  assert.match(d.envoyRule, /no sidecar on the path: not TCP/);
  assert.equal(d.ebpfRule, '(default deny L3/L4: no rule of CiliumNetworkPolicy/bookinfo/istio-ratings-viewer matched)');
  assert.deepEqual(d.examples.map((e) => `${e.client} -> ${e.server}`), ['10.0.0.13:5001 -> 10.0.0.14:5353', '10.0.0.13:5002 -> 10.0.0.14:5353']);
  assert.equal(r.matrix.allowDeny, 0, 'the Envoy/eBPF matrix holds only what a sidecar decided');
  assert.deepEqual(r.coverage.probeOnly, [], 'neither UDP nor ICMP is a coverage gap of the sidecars');
  assert.match(renderShadowText(r), /reviews -> ratings:5353\/udp +not-tcp +2 +2/);
  assert.match(renderShadowMarkdown(r), /## Traffic no sidecar handled/);
  assert.match(renderShadowMarkdown(r), /flow 10\.0\.0\.13:5001 -> 10\.0\.0\.14:5353, eBPF verdict at L3\/L4/);
});

test('a pod without a sidecar: its requests are judged at L7 instead of left unmatched; a denied flow counts once', () => {
  const j = new ShadowJoiner(inputs);
  j.addProbe(flow(client, '10.0.0.13', 41000, 9080, 'TCP', 'allow', 1002, 0));
  j.addProbe(request(client, '10.0.0.13:41000', 9080, '/ok/1', 'allow', 'kernel', 7));
  j.addProbe(request(client, '10.0.0.13:41000', 9080, '/no', 'deny', 'kernel'));
  j.addProbe(request(client, '10.0.0.13:41000', 9080, '/no2', 'deny', 'kernel'));
  j.addProbe(flow(client, '10.0.0.13', 41001, 8080, 'TCP', 'deny', 1002));
  j.addProbe(request(client, '10.0.0.13:41001', 8080, '/x', 'none', 'none'));
  j.flush(Infinity);
  const r = result(j);
  assert.equal(r.matrix.probeOnly, 0, 'no longer unmatched probe-only evidence');
  const e9080 = r.bypass.edges.find((e) => e.edge === 'reviews -> client:9080')!;
  assert.deepEqual([e9080.reason, e9080.flows, e9080.flowsDenied, e9080.requests, e9080.requestsDenied], ['no-sidecar', 1, 0, 3, 2]);
  const e8080 = r.bypass.edges.find((e) => e.edge === 'reviews -> client:8080')!;
  assert.deepEqual([e8080.flows, e8080.flowsDenied, e8080.requests], [1, 1, 0]);
  assert.equal(r.summary.bypassWouldDeny, 3);
  const l7 = r.disagreements.find((d) => d.edge === 'reviews -> client:9080')!;
  assert.equal(l7.count, 2);
  assert.match(l7.envoyRule, /the pod has no sidecar/);
  assert.deepEqual(l7.examples.map((x) => `${x.method} ${x.path} ${x.layer}`), ['GET /no L7', 'GET /no2 L7']);
});

test('a port the sidecar does not intercept; flow counts from the kernel aggregates, across a restart', () => {
  const j = new ShadowJoiner(inputs);
  // world (no identity entry) and a CIDR identity: named by what the config says they are
  j.addProbe(edge(1, ratings, 9081, 'TCP', 10, 4, 2));
  j.addProbe(edge(2, ratings, 9081, 'TCP', 25, 9, 2));
  j.addProbe(edge(3, ratings, 9081, 'TCP', 5, 5, 2)); // the probe restarted: 25 + 5 flows, 9 + 5 denied
  j.addProbe(edge(2, ratings, 9081, 'TCP', 999, 999, 2)); // out of order: ignored
  j.addProbe(edge(3, ratings, 9081, 'TCP', 3, 0, 16777217));
  j.addProbe(flow(ratings, '203.0.113.9', 50000, 9081, 'TCP', 'deny', 2));
  j.addProbe(edge(3, ratings, 9080, 'TCP', 50, 50, 2)); // intercepted: the Envoy side judges it
  j.flush(Infinity);
  const r = result(j);
  assert.equal(r.bypass.flowSource, 'edge-aggregate');
  assert.deepEqual(r.bypass.edges.map((e) => [e.edge, e.reason, e.flows, e.flowsDenied]), [
    ['cidr:192.0.2.0/24 -> ratings:9081', 'not-intercepted', 3, 0],
    ['world -> ratings:9081', 'not-intercepted', 30, 14],
  ]);
  assert.equal(r.summary.bypassWouldDeny, 14);
  assert.deepEqual(r.coverage.probeOnly, [], 'a port the sidecar does not intercept is no coverage gap');
  // the live metrics' totals: the same counts, by unit and reason
  assert.deepEqual(j.bypass.totals(), [{ unit: 'flows', reason: 'not-intercepted', seen: 33, denied: 14 }, { unit: 'requests', reason: 'not-intercepted', seen: 0, denied: 0 }]);
});

test('a request no sidecar handles that only a rule with host or header conditions allows is counted as unchecked', () => {
  // client has no sidecar: no access log names its requests, so nobody sees their Host or headers
  const cond: JoinInputs = {
    ...inputs,
    rules: [
      ...inputs.rules,
      { id: 8, policy: 'CiliumNetworkPolicy/bookinfo/all', rule: 'ingress[0].toPorts[0].rules.http[1]', when: { host: 'client\\.example' } },
    ],
    l7: [...inputs.l7, { pod: 'client', port: 9080, method: 'GET', pathPrefix: '/h', ruleId: 8 }, { pod: 'client', port: 9080, method: 'GET', pathPrefix: '/h/ok', ruleId: 7 }],
  };
  const j = new ShadowJoiner(cond, { windowMs: 500 });
  j.addProbe(flow(client, '10.0.0.13', 41000, 9080, 'TCP', 'allow', 1002, 5));
  j.addProbe(request(client, '10.0.0.13:41000', 9080, '/h/1', 'allow', 'kernel', 8)); // only the host rule allows
  j.addProbe(request(client, '10.0.0.13:41000', 9080, '/h/ok', 'allow', 'kernel', 8)); // rule 7 allows it whatever the host
  j.addProbe(request(client, '10.0.0.13:41000', 9080, '/ok', 'allow', 'kernel', 7));
  j.addProbe(request(client, '10.0.0.13:41000', 9080, '/no', 'deny', 'kernel', 0));
  j.flush(Infinity);
  const r = result(j);
  const e = r.bypass.edges.find((x) => x.destination === 'client')!;
  assert.deepEqual([e.requests, e.requestsDenied, e.requestsUnchecked], [4, 1, 1]);
  assert.equal(r.bypass.requestsUnchecked, 1);
  assert.match(renderShadowText(r), /1 allowed only by rules whose host or header conditions nobody checked here/);
  assert.match(renderShadowMarkdown(r), /1 allowed only by rules whose host or header conditions nobody checked here/);
});
