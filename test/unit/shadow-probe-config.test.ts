import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePlan, ctFlowsProblem, methodsOf, pathMatch, probeMemoryMiB } from '../../src/core/shadow/probe-config.js';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { CiliumEvaluator } from '../../src/core/cilium/evaluator.js';
import type { Request } from '../../src/core/verify/request.js';

const pods = [
  { name: 'ratings', namespace: 'bookinfo', ip: '10.0.0.14', serviceAccount: 'bookinfo-ratings', labels: { app: 'ratings' }, sidecar: true },
  { name: 'reviews', namespace: 'bookinfo', ip: '10.0.0.13', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews' }, sidecar: true },
  { name: 'client', namespace: 'bookinfo', ip: '10.0.0.20', serviceAccount: 'sleep', labels: { app: 'sleep' }, sidecar: false },
];
/** Plain TCP from an address outside the cluster to ratings, for the reference evaluator. */
const toRatings = (ip: string, port: number): Request => ({ source: { kind: 'external', ip }, mtls: false, destination: { id: 'ratings', namespace: 'bookinfo', serviceAccount: 'bookinfo-ratings', labels: { app: 'ratings' } }, port, protocol: 'TCP' });
const cnp = (spec: unknown): KubeObject => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'istio-ratings-viewer', namespace: 'bookinfo', annotations: { 'migrate.io/source': 'AuthorizationPolicy/bookinfo/ratings-viewer' } }, spec } as unknown as KubeObject);

test('method and path regexes become the probe literals where they are literals', () => {
  assert.deepEqual(methodsOf('((GET)|(HEAD))'), ['GET', 'HEAD']);
  assert.deepEqual(methodsOf('GET'), ['GET']);
  assert.deepEqual(methodsOf(undefined), []);
  assert.equal(methodsOf('G.T'), null);
  assert.deepEqual(pathMatch('/ratings/1'), { pathExact: '/ratings/1' });
  assert.deepEqual(pathMatch('/api/.*'), { pathPrefix: '/api/' });
  assert.deepEqual(pathMatch('/v[12]/x'), { pathRegex: '/v[12]/x' });
});

test('a translated CNP compiles into identities, per-peer policy entries, L7 rules and a rule table', () => {
  const c = compilePlan([cnp({
    endpointSelector: { matchLabels: { app: 'ratings' } },
    ingress: [{
      fromEndpoints: [{ matchLabels: { 'k8s:io.cilium.k8s.policy.serviceaccount': 'bookinfo-reviews', 'k8s:security.istio.io/tlsMode': 'istio' } }],
      toPorts: [{ ports: [{ port: '9080', protocol: 'TCP' }], rules: { http: [{ method: '((GET)|(HEAD))', path: '/ratings/.*' }] } }],
    }],
    ingressDeny: [{ fromCIDR: ['192.168.0.0/16'] }],
  })], pods);
  const id = Object.fromEntries(c.pods.map((p) => [p.name, p.identity]));
  assert.deepEqual(id, { client: 1000, ratings: 1001, reviews: 1002 });
  assert.deepEqual(c.selectedBy, { ratings: ['CiliumNetworkPolicy/bookinfo/istio-ratings-viewer'] });
  const allow = c.config.policy.filter((p) => p.action === 'allow');
  assert.deepEqual(allow.map((p) => [p.pod, p.identity, p.port, p.protocol]), [['ratings', id.reviews, 9080, 'TCP']]);
  const deny = c.config.policy.filter((p) => p.action === 'deny');
  assert.equal(deny.length, 1);
  assert.ok(c.config.identities.some((i) => 'cidr' in i && i.cidr === '192.168.0.0/16' && i.identity === deny[0]!.identity));
  assert.deepEqual(c.config.l7.map((r) => [r.pod, r.port, r.method, r.pathPrefix]), [['ratings', 9080, 'GET', '/ratings/'], ['ratings', 9080, 'HEAD', '/ratings/']]);
  const l7rule = c.rules.find((r) => r.id === c.config.l7[0]!.ruleId)!;
  assert.equal(l7rule.rule, 'ingress[0].toPorts[0].rules.http[0]');
  assert.equal(l7rule.source, 'AuthorizationPolicy/bookinfo/ratings-viewer');
  assert.equal(c.rules.find((r) => r.id === allow[0]!.ruleId)!.rule, 'ingress[0]');
  // The client has no sidecar, so no tlsMode label: it is not a peer of the rule.
  assert.ok(!allow.some((p) => p.identity === id.client));
  // and the probe is told so: no app leg program on it, and its own connections stay on the wire leg
  assert.deepEqual(c.config.pods.map((p) => [p.name, p.sidecar]), [['client', false], ['ratings', true], ['reviews', true]]);
});

