// The shadow must judge a request as the eBPF plane (Cilium) would, or it blames the translation for its own mistake.
// For every translate golden case (fixtures/translate), the translated manifests go through compilePlan, and the
// config it writes is read with the probe's semantics (test/support/probe-model.ts, a model: no kernel here; the
// kernel and loader are held to the same semantics by test_progs and the lab tests). Every request of the case's
// request space (the verifier's: identities, CIDR edges, ports, methods, paths) must get the Cilium reference
// evaluator's decision. Allowed differences are only the ones the compile reports (`unsupported`: host/header
// matches, method regexes) and plain TCP on a port with L7 rules, where the probe parses no HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { translatePlan } from '../../src/core/translate/plan.js';
import { buildSpace, sampleIndices } from '../../src/core/verify/space.js';
import type { PodPeer, Request, Workload } from '../../src/core/verify/request.js';
import { describeRequest } from '../../src/core/verify/request.js';
import { CiliumEvaluator } from '../../src/core/cilium/evaluator.js';
import { compilePlan } from '../../src/core/shadow/probe-config.js';
import type { ProbePodInput } from '../../src/core/shadow/probe-config.js';
import { ProbeModel } from '../support/probe-model.js';
import { REPO_ROOT } from '../support/cluster.js';
import { randomPolicySets, requestsTo, specsOf, UNIVERSE } from '../support/random-policies.js';

const DIR = join(REPO_ROOT, 'fixtures', 'translate');
const CAP = 20_000;

/** Constructs the compile reports as not shadowed: requests these could decide are not held to Cilium's verdict. */
const excused = (unsupported: string[]) => ({
  http: unsupported.some((u) => /host\/header matches|method regex/.test(u)),
});

for (const c of readdirSync(DIR).filter((d) => existsSync(join(DIR, d, 'input.yaml'))).sort()) {
  test(`shadow verdicts equal Cilium's: ${c}`, () => {
    const objects = yaml.loadAll(readFileSync(join(DIR, c, 'input.yaml'), 'utf8')) as KubeObject[];
    const plan = translatePlan({ objects, namespaces: [] });
    const cilium = plan.manifests.filter((m) => m.kind === 'CiliumNetworkPolicy' || m.kind === 'CiliumClusterwideNetworkPolicy');
    const dests: Workload[] = plan.workloads.filter((w) => w.inMesh).map((w) => ({ id: `${w.namespace}/${w.name}`, namespace: w.namespace, serviceAccount: w.serviceAccount, labels: w.labels }));
    if (!dests.length) return;
    const space = buildSpace({ authorizationPolicies: plan.authorizationPolicies, peerAuthentications: plan.peerAuthentications, destinations: dests, workloadPorts: [...new Set(plan.workloads.flatMap((w) => w.ports))] });
    // Every pod the space names becomes a probe pod with an address of its own (pod addresses never meet CIDR
    // selectors, in Cilium or in the probe, so the evaluator's verdict does not change with them).
    const pods: ProbePodInput[] = [];
    const podOf = new Map<object, { name: string; ip: string }>();
    const sources = new Map<object, PodPeer>();
    const addPod = (key: object, namespace: string, serviceAccount: string, labels: Record<string, string>, sidecar: boolean) => {
      const i = pods.length;
      const p = { name: `p${i}`, namespace, ip: `10.250.${i >> 8}.${i & 255}`, serviceAccount, labels, sidecar };
      pods.push(p);
      podOf.set(key, p);
      return p;
    };
    for (const d of dests) addPod(d, d.namespace, d.serviceAccount, d.labels, false);
    const sample = sampleIndices(space.size, CAP);
    const reqs: Request[] = [];
    for (let k = 0; k < sample.count; k++) {
      const r = space.at(sample.index(k));
      let src = r.source;
      if (src.kind === 'pod') {
        let s = sources.get(src);
        if (!s) { const p = addPod(src, src.namespace, src.serviceAccount, src.labels, src.inMesh); s = { ...src, ip: p.ip }; sources.set(src, s); }
        src = s;
      }
      reqs.push({ ...r, source: src });
    }
    const compiled = compilePlan(cilium, pods);
    const model = new ProbeModel(compiled.config);
    const evaluator = new CiliumEvaluator(cilium);
    const ex = excused(compiled.unsupported);
    const diffs: string[] = [];
    let compared = 0;
    for (const r of reqs) {
      const probe = model.verdict({ pod: podOf.get(r.destination)!.name, peerIp: r.source.ip, port: r.port, http: r.protocol === 'HTTP' ? { method: r.method ?? '', path: r.path ?? '/' } : null });
      if (probe === 'tcp-on-l7') continue;
      if (ex.http && r.protocol === 'HTTP') continue;
      if (r.source.ip.includes(':')) continue; // the probe is IPv4 only
      compared++;
      const want = evaluator.decide(r);
      if (probe !== want) diffs.push(`probe ${probe}, Cilium ${want}: ${describeRequest(r)}`);
    }
    assert.ok(compared > 0 || !reqs.length, `${c}: nothing compared`);
    assert.deepEqual(diffs.slice(0, 5), [], `${c}: ${diffs.length} of ${compared} requests differ (unsupported: ${compiled.unsupported.join('; ') || 'none'})`);
  });
}

// The same check on random policies over a small universe (test/support/random-policies.ts). Every request of the
// universe is compared.
test('shadow verdicts equal Cilium\'s on random policy sets (300; DIFF_SETS and DIFF_SEED pick others)', () => {
  let compared = 0;
  for (const set of randomPolicySets(Number(process.env.DIFF_SEED ?? 0x5eed), Number(process.env.DIFF_SETS ?? 300))) {
    const compiled = compilePlan(set.policies, UNIVERSE.pods);
    const model = new ProbeModel(compiled.config);
    const evaluator = new CiliumEvaluator(set.policies);
    for (const dst of UNIVERSE.pods) for (const req of requestsTo(dst)) {
      const probe = model.verdict({ pod: dst.name, peerIp: req.source.ip, port: req.port, http: req.protocol === 'HTTP' ? { method: req.method!, path: req.path! } : null });
      if (probe === 'tcp-on-l7') continue;
      compared++;
      assert.equal(probe, evaluator.decide(req), `set ${set.index}: ${describeRequest(req)}\n${specsOf(set)}\nprobe config: ${JSON.stringify({ policy: compiled.config.policy, l7: compiled.config.l7, pods: compiled.config.pods.map((p) => [p.name, p.identity, p.defaultDeny]), ids: compiled.config.identities.slice(3) })}`);
    }
  }
  assert.ok(compared > 50_000, `compared ${compared}`);
});
