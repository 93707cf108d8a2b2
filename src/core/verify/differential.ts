// Differential verification: the same request through the Istio reference evaluator (source policy) and
// through the eBPF plane (Cilium evaluator over the emitted CNPs, then the waypoint for policies routed there).
// Cilium allowing what Istio denies is WIDER (an Error, never silent); the reverse is NARROWER (listed with
// examples); everywhere equal is EXACT.
import { CiliumEvaluator } from '../cilium/evaluator.js';
import { IstioEvaluator } from '../istio/evaluator.js';
import type { KubeObject } from '../model/k8s.js';
import type { Decision, Request, Verdict } from './request.js';
import { describeRequest } from './request.js';
import type { RequestSpace } from './space.js';
import { sampleByBlock } from './space.js';

export interface Counterexample {
  request: string;
  istio: { decision: Decision; reason: string; rules: string[] };
  cilium: { decision: Decision; reason: string; rules: string[] };
}

export interface VerifyCounts {
  /** Requests evaluated (on both sides). */
  requests: number;
  /** Size of the full derived space. */
  space: number;
  sampled: boolean;
  equal: number;
  narrower: number;
  wider: number;
  narrowerExamples: Counterexample[];
  widerExamples: Counterexample[];
}

export interface Plane {
  istio: IstioEvaluator;
  cilium: CiliumEvaluator;
  /** Policies enforced by waypoints in the plan (evaluated with Istio semantics after Cilium allows). */
  waypoint?: IstioEvaluator;
}

export function buildPlane(input: { authorizationPolicies: KubeObject[]; peerAuthentications: KubeObject[]; rootNamespace: string; cilium: KubeObject[]; waypointPolicies: KubeObject[] }): Plane {
  return {
    istio: new IstioEvaluator({ authorizationPolicies: input.authorizationPolicies, peerAuthentications: input.peerAuthentications, rootNamespace: input.rootNamespace }),
    cilium: new CiliumEvaluator(input.cilium),
    ...(input.waypointPolicies.length ? { waypoint: new IstioEvaluator({ authorizationPolicies: input.waypointPolicies, peerAuthentications: input.peerAuthentications, rootNamespace: input.rootNamespace }) } : {}),
  };
}

/** The eBPF plane's verdict: Cilium first; traffic it allows then meets the waypoint, if any. */
export function planeVerdict(p: Plane, r: Request): Verdict {
  const c = p.cilium.evaluate(r);
  if (c.decision !== 'allow' || !p.waypoint) return c;
  const w = p.waypoint.evaluate(r);
  return w.decision === 'allow' ? { decision: 'allow', reason: c.reason, rules: [...c.rules, ...w.rules] } : { decision: w.decision, reason: `waypoint: ${w.reason}`, rules: w.rules };
}

/** Decision only (no allocation); the full verdict is computed for counterexamples alone. */
export function planeDecision(p: Plane, r: Request): Decision {
  const c = p.cilium.decide(r);
  if (c !== 'allow' || !p.waypoint) return c;
  return p.waypoint.decide(r);
}

export const MAX_EXAMPLES = 5;

export function verify(p: Plane, space: RequestSpace, cap = 200_000): VerifyCounts {
  const s = sampleByBlock(space.size, space.dims.destinations, cap);
  const out: VerifyCounts = { requests: s.count, space: space.size, sampled: s.sampled, equal: 0, narrower: 0, wider: 0, narrowerExamples: [], widerExamples: [] };
  for (let k = 0; k < s.count; k++) {
    const r = space.at(s.index(k));
    const id = p.istio.decide(r);
    const cd = planeDecision(p, r);
    if (id === cd) { out.equal++; continue; }
    // Anything the plane lets through that Istio did not allow outright is wider; the rest is narrower.
    const wider = cd === 'allow' || (cd === 'custom' && id === 'deny');
    const ex = (): Counterexample => ({ request: describeRequest(r), istio: pick(p.istio.evaluate(r)), cilium: pick(planeVerdict(p, r)) });
    if (wider) { out.wider++; if (out.widerExamples.length < MAX_EXAMPLES) out.widerExamples.push(ex()); } else { out.narrower++; if (out.narrowerExamples.length < MAX_EXAMPLES) out.narrowerExamples.push(ex()); }
  }
  return out;
}

function pick(v: Verdict): Counterexample['istio'] {
  return { decision: v.decision, reason: v.reason, rules: v.rules };
}