test('no peer field admits any peer (identity 0); host and header conditions go to the join, named in the report', () => {
  const c = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'reviews' } }, ingress: [{ toPorts: [{ ports: [{ port: '9080', protocol: 'TCP' }], rules: { http: [{ path: '/x', headerMatches: [{ name: 'x-a', value: '1' }] }, { path: '/y', host: '(?i)reviews', headers: ['User-Agent'] }, { path: '/z' }] } }] }] })], pods);
  assert.deepEqual(c.config.policy.map((p) => [p.pod, p.identity, p.port]), [['reviews', 0, 9080]]);
  // the probe matches on method and path alone; the rule table keeps what the join checks
  assert.equal(c.config.l7.length, 3);
  assert.ok(c.config.l7.every((r) => !('when' in r) && !('host' in r)));
  const when = c.rules.filter((r) => r.when).map((r) => [r.rule, r.when]);
  assert.deepEqual(when, [
    ['ingress[0].toPorts[0].rules.http[0]', { headerMatches: [{ name: 'x-a', value: '1' }] }],
    ['ingress[0].toPorts[0].rules.http[1]', { host: '(?i)reviews', headers: ['User-Agent'] }],
  ]);
  assert.equal(c.unsupported.length, 2);
  assert.match(c.unsupported[0]!, /http\[0\]: its header conditions are checked on the sidecars' access log.*the log does not carry x-a/);
  assert.match(c.unsupported[1]!, /http\[1\]: its host and header conditions are checked on the sidecars' access log, not by the probe \(traffic no sidecar handles is judged without them\)$/);
});

test('ctFlows: the CT sizes the probe accepts (powers of two, 8192 to 1048576), and compilePlan passes settings through', () => {
  for (const ok of [8192, 65_536, 1_048_576]) assert.equal(ctFlowsProblem(ok), undefined, String(ok));
  for (const bad of [0, 4096, 100_000, 2_097_152, 65_536.5, -65_536]) assert.match(ctFlowsProblem(bad) ?? '', /not a power of two from 8192 to 1048576/, String(bad));
  const cfg = compilePlan([], [], { ctFlows: 131_072 }).config;
  assert.equal(cfg.settings.ctFlows, 131_072);
  assert.equal(cfg.settings.intervalMs, 1000, 'the other defaults stay');
});

test('the probe container\'s memory follows its table sizes (BPF maps are charged to it)', () => {
  assert.deepEqual(probeMemoryMiB(undefined), { request: 128, limit: 512 }, 'defaults: the tables fit the base figures');
  assert.deepEqual(probeMemoryMiB({ ctFlows: 8192, inflightSlots: 8192 }), { request: 128, limit: 512 }, 'smaller tables never shrink them');
  assert.deepEqual(probeMemoryMiB({ ctFlows: 1_048_576 }), { request: 368, limit: 752 }, '256 MiB CT: 240 more');
  assert.deepEqual(probeMemoryMiB({ ctFlows: 131_072, inflightSlots: 131_072 }), { request: 156, limit: 540 }, '+16 MiB CT, +12 MiB in-flight');
  assert.deepEqual(probeMemoryMiB({ ctFlows: 131_072 }, 1024), { request: 144, limit: 1024 }, '--probe-memory sets the limit');
  assert.deepEqual(probeMemoryMiB({ ctFlows: 1_048_576 }, 256), { request: 256, limit: 256 }, 'the request never exceeds the limit');
});

