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

// The same check on random policies over a small universe (seeded, so a failure reproduces): peers by label, CIDR
// (with excepts, overlapping), entities; L4-only and L7 rules on shared ports; deny rules; policies that keep default
// allow; specs lists. Every request of the universe is compared.
test('shadow verdicts equal Cilium\'s on random policy sets (300; DIFF_SETS and DIFF_SEED pick others)', () => {
  // mulberry32: an LCG's low bits cycle too fast for `% 4`
  let seed = Number(process.env.DIFF_SEED ?? 0x5eed);
  const rnd = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const pick = <T>(xs: T[]): T => xs[rnd(xs.length)]!;
  const some = <T>(xs: T[]): T[] => xs.filter(() => rnd(2) === 0);
  const apps = ['a', 'b', 'c'];
  const cidrs = ['192.0.2.0/24', '192.0.2.128/25', '0.0.0.0/0', '198.51.100.0/24'];
  const ports = [80, 81, 8080];
  const http = [{ method: 'GET', path: '/x' }, { method: 'POST' }, { path: '/x/.*' }, { method: 'GET', path: '/z' }];
  const peerFields = (): Record<string, unknown> => {
    switch (rnd(6)) {
      case 0: return {};
      case 1: return { fromEndpoints: some(apps).map((a) => ({ matchLabels: { app: a } })) };
      case 2: return { fromCIDRSet: [{ cidr: pick(cidrs), ...(rnd(2) ? { except: [pick(cidrs)] } : {}) }] };
      case 3: return { fromEntities: [pick(['world', 'cluster', 'all'])] };
      case 4: return { fromCIDR: some(cidrs) };
      default: return { fromEndpoints: [{ matchLabels: { app: pick(apps) } }], fromCIDR: [pick(cidrs)] };
    }
  };
  // L7 rules only where Cilium accepts them (TCP ports, not 0: compilePlan reports and skips the rest, as the agent
  // refuses such a policy); port ranges on L4-only entries
  const toPorts = (l7: boolean) => {
    if (l7 && rnd(2)) return [{ ports: [pick(ports), ...some(ports)].map((p) => ({ port: String(p), protocol: 'TCP' })), rules: { http: some(http) } }];
    return [{ ports: some(ports).map((p) => (rnd(4) === 0 ? { port: String(p), endPort: p + 50, protocol: 'TCP' } : { port: String(p), protocol: pick(['TCP', 'ANY']) })) }];
  };
  const rule = (l7: boolean) => ({ ...peerFields(), ...(rnd(4) ? { toPorts: toPorts(l7) } : {}) });
  const pods: ProbePodInput[] = apps.map((a, i) => ({ name: a, namespace: 'ns', ip: `10.250.0.${i + 1}`, serviceAccount: a, labels: { app: a }, sidecar: i !== 2 }));
  const peers = [...pods.map((p) => ({ kind: 'pod' as const, namespace: 'ns', serviceAccount: p.serviceAccount, labels: p.labels, ip: p.ip, inMesh: p.sidecar })), ...['192.0.2.1', '192.0.2.130', '198.51.100.5', '203.0.113.9'].map((ip) => ({ kind: 'external' as const, ip }))];
  let compared = 0;
  for (let set = 0; set < Number(process.env.DIFF_SETS ?? 300); set++) {
    const policies: KubeObject[] = [];
    for (let k = 0, n = 1 + rnd(3); k < n; k++) {
      // L7 rules only in default-deny policies: in one that keeps default allow, the reference evaluator lets every
      // request pass while the probe (like Cilium's port-specific proxy redirect, we believe) applies them. The
      // translation never writes that combination; docs/shadow.md "Limits" says it is unsettled.
      const keepsAllow = rnd(3) === 0;
      const spec = { endpointSelector: rnd(3) ? { matchLabels: { app: pick(apps) } } : {}, ...(keepsAllow ? { enableDefaultDeny: { ingress: false } } : {}),
        ...(rnd(4) ? { ingress: Array.from({ length: rnd(3) + 1 }, () => rule(!keepsAllow)) } : {}), ...(rnd(3) === 0 ? { ingressDeny: [rule(false)] } : {}) };
      policies.push({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: `p${k}`, namespace: 'ns' }, ...(rnd(5) ? { spec } : { specs: [spec] }) } as unknown as KubeObject);
    }
    const compiled = compilePlan(policies, pods);
    const model = new ProbeModel(compiled.config);
    const evaluator = new CiliumEvaluator(policies);
    for (const dst of pods) for (const src of peers) for (const port of [...ports, 8100]) for (const h of [null, { method: 'GET', path: '/x' }, { method: 'POST', path: '/x/y' }, { method: 'GET', path: '/z' }]) {
      const probe = model.verdict({ pod: dst.name, peerIp: src.ip, port, http: h });
      if (probe === 'tcp-on-l7') continue;
      const req: Request = { source: src, mtls: false, destination: { id: dst.name, namespace: 'ns', serviceAccount: dst.serviceAccount, labels: dst.labels }, port, protocol: h ? 'HTTP' : 'TCP', ...(h ?? {}) };
      const want = evaluator.decide(req);
      compared++;
      assert.equal(probe, want, `set ${set}: ${describeRequest(req)}\n${JSON.stringify(policies.map((p) => p.spec ?? (p as { specs?: unknown }).specs))}\nprobe config: ${JSON.stringify({ policy: compiled.config.policy, l7: compiled.config.l7, pods: compiled.config.pods.map((p) => [p.name, p.identity, p.defaultDeny]), ids: compiled.config.identities.slice(3) })}`);
    }
  }
  assert.ok(compared > 50_000, `compared ${compared}`);
});
