// Classification by field semantics: the same text in a different field must give a different class.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { authorizationPolicyFeatures, destinationRuleFeatures, envoyFilterAppliesToSidecars, virtualServiceAppliesToMesh, virtualServiceFeatures } from '../../src/core/istio/features.js';
import { buildInventory } from '../../src/core/inventory/build.js';
import type { PodSummary } from '../../src/core/inventory/pods.js';
import { injectionExpected, namespaceInjection } from '../../src/core/inventory/injection.js';
import { resolveHost, portAppProtocol, type ServiceSummary } from '../../src/core/inventory/services.js';

const obj = (kind: string, spec: Record<string, unknown>, ns = 'shop', name = 'p'): KubeObject => ({ apiVersion: 'x/v1', kind, metadata: { name, namespace: ns }, spec });
const codes = (o: KubeObject) => [...new Set(authorizationPolicyFeatures(o).map((f) => f.code))].sort();

test('when on source.ip is L4; when on request.headers is L7', () => {
  assert.deepEqual(codes(obj('AuthorizationPolicy', { rules: [{ when: [{ key: 'source.ip', values: ['10.0.0.0/8'] }] }] })), ['L4_AUTHZ']);
  assert.deepEqual(codes(obj('AuthorizationPolicy', { rules: [{ when: [{ key: 'request.headers[x-user]', values: ['a'] }] }] })), ['L7_AUTHZ']);
  assert.deepEqual(codes(obj('AuthorizationPolicy', { rules: [{ when: [{ key: 'request.auth.claims[groups]', values: ['a'] }] }] })), ['JWT_AUTHZ']);
  assert.deepEqual(codes(obj('AuthorizationPolicy', { rules: [{ when: [{ key: 'destination.port', values: ['80'] }] }] })), ['L4_AUTHZ']);
});

test('DENY with L7 fields is L7_DENY; ALLOW with L7 fields is L7_AUTHZ; ports-only stays L4', () => {
  assert.deepEqual(codes(obj('AuthorizationPolicy', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] })), ['L7_DENY']);
  assert.deepEqual(codes(obj('AuthorizationPolicy', { action: 'ALLOW', rules: [{ to: [{ operation: { notPaths: ['/x'] } }] }] })), ['L7_AUTHZ']);
  assert.deepEqual(codes(obj('AuthorizationPolicy', { action: 'DENY', rules: [{ to: [{ operation: { ports: ['8080'] } }] }] })), ['L4_AUTHZ']);
  assert.deepEqual(codes(obj('AuthorizationPolicy', { rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] })), ['JWT_AUTHZ']);
  assert.deepEqual(codes(obj('AuthorizationPolicy', { action: 'CUSTOM', provider: { name: 'ext' }, rules: [{}] })), ['CUSTOM_AUTHZ'], 'the external authorizer decides: no L4 claim');
  assert.deepEqual(codes(obj('AuthorizationPolicy', {})), ['DENY_ALL']);
  // The same string "GET" in a header condition value does not make a methods rule.
  assert.deepEqual(codes(obj('AuthorizationPolicy', { rules: [{ from: [{ source: { namespaces: ['GET'] } }] }] })), ['L4_AUTHZ']);
});

test('VirtualService: a plain single-destination route is not L7; retries, splits and matches are', () => {
  assert.deepEqual(virtualServiceFeatures(obj('VirtualService', { hosts: ['a'], http: [{ route: [{ destination: { host: 'a' } }] }] })), []);
  assert.deepEqual(virtualServiceFeatures(obj('VirtualService', { http: [{ route: [{ destination: { host: 'a' } }], retries: { attempts: 2 } }] })).map((f) => f.detail), ['http[0].retries']);
  assert.equal(virtualServiceFeatures(obj('VirtualService', { http: [{ route: [{ destination: { host: 'a', subset: 'v1' }, weight: 90 }, { destination: { host: 'a', subset: 'v2' }, weight: 10 }] }] }))[0]!.code, 'VS_HTTP_FEATURES');
  assert.equal(virtualServiceFeatures(obj('VirtualService', { http: [{ match: [{ headers: { end: { exact: 'x' } } }], route: [{ destination: { host: 'a' } }] }] }))[0]!.detail, 'http[0].match[0].headers');
  assert.equal(virtualServiceFeatures(obj('VirtualService', { tcp: [{ route: [{ destination: { host: 'a' }, weight: 50 }, { destination: { host: 'b' }, weight: 50 }] }] }))[0]!.code, 'VS_TCP_SPLIT');
  assert.equal(virtualServiceAppliesToMesh(obj('VirtualService', { gateways: ['gw'] })), false);
  assert.equal(virtualServiceAppliesToMesh(obj('VirtualService', { gateways: ['gw', 'mesh'] })), true);
});

test('DestinationRule: TLS settings are not L7, outlier detection is', () => {
  assert.deepEqual(destinationRuleFeatures(obj('DestinationRule', { host: 'a', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })), []);
  assert.equal(destinationRuleFeatures(obj('DestinationRule', { host: 'a', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 } } }))[0]!.code, 'DR_L7_TRAFFIC_POLICY');
  assert.deepEqual(destinationRuleFeatures(obj('DestinationRule', { host: 'a', trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true } } } })), []);
});

