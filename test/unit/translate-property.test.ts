// Property: for random AuthorizationPolicies (ALLOW and DENY, every translatable field and form, random
// PeerAuthentication modes) the translation is never wider than its source, per policy and combined.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { translatePlan } from '../../src/core/translate/plan.js';
import { buildTranslateResult } from '../../src/core/translate/result.js';
import { waypointReasons } from '../../src/core/translate/classify.js';

const sub = <T>(xs: T[]) => fc.subarray(xs, { minLength: 1, maxLength: Math.min(3, xs.length) });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const source = fc.record({
  principals: maybe(sub(['cluster.local/ns/a/sa/web', 'cluster.local/ns/b/*', '*/sa/api', '*', 'other.td/ns/a/sa/web', 'cluster.local/ns/a/sa/w*'])),
  notPrincipals: maybe(sub(['cluster.local/ns/a/sa/web', 'cluster.local/ns/b/*', '*'])),
  namespaces: maybe(sub(['a', 'b', 'c*', '*'])),
  notNamespaces: maybe(sub(['a', 'b'])),
  serviceAccounts: maybe(sub(['web', 'b/api'])),
  ipBlocks: maybe(sub(['203.0.113.0/24', '10.244.0.0/16', '198.51.100.7'])),
  notIpBlocks: maybe(sub(['203.0.113.128/25', '10.0.0.0/8'])),
}, { requiredKeys: [] });

const operation = fc.record({
  ports: maybe(sub(['8080', '80', '9090'])),
  notPorts: maybe(sub(['8080', '443'])),
  methods: maybe(sub(['GET', 'POST', 'PU*', '*ETE'])),
  paths: maybe(sub(['/a', '/b/*', '*.css', '*', '/q?x'])),
  hosts: maybe(sub(['api.example', '*.svc', 'API*'])),
}, { requiredKeys: [] });

const condition = fc.oneof(
  fc.record({ key: fc.constant('source.ip'), values: sub(['203.0.113.0/24', '10.244.0.0/16']) }),
  fc.record({ key: fc.constant('source.namespace'), values: sub(['a', 'b']) }),
  fc.record({ key: fc.constant('source.principal'), notValues: sub(['cluster.local/ns/a/sa/web']) }),
  fc.record({ key: fc.constant('destination.port'), values: sub(['8080', '80']) }),
  fc.record({ key: fc.constant('request.headers[x-t]'), values: sub(['blue', 'green']) }),
);

const rule = fc.record({
  from: maybe(fc.array(fc.record({ source }), { minLength: 1, maxLength: 2 })),
  to: maybe(fc.array(fc.record({ operation }), { minLength: 1, maxLength: 2 })),
  when: maybe(fc.array(condition, { minLength: 1, maxLength: 2 })),
}, { requiredKeys: [] });

// Some shapes route the policy to a waypoint (DENY with methods, requestPrincipals, notPaths): the plane then
// includes the waypoint, and the property must still hold.
const waypointRule = fc.oneof(
  fc.record({ to: fc.constant([{ operation: { methods: ['DELETE'] } }]) }),
  fc.record({ from: fc.constant([{ source: { requestPrincipals: ['iss/sub'] } }]) }),
  fc.record({ to: fc.constant([{ operation: { notPaths: ['/private*'] } }]) }),
);

const policy = fc.record({
  action: fc.constantFrom('ALLOW', 'DENY'),
  selector: fc.constantFrom(undefined, { matchLabels: { app: 'api' } }),
  rules: maybe(fc.array(fc.oneof({ weight: 6, arbitrary: rule }, { weight: 1, arbitrary: waypointRule }), { minLength: 0, maxLength: 3 })),
  root: fc.boolean(),
});

const mode = fc.constantFrom(undefined, 'STRICT', 'PERMISSIVE', 'DISABLE');

const base: KubeObject[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'a' }, spec: { template: { metadata: { labels: { app: 'api' } }, spec: { serviceAccountName: 'api', containers: [{ name: 'api', ports: [{ containerPort: 8080 }, { containerPort: 80 }] }] } } } },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'a' }, spec: { template: { metadata: { labels: { app: 'web' } }, spec: { serviceAccountName: 'web', containers: [{ name: 'web', ports: [{ containerPort: 80 }] }] } } } },
];

test('random policies never translate wider than their source', () => {
  fc.assert(fc.property(fc.array(policy, { minLength: 1, maxLength: 3 }), mode, mode, (ps, nsMode, wlMode) => {
    // Root-namespace (mesh-wide) policies only when they need no waypoint: those are reported as Errors.
    const objects: KubeObject[] = [...base, ...ps.map(({ root, ...spec }, i): KubeObject => {
      const needsWaypoint = waypointReasons(JSON.parse(JSON.stringify(spec))).length > 0;
      return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: `p${i}`, namespace: root && !needsWaypoint ? 'istio-system' : 'a' }, spec: JSON.parse(JSON.stringify(spec)) };
    })];
    if (nsMode) objects.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'ns', namespace: 'a' }, spec: { mtls: { mode: nsMode } } });
    if (wlMode) objects.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'api', namespace: 'a' }, spec: { selector: { matchLabels: { app: 'api' } }, mtls: { mode: wlMode }, portLevelMtls: { 80: { mode: 'PERMISSIVE' } } } });
    const r = buildTranslateResult(translatePlan({ objects, namespaces: [] }), 'property', { verify: true, perPolicyCap: 20_000, combinedCap: 40_000 });
    for (const t of r.translations) {
      assert.equal(t.verification?.wider ?? 0, 0, `${t.source} wider: ${JSON.stringify(t.verification?.widerExamples[0])}\n${JSON.stringify(objects.slice(2))}`);
    }
    assert.equal(r.verification?.wider ?? 0, 0, `combined wider: ${JSON.stringify(r.verification?.widerExamples[0])}\n${JSON.stringify(objects.slice(2))}`);
  }), { numRuns: Number(process.env.PROPERTY_RUNS ?? 100), seed: Number(process.env.PROPERTY_SEED ?? 4242) });
});
