// The Istio reference evaluator against istio-authz.md, one behaviour per test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { IstioEvaluator } from '../../src/core/istio/evaluator.js';
import type { Peer, Request, Workload } from '../../src/core/verify/request.js';

const ap = (ns: string, name: string, spec: unknown, annotations?: Record<string, string>): KubeObject => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) }, spec });
const pa = (ns: string, name: string, spec: unknown): KubeObject => ({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace: ns }, spec });
const api: Workload = { id: 'app/api', namespace: 'app', serviceAccount: 'api', labels: { app: 'api' } };
const web: Peer = { kind: 'pod', namespace: 'app', serviceAccount: 'web', labels: { app: 'web' }, ip: '10.244.0.5', inMesh: true };
const plainPod: Peer = { ...web, inMesh: false, ip: '10.244.0.6' };
const ext: Peer = { kind: 'external', ip: '203.0.113.9' };
const req = (over: Partial<Request> = {}): Request => ({ source: web, mtls: true, destination: api, port: 8080, protocol: 'HTTP', method: 'GET', path: '/', host: 'api', ...over });
const ev = (aps: KubeObject[], pas: KubeObject[] = []) => new IstioEvaluator({ authorizationPolicies: aps, peerAuthentications: pas });

test('no policy: allow; spec {} denies everything; rules [{}] allows everything', () => {
  assert.equal(ev([]).evaluate(req()).decision, 'allow');
  assert.equal(ev([ap('app', 'p', {})]).evaluate(req()).decision, 'deny');
  const v = ev([ap('app', 'p', { rules: [{}] })]).evaluate(req());
  assert.equal(v.decision, 'allow');
  assert.deepEqual(v.rules, ['ns[app]-policy[p]-rule[0]']);
});

test('DENY wins over ALLOW; root-namespace DENY is reported first; CUSTOM goes before both', () => {
  const all = ap('app', 'allow', { rules: [{}] });
  const deny = ap('app', 'deny', { action: 'DENY', rules: [{}] });
  const rootDeny = ap('istio-system', 'root-deny', { action: 'DENY', rules: [{}] });
  assert.deepEqual(ev([all, deny, rootDeny]).evaluate(req()).rules, ['ns[istio-system]-policy[root-deny]-rule[0]']);
  const custom = ap('app', 'ext', { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] });
  assert.equal(ev([all, deny, custom]).evaluate(req()).decision, 'custom');
});

test('AUDIT, dry-run and targetRefs policies never decide for a sidecar', () => {
  const audit = ap('app', 'a', { action: 'AUDIT', rules: [{}] });
  const dry = ap('app', 'd', {}, { 'istio.io/dry-run': 'true' });
  const tr = ap('app', 't', { targetRefs: [{ kind: 'Service', name: 'api' }] });
  assert.equal(ev([audit, dry, tr]).evaluate(req()).decision, 'allow');
});

test('selector and namespace decide applicability', () => {
  const other = ap('app', 'p', { selector: { matchLabels: { app: 'web' } } });
  const otherNs = ap('shop', 'p', {});
  assert.equal(ev([other, otherNs]).evaluate(req()).decision, 'allow');
  assert.equal(ev([ap('istio-system', 'mesh', {})]).evaluate(req()).decision, 'deny');
});

test('string forms: exact, prefix, suffix, presence; paths drop the query; hosts ignore case', () => {
  const p = ev([ap('app', 'p', { rules: [{ to: [{ operation: { paths: ['/a', '/b/*', '*.css'], hosts: ['API.example'] } }] }] })]);
  const ok = (path: string, host = 'api.example') => p.evaluate(req({ path, host })).decision;
  assert.equal(ok('/a'), 'allow');
  assert.equal(ok('/a?x=1'), 'allow');
  assert.equal(ok('/a/'), 'deny');
  assert.equal(ok('/b/c'), 'allow');
  assert.equal(ok('/b'), 'deny');
  assert.equal(ok('/x/y.css?v=2'), 'allow');
  assert.equal(ok('/a', 'API.EXAMPLE'), 'allow');
  assert.equal(ok('/a', 'other'), 'deny');
  const pres = ev([ap('app', 'p', { rules: [{ from: [{ source: { principals: ['*'] } }] }] })]);
  assert.equal(pres.evaluate(req()).decision, 'allow');
  assert.equal(pres.evaluate(req({ source: plainPod, mtls: false })).decision, 'deny');
});

test('TCP: an ALLOW rule with an HTTP field never matches; a DENY rule drops the field and denies all', () => {
  const allow = ev([ap('app', 'p', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })]);
  assert.equal(allow.evaluate(req({ protocol: 'TCP' })).decision, 'deny');
  assert.equal(allow.evaluate(req()).decision, 'allow');
  const deny = ev([ap('app', 'p', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] })]);
  assert.equal(deny.evaluate(req({ protocol: 'TCP' })).decision, 'deny');
  assert.equal(deny.evaluate(req({ method: 'GET' })).decision, 'allow');
});

