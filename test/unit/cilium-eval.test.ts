// The Cilium reference evaluator against cilium-policy.md, one behaviour per test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { CiliumEvaluator, compileAnchored } from '../../src/core/cilium/evaluator.js';
import type { Peer, Request, Workload } from '../../src/core/verify/request.js';

const cnp = (name: string, spec: unknown, ns = 'app'): KubeObject => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: ns }, spec });
const ccnp = (name: string, spec: unknown): KubeObject => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name }, spec });
const api: Workload = { id: 'app/api', namespace: 'app', serviceAccount: 'api', labels: { app: 'api' } };
const web: Peer = { kind: 'pod', namespace: 'app', serviceAccount: 'web', labels: { app: 'web' }, ip: '10.244.0.5', inMesh: true };
const other: Peer = { ...web, namespace: 'other' };
const ext: Peer = { kind: 'external', ip: '203.0.113.9' };
const req = (over: Partial<Request> = {}): Request => ({ source: web, mtls: true, destination: api, port: 8080, protocol: 'HTTP', method: 'GET', path: '/', host: 'api', ...over });
const ev = (ps: KubeObject[]) => new CiliumEvaluator(ps);
const sel = { matchLabels: { app: 'api' } };

test('default allow until an ingress section selects the endpoint; ingress [{}] allows nothing', () => {
  assert.equal(ev([]).evaluate(req()).decision, 'allow');
  assert.equal(ev([cnp('p', { endpointSelector: sel, ingress: [{}] })]).evaluate(req()).decision, 'deny');
  assert.equal(ev([cnp('p', { endpointSelector: { matchLabels: { app: 'web' } }, ingress: [{}] })]).evaluate(req()).decision, 'allow');
  assert.equal(ev([cnp('p', { endpointSelector: sel, ingress: [{}] }, 'other')]).evaluate(req()).decision, 'allow', 'a CNP selects only its own namespace');
});

test('fromEndpoints without a namespace label means the policy namespace (CNP), any namespace (CCNP)', () => {
  const rule = { endpointSelector: sel, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }] };
  assert.equal(ev([cnp('p', rule)]).evaluate(req()).decision, 'allow');
  assert.equal(ev([cnp('p', rule)]).evaluate(req({ source: other })).decision, 'deny');
  assert.equal(ev([ccnp('p', rule)]).evaluate(req({ source: other })).decision, 'allow');
  const sa = { endpointSelector: sel, ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'other', 'k8s:io.cilium.k8s.policy.serviceaccount': 'web' } }] }] };
  assert.equal(ev([cnp('p', sa)]).evaluate(req({ source: other })).decision, 'allow');
  assert.equal(ev([cnp('p', sa)]).evaluate(req()).decision, 'deny');
});

test('the mesh label exists only on sidecar pods', () => {
  const mesh = { endpointSelector: sel, ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:security.istio.io/tlsMode': 'istio' } }] }] };
  assert.equal(ev([cnp('p', mesh)]).evaluate(req()).decision, 'allow');
  assert.equal(ev([cnp('p', mesh)]).evaluate(req({ source: { ...web, inMesh: false } })).decision, 'deny');
});

test('deny wins over allow and over other policies; enableDefaultDeny false keeps a deny-only policy from default-denying', () => {
  const allow = cnp('a', { endpointSelector: sel, ingress: [{ fromEntities: ['all'] }] });
  const deny = cnp('d', { endpointSelector: {}, enableDefaultDeny: { ingress: false }, ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }] });
  assert.equal(ev([allow, deny]).evaluate(req()).decision, 'deny');
  assert.equal(ev([deny]).evaluate(req({ source: ext })).decision, 'allow');
  const denyDefault = cnp('d', { endpointSelector: {}, ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }] });
  assert.equal(ev([denyDefault]).evaluate(req({ source: ext })).decision, 'deny', 'a deny rule also switches on default deny');
});

test('CIDR sets with except match only non-cluster peers', () => {
  const p = cnp('p', { endpointSelector: sel, ingress: [{ fromCIDRSet: [{ cidr: '0.0.0.0/0', except: ['203.0.113.0/24'] }, { cidr: '10.244.0.0/16' }] }] });
  assert.equal(ev([p]).evaluate(req({ source: { kind: 'external', ip: '198.51.100.1' } })).decision, 'allow');
  assert.equal(ev([p]).evaluate(req({ source: ext })).decision, 'deny');
  assert.equal(ev([p]).evaluate(req()).decision, 'deny', 'pods are never matched by CIDR');
});