test('EnvoyFilter for GATEWAY only does not touch sidecars', () => {
  assert.equal(envoyFilterAppliesToSidecars(obj('EnvoyFilter', { configPatches: [{ match: { context: 'GATEWAY' } }] })), false);
  assert.equal(envoyFilterAppliesToSidecars(obj('EnvoyFilter', { configPatches: [{ match: { context: 'GATEWAY' } }, { match: { context: 'SIDECAR_INBOUND' } }] })), true);
  assert.equal(envoyFilterAppliesToSidecars(obj('EnvoyFilter', { configPatches: [{ applyTo: 'CLUSTER' }] })), true, 'no context means ANY');
});

test('injection: pod label beats namespace; disabled namespace wins; revisions count', () => {
  const enabled = namespaceInjection('a', { 'istio-injection': 'enabled' });
  const rev = namespaceInjection('b', { 'istio.io/rev': 'canary' });
  const disabled = namespaceInjection('c', { 'istio-injection': 'disabled', 'istio.io/rev': 'canary' });
  const unset = namespaceInjection('d', {});
  assert.equal(rev.injection, 'revision:canary');
  assert.equal(injectionExpected(enabled, undefined), true);
  assert.equal(injectionExpected(enabled, 'false'), false);
  assert.equal(injectionExpected(rev, undefined), true);
  assert.equal(injectionExpected(disabled, 'true'), false);
  assert.equal(injectionExpected(unset, 'true'), true);
  assert.equal(injectionExpected(unset, undefined), false);
});

test('service hosts and port protocols', () => {
  const svc = (namespace: string, name: string): ServiceSummary => ({ namespace, name, selector: { app: name }, ports: [] });
  const all = [svc('shop', 'cart'), svc('pay', 'cart'), svc('shop', 'ads')];
  assert.deepEqual(resolveHost('cart', 'shop', all).map((s) => s.namespace), ['shop']);
  assert.deepEqual(resolveHost('cart.pay', 'shop', all).map((s) => s.namespace), ['pay']);
  assert.deepEqual(resolveHost('cart.pay.svc.cluster.local', 'shop', all).map((s) => s.namespace), ['pay']);
  assert.deepEqual(resolveHost('*.shop.svc.cluster.local', 'x', all).map((s) => s.name).sort(), ['ads', 'cart']);
  assert.deepEqual(resolveHost('api.example.com', 'shop', all), []);
  assert.equal(portAppProtocol({ name: 'grpc-web' }).appProtocol, 'grpc-web');
  assert.equal(portAppProtocol({ name: 'http2-api' }).appProtocol, 'http2');
  assert.equal(portAppProtocol({ name: 'tcp-redis', appProtocol: 'redis' }).appProtocol, 'redis');
  assert.equal(portAppProtocol({ name: 'web' }).appProtocolSource, 'auto-detect');
  assert.equal(portAppProtocol({ name: 'x', appProtocol: 'kubernetes.io/h2c' }).appProtocol, 'http2');
});

const pod = (name: string, node: string, sidecar: boolean): PodSummary => ({
  namespace: 'a', name, labels: { app: 'w' }, serviceAccount: 'w', nodeName: node, owner: { kind: 'StatefulSet', name: 'w' },
  sidecar: sidecar ? 'container' : 'none', ambient: false,
  sidecarResources: sidecar ? { cpuRequestMillicores: 100, cpuLimitMillicores: 0, memoryRequestBytes: 1, memoryLimitBytes: 0 } : { cpuRequestMillicores: 0, cpuLimitMillicores: 0, memoryRequestBytes: 0, memoryLimitBytes: 0 },
});

test('blocked only when every node of the workload is outside the matrix', () => {
  const matrix = { rules: [{ min: '6.1', readiness: 'ready' as const, reasons: [] }, { max: '6.0', readiness: 'blocked' as const, reasons: [{ code: 'OLD', message: 'old' }] }] };
  const nodes = ['n-old', 'n-new'].map((name) => ({ name, kernelVersion: name === 'n-old' ? '5.4.0' : '6.8.0', osImage: '', containerRuntime: '', architecture: 'amd64', operatingSystem: 'linux', annotationKeys: [] }));
  const base = { source: 't', rootNamespace: 'istio-system', namespaces: [{ name: 'a', labels: { 'istio-injection': 'enabled' } }], nodes, controllers: [], intermediates: [], services: [], istio: [], daemonSets: [], findings: [] };
  const opts = { kernelMatrix: matrix, agentPerNode: { cpuRequestMillicores: 100, memoryRequestBytes: 0 } };
  const allOld = buildInventory({ ...base, pods: [pod('w-0', 'n-old', true), pod('w-1', 'n-old', true)] }, opts);
  assert.equal(allOld.workloads[0]!.class, 'blocked');
  const mixed = buildInventory({ ...base, pods: [pod('w-0', 'n-old', true), pod('w-1', 'n-new', true)] }, opts);
  assert.equal(mixed.workloads[0]!.class, 'l4-only');
  assert.deepEqual(mixed.workloads[0]!.reasons, ['NODES_PARTLY_BLOCKED']);
  // The tax: 2 sidecars x 100m against 2 agent nodes x 100m.
  assert.equal(mixed.sidecarTax.projectedSaving.cpuRequestMillicores, 0);
  const none = buildInventory({ ...base, pods: [pod('w-0', 'n-old', false)] }, opts);
  assert.equal(none.workloads[0]!.class, 'no-sidecar');
});