// Cilium scopes HTTP rules to their ingress rule's peers (reference/cilium-policy.md "Ports and L7"): these fail on the
// compile before l7[].identity, which gave every allowed peer every rule of the port.
const ratingsFrom = (sa: string, http: unknown[] | undefined, port = '9080') => ({
  fromEndpoints: [{ matchLabels: { 'k8s:io.cilium.k8s.policy.serviceaccount': sa } }],
  toPorts: [{ ports: [{ port, protocol: 'TCP' }], ...(http ? { rules: { http } } : {}) }],
});
const peerPods = [...pods, { name: 'details', namespace: 'bookinfo', ip: '10.0.0.15', serviceAccount: 'bookinfo-details', labels: { app: 'details' }, sidecar: true }];

test('L7 rules that differ by peer carry the peer identity; rules every peer shares do not', () => {
  const c = compilePlan([cnp({
    endpointSelector: { matchLabels: { app: 'ratings' } },
    ingress: [ratingsFrom('bookinfo-reviews', [{ method: 'GET', path: '/ratings/.*' }]), ratingsFrom('bookinfo-details', [{ method: 'POST', path: '/ratings' }])],
  })], peerPods);
  const id = Object.fromEntries(c.pods.map((p) => [p.name, p.identity]));
  assert.deepEqual(c.config.l7.map((r) => [r.pod, r.port, r.method, r.pathPrefix ?? r.pathExact, r.identity]), [
    ['ratings', 9080, 'GET', '/ratings/', id.reviews],
    ['ratings', 9080, 'POST', '/ratings', id.details],
  ]);
  // the same rules for both peers (one rule naming both): one set for any peer, which the kernel decides
  const shared = compilePlan([cnp({
    endpointSelector: { matchLabels: { app: 'ratings' } },
    ingress: [{ fromEndpoints: [{ matchLabels: { app: 'reviews' } }, { matchLabels: { app: 'details' } }], toPorts: [{ ports: [{ port: '9080', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }] }],
  })], peerPods);
  assert.deepEqual(shared.config.l7.map((r) => [r.method, r.identity]), [['GET', undefined]]);
});

test('an L4-only rule lifts the L7 rules for its peers only; for every peer it leaves no L7 set', () => {
  const c = compilePlan([cnp({
    endpointSelector: { matchLabels: { app: 'ratings' } },
    ingress: [ratingsFrom('bookinfo-reviews', [{ method: 'GET', path: '/ratings/.*' }]), ratingsFrom('bookinfo-details', undefined)],
  })], peerPods);
  const id = Object.fromEntries(c.pods.map((p) => [p.name, p.identity]));
  const l4only = c.config.policy.find((p) => p.identity === id.details)!;
  assert.deepEqual(c.config.l7.map((r) => [r.method ?? '*', r.pathPrefix ?? '*', r.identity, r.ruleId]), [
    ['GET', '/ratings/', id.reviews, c.config.l7[0]!.ruleId],
    ['*', '*', id.details, l4only.ruleId],
  ]);
  // before, details' requests met reviews' rules: GET /ratings/ only
  const anyPeer = compilePlan([cnp({
    endpointSelector: { matchLabels: { app: 'ratings' } },
    ingress: [ratingsFrom('bookinfo-reviews', [{ method: 'GET', path: '/ratings/.*' }]), { toPorts: [{ ports: [{ port: '9000', endPort: 9999, protocol: 'TCP' }] }] }],
  })], peerPods);
  assert.deepEqual(anyPeer.config.l7, [], 'a port range open to any peer covers 9080: every request passes, as in Cilium');
  // a UDP-only rule does not lift TCP's L7 rules
  const udp = compilePlan([cnp({
    endpointSelector: { matchLabels: { app: 'ratings' } },
    ingress: [ratingsFrom('bookinfo-reviews', [{ method: 'GET' }]), { toPorts: [{ ports: [{ port: '9080', protocol: 'UDP' }] }] }],
  })], peerPods);
  assert.deepEqual(udp.config.l7.map((r) => [r.method, r.identity]), [['GET', undefined]]);
});

test('deny rules add no L7 allow rules; a named port is reported, never read as every port', () => {
  const c = compilePlan([cnp({
    endpointSelector: { matchLabels: { app: 'ratings' } },
    ingressDeny: [{ toPorts: [{ ports: [{ port: '9080' }], rules: { http: [{ method: 'DELETE' }] } }] }],
    ingress: [{ toPorts: [{ ports: [{ port: 'http' }, { port: '9090' }] }] }],
  })], peerPods);
  assert.deepEqual(c.config.l7, []);
  assert.deepEqual(c.config.policy.filter((p) => p.action === 'allow').map((p) => p.port), [9090]);
  assert.ok(c.unsupported.some((u) => /named port http is not resolved/.test(u)), c.unsupported.join('\n'));
  assert.ok(c.unsupported.some((u) => /L7 rules in a deny rule/.test(u)));
});

test('CIDR peers: every prefix inside the selector but outside its excepts, as the ipcache resolves the longest', () => {
  const c = compilePlan([
    cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ fromCIDR: ['10.0.0.0/8'] }, { fromEntities: ['world'], toPorts: [{ ports: [{ port: '443' }] }] }] }),
    { ...cnp({ endpointSelector: { matchLabels: { app: 'reviews' } }, ingress: [{ fromCIDRSet: [{ cidr: '10.1.0.0/16', except: ['10.1.2.0/24'] }, { cidr: 'fd00::/8' }] }] }), metadata: { name: 'other', namespace: 'bookinfo' } } as KubeObject,
  ], pods);
  const idOf = (cidr: string) => c.config.identities.find((i) => 'cidr' in i && i.cidr === cidr)!.identity;
  const peersOf = (pod: string, port = 0) => c.config.policy.filter((p) => p.pod === pod && p.port === port).map((p) => p.identity);
  // before: 10.1.9.9 (identity of 10.1.0.0/16 by the longest prefix) was not a peer of ratings' 10.0.0.0/8 rule
  assert.deepEqual(peersOf('ratings'), [idOf('10.0.0.0/8'), idOf('10.1.0.0/16'), idOf('10.1.2.0/24')].sort((a, b) => a - b));
  // before: the except was ignored (wider) and reported
  assert.deepEqual(peersOf('reviews'), [idOf('10.1.0.0/16')]);
  // world: addresses no prefix names, and every CIDR identity (before: 2 alone, so 10.x never matched it)
  assert.deepEqual(peersOf('ratings', 443), [2, idOf('10.0.0.0/8'), idOf('10.1.0.0/16'), idOf('10.1.2.0/24')]);
  // the probe is IPv4 only: an IPv6 prefix is reported and left out (before, it went into the config, which the probe refuses)
  assert.ok(!c.config.identities.some((i) => 'cidr' in i && i.cidr.includes(':')));
  assert.ok(c.unsupported.some((u) => /CIDR fd00::\/8 is not shadowed/.test(u)), c.unsupported.join('\n'));
  assert.ok(!c.unsupported.some((u) => /except/.test(u)));
});

