// The translate golden cases (fixtures/translate) as shadow scenarios, for the differentials of the shadow against the
// Cilium reference evaluator: the case's translated manifests, a probe pod for every workload and every source pod
// of the case's request space (each with an address of its own: pod addresses never meet CIDR selectors, in Cilium or
// in the probe, so the evaluator's verdict does not change with them), and up to `cap` requests of the space.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { translatePlan } from '../../src/core/translate/plan.js';
import { buildSpace, sampleIndices } from '../../src/core/verify/space.js';
import type { PodPeer, Request, Workload } from '../../src/core/verify/request.js';
import type { ProbePodInput } from '../../src/core/shadow/probe-config.js';
import { REPO_ROOT } from './cluster.js';

const DIR = join(REPO_ROOT, 'fixtures', 'translate');

export interface GoldenScenario {
  cilium: KubeObject[];
  pods: ProbePodInput[];
  /** The probe pod a request's destination is. */
  podOf: (w: Workload) => ProbePodInput;
  requests: Request[];
}

export const goldenCases = (): string[] => readdirSync(DIR).filter((d) => existsSync(join(DIR, d, 'input.yaml'))).sort();

/** null: the case has no workload in the mesh (nothing to shadow). */
export function goldenScenario(name: string, cap: number): GoldenScenario | null {
  const objects = yaml.loadAll(readFileSync(join(DIR, name, 'input.yaml'), 'utf8')) as KubeObject[];
  const plan = translatePlan({ objects, namespaces: [] });
  const cilium = plan.manifests.filter((m) => m.kind === 'CiliumNetworkPolicy' || m.kind === 'CiliumClusterwideNetworkPolicy');
  const dests: Workload[] = plan.workloads.filter((w) => w.inMesh).map((w) => ({ id: `${w.namespace}/${w.name}`, namespace: w.namespace, serviceAccount: w.serviceAccount, labels: w.labels }));
  if (!dests.length) return null;
  const space = buildSpace({ authorizationPolicies: plan.authorizationPolicies, peerAuthentications: plan.peerAuthentications, destinations: dests, workloadPorts: [...new Set(plan.workloads.flatMap((w) => w.ports))] });
  const pods: ProbePodInput[] = [];
  const byKey = new Map<object, ProbePodInput>();
  const sources = new Map<object, PodPeer>();
  const addPod = (key: object, namespace: string, serviceAccount: string, labels: Record<string, string>, sidecar: boolean) => {
    const i = pods.length;
    const p = { name: `p${i}`, namespace, ip: `10.250.${i >> 8}.${i & 255}`, serviceAccount, labels, sidecar };
    pods.push(p);
    byKey.set(key, p);
    return p;
  };
  for (const d of dests) addPod(d, d.namespace, d.serviceAccount, d.labels, false);
  const sample = sampleIndices(space.size, cap);
  const requests: Request[] = [];
  for (let k = 0; k < sample.count; k++) {
    const r = space.at(sample.index(k));
    let src = r.source;
    if (src.kind === 'pod') {
      let s = sources.get(src);
      if (!s) { const p = addPod(src, src.namespace, src.serviceAccount, src.labels, src.inMesh); s = { ...src, ip: p.ip }; sources.set(src, s); }
      src = s;
    }
    requests.push({ ...r, source: src });
  }
  return { cilium, pods, podOf: (w) => byKey.get(w)!, requests };
}

/** Requests the shadow is not held to Cilium's verdict on: what the compile reports as not shadowed (method regexes,
 * and host/header conditions: the probe alone matches a rule on method and path; `joined`: the verdict went through the
 * join, which checks host and user-agent on the access log, so only headers the log does not carry), and IPv6 peers
 * (the probe is IPv4 only). Any HTTP request of a case with such a rule is excused. */
export function excused(unsupported: string[], r: Request, joined = false): boolean {
  if (r.source.ip.includes(':')) return true;
  if (r.protocol !== 'HTTP') return false;
  const conditions = joined ? /the log does not carry/ : /conditions are checked on the sidecars' access log/;
  return unsupported.some((u) => /method regex/.test(u) || conditions.test(u));
}
