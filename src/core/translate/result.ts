// The Result of `migrate translate`: the plan plus differential verification per source policy and for the
// whole scope, with the final fidelity of each policy (verification overrides the translator's claim).
import type { KubeObject } from '../model/k8s.js';
import type { FindingLevel } from '../model/finding.js';
import { buildPlane, verify } from '../verify/differential.js';
import type { VerifyCounts } from '../verify/differential.js';
import { buildSpace } from '../verify/space.js';
import type { Workload } from '../verify/request.js';
import { appliesToWorkload } from '../istio/applicability.js';
import { GAP, TARGET } from './gaps.js';
import type { TranslationPlan } from './plan.js';
import { policyTargets } from './plan.js';
import type { Fidelity, Gap, KnownWorkload, PolicyTranslation } from './types.js';

export interface ManifestRef { kind: string; namespace?: string; name: string; file: string }

export interface TranslationEntry {
  source: string;
  kind: string;
  action?: string;
  fidelity: Fidelity;
  manifests: ManifestRef[];
  gaps: Gap[];
  narrowing: string[];
  verification?: VerifyCounts;
}

export interface TranslateResult {
  apiVersion: 'migrate.dev/v1alpha1';
  kind: 'TranslateResult';
  source: string;
  rootNamespace: string;
  namespaces: string[];
  outDir?: string;
  summary: {
    sources: number;
    exact: number;
    narrower: number;
    gap: number;
    wider: number;
    manifests: number;
    gapsByLevel: Record<FindingLevel, number>;
    verified: boolean;
  };
  translations: TranslationEntry[];
  gaps: Gap[];
  requirements: string[];
  verification?: VerifyCounts;
  manifests: ManifestRef[];
  /** Unified diff of the plan against same-named resources in the source (set by the workflow). */
  diff?: string;
}

export function manifestFile(m: KubeObject): string {
  const kind = m.kind.toLowerCase();
  return m.metadata.namespace ? `${m.metadata.namespace}/${kind}-${m.metadata.name}.yaml` : `_cluster/${kind}-${m.metadata.name}.yaml`;
}

export function manifestRef(m: KubeObject): ManifestRef {
  return { kind: m.kind, ...(m.metadata.namespace ? { namespace: m.metadata.namespace } : {}), name: m.metadata.name, file: manifestFile(m) };
}

function asWorkload(w: KnownWorkload): Workload {
  return { id: `${w.namespace}/${w.name}`, namespace: w.namespace, serviceAccount: w.serviceAccount, labels: w.labels };
}

/** A workload no selector picks, in the given namespace: checks that translations do not leak onto it. */
function bystander(ns: string): Workload {
  return { id: `${ns}/(bystander)`, namespace: ns, serviceAccount: 'default', labels: { app: 'migrate-bystander' } };
}

export interface VerifyOptions {
  verify: boolean;
  /** Max requests per source policy. */
  perPolicyCap?: number;
  /** Max requests for the whole-scope verification. */
  combinedCap?: number;
}

function ciliumOf(t: PolicyTranslation): KubeObject[] {
  return t.manifests.filter((m) => m.kind.startsWith('Cilium'));
}

/** Context shared by every per-source verification of one plan (built once). */
export interface VerifyContext {
  plan: TranslationPlan;
  paCnps: KubeObject[];
  apsByRef: Map<string, KubeObject>;
  workloadById: Map<string, KnownWorkload>;
}

export function verifyContext(plan: TranslationPlan): VerifyContext {
  return {
    plan,
    paCnps: plan.translations.filter((t) => t.kind === 'PeerAuthentication').flatMap(ciliumOf),
    apsByRef: new Map(plan.authorizationPolicies.map((p) => [`AuthorizationPolicy/${p.metadata.namespace}/${p.metadata.name}`, p])),
    workloadById: new Map(plan.workloads.map((w) => [`${w.namespace}/${w.name}`, w])),
  };
}

/** The differential check of one source object (undefined when there is nothing to compare). */
export function verifyTranslation(ctx: VerifyContext, index: number, perPolicyCap: number): VerifyCounts | undefined {
  const { plan, paCnps, apsByRef, workloadById } = ctx;
  const root = plan.rootNamespace;
  const t = plan.translations[index]!;
  const policy = apsByRef.get(t.source);
  const verifiable =
    (t.kind === 'AuthorizationPolicy' && policy && (t.fidelity !== 'gap' || t.waypointPolicy || t.gaps.some((g) => g.code === GAP.MESH_WAYPOINT)) && !t.gaps.some((g) => g.code === GAP.DRY_RUN)) ||
    t.kind === 'PeerAuthentication';
  if (!verifiable) return undefined;
  let dests: Workload[]; let aps: KubeObject[]; let cilium: KubeObject[]; let waypoint: KubeObject[] = [];
  if (t.kind === 'AuthorizationPolicy') {
    const targets = policyTargets(policy!, plan.workloads, root, plan.namespaces).map(asWorkload);
    dests = [...targets, bystander(policy!.metadata.namespace ?? 'default')];
    aps = [policy!];
    cilium = [...ciliumOf(t), ...paCnps];
    if (t.waypointPolicy) waypoint = [t.waypointPolicy];
  } else {
    const pa = plan.peerAuthentications.find((p) => `PeerAuthentication/${p.metadata.namespace}/${p.metadata.name}` === t.source)!;
    const ws = plan.workloads.filter((w) => appliesToWorkload(pa, w, root) || pa.metadata.namespace === root).map(asWorkload);
    dests = ws.length ? ws.slice(0, 50) : [bystander(pa.metadata.namespace === root ? 'default' : pa.metadata.namespace ?? 'default')];
    aps = []; cilium = paCnps;
  }
  const ports = [...new Set(dests.flatMap((d) => workloadById.get(d.id)?.ports ?? []))];
  const space = buildSpace({ authorizationPolicies: aps, peerAuthentications: plan.peerAuthentications, destinations: dests, workloadPorts: ports });
  const plane = buildPlane({ authorizationPolicies: aps, peerAuthentications: plan.peerAuthentications, rootNamespace: root, cilium, waypointPolicies: waypoint });
  return verify(plane, space, perPolicyCap);
}

