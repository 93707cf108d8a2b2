import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { appliesToWorkload, isDryRun, policyScope, selectorMatches } from '../../src/core/istio/applicability.js';

const ap = (ns: string, spec: Record<string, unknown>, annotations?: Record<string, string>): KubeObject =>
  ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: ns, ...(annotations ? { annotations } : {}) }, spec });
const w = { namespace: 'shop', labels: { app: 'cart', version: 'v1' } };

test('selector: every matchLabels pair must be present; empty selects all', () => {
  assert.equal(selectorMatches({ matchLabels: { app: 'cart' } }, w.labels), true);
  assert.equal(selectorMatches({ matchLabels: { app: 'cart', version: 'v2' } }, w.labels), false);
  assert.equal(selectorMatches({ matchLabels: {} }, w.labels), true);
  assert.equal(selectorMatches(undefined, w.labels), true);
});

test('namespace, root namespace and other namespaces', () => {
  assert.equal(appliesToWorkload(ap('shop', {}), w, 'istio-system'), true, 'namespace-wide');
  assert.equal(appliesToWorkload(ap('istio-system', {}), w, 'istio-system'), true, 'mesh-wide from the root namespace');
  assert.equal(appliesToWorkload(ap('istio-system', { selector: { matchLabels: { app: 'cart' } } }), w, 'istio-system'), true, 'root ns with selector');
  assert.equal(appliesToWorkload(ap('istio-system', { selector: { matchLabels: { app: 'other' } } }), w, 'istio-system'), false);
  assert.equal(appliesToWorkload(ap('payments', {}), w, 'istio-system'), false, 'another namespace never applies');
  assert.equal(appliesToWorkload(ap('mesh-root', {}), w, 'mesh-root'), true, 'configurable root namespace');
  assert.equal(appliesToWorkload(ap('istio-system', {}), w, 'mesh-root'), false, 'istio-system is not special when the root is elsewhere');
});

test('targetRefs policies apply to waypoints and gateways, never to sidecars', () => {
  const p = ap('shop', { targetRefs: [{ kind: 'Service', group: '', name: 'cart' }] });
  assert.equal(appliesToWorkload(p, w, 'istio-system'), false);
  assert.equal(policyScope(p, 'istio-system'), 'targetRefs');
  assert.equal(policyScope(ap('shop', { selector: { matchLabels: { app: 'cart' } } }), 'istio-system'), 'workload');
  assert.equal(policyScope(ap('istio-system', {}), 'istio-system'), 'mesh');
  assert.equal(policyScope(ap('shop', {}), 'istio-system'), 'namespace');
});

test('Sidecar and EnvoyFilter select with workloadSelector.labels', () => {
  const sc: KubeObject = { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 's', namespace: 'shop' }, spec: { workloadSelector: { labels: { app: 'other' } } } };
  assert.equal(appliesToWorkload(sc, w, 'istio-system'), false);
  sc.spec.workloadSelector.labels.app = 'cart';
  assert.equal(appliesToWorkload(sc, w, 'istio-system'), true);
});

test('dry-run annotation', () => {
  assert.equal(isDryRun(ap('shop', {}, { 'istio.io/dry-run': 'true' })), true);
  assert.equal(isDryRun(ap('shop', {}, { 'istio.io/dry-run': 'false' })), false);
});
