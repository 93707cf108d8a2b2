// Pure parts of the test control plane's tooling: the Cilium schema -> structural CRD schema rewrite and the
// seeder's object clean-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toStructural } from '../cluster/cilium-crds.js';
import { forCreate } from '../cluster/seed.js';

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