test('`ingress: [{}]` allows nothing, and a policy with enableDefaultDeny.ingress false keeps its pods default-allow', () => {
  // the translation of an ALLOW policy with no expressible rule (Istio allow-nothing): before, an allow of every peer and port
  const none = compilePlan([cnp({ endpointSelector: {}, ingress: [{}] })], pods);
  assert.deepEqual(none.config.policy, []);
  assert.deepEqual(Object.keys(none.selectedBy).sort(), ['client', 'ratings', 'reviews'], 'selected: default deny');
  // with no entry the probe would allow (no policy): the pods say default deny themselves
  assert.deepEqual(none.config.pods.map((p) => p.defaultDeny), [{ ingress: true }, { ingress: true }, { ingress: true }]);
  // the translation of a DENY policy: before, the probe default-denied everything else (any entry switches it on)
  const deny = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, enableDefaultDeny: { ingress: false }, ingressDeny: [{ toPorts: [{ ports: [{ port: '22' }] }] }] })], pods);
  assert.deepEqual(deny.config.policy.map((p) => [p.pod, p.identity, p.port, p.protocol, p.action]), [['ratings', 0, 22, 'ANY', 'deny']]);
  assert.deepEqual(deny.config.pods.map((p) => [p.name, p.defaultDeny]), [['client', undefined], ['ratings', { ingress: false }], ['reviews', undefined]]);
  assert.deepEqual(deny.selectedBy, {});
  // with an allow policy beside it, default deny is on again and no such allow is added
  const both = compilePlan([
    cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, enableDefaultDeny: { ingress: false }, ingressDeny: [{ toPorts: [{ ports: [{ port: '22' }] }] }] }),
    { ...cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ toPorts: [{ ports: [{ port: '9080' }] }] }] }), metadata: { name: 'z-allow', namespace: 'bookinfo' } } as KubeObject,
  ], pods);
  assert.deepEqual(both.config.policy.map((p) => [p.port, p.action]), [[22, 'deny'], [9080, 'allow']]);
  assert.deepEqual(both.selectedBy, { ratings: ['CiliumNetworkPolicy/bookinfo/z-allow'] });
  assert.deepEqual(both.config.pods.find((p) => p.name === 'ratings')!.defaultDeny, { ingress: true });
});

