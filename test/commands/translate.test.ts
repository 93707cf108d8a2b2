// `migrate translate` through the real snapshot reader, schema validator and plan writer on the bundled
// snapshots: zero wider cases, every manifest schema-valid, the Result matches its JSON Schema, the plan directory
// is complete and byte-identical across runs, the diff names changed resources, and the exit code on wider.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { runTranslate } from '../../src/workflows/translate.js';
import { SnapshotReader } from '../../src/adapters/snapshot/reader.js';
import { SchemaValidator } from '../../src/adapters/schema/validator.js';
import { fsPlanWriter } from '../../src/adapters/fs/plan-writer.js';
import { packagePath } from '../../src/adapters/fs/package.js';
import { renderTranslateMarkdown } from '../../src/render/translate.js';
import { runMigrate } from '../support/migrate-cli.js';

const schema = JSON.parse(readFileSync(packagePath('schema', 'translate-result.schema.json'), 'utf8'));
const validateResult = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
const validator = new SchemaValidator();

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

const translate = (snapshot: string, outDir?: string, namespaces: string[] = []) => runTranslate({
  reader: new SnapshotReader(snapshot), namespaces, rootNamespace: 'istio-system', verify: true, validator,
  ...(outDir ? { outDir, writer: fsPlanWriter } : {}), renderMarkdown: renderTranslateMarkdown,
});

for (const c of ['bookinfo', 'online-shop', 'mixed-kernel-fleet']) {
  test(`translate fixtures/${c}: no wider case, valid manifests and Result, complete and reproducible plan`, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'migrate-translate-'));
    try {
      const out = join(tmp, c);
      const r = await translate(packagePath('fixtures', c, 'snapshot'), out);
      assert.equal(r.summary.wider, 0, `wider: ${JSON.stringify(r.translations.filter((t) => t.fidelity === 'wider').map((t) => t.source))}`);
      assert.equal(r.verification?.wider ?? 0, 0);
      assert.ok(!r.gaps.some((g) => g.code === 'TR_SCHEMA_INVALID'), JSON.stringify(r.gaps.filter((g) => g.code === 'TR_SCHEMA_INVALID')));
      assert.ok(validateResult(JSON.parse(JSON.stringify(r))), JSON.stringify(validateResult.errors?.slice(0, 3)));
      const files = tree(out);
      for (const m of r.manifests) assert.ok(files[m.file], `plan has ${m.file}`);
      for (const f of ['report.md', 'report.json', 'plan.diff']) assert.ok(f in files, `plan has ${f}`);
      assert.equal(Object.keys(files).length, r.manifests.length + 3, 'nothing else in the plan directory');
      assert.match(files['report.md']!, /# Translation report/);
      // Same input, byte-identical output; rewriting replaces the directory whole.
      await translate(packagePath('fixtures', c, 'snapshot'), out);
      assert.deepEqual(tree(out), files);
      assert.deepEqual(readdirSync(tmp), [c], 'no temp directories left behind');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}

test('the online-shop translation verifies every translated AuthorizationPolicy and names the gaps', async () => {
  const r = await translate(packagePath('fixtures', 'online-shop', 'snapshot'));
  assert.ok(r.summary.exact > 0);
  for (const t of r.translations.filter((x) => x.kind === 'AuthorizationPolicy' && x.fidelity !== 'gap')) assert.ok(t.verification && t.verification.requests > 0, `${t.source} verified`);
  assert.ok(r.gaps.some((g) => g.code === 'TR_ENVOYFILTER' && g.level === 'Error'));
  assert.ok(r.manifests.some((m) => m.kind === 'Gateway' && m.name === 'waypoint'), 'a waypoint is created for the policies routed to it');
  // No emitted policy targets a waypoint the plan does not create.
  const gateways = new Set(r.manifests.filter((m) => m.kind === 'Gateway').map((m) => `${m.namespace}/${m.name}`));
  for (const m of r.manifests.filter((x) => x.kind === 'AuthorizationPolicy')) assert.ok(gateways.has(`${m.namespace}/waypoint`), `${m.file} has its waypoint`);
});

test('the diff shows a changed same-named resource as a modification and new ones as additions', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'migrate-translate-diff-'));
  try {
    const input = readFileSync(packagePath('fixtures', 'translate', 'gap-not-ports', 'input.yaml'), 'utf8');
    const existing = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: istio-not-ports\n  namespace: app\n  resourceVersion: "42"\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [all]\n';
    writeFileSync(join(tmp, 'snap.yaml'), `${input}\n---\n${existing}`);
    const r = await translate(join(tmp, 'snap.yaml'));
    assert.match(r.diff ?? '', /--- a\/app\/ciliumnetworkpolicy-istio-not-ports\.yaml/);
    assert.match(r.diff ?? '', /^-\s+- fromEntities:/m);
    assert.doesNotMatch(r.diff ?? '', /resourceVersion/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the CLI exits 5 when the plan is wider than the source, and 2 for an unknown namespace', async () => {
  const wider = await runMigrate(['translate', '--snapshot', packagePath('fixtures', 'translate', 'trap-mesh-waypoint', 'input.yaml'), '--json']);
  assert.equal(wider.status, 5, wider.stderr);
  const res = JSON.parse(wider.stdout);
  assert.ok(res.gaps.some((g: { level: string; code: string }) => g.level === 'Error' && g.code === 'TR_WIDER'));
  const ok = await runMigrate(['translate', '--snapshot', packagePath('fixtures', 'translate', 'gap-not-ports', 'input.yaml'), '--no-verify']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /verification: off/);
  const bad = await runMigrate(['translate', '--snapshot', packagePath('fixtures', 'online-shop', 'snapshot'), '-n', 'nope']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /MIGRATE_NS_NOT_FOUND/);
});
