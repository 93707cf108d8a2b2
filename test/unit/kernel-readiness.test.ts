import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { nodeReadiness, parseKernelVersion, validateKernelMatrix, type KernelMatrix } from '../../src/core/kernel/readiness.js';
import { packagePath } from '../../src/adapters/fs/package.js';

// The bundled matrix is data; the test reads it as a user would edit it.
const matrix = yaml.load(readFileSync(packagePath('data', 'kernel-matrix.yaml'), 'utf8')) as KernelMatrix;

test('kernel versions as distros print them', () => {
  assert.deepEqual(parseKernelVersion('5.15.0-1034-azure'), [5, 15]);
  assert.deepEqual(parseKernelVersion('6.1.100+'), [6, 1]);
  assert.deepEqual(parseKernelVersion('5.10.227-219.884.amzn2.x86_64'), [5, 10]);
  assert.deepEqual(parseKernelVersion('4.19.0-27-cloud-amd64'), [4, 19]);
  assert.equal(parseKernelVersion(''), undefined);
  assert.equal(parseKernelVersion('unknown'), undefined);
});

test('readiness boundaries: >= 6.1 ready, 5.10 to 6.0 caveats, below 5.10 blocked', () => {
  const r = (k: string) => nodeReadiness({ kernelVersion: k, operatingSystem: 'linux' }, matrix);
  assert.equal(r('6.1.0-27-cloud-amd64').readiness, 'ready');
  assert.equal(r('6.18.1').readiness, 'ready');
  assert.equal(r('6.0.19').readiness, 'ready-with-caveats');
  assert.equal(r('5.10.0').readiness, 'ready-with-caveats');
  assert.deepEqual(r('5.15.0-1075-azure').reasons.map((x) => x.code), ['KERNEL_PRE_6_1']);
  assert.equal(r('5.9.16').readiness, 'blocked');
  assert.equal(r('5.4.0-1109-azure').readiness, 'blocked');
  assert.deepEqual(r('4.14.352').reasons.map((x) => x.code), ['KERNEL_BELOW_5_10']);
  assert.equal(r('').readiness, 'blocked');
  assert.deepEqual(r('').reasons.map((x) => x.code), ['KERNEL_UNKNOWN']);
});

test('Windows nodes are blocked whatever their kernel string', () => {
  const r = nodeReadiness({ kernelVersion: '10.0.20348.2762', operatingSystem: 'windows' }, matrix);
  assert.equal(r.readiness, 'blocked');
  assert.deepEqual(r.reasons.map((x) => x.code), ['NODE_OS_WINDOWS']);
});

test('the matrix is data: a stricter one changes the verdict without code changes', () => {
  const strict: KernelMatrix = { rules: [{ min: '6.6', readiness: 'ready', reasons: [] }, { max: '6.5', readiness: 'blocked', reasons: [{ code: 'ORG_POLICY', message: 'we require 6.6' }] }] };
  assert.equal(nodeReadiness({ kernelVersion: '6.1.0' }, strict).readiness, 'blocked');
  assert.equal(nodeReadiness({ kernelVersion: '6.6.1' }, strict).readiness, 'ready');
});

test('matrix validation names the bad field', () => {
  assert.deepEqual(validateKernelMatrix({}), ['rules: must be a non-empty list']);
  assert.match(validateKernelMatrix({ rules: [{ min: 'six', readiness: 'ready', reasons: [] }] }).join(), /rules\[0\]\.min/);
  assert.match(validateKernelMatrix({ rules: [{ readiness: 'maybe', reasons: [] }] }).join(), /rules\[0\]\.readiness/);
  assert.deepEqual(validateKernelMatrix(matrix), []);
});