test('a policy\'s `specs` list is read like `spec` (before, it was skipped: its pods stayed default-allow)', () => {
  const m = { ...cnp(undefined), specs: [
    { endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ toPorts: [{ ports: [{ port: '9080' }] }] }] },
    { endpointSelector: { matchLabels: { app: 'reviews' } }, ingress: [{ toPorts: [{ ports: [{ port: '9090' }] }] }] },
  ] } as unknown as KubeObject;
  delete (m as { spec?: unknown }).spec;
  const c = compilePlan([m], pods);
  assert.deepEqual(c.config.policy.map((p) => [p.pod, p.port]), [['ratings', 9080], ['reviews', 9090]]);
  assert.deepEqual(c.selectedBy, { ratings: ['CiliumNetworkPolicy/bookinfo/istio-ratings-viewer[0]'], reviews: ['CiliumNetworkPolicy/bookinfo/istio-ratings-viewer[1]'] });
});

test('a CNP selects pods of its own namespace only, even when its endpointSelector names another', () => {
  const other = { name: 'intruder', namespace: 'other', ip: '10.0.1.9', serviceAccount: 'x', labels: { app: 'ratings' }, sidecar: true };
  const c = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'ratings', 'k8s:io.kubernetes.pod.namespace': 'other' } }, ingress: [{ toPorts: [{ ports: [{ port: '9080' }] }] }] })], [...pods, other]);
  assert.deepEqual(c.config.policy, []);
  const cc = compilePlan([{ ...cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ toPorts: [{ ports: [{ port: '9080' }] }] }] }), kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'cc' } } as KubeObject], [...pods, other]);
  assert.deepEqual(cc.config.policy.map((p) => p.pod), ['intruder', 'ratings'], 'a CCNP selects in every namespace');
});

test('a policy Cilium refuses (L7 rules on port 0, or on a protocol other than TCP: ANY and none too) is reported and has no effect', () => {
  for (const [toPorts, why] of [
    [[{ ports: [{ port: '0', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }], /port is 0/],
    [[{ ports: [{ port: '53', protocol: 'UDP' }], rules: { http: [{ method: 'GET' }] } }], /only apply to TCP \(not UDP\)/],
    [[{ ports: [{ port: '9080', protocol: 'ANY' }], rules: { http: [{ method: 'GET' }] } }], /only apply to TCP \(not ANY\)/],
    // Cilium reads an omitted protocol as ANY before it checks (ParseL4Proto), so this one is refused too
    [[{ ports: [{ port: '9080' }], rules: { http: [{ method: 'GET' }] } }], /only apply to TCP \(not ANY\)/],
  ] as const) {
    // the refused rule next to a valid one: the agent drops the policy whole, so the valid rule and the default deny go too
    const c = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ toPorts }, { fromEntities: ['world'], toPorts: [{ ports: [{ port: '9080', protocol: 'TCP' }] }] }] })], pods);
    // before, port 0 went into l7[], which the probe refuses ("l7[0]: port missing"): the whole run failed; and an ANY
    // or omitted protocol was shadowed as if the agent enforced it
    assert.deepEqual([c.config.policy, c.config.l7, c.selectedBy], [[], [], {}]);
    assert.ok(c.unsupported.some((u) => why.test(u) && /Cilium rejects this policy/.test(u)), c.unsupported.join('\n'));
    assert.equal(new CiliumEvaluator([cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ toPorts }] })]).decide(toRatings('198.51.100.7', 9080)), 'allow', 'the evaluator: no policy in force');
  }
});

