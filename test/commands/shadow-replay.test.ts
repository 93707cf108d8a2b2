// `migrate shadow --replay` over the recorded lab scenarios (fixtures/shadow/<scenario>): the whole diff from
// recorded files through bin/migrate, the Result checked against its JSON Schema and each scenario's
// hand-written expected outcome (exit code, matrix, named rules, gap codes, legs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { runCli } from '../support/cli.js';
import { packagePath } from '../../src/adapters/fs/package.js';
import type { ShadowResult, Matrix } from '../../src/core/shadow/result.js';

const ajv = new Ajv2020({ strict: false, validateFormats: false });
const validate = ajv.compile(JSON.parse(readFileSync(packagePath('schema', 'shadow-result.schema.json'), 'utf8')));
const ROOT = packagePath('fixtures', 'shadow');
const scenarios = existsSync(ROOT) ? readdirSync(ROOT).filter((d) => existsSync(join(ROOT, d, 'expected.json'))).sort() : [];

interface Expected {
  exitCode: number;
  outcome: string;
  matrix: Partial<Matrix>;
  minMatched: number;
  edges: Record<string, Record<string, number | string>>;
  disagreements: { class: string; edge: string; envoyRule: string; ebpfRuleContains?: string; expected: boolean; gapCode?: string; risk: string }[];
  legs: { wire: boolean; app: boolean };
  /** Optional: cells of named eBPF rules, and what the probe counted (wire-leg requests, kernel counters). */
  ebpfRules?: Record<string, Record<string, number | string>>;
  probe?: { requests?: number | string; counters?: Record<string, number | string> };
  /** Optional: telemetry parity holds on every listed edge. */
  parityOk?: boolean;
}

function cell(actual: number, want: number | string, what: string): void {
  if (want === '>0') assert.ok(actual > 0, `${what}: expected > 0, got ${actual}`);
  else assert.equal(actual, want, what);
}

test('the four lab scenarios are recorded', () => {
  assert.deepEqual(scenarios, ['l7-deny-gap', 'lossless', 'tls-wire', 'wrong-translation']);
});

for (const s of scenarios) {
  test(`replay ${s}: exit code, verdict matrix, named rules and legs as expected`, async () => {
    const exp = JSON.parse(readFileSync(join(ROOT, s, 'expected.json'), 'utf8')) as Expected;
    const r = await runCli(['shadow', '--replay', join('fixtures', 'shadow', s), '--json']);
    assert.equal(r.code, exp.exitCode, r.stderr || r.stdout.slice(0, 2000));
    const res = JSON.parse(r.stdout) as ShadowResult;
    assert.ok(validate(res), JSON.stringify(validate.errors?.slice(0, 3)));
    assert.equal(res.summary.outcome, exp.outcome);
    assert.equal(res.summary.exitCode, exp.exitCode);
    assert.ok(res.summary.matched >= exp.minMatched, `matched ${res.summary.matched} < ${exp.minMatched}`);
    assert.equal(res.parse.failed, 0, JSON.stringify(res.parse.failures));
    for (const [k, v] of Object.entries(exp.matrix)) cell(res.matrix[k as keyof Matrix], v, `matrix.${k}`);
    for (const [edge, cells] of Object.entries(exp.edges)) {
      const e = res.edges.find((x) => x.edge === edge);
      assert.ok(e, `edge ${edge} missing; have ${res.edges.map((x) => x.edge).join(', ')}`);
      for (const [k, v] of Object.entries(cells)) cell(e.matrix[k as keyof Matrix], v, `${edge} ${k}`);
      assert.equal(e.latency.wire.count > 0, exp.legs.wire, `${edge}: wire leg samples ${e.latency.wire.count}`);
      if (exp.legs.app && e.matrix.allowAllow > 0) assert.ok(e.latency.app.count > 0, `${edge}: no app leg samples`);
      if (exp.parityOk !== undefined) assert.equal(e.parity.ok, exp.parityOk, `${edge} parity: ${JSON.stringify(e.parity)}`);
    }
    for (const [rule, cells] of Object.entries(exp.ebpfRules ?? {})) {
      const r = res.rules.find((x) => x.side === 'ebpf' && x.rule === rule);
      assert.ok(r, `eBPF rule ${rule} missing; have ${res.rules.filter((x) => x.side === 'ebpf').map((x) => x.rule).join(', ')}`);
      for (const [k, v] of Object.entries(cells)) cell(r.matrix[k as keyof Matrix], v, `${rule} ${k}`);
    }
    if (exp.probe?.requests !== undefined) cell(res.summary.probeRequests, exp.probe.requests, 'probe requests (wire leg)');
    for (const [k, v] of Object.entries(exp.probe?.counters ?? {})) cell(res.probe.counters[k] ?? 0, v, `probe counter ${k}`);
    const verdictDis = res.disagreements.filter((d) => d.class === 'ebpf-would-allow' || d.class === 'ebpf-would-deny');
    assert.equal(verdictDis.length, exp.disagreements.length, JSON.stringify(verdictDis.map((d) => [d.class, d.edge, d.envoyRule, d.ebpfRule])));
    for (const want of exp.disagreements) {
      const d = verdictDis.find((x) => x.class === want.class && x.edge === want.edge);
      assert.ok(d, `no ${want.class} on ${want.edge}`);
      assert.equal(d.envoyRule, want.envoyRule);
      if (want.ebpfRuleContains) assert.ok(d.ebpfRule.includes(want.ebpfRuleContains), d.ebpfRule);
      assert.equal(d.expected, want.expected);
      assert.equal(d.risk, want.risk);
      if (want.gapCode) assert.equal(d.gapCode, want.gapCode);
      assert.ok(d.examples.length > 0 && d.examples[0]!.requestId.length > 8, 'examples carry request ids');
    }
  });
}

test('replay --output writes Markdown with the matrix and the disagreements', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'shadow-md-')), 'r.md');
  const r = await runCli(['shadow', '--replay', 'fixtures/shadow/l7-deny-gap', '--output', out]);
  assert.equal(r.code, 11, r.stderr);
  const md = readFileSync(out, 'utf8');
  assert.match(md, /## Verdict matrix \(Envoy \/ eBPF\)/);
  assert.match(md, /ebpf-would-allow \| security \| client -> reviews:9080/);
  assert.match(md, /TR_DENY_L7/);
  assert.match(r.stdout, /EXPECTED DISAGREEMENTS ONLY/);
});

test('replay of a directory without a run is a user error with the next step', async () => {
  const r = await runCli(['shadow', '--replay', tmpdir(), '--json']);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /MIGRATE_SHADOW_NO_RUN/);
});