export const DEFAULT_PER_POLICY_CAP = 50_000;

/**
 * `precomputed[i]` (when given) is the verification of plan.translations[i], e.g. from worker threads; null or
 * undefined entries are computed here.
 */
export const DEFAULT_COMBINED_CAP = 200_000;

/** Every policy in scope against every emitted manifest (and the waypoints), on the union of their spaces. */
export function verifyCombined(plan: TranslationPlan, cap: number): VerifyCounts {
  const dests = plan.workloads.length ? plan.workloads.map(asWorkload) : [...new Set(plan.authorizationPolicies.map((p) => p.metadata.namespace ?? 'default'))].map(bystander);
  const allCilium = plan.manifests.filter((m) => m.kind.startsWith('Cilium'));
  const waypoint = plan.translations.map((t) => t.waypointPolicy).filter((p): p is KubeObject => p !== undefined);
  const space = buildSpace({ authorizationPolicies: plan.authorizationPolicies, peerAuthentications: plan.peerAuthentications, destinations: dests, workloadPorts: [...new Set(plan.workloads.flatMap((w) => w.ports))] });
  const plane = buildPlane({ authorizationPolicies: plan.authorizationPolicies, peerAuthentications: plan.peerAuthentications, rootNamespace: plan.rootNamespace, cilium: allCilium, waypointPolicies: waypoint });
  return verify(plane, space, cap);
}

export function buildTranslateResult(plan: TranslationPlan, source: string, opts: VerifyOptions, precomputed?: (VerifyCounts | null | undefined)[], precomputedCombined?: VerifyCounts): TranslateResult {
  const ctx = verifyContext(plan);
  const entries: TranslationEntry[] = [];
  const extraGaps: Gap[] = [];
  const root = plan.rootNamespace;
  plan.translations.forEach((t, i) => {
    const e: TranslationEntry = { source: t.source, kind: t.kind, ...(t.action ? { action: t.action } : {}), fidelity: t.fidelity, manifests: t.manifests.map(manifestRef), gaps: [...t.gaps], narrowing: t.narrowing };
    const v = !opts.verify ? undefined : precomputed?.[i] ?? verifyTranslation(ctx, i, opts.perPolicyCap ?? DEFAULT_PER_POLICY_CAP);
    if (v) {
      e.verification = v;
      if (v.wider > 0) {
        e.fidelity = 'wider';
        e.gaps.push({ code: GAP.WIDER, level: 'Error', object: t.source, reason: `the eBPF plane allows ${v.wider} of ${v.requests} requests Istio denies, e.g. ${v.widerExamples[0]?.request ?? ''}`, target: TARGET.waypointAuthz });
      } else if (e.fidelity === 'exact' && v.narrower > 0) {
        e.fidelity = 'narrower';
        e.gaps.push({ code: GAP.NARROWER, level: 'Warning', object: t.source, reason: `denies ${v.narrower} of ${v.requests} requests Istio allows, e.g. ${v.narrowerExamples[0]?.request ?? ''}`, target: 'review; shadow-compare before cutover' });
      }
    }
    entries.push(e);
  });
  let combined: VerifyCounts | undefined;
  if (opts.verify) {
    combined = precomputedCombined ?? verifyCombined(plan, opts.combinedCap ?? DEFAULT_COMBINED_CAP);
    if (combined.wider > 0 && !entries.some((e) => e.fidelity === 'wider')) {
      extraGaps.push({ code: GAP.WIDER, level: 'Error', object: `Namespace/${plan.namespaces.join(',') || '*'}`, reason: `combined plan allows ${combined.wider} requests Istio denies, e.g. ${combined.widerExamples[0]?.request ?? ''}`, target: TARGET.waypointAuthz });
    }
  }
  const gaps = [...entries.flatMap((e) => e.gaps), ...extraGaps].sort((a, b) => levelRank(a.level) - levelRank(b.level) || a.code.localeCompare(b.code) || a.object.localeCompare(b.object) || a.reason.localeCompare(b.reason));
  const count = (f: Fidelity) => entries.filter((e) => e.fidelity === f).length;
  return {
    apiVersion: 'migrate.dev/v1alpha1',
    kind: 'TranslateResult',
    source,
    rootNamespace: root,
    namespaces: plan.namespaces,
    summary: {
      sources: entries.length,
      exact: count('exact'), narrower: count('narrower'), gap: count('gap'), wider: count('wider'),
      manifests: plan.manifests.length,
      gapsByLevel: { Error: gaps.filter((g) => g.level === 'Error').length, Warning: gaps.filter((g) => g.level === 'Warning').length, Info: gaps.filter((g) => g.level === 'Info').length },
      verified: opts.verify,
    },
    translations: entries,
    gaps,
    requirements: plan.requirements,
    ...(combined ? { verification: combined } : {}),
    manifests: plan.manifests.map(manifestRef),
  };
}

function levelRank(l: FindingLevel): number {
  return l === 'Error' ? 0 : l === 'Warning' ? 1 : 2;
}
