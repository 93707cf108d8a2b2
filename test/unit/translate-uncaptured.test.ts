// Ports no sidecar intercepts (UDP; TCP its capture annotations leave out): Istio polices none of their traffic, so a
// translated policy that polices them is narrower, which the TCP-only verification cannot see. Golden:
// fixtures/translate/trap-uncaptured-ports; these check the words and the edges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { translatePlan } from '../../src/core/translate/plan.js';

const deployment = (annotations: Record<string, string> | undefined, ports: { containerPort: number; protocol?: string }[]): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'dns', namespace: 'app' },
  spec: { template: { metadata: { labels: { app: 'dns' }, ...(annotations ? { annotations } : {}) }, spec: { serviceAccountName: 'dns', containers: [{ name: 'dns', ports }] } } },
} as unknown as KubeObject);
const ap = (name: string, spec: unknown): KubeObject => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: 'app' }, spec } as unknown as KubeObject);
const allowWeb = ap('allow', { selector: { matchLabels: { app: 'dns' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/app/sa/web'] } }], to: [{ operation: { ports: ['8080'] } }] }] });
const gapsOf = (objects: KubeObject[], source: string) => translatePlan({ objects, namespaces: [] }).translations.find((t) => t.source === source)!;

test('an ALLOW policy names every port its default deny starts to police, per workload', () => {
  const t = gapsOf([deployment({ 'traffic.sidecar.istio.io/includeInboundPorts': '8080,9090', 'traffic.sidecar.istio.io/excludeInboundPorts': '9090' }, [{ containerPort: 8080 }, { containerPort: 5353, protocol: 'UDP' }, { containerPort: 9090 }, { containerPort: 7000 }]), allowWeb], 'AuthorizationPolicy/app/allow');
  assert.equal(t.fidelity, 'narrower');
  const g = t.gaps.find((x) => x.code === 'TR_NOT_CAPTURED')!;
  // 9090 excluded, 7000 not included, 5353 UDP; 8080 is the sidecar's
  assert.match(g.reason, /app\/Deployment\/dns 5353\/UDP, 7000\/TCP, 9090\/TCP\. No Istio policy applies to them today; this policy's default deny does$/);
});

test('a DENY policy names the uncaptured ports its deny rules cover; none where nothing is uncaptured', () => {
  const dns = deployment(undefined, [{ containerPort: 8080 }, { containerPort: 5353, protocol: 'UDP' }]);
  const denyAll = ap('deny', { action: 'DENY', selector: { matchLabels: { app: 'dns' } }, rules: [{ from: [{ source: { namespaces: ['other'] } }] }] });
  assert.match(gapsOf([dns, denyAll], 'AuthorizationPolicy/app/deny').gaps.find((x) => x.code === 'TR_NOT_CAPTURED')!.reason, /5353\/UDP\. .*this policy's deny rules do$/);
  const denyTcp = ap('deny', { action: 'DENY', selector: { matchLabels: { app: 'dns' } }, rules: [{ from: [{ source: { namespaces: ['other'] } }], to: [{ operation: { ports: ['8080'] } }] }] });
  assert.equal(gapsOf([dns, denyTcp], 'AuthorizationPolicy/app/deny').gaps.length, 0, 'a TCP deny on an intercepted port leaves UDP alone');
  const tcpOnly = deployment(undefined, [{ containerPort: 8080 }]);
  assert.deepEqual([gapsOf([tcpOnly, allowWeb], 'AuthorizationPolicy/app/allow').fidelity, gapsOf([tcpOnly, allowWeb], 'AuthorizationPolicy/app/allow').gaps], ['exact', []]);
  // an annotation that does not parse is read as "every port" here (the shadow names it as an error)
  assert.deepEqual(gapsOf([deployment({ 'traffic.sidecar.istio.io/excludeInboundPorts': 'x' }, [{ containerPort: 8080 }]), allowWeb], 'AuthorizationPolicy/app/allow').gaps, []);
});