test('mTLS off: principals never match, notPrincipals always match', () => {
  const not = ev([ap('app', 'p', { rules: [{ from: [{ source: { notPrincipals: ['cluster.local/ns/app/sa/web'] } }] }] })]);
  assert.equal(not.evaluate(req()).decision, 'deny');
  assert.equal(not.evaluate(req({ source: plainPod, mtls: false })).decision, 'allow');
  assert.equal(not.evaluate(req({ source: ext, mtls: false })).decision, 'allow');
  const ns = ev([ap('app', 'p', { rules: [{ from: [{ source: { namespaces: ['app'] } }] }] })]);
  assert.equal(ns.evaluate(req()).decision, 'allow');
  assert.equal(ns.evaluate(req({ source: plainPod, mtls: false })).decision, 'deny');
});

test('serviceAccounts: bare name means the policy namespace', () => {
  const p = ev([ap('app', 'p', { rules: [{ from: [{ source: { serviceAccounts: ['web'] } }] }] })]);
  assert.equal(p.evaluate(req()).decision, 'allow');
  assert.equal(p.evaluate(req({ source: { ...web, namespace: 'other' } })).decision, 'deny');
});

test('ipBlocks and notIpBlocks match the direct peer; ports are workload ports', () => {
  const p = ev([ap('app', 'p', { rules: [{ from: [{ source: { ipBlocks: ['203.0.113.0/24'], notIpBlocks: ['203.0.113.9'] } }], to: [{ operation: { ports: ['8080'] } }] }] })]);
  assert.equal(p.evaluate(req({ source: { kind: 'external', ip: '203.0.113.8' }, mtls: false })).decision, 'allow');
  assert.equal(p.evaluate(req({ source: ext, mtls: false })).decision, 'deny');
  assert.equal(p.evaluate(req({ source: { kind: 'external', ip: '203.0.113.8' }, mtls: false, port: 9090 })).decision, 'deny');
});

test('PeerAuthentication: STRICT rejects plaintext; workload beats namespace beats mesh; port-level wins; DISABLE blanks the principal', () => {
  const open = [ap('app', 'p', { rules: [{}] })];
  const mesh = pa('istio-system', 'default', { mtls: { mode: 'STRICT' } });
  assert.equal(ev(open, [mesh]).evaluate(req({ source: plainPod, mtls: false })).decision, 'deny');
  const nsPerm = pa('app', 'ns', { mtls: { mode: 'PERMISSIVE' } });
  assert.equal(ev(open, [mesh, nsPerm]).evaluate(req({ source: plainPod, mtls: false })).decision, 'allow');
  const wl = pa('app', 'api', { selector: { matchLabels: { app: 'api' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 9090: { mode: 'PERMISSIVE' } } });
  const e = ev(open, [mesh, nsPerm, wl]);
  assert.equal(e.evaluate(req({ source: plainPod, mtls: false })).decision, 'deny');
  assert.equal(e.evaluate(req({ source: plainPod, mtls: false, port: 9090 })).decision, 'allow');
  const dis = pa('app', 'api', { selector: { matchLabels: { app: 'api' } }, mtls: { mode: 'DISABLE' } });
  const byPrincipal = ev([ap('app', 'p', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/app/sa/web'] } }] }] })], [dis]);
  assert.equal(byPrincipal.evaluate(req()).decision, 'deny');
});

test('when: headers exact / absent, destination.port, source.namespace', () => {
  const p = ev([ap('app', 'p', { rules: [{ when: [{ key: 'request.headers[X-Tenant]', values: ['blue'] }, { key: 'destination.port', values: ['8080'] }, { key: 'source.namespace', values: ['app'] }] }] })]);
  assert.equal(p.evaluate(req({ headers: { 'x-tenant': 'blue' } })).decision, 'allow');
  assert.equal(p.evaluate(req({ headers: { 'x-tenant': 'red' } })).decision, 'deny');
  assert.equal(p.evaluate(req()).decision, 'deny');
  const not = ev([ap('app', 'p', { rules: [{ when: [{ key: 'request.headers[x-debug]', notValues: ['1'] }] }] })]);
  assert.equal(not.evaluate(req()).decision, 'allow');
  assert.equal(not.evaluate(req({ headers: { 'x-debug': '1' } })).decision, 'deny');
});

test('UDP is never the sidecar\'s: istio-iptables redirects TCP only, so no policy or PeerAuthentication applies', () => {
  const denyAll: KubeObject = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny', namespace: 'app' }, spec: {} } as KubeObject;
  const strict: KubeObject = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'strict', namespace: 'app' }, spec: { mtls: { mode: 'STRICT' } } } as KubeObject;
  assert.equal(ev([denyAll], [strict]).evaluate(req({ protocol: 'TCP', mtls: false })).decision, 'deny');
  assert.deepEqual(ev([denyAll], [strict]).evaluate(req({ protocol: 'UDP', mtls: false })), { decision: 'allow', reason: 'UDP: not intercepted by the sidecar', rules: [] });
});
