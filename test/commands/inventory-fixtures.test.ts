// The bundled snapshots against their hand-written expectations (fixtures/<case>/expected.yaml), through the
// real snapshot reader and workflow; and the Result against its JSON Schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { inventoryOfSnapshot } from '../support/inventory.js';
import { packagePath } from '../../src/adapters/fs/package.js';

const CASES = ['bookinfo', 'online-shop', 'mixed-kernel-fleet'];
const schema = JSON.parse(readFileSync(packagePath('schema', 'inventory-result.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

interface Expected {
  summary: Record<string, unknown>;
  workloads?: Record<string, { class: string; reasons: string[]; policies?: string[] }>;
  nodes?: Record<string, { readiness: string; reasons: string[] }>;
  sidecarTax?: Record<string, unknown>;
  findings?: { level?: string; code: string; object: string; absent?: boolean }[];
}

for (const c of CASES) {
  test(`inventory of fixtures/${c} matches its expectations`, async () => {
    const exp = yaml.load(readFileSync(packagePath('fixtures', c, 'expected.yaml'), 'utf8')) as Expected;
    const r = await inventoryOfSnapshot(packagePath('fixtures', c, 'snapshot'));
    for (const [k, v] of Object.entries(exp.summary)) {
      assert.deepEqual((r.summary as unknown as Record<string, unknown>)[k], v, `summary.${k}`);
    }
    for (const [key, w] of Object.entries(exp.workloads ?? {})) {
      const [ns, kind, name] = key.split('/');
      const got = r.workloads.find((x) => x.namespace === ns && x.kind === kind && x.name === name);
      assert.ok(got, `workload ${key} present`);
      assert.equal(got.class, w.class, `${key} class`);
      assert.deepEqual(got.reasons, w.reasons, `${key} reasons`);
      if (w.policies) assert.deepEqual(got.policies, w.policies, `${key} policies`);
    }
    for (const [name, n] of Object.entries(exp.nodes ?? {})) {
      const got = r.nodes.find((x) => x.name === name);
      assert.ok(got, `node ${name}`);
      assert.equal(got.readiness, n.readiness, `${name} readiness`);
      assert.deepEqual(got.reasons, n.reasons, `${name} reasons`);
    }
    for (const [k, v] of Object.entries(exp.sidecarTax ?? {})) {
      assert.deepEqual((r.sidecarTax as unknown as Record<string, unknown>)[k], v, `sidecarTax.${k}`);
    }
    for (const f of exp.findings ?? []) {
      const hit = r.findings.some((x) => x.code === f.code && x.object === f.object && (!f.level || x.level === f.level));
      assert.equal(hit, !f.absent, `finding ${f.code} on ${f.object} ${f.absent ? 'absent' : 'present'}`);
    }
    assert.ok(validate(r), `schema: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  });
}

test('inventory output is deterministic (same snapshot, byte-identical JSON)', async () => {
  const a = JSON.stringify(await inventoryOfSnapshot(packagePath('fixtures', 'online-shop', 'snapshot')));
  const b = JSON.stringify(await inventoryOfSnapshot(packagePath('fixtures', 'online-shop', 'snapshot')));
  assert.equal(a, b);
});

test('-n scopes workloads but keeps root-namespace (mesh-wide) policies', async () => {
  const r = await inventoryOfSnapshot(packagePath('fixtures', 'online-shop', 'snapshot'), ['shop-batch']);
  assert.deepEqual(r.workloads.map((w) => `${w.namespace}/${w.name}`), ['shop-batch/cart-cleanup']);
  assert.deepEqual(r.workloads[0]!.policies, ['AuthorizationPolicy/shop-batch/cart-cleanup', 'PeerAuthentication/istio-system/default', 'Telemetry/istio-system/mesh-default']);
  assert.equal(r.summary.injectedPods, 1);
  assert.equal(r.summary.sidecarCpuRequestMillicores, 10);
});

test('an unknown -n namespace is a user error naming it', async () => {
  await assert.rejects(inventoryOfSnapshot(packagePath('fixtures', 'bookinfo', 'snapshot'), ['nope']), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'MIGRATE_NS_NOT_FOUND');
    assert.match(e.message, /namespace "nope" does not exist/);
    return true;
  });
});
