// Pure parts of the test control plane's tooling: the Cilium schema -> structural CRD schema rewrite and the
// seeder's object clean-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toStructural } from '../cluster/cilium-crds.js';
import { forCreate, PLACEHOLDER_IMAGE, repairObject } from '../cluster/seed.js';

test('toStructural drops additionalProperties:false only where properties are set', () => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      closed: { type: 'object', additionalProperties: false },
      nested: { type: 'object', additionalProperties: false, properties: { a: { type: 'string', enum: ['x'] } } },
    },
  };
  assert.deepEqual(toStructural(schema), {
    type: 'object',
    properties: {
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      closed: { type: 'object', additionalProperties: false },
      nested: { type: 'object', properties: { a: { type: 'string', enum: ['x'] } } },
    },
  });
});

test('forCreate strips server-owned metadata and status, keeps ownerReferences and nodeName', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p', namespace: 'ns', uid: 'u', resourceVersion: '7', creationTimestamp: 't', managedFields: [], generation: 2,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'x', controller: true }],
    },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }], ephemeralContainers: [{ name: 'dbg' }] },
    status: { phase: 'Running' },
  };
  const out = forCreate(pod);
  assert.deepEqual(out.metadata, { name: 'p', namespace: 'ns', ownerReferences: pod.metadata.ownerReferences });
  assert.equal(out.status, undefined);
  assert.deepEqual(out.spec, { nodeName: 'n1', containers: [{ name: 'c', image: 'i' }] });
  assert.equal(pod.status.phase, 'Running', 'the input is not mutated');
});

test('repairObject makes a schematic ReplicaSet, DaemonSet and Job valid and says what it changed', () => {
  const rs = {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'a-1', namespace: 'ns' },
    spec: { selector: { matchLabels: { app: 'a', 'pod-template-hash': '1' } }, template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'a', image: 'i' }] } } },
  };
  const r1 = repairObject(rs);
  assert.deepEqual((r1.obj.spec as typeof rs.spec).template.metadata.labels, { app: 'a', 'pod-template-hash': '1' });
  assert.deepEqual(r1.changes, ['added selector label(s) pod-template-hash to the template']);
  assert.deepEqual(rs.spec.template.metadata.labels, { app: 'a' }, 'the input is not mutated');

  const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'cni', namespace: 'kube-system' }, spec: { template: { metadata: { labels: { k: 'v' } }, spec: { containers: [{ name: 'c' }] } } } };
  const r2 = repairObject(ds);
  const spec2 = r2.obj.spec as { selector: unknown; template: { spec: { containers: { image: string }[] } } };
  assert.deepEqual(spec2.selector, { matchLabels: { k: 'v' } });
  assert.equal(spec2.template.spec.containers[0]!.image, PLACEHOLDER_IMAGE);
  assert.equal(r2.changes.length, 2);

  const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', namespace: 'ns' }, spec: { template: { spec: { containers: [{ name: 'c', image: 'i' }] } } } };
  assert.equal((repairObject(job).obj.spec as { template: { spec: { restartPolicy: string } } }).template.spec.restartPolicy, 'Never');

  const valid = repairObject(r1.obj);
  assert.deepEqual(valid.changes, []);
  assert.equal(valid.obj, r1.obj, 'a valid object is returned as is');
});
