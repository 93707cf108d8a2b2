// The differential verifier catches planted mistakes (so "0 wider" means something), and the derived request
// space contains the boundary cases the issue names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { translatePlan } from '../../src/core/translate/plan.js';
import { buildPlane, verify } from '../../src/core/verify/differential.js';
import { buildSpace, sampleByBlock } from '../../src/core/verify/space.js';
import type { Request, Workload } from '../../src/core/verify/request.js';

const api: Workload = { id: 'app/api', namespace: 'app', serviceAccount: 'api', labels: { app: 'api' } };
const ap = (spec: unknown, name = 'p'): KubeObject => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: 'app' }, spec });
const pa = (mode: string): KubeObject => ({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'ns', namespace: 'app' }, spec: { mtls: { mode } } });

const policy = ap({ selector: { matchLabels: { app: 'api' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/app/sa/web'], ipBlocks: undefined } }], to: [{ operation: { ports: ['8080'], paths: ['/api/*', '/health'], methods: ['GET'] } }] }] });

function run(aps: KubeObject[], pas: KubeObject[], mutate?: (cnp: KubeObject) => void) {
  const plan = translatePlan({ objects: [...aps, ...pas], namespaces: [] });
  const cilium = plan.manifests.map((m) => JSON.parse(JSON.stringify(m)) as KubeObject);
  if (mutate) cilium.filter((m) => m.kind === 'CiliumNetworkPolicy' && m.metadata.name.startsWith('istio-p')).forEach(mutate);
  const space = buildSpace({ authorizationPolicies: aps, peerAuthentications: pas, destinations: [api, { ...api, id: 'app/other', labels: { app: 'other' } }] });
  return verify(buildPlane({ authorizationPolicies: aps, peerAuthentications: pas, rootNamespace: 'istio-system', cilium, waypointPolicies: [] }), space);
}

test('the faithful translation verifies exact', () => {
  const v = run([policy], [pa('PERMISSIVE')]);
  assert.equal(v.wider, 0);
  assert.equal(v.narrower, 0);
  assert.ok(v.requests > 100);
});

const ingress0 = (m: KubeObject) => (m.spec.ingress as Record<string, unknown>[])[0]!;

test('dropping the mesh-membership label is caught as wider (plaintext callers under PERMISSIVE)', () => {
  const v = run([policy], [pa('PERMISSIVE')], (m) => {
    const ep = (ingress0(m).fromEndpoints as { matchLabels: Record<string, string> }[])[0]!;
    delete ep.matchLabels['k8s:security.istio.io/tlsMode'];
  });
  assert.ok(v.wider > 0);
  assert.match(v.widerExamples[0]!.request, /no sidecar/);
});

test('an unanchored path, a lost query tolerance, a leaking selector are each caught', () => {
  const widerPath = run([policy], [pa('STRICT')], (m) => {
    const http = (ingress0(m).toPorts as { rules: { http: { path: string }[] } }[])[0]!.rules.http[0]!;
    http.path = '/api.*|/health.*';
  });
  assert.ok(widerPath.wider > 0, 'a path regex matching /healthx is wider');
  const noQuery = run([policy], [pa('STRICT')], (m) => {
    const http = (ingress0(m).toPorts as { rules: { http: { path: string }[] } }[])[0]!.rules.http[0]!;
    http.path = '(/api/.*)|(/health)';
  });
  assert.ok(noQuery.narrower > 0, 'without (\\?.*)? a query string is denied: narrower');
  assert.equal(noQuery.wider, 0);
  const leak = run([policy], [pa('STRICT')], (m) => { m.spec.endpointSelector = {}; m.spec.ingress = [{ fromEntities: ['all'] }]; });
  assert.ok(leak.wider > 0);
});

test('the request space holds the named boundary cases', () => {
  const space = buildSpace({ authorizationPolicies: [ap({ rules: [{ from: [{ source: { ipBlocks: ['203.0.113.0/24'], namespaces: ['team*'] } }], to: [{ operation: { paths: ['/exact', '/pre/*', '*.css'], hosts: ['Api.example'], notPorts: ['9090'] } }], when: [{ key: 'request.headers[x-t]', values: ['a'] }] }] })], peerAuthentications: [], destinations: [api] });
  const all: Request[] = [];
  for (let i = 0; i < space.size; i++) all.push(space.at(i));
  const paths = new Set(all.map((r) => r.path));
  for (const p of ['/exact', '/exact/', '/exact?q=1', '/EXACT', '/pre/', '/pre/x', '/pre', '/x.css', '/x.css?q=1']) assert.ok(paths.has(p), `path ${p}`);
  const hosts = new Set(all.map((r) => r.host));
  assert.ok(hosts.has('api.example') && hosts.has('API.EXAMPLE'));
  const ips = new Set(all.filter((r) => r.source.kind === 'external').map((r) => r.source.ip));
  for (const ip of ['203.0.113.0', '203.0.113.255', '203.0.112.255', '203.0.114.0']) assert.ok(ips.has(ip), `ip ${ip}`);
  const ports = new Set(all.map((r) => r.port));
  for (const p of [9089, 9090, 9091]) assert.ok(ports.has(p), `port ${p}`);
  assert.ok(all.some((r) => r.protocol === 'TCP') && all.some((r) => r.protocol === 'HTTP'));
  assert.ok(all.some((r) => r.mtls) && all.some((r) => !r.mtls && r.source.kind === 'pod'));
  const nss = new Set(all.filter((r) => r.source.kind === 'pod').map((r) => (r.source as { namespace: string }).namespace));
  assert.ok(nss.has('team') && nss.has('teamx') && nss.has('migrate-other'));
  assert.ok(all.some((r) => r.headers?.['x-t'] === 'a') && all.some((r) => r.headers?.['x-t'] === '') && all.some((r) => r.headers === undefined));
});

test('block sampling visits every destination evenly and stays within the cap', () => {
  const s = sampleByBlock(1_000_000, 10, 1_000);
  assert.equal(s.count, 1_000);
  const per = new Map<number, number>();
  for (let k = 0; k < s.count; k++) { const b = Math.floor(s.index(k) / 100_000); per.set(b, (per.get(b) ?? 0) + 1); }
  assert.deepEqual([...per.values()], new Array(10).fill(100));
});