test('a toPorts entry without ports allows nothing (Cilium puts no filter on it); a rule without toPorts allows every port', () => {
  for (const entry of [{}, { ports: [] }, { rules: { http: [{ method: 'GET' }] } }]) {
    const policies = [cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ fromEntities: ['world'], toPorts: [entry] }] })];
    const c = compilePlan(policies, pods);
    // before, an entry without ports was every port (an L7 one was refused): wider than Cilium, which denies here
    assert.deepEqual([c.config.policy, c.config.l7, c.unsupported], [[], [], []], JSON.stringify(entry));
    assert.deepEqual(c.config.pods.find((p) => p.name === 'ratings')!.defaultDeny, { ingress: true }, 'the policy is in force: default deny');
    assert.equal(new CiliumEvaluator(policies).decide(toRatings('198.51.100.7', 9080)), 'deny', JSON.stringify(entry));
  }
  const l3 = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ fromEntities: ['world'], toPorts: [] }] })], pods);
  assert.deepEqual(l3.config.policy.filter((p) => p.ruleId >= 100).map((p) => [p.protocol, p.port]), [['ANY', 0]]);
});

test('an L7 rule whose selector names no peer (a CIDR set its excepts cover) restricts no one', () => {
  const c = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [
    { fromEndpoints: [{ matchLabels: { app: 'reviews' } }], toPorts: [{ ports: [{ port: '9080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/x' }] } }] },
    { fromCIDRSet: [{ cidr: '192.0.2.0/24', except: ['0.0.0.0/0'] }], toPorts: [{ ports: [{ port: '9080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/z' }] } }] },
  ] })], pods);
  // before, GET /z went into the port's set for every peer (found by the random differential)
  assert.deepEqual(c.config.l7.map((r) => r.pathExact), ['/x']);
});

test('on a pod that keeps default allow, L7 rules always name their peers: a peer no rule names is not held to them', () => {
  const spec = { endpointSelector: { matchLabels: { app: 'ratings' } }, enableDefaultDeny: { ingress: false }, ingress: [ratingsFrom('bookinfo-reviews', [{ method: 'GET' }])] };
  const c = compilePlan([cnp(spec)], peerPods);
  const id = Object.fromEntries(c.pods.map((p) => [p.name, p.identity]));
  // before, one peer-less set: the kernel held every peer (details, the world) to reviews' GET
  assert.deepEqual(c.config.l7.map((r) => [r.method, r.identity]), [['GET', id.reviews]]);
  assert.deepEqual(c.config.pods.find((p) => p.name === 'ratings')!.defaultDeny, { ingress: false });
  // on a default-deny pod the same rule stays peer-less: no other peer gets past L4
  assert.deepEqual(compilePlan([cnp({ ...spec, enableDefaultDeny: undefined })], peerPods).config.l7.map((r) => [r.method, r.identity]), [['GET', undefined]]);
});

test("a port's protocol: omitted is any (Cilium's default, TCP and UDP in the probe); SCTP is reported, never read as TCP", () => {
  const c = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ toPorts: [{ ports: [{ port: '53' }, { port: '5000', protocol: 'SCTP' }, { port: '9080', protocol: 'TCP' }] }] }] })], pods);
  assert.deepEqual(c.config.policy.map((p) => [p.port, p.protocol]), [[53, 'ANY'], [9080, 'TCP']]);
  assert.ok(c.unsupported.some((u) => /SCTP port 5000 is not shadowed/.test(u)), c.unsupported.join('; '));
});

