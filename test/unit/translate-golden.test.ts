// Golden pairs (DESIGN.md convention 6): fixtures/translate/<case>/input.yaml -> expected.yaml (every emitted
// manifest) and expected-report.json (fidelity, gap codes, verification counts per source). One case per row
// of the gap table in cilium-policy.md and per trap in istio-authz.md. Regenerate with UPDATE_GOLDEN=1 and read
// the diff in review. Every emitted manifest is also validated against its vendored CRD schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { translatePlan } from '../../src/core/translate/plan.js';
import { buildTranslateResult } from '../../src/core/translate/result.js';
import { manifestYaml } from '../../src/workflows/translate.js';
import { SchemaValidator } from '../../src/adapters/schema/validator.js';
import { ciliumRejects } from '../../src/core/cilium/admission.js';
import { REPO_ROOT } from '../support/cluster.js';

const DIR = join(REPO_ROOT, 'fixtures', 'translate');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const validator = new SchemaValidator(join(REPO_ROOT, 'schema', 'vendor'));
/** Cases whose source cannot be migrated without widening: they must say so with an Error. */
const EXPECT_WIDER = new Set(['trap-mesh-waypoint', 'gap-service-entry']);

export function runCase(input: string) {
  const objects = yaml.loadAll(input) as KubeObject[];
  const plan = translatePlan({ objects, namespaces: [] });
  const result = buildTranslateResult(plan, 'golden', { verify: true });
  return { plan, result };
}

const cases = readdirSync(DIR).filter((d) => existsSync(join(DIR, d, 'input.yaml'))).sort();

test('there is a golden case for every gap-table row and trap', () => {
  assert.ok(cases.length >= 27, `only ${cases.length} cases`);
});

for (const c of cases) {
  test(`golden: ${c}`, () => {
    const { plan, result } = runCase(readFileSync(join(DIR, c, 'input.yaml'), 'utf8'));
    const manifests = plan.manifests.map((m) => `---\n${manifestYaml(m)}`).join('');
    const report = JSON.stringify(result.translations.map((t) => ({
      source: t.source, fidelity: t.fidelity, gaps: t.gaps.map((g) => `${g.level} ${g.code}`),
      ...(t.verification ? { verification: { equal: t.verification.equal, narrower: t.verification.narrower, wider: t.verification.wider } } : {}),
    })), null, 2) + '\n';
    const expYaml = join(DIR, c, 'expected.yaml');
    const expReport = join(DIR, c, 'expected-report.json');
    if (UPDATE) { writeFileSync(expYaml, manifests); writeFileSync(expReport, report); }
    assert.equal(manifests, readFileSync(expYaml, 'utf8'), `${c}: manifests differ from golden (UPDATE_GOLDEN=1 to regenerate)`);
    assert.equal(report, readFileSync(expReport, 'utf8'), `${c}: report differs from golden`);
    for (const m of plan.manifests) assert.deepEqual(validator.validate(m), [], `${c}: ${m.kind} ${m.metadata.name} fails its schema`);
    // the schema is not all: the agent refuses some schema-valid policies whole (a rule combining fromEndpoints and
    // fromEntities, HTTP rules without protocol TCP), and such a policy has no effect at all
    for (const m of plan.manifests) if (m.kind.startsWith('Cilium')) assert.equal(ciliumRejects(m), undefined, `${c}: cilium-agent refuses ${m.kind} ${m.metadata.name}`);
    if (EXPECT_WIDER.has(c)) assert.ok(result.gaps.some((g) => g.level === 'Error'), `${c}: a wider source must yield an Error`);
    else {
      assert.equal(result.summary.wider, 0, `${c}: wider translation`);
      assert.equal(result.verification?.wider ?? 0, 0, `${c}: whole-scope verification found wider requests`);
    }
    // Same input, byte-identical output.
    const again = runCase(readFileSync(join(DIR, c, 'input.yaml'), 'utf8'));
    assert.equal(again.plan.manifests.map((m) => `---\n${manifestYaml(m)}`).join(''), manifests);
  });
}
