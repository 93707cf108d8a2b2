// The shadow must judge a request as the eBPF plane (Cilium) would, or it blames the translation for its own mistake.
// For every translate golden case (fixtures/translate), the translated manifests go through compilePlan, and the
// config it writes is read with the probe's semantics (test/support/probe-model.ts, a model: no kernel here; the
// real programs and loader meet the same cases in test/integration/probe-differential.test.ts). Every request of the case's
// request space (the verifier's: identities, CIDR edges, ports, methods, paths) must get the Cilium reference
// evaluator's decision. Allowed differences are only the ones the compile reports (`unsupported`: host/header
// matches, method regexes) and plain TCP on a port with L7 rules, where the probe parses no HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRequest } from '../../src/core/verify/request.js';
import { CiliumEvaluator } from '../../src/core/cilium/evaluator.js';
import { compilePlan } from '../../src/core/shadow/probe-config.js';
import { ProbeModel } from '../support/probe-model.js';
import { excused, goldenCases, goldenScenario } from '../support/golden-cases.js';
import { randomPolicySets, requestsTo, specsOf, UNIVERSE } from '../support/random-policies.js';

const CAP = 20_000;

for (const c of goldenCases()) {
  test(`shadow verdicts equal Cilium's: ${c}`, () => {
    const sc = goldenScenario(c, CAP);
    if (!sc) return;
    const compiled = compilePlan(sc.cilium, sc.pods);
    const model = new ProbeModel(compiled.config);
    const evaluator = new CiliumEvaluator(sc.cilium);
    const diffs: string[] = [];
    let compared = 0;
    for (const r of sc.requests) {
      const probe = model.verdict({ pod: sc.podOf(r.destination).name, peerIp: r.source.ip, port: r.port, http: r.protocol === 'HTTP' ? { method: r.method ?? '', path: r.path ?? '/' } : null, udp: r.protocol === 'UDP' });
      if (probe === 'tcp-on-l7' || excused(compiled.unsupported, r)) continue;
      compared++;
      const want = evaluator.decide(r);
      if (probe !== want) diffs.push(`probe ${probe}, Cilium ${want}: ${describeRequest(r)}`);
    }
    assert.ok(compared > 0 || !sc.requests.length, `${c}: nothing compared`);
    assert.deepEqual(diffs.slice(0, 5), [], `${c}: ${diffs.length} of ${compared} requests differ (unsupported: ${compiled.unsupported.join('; ') || 'none'})`);
  });
}

// The same check on random policies over a small universe (test/support/random-policies.ts). Every request of the
// universe is compared.
test('shadow verdicts equal Cilium\'s on random policy sets, UDP flows too (300; DIFF_SETS and DIFF_SEED pick others)', () => {
  let compared = 0; let udp = 0;
  for (const set of randomPolicySets(Number(process.env.DIFF_SEED ?? 0x5eed), Number(process.env.DIFF_SETS ?? 300))) {
    const compiled = compilePlan(set.policies, UNIVERSE.pods);
    const model = new ProbeModel(compiled.config);
    const evaluator = new CiliumEvaluator(set.policies);
    for (const dst of UNIVERSE.pods) for (const req of requestsTo(dst)) {
      const probe = model.verdict({ pod: dst.name, peerIp: req.source.ip, port: req.port, http: req.protocol === 'HTTP' ? { method: req.method!, path: req.path! } : null, udp: req.protocol === 'UDP' });
      if (probe === 'tcp-on-l7') continue;
      compared++;
      if (req.protocol === 'UDP') udp++;
      assert.equal(probe, evaluator.decide(req), `set ${set.index}: ${describeRequest(req)}\n${specsOf(set)}\nprobe config: ${JSON.stringify({ policy: compiled.config.policy, l7: compiled.config.l7, pods: compiled.config.pods.map((p) => [p.name, p.identity, p.defaultDeny]), ids: compiled.config.identities.slice(3) })}`);
    }
  }
  assert.ok(compared > 50_000 && udp > 10_000, `compared ${compared}, ${udp} of them UDP`);
});