test("nodes: each its own identity; a default-deny pod admits its own node (Cilium's allow-localhost); host, remote-node and cluster resolve per pod", () => {
  const onNodes = pods.map((p) => ({ ...p, node: p.name === 'reviews' ? 'node-b' : 'node-a' }));
  // node-a also lists a pod's address (a hostNetwork pod keeps it), and an IPv6 one (not shadowed)
  const nodes = [{ name: 'node-b', addresses: ['172.18.0.3'] }, { name: 'node-a', addresses: ['172.18.0.2', '10.0.0.20', 'fd00::2'] }];
  const c = compilePlan([
    cnp({ endpointSelector: {}, ingress: [{ fromEntities: ['remote-node'], toPorts: [{ ports: [{ port: '9100', protocol: 'TCP' }] }] }] }),
    { ...cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ fromEntities: ['host', 'cluster'], toPorts: [{ ports: [{ port: '9080', protocol: 'TCP' }] }] }] }), metadata: { name: 'p2', namespace: 'bookinfo' } } as KubeObject,
  ], onNodes, {}, nodes);
  const A = 0xf00000; const B = 0xf00001;
  assert.deepEqual(c.nodes, [{ name: 'node-a', identity: A }, { name: 'node-b', identity: B }]);
  assert.deepEqual(c.config.identities.filter((i) => 'ip' in i && i.identity >= A), [{ ip: '172.18.0.2', identity: A }, { ip: '172.18.0.3', identity: B }]);
  const entries = (pod: string, port: number) => c.config.policy.filter((e) => e.pod === pod && e.port === port).map((e) => e.identity).sort((x, y) => x - y);
  // remote-node: the node a pod does not run on
  assert.deepEqual(entries('ratings', 9100), [B]);
  assert.deepEqual(entries('reviews', 9100), [A]);
  // host is the pod's own node; cluster is every pod and every node
  assert.deepEqual(entries('ratings', 9080), [...c.pods.map((p) => p.identity), A, B].sort((x, y) => x - y));
  // allow-localhost: every default-deny pod, from its own node only, every port
  const localhost = c.config.policy.filter((e) => e.ruleId === 1).map((e) => [e.pod, e.identity, e.protocol, e.port]);
  assert.deepEqual(localhost.sort(), [['client', A, 'ANY', 0], ['ratings', A, 'ANY', 0], ['reviews', B, 'ANY', 0]]);
  assert.ok(c.rules.some((r) => r.id === 1 && /allow-localhost/.test(r.policy)));
  // without nodes: nothing of this, and host/remote-node name no peer
  const none = compilePlan([cnp({ endpointSelector: {}, ingress: [{ fromEntities: ['host'] }] })], onNodes);
  assert.deepEqual([none.nodes, none.config.policy.filter((e) => e.ruleId === 1)], [[], []]);
  assert.deepEqual(none.config.policy.length, 0);
});

test('a rule with two kinds of peer selector refuses the policy; a rule with only ICMP types is ICMP only (not shadowed), not every port', () => {
  const combined = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'reviews' } }], fromCIDR: ['192.0.2.0/24'] }] })], pods);
  assert.deepEqual([combined.config.policy, combined.selectedBy], [[], {}]);
  assert.ok(combined.unsupported.some((u) => /combining FromEndpoints and FromCIDR is not supported yet/.test(u)), combined.unsupported.join('\n'));
  const icmp = compilePlan([cnp({ endpointSelector: { matchLabels: { app: 'ratings' } }, ingress: [{ fromEntities: ['world'], icmps: [{ fields: [{ type: 8 }] }] }] })], pods);
  // before, the rule had no toPorts and was read as every port and protocol: wider than Cilium
  assert.deepEqual(icmp.config.policy.filter((p) => p.ruleId >= 100), []);
  assert.deepEqual(icmp.config.pods.find((p) => p.name === 'ratings')!.defaultDeny, { ingress: true });
  assert.ok(icmp.unsupported.some((u) => /ICMP rules are not shadowed/.test(u)));
});