test('ports and endPort; L7 rules: anchored regexes, path carries the query, empty http allows all, L4 rule for the same peer wins', () => {
  const l7 = { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/a(\\?.*)?', host: '(?i)api' }] } }] }] };
  const e = ev([cnp('p', l7)]);
  assert.equal(e.evaluate(req({ path: '/a' })).decision, 'allow');
  assert.equal(e.evaluate(req({ path: '/a?x' })).decision, 'allow');
  assert.equal(e.evaluate(req({ path: '/ab' })).decision, 'deny', 'anchored');
  assert.equal(e.evaluate(req({ path: '/a', method: 'GETX' })).decision, 'deny');
  assert.equal(e.evaluate(req({ path: '/a', host: 'API' })).decision, 'allow');
  assert.equal(e.evaluate(req({ protocol: 'TCP' })).decision, 'deny', 'non-HTTP bytes on an L7 port');
  assert.equal(e.evaluate(req({ port: 8081, path: '/a' })).decision, 'deny');
  const l4 = cnp('q', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '8000', endPort: 8100, protocol: 'TCP' }] }] }] });
  assert.equal(ev([cnp('p', l7), l4]).evaluate(req({ path: '/zzz' })).decision, 'allow', 'union: the L4 rule makes the L7 restriction moot');
  const hdr = cnp('h', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ headerMatches: [{ name: 'X-Tenant', value: 'blue' }], headers: ['x-req'] }] } }] }] });
  assert.equal(ev([hdr]).evaluate(req({ headers: { 'x-tenant': 'blue', 'x-req': '' } })).decision, 'allow');
  assert.equal(ev([hdr]).evaluate(req({ headers: { 'x-tenant': 'blue' } })).decision, 'deny');
  // the same rule without `protocol: TCP`: Cilium reads no protocol as ANY and refuses HTTP rules on it, so the
  // policy is not in force and nothing selects the pod
  const noProto = cnp('h', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '8080' }], rules: { http: [{ method: 'POST' }] } }] }] });
  assert.deepEqual(ev([noProto]).evaluate(req({ headers: {} })), { decision: 'allow', reason: 'no default-deny policy selects the endpoint', rules: [] });
  // an entry without ports: no filter, so it allows nothing; the policy is in force (default deny)
  const noPorts = cnp('n', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{}] }] });
  assert.equal(ev([noPorts]).evaluate(req({ protocol: 'TCP' })).decision, 'deny');
});

test('mutual authentication required admits cluster endpoints only', () => {
  const p = cnp('p', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], authentication: { mode: 'required' } }] });
  assert.equal(ev([p]).evaluate(req()).decision, 'allow');
  assert.equal(ev([p]).evaluate(req({ source: ext })).decision, 'deny');
});

test('RE2 (?i) prefix becomes the JS i flag', () => {
  assert.ok(compileAnchored('(?i)abc').test('ABC'));
  assert.ok(!compileAnchored('abc').test('xabc'));
});

test('enableDefaultDeny does not apply to L7: on a default-allow endpoint the peers an L7 rule selects answer to it, others pass', () => {
  // Cilium, Documentation/security/policy/intro.rst: "EnableDefaultDeny does not apply to layer-7 policy". Before, the
  // evaluator allowed everything on an endpoint no default-deny policy selects.
  const p = cnp('p', { endpointSelector: sel, enableDefaultDeny: { ingress: false }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/a' }] } }] }] });
  assert.equal(ev([p]).evaluate(req({ path: '/a' })).decision, 'allow');
  assert.equal(ev([p]).evaluate(req({ path: '/b' })).decision, 'deny', 'web is selected by the L7 rule');
  assert.equal(ev([p]).evaluate(req({ path: '/b', source: ext })).decision, 'allow', 'a peer the rule does not select is not redirected');
  assert.equal(ev([p]).evaluate(req({ path: '/b', port: 9090 })).decision, 'allow', 'another port is not redirected');
});

test('UDP: entries of protocol UDP or ANY (or none) carry it, TCP and HTTP entries do not; default deny and deny rules cover it', () => {
  const udp = (port = 8080) => req({ protocol: 'UDP', port });
  const tcpL7 = cnp('p', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }] }] });
  assert.deepEqual(ev([tcpL7]).evaluate(udp()), { decision: 'deny', reason: 'default deny: no rule matched', rules: [] }, 'an HTTP rule sits on TCP only');
  const anyL4 = cnp('q', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '8000', endPort: 8100 }] }] }] });
  assert.equal(ev([tcpL7, anyL4]).evaluate(udp()).decision, 'allow', 'no protocol: ANY, TCP and UDP');
  assert.equal(ev([cnp('u', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }] }] }] })]).evaluate(udp(53)).decision, 'allow');
  assert.equal(ev([cnp('u', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }] }] }] })]).evaluate(req({ protocol: 'TCP', port: 53 })).decision, 'deny', 'a UDP entry does not carry TCP');
  const denyUdp = cnp('d', { endpointSelector: sel, ingressDeny: [{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '8080', protocol: 'UDP' }] }] }], ingress: [{ fromEntities: ['all'] }] });
  assert.equal(ev([denyUdp]).evaluate(udp()).decision, 'deny');
  assert.equal(ev([denyUdp]).evaluate(req()).decision, 'allow', 'the UDP deny leaves TCP alone');
});

test('the agent refuses a rule with two kinds of peer selector (the whole policy); a rule with only ICMP types allows no TCP or UDP', () => {
  // fromEndpoints + fromEntities in one rule: "combining FromEndpoints and FromEntities is not supported yet"
  const combined = cnp('c', { endpointSelector: sel, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], fromEntities: ['world'] }] });
  assert.deepEqual(ev([combined]).evaluate(req({ source: ext })), { decision: 'allow', reason: 'no default-deny policy selects the endpoint', rules: [] }, 'not in force: no default deny');
  const split = cnp('c', { endpointSelector: sel, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }, { fromEntities: ['world'] }] });
  assert.equal(ev([split]).evaluate(req({ source: ext })).decision, 'allow');
  assert.equal(ev([split]).evaluate(req({ source: other })).decision, 'deny', 'split into two rules: in force');
  const icmp = cnp('i', { endpointSelector: sel, ingress: [{ fromEntities: ['all'], icmps: [{ fields: [{ type: 8 }] }] }] });
  assert.equal(ev([icmp]).evaluate(req({ protocol: 'TCP' })).decision, 'deny', 'ICMP only, not an L3 rule');
  assert.equal(ev([icmp]).evaluate(req({ protocol: 'UDP' })).decision, 'deny');
});
