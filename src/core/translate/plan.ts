// The translation of one scope (namespaces, or the whole mesh): every AuthorizationPolicy, PeerAuthentication
// and other Istio object in scope becomes manifests and/or gap records, deterministically ordered.
import type { KubeObject } from '../model/k8s.js';
import { apiGroup, objectRef } from '../model/k8s.js';
import type { AuthorizationPolicySpec, MtlsMode, PeerAuthenticationSpec } from '../model/istio.js';
import { DEFAULT_ROOT_NAMESPACE } from '../model/istio.js';
import { appliesToWorkload, isDryRun, targetRefsOf } from '../istio/applicability.js';
import { indexPeerAuthentication } from '../istio/peer-authn.js';
import type { EffectiveMode, PeerAuthnIndex } from '../istio/peer-authn.js';
import { translateAuthzToCnp } from './authz.js';
import { waypointReasons } from './classify.js';
import { GAP, TARGET } from './gaps.js';
import { gapsForKind } from './other-kinds.js';
import { translateSidecar } from './egress.js';
import { translatePeerAuthentication } from './peer-authn.js';
import type { Gap, KnownWorkload, PolicyTranslation } from './types.js';
import { servicesFor, waypointGateway, waypointPolicy } from './waypoint.js';
import { knownWorkloads } from './workloads.js';
import type { CiliumRuleSpec } from '../cilium/types.js';
import { l4Proto } from '../cilium/admission.js';

export interface TranslateInput {
  objects: KubeObject[];
  /** Namespaces in scope; empty = all. Root-namespace (mesh-wide) policies are always considered. */
  namespaces: string[];
  rootNamespace?: string;
}

export interface TranslationPlan {
  rootNamespace: string;
  namespaces: string[];
  translations: PolicyTranslation[];
  /** Every emitted manifest, sorted by kind/namespace/name. */
  manifests: KubeObject[];
  requirements: string[];
  workloads: KnownWorkload[];
  /** Inputs the verifier needs. */
  authorizationPolicies: KubeObject[];
  peerAuthentications: KubeObject[];
}

const isKind = (o: KubeObject, kind: string, group: string) => o.kind === kind && apiGroup(o.apiVersion) === group;

export function sortObjects(xs: KubeObject[]): KubeObject[] {
  const kindOrder = (k: string) => ['Gateway', 'AuthorizationPolicy', 'CiliumClusterwideNetworkPolicy', 'CiliumNetworkPolicy'].indexOf(k);
  return [...xs].sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind) || (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name));
}

/** Target workloads of a policy: the known ones it applies to, or one shaped like its selector. */
const byNamespace = new WeakMap<KnownWorkload[], Map<string, KnownWorkload[]>>();
function inNamespace(workloads: KnownWorkload[], ns: string): KnownWorkload[] {
  let m = byNamespace.get(workloads);
  if (!m) {
    m = new Map();
    for (const w of workloads) { const l = m.get(w.namespace) ?? []; l.push(w); m.set(w.namespace, l); }
    byNamespace.set(workloads, m);
  }
  return m.get(ns) ?? [];
}

export function policyTargets(p: KubeObject, workloads: KnownWorkload[], rootNamespace: string, scope: string[]): KnownWorkload[] {
  const candidates = p.metadata.namespace === rootNamespace ? workloads : inNamespace(workloads, p.metadata.namespace ?? 'default');
  const known = candidates.filter((w) => w.inMesh && appliesToWorkload(p, w, rootNamespace) && (scope.length === 0 || scope.includes(w.namespace)));
  if (known.length) return known;
  const labels = (p.spec?.selector?.matchLabels ?? {}) as Record<string, string>;
  return [{ namespace: p.metadata.namespace ?? 'default', name: `(selector of ${p.metadata.name})`, labels, serviceAccount: 'default', ports: [], inMesh: true }];
}

function modesOf(targets: KnownWorkload[], pa: PeerAuthnIndex): EffectiveMode[] {
  return [...new Set(targets.flatMap((w) => pa.modesOf(w)))].sort();
}

function uniqueName(m: KubeObject, taken: Set<string>): KubeObject {
  const key = (n: string) => `${m.kind}/${m.metadata.namespace ?? ''}/${n}`;
  let name = m.metadata.name;
  for (let i = 2; taken.has(key(name)); i++) name = `${m.metadata.name}-${i}`;
  taken.add(key(name));
  return name === m.metadata.name ? m : { ...m, metadata: { ...m.metadata, name } };
}

export function translatePlan(input: TranslateInput): TranslationPlan {
  const root = input.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const scope = [...new Set(input.namespaces)].sort();
  const inScope = (o: KubeObject) => scope.length === 0 || scope.includes(o.metadata.namespace ?? '') || o.metadata.namespace === root;
  const objs = input.objects.filter(inScope);
  const aps = objs.filter((o) => isKind(o, 'AuthorizationPolicy', 'security.istio.io')).sort((a, b) => objectRef(a).localeCompare(objectRef(b)));
  const pas = input.objects.filter((o) => isKind(o, 'PeerAuthentication', 'security.istio.io')).sort((a, b) => objectRef(a).localeCompare(objectRef(b)));
  const services = input.objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'v1');
  const workloads = knownWorkloads(input.objects);
  const paIndex = indexPeerAuthentication(pas, root);
  const translations: PolicyTranslation[] = [];
  const requirements = new Set<string>();
  const waypointNamespaces = new Set<string>();

  for (const p of aps) {
    const spec = (p.spec ?? {}) as AuthorizationPolicySpec;
    const action = spec.action ?? 'ALLOW';
    const ref = objectRef(p);
    const base = { source: ref, kind: 'AuthorizationPolicy', action, manifests: [] as KubeObject[], gaps: [] as Gap[], narrowing: [] as string[] };
    if (targetRefsOf(spec).length) {
      translations.push({ ...base, fidelity: 'gap', gaps: [{ code: GAP.TARGET_REFS, level: 'Info', object: ref, reason: 'targetRefs policy applies to a gateway or waypoint, not to sidecars; it keeps working unchanged', target: 'keep as is' }] });
      continue;
    }
    if (isDryRun(p)) {
      translations.push({ ...base, fidelity: 'exact', gaps: [{ code: GAP.DRY_RUN, level: 'Info', object: ref, reason: 'istio.io/dry-run policy never enforces; nothing to emit', target: TARGET.hubble }] });
      continue;
    }
    if (action === 'AUDIT') {
      translations.push({ ...base, fidelity: 'gap', gaps: [{ code: GAP.AUDIT, level: 'Info', object: ref, reason: 'AUDIT never changes a decision; Cilium has no audit rule', target: TARGET.hubble }] });
      continue;
    }
    const targets = policyTargets(p, workloads, root, scope);
    const reasons = waypointReasons(spec);
    if (reasons.length) {
      const mesh = p.metadata.namespace === root;
      if (mesh) {
        translations.push({ ...base, fidelity: 'gap', gaps: reasons.map((r) => ({ code: GAP.MESH_WAYPOINT, level: 'Error', object: ref, reason: `${r.reason}; mesh-wide policy needs a waypoint in every namespace, none generated: NOT ENFORCED after migration`, target: r.target })) });
        continue;
      }
      const svc = servicesFor(p, services, targets.map((t) => t.labels));
      const wp = waypointPolicy(p, svc);
      waypointNamespaces.add(p.metadata.namespace ?? 'default');
      const narrowing = svc.length === 0 && spec.selector?.matchLabels && Object.keys(spec.selector.matchLabels).length
        ? ['no Service selects the policy\'s workloads: the waypoint policy targets the namespace waypoint and applies to every workload behind it']
        : [];
      translations.push({ ...base, fidelity: 'gap', manifests: [wp], waypointPolicy: p, narrowing, gaps: reasons.map((r) => ({ code: r.code, level: 'Warning', object: ref, reason: `${r.reason}; enforced by waypoint policy ${wp.metadata.namespace}/${wp.metadata.name} in this plan (label the Service(s) istio.io/use-waypoint=waypoint)`, target: r.target })) });
      continue;
    }
    // Policies also apply to workloads not in the snapshot (new ones, other namespaces for mesh-wide ones): their
    // PeerAuthentication modes count too, so a shape like "identity never matches under DISABLE" is not
    // assumed for a workload that is not DISABLE.
    const selectorLabels = (spec.selector?.matchLabels ?? {}) as Record<string, string>;
    const unseen: KnownWorkload[] = [{ namespace: p.metadata.namespace ?? 'default', name: '(unseen)', labels: selectorLabels, serviceAccount: 'default', ports: [], inMesh: true }];
    if (p.metadata.namespace === root) unseen.push({ ...unseen[0]!, namespace: '(any other namespace)' });
    const modes = modesOf([...targets, ...unseen], paIndex);
    const targetPorts = [...new Set(targets.flatMap((t) => t.ports))].sort((a, b) => a - b);
    const out = translateAuthzToCnp({ policy: p, rootNamespace: root, modes, targetPorts });
    const gaps: Gap[] = out.narrowing.length ? [{ code: GAP.NARROWED, level: 'Warning', object: ref, reason: `translated narrower: ${out.narrowing.join('; ')}`, target: TARGET.waypointAuthz }] : [];
    // Ports the sidecars never intercept: Istio polices none of their traffic, so today it all flows. The CNP
    // polices it (narrower, and invisible to the verification's TCP requests).
    const policed = targets.map((t) => ({ t, ports: out.manifest ? policedUncaptured(out.manifest.spec as CiliumRuleSpec, t.uncaptured ?? []) : [] })).filter((x) => x.ports.length);
    if (policed.length) {
      const what = policed.map((x) => `${x.t.namespace}/${x.t.name} ${x.ports.map((u) => `${u.port}/${u.protocol}`).join(', ')}`).join('; ');
      const line = `ports the sidecar does not intercept (not TCP, or left out by traffic.sidecar.istio.io/*InboundPorts): ${what}. No Istio policy applies to them today; this policy's ${(out.manifest!.spec as CiliumRuleSpec).enableDefaultDeny?.ingress === false ? 'deny rules do' : 'default deny does'}`;
      out.narrowing.push(line);
      gaps.push({ code: GAP.NOT_CAPTURED, level: 'Warning', object: ref, reason: line, target: TARGET.uncapturedPorts });
    }
    translations.push({ ...base, fidelity: out.narrowing.length ? 'narrower' : 'exact', manifests: out.manifest ? [out.manifest] : [], narrowing: out.narrowing, gaps });
  }

  // PeerAuthentication: parent modes and overrides decide what each policy's deny rule may select.
  const modeOfPa = (o: KubeObject | undefined): MtlsMode => (o?.spec as PeerAuthenticationSpec | undefined)?.mtls?.mode ?? 'UNSET';
  const meshPa = pas.find((p) => p.metadata.namespace === root && !p.spec?.selector);
  const nsPa = (ns: string) => pas.find((p) => p.metadata.namespace === ns && ns !== root && !p.spec?.selector);
  for (const pa of pas.filter(inScope)) {
    const ns = pa.metadata.namespace ?? 'default';
    const isMesh = pa === meshPa;
    const isNs = !pa.spec?.selector && !isMesh;
    const parent: MtlsMode = isMesh ? 'UNSET' : isNs ? modeOfPa(meshPa) : (modeOfPa(nsPa(ns)) !== 'UNSET' ? modeOfPa(nsPa(ns)) : modeOfPa(meshPa));
    const overriddenNs = isMesh ? pas.filter((p) => p !== meshPa && !p.spec?.selector && !['UNSET', 'STRICT'].includes(modeOfPa(p))).map((p) => p.metadata.namespace ?? '') : [];
    const overridingWl = isNs || isMesh
      ? pas.filter((p) => p.spec?.selector && (isMesh || p.metadata.namespace === ns) && !['UNSET', 'STRICT'].includes(modeOfPa(p))).map((p) => ({ matchLabels: p.spec.selector.matchLabels ?? {} }))
      : [];
    const t = translatePeerAuthentication(pa, root, parent, overriddenNs, isMesh ? [] : overridingWl);
    if (isMesh && overridingWl.length) t.narrowing.push('workload-level PeerAuthentication overrides cannot be excluded from a mesh-wide deny; those workloads also deny plaintext');
    t.requirements.forEach((r) => requirements.add(r));
    translations.push({ source: objectRef(pa), kind: 'PeerAuthentication', fidelity: t.narrowing.length ? 'narrower' : 'exact', manifests: t.manifest ? [t.manifest] : [], gaps: t.gaps, narrowing: t.narrowing });
  }

  const serviceEntries = input.objects.filter((o) => isKind(o, 'ServiceEntry', 'networking.istio.io'));
  for (const sc of objs.filter((o) => isKind(o, 'Sidecar', 'networking.istio.io')).sort((a, b) => objectRef(a).localeCompare(objectRef(b)))) {
    const e = translateSidecar(sc, services, serviceEntries);
    translations.push({ source: objectRef(sc), kind: 'Sidecar', fidelity: e.fidelity, manifests: e.manifest ? [e.manifest] : [], gaps: e.gaps, narrowing: e.narrowing });
  }
  const handled = new Set(['AuthorizationPolicy', 'PeerAuthentication', 'Sidecar']);
  for (const o of objs.filter((x) => x.apiVersion.includes('istio.io') && !handled.has(x.kind)).sort((a, b) => objectRef(a).localeCompare(objectRef(b)))) {
    const gaps = gapsForKind(o);
    if (gaps.length) translations.push({ source: objectRef(o), kind: o.kind, fidelity: 'gap', manifests: [], gaps, narrowing: [] });
  }

  // Unique names across the plan; waypoint Gateways for the namespaces whose policies need them.
  const taken = new Set<string>();
  for (const t of translations) t.manifests = t.manifests.map((m) => uniqueName(m, taken));
  const gateways = [...waypointNamespaces].sort().map(waypointGateway);
  const manifests = sortObjects([...gateways, ...translations.flatMap((t) => t.manifests)]);
  if (manifests.some((m) => JSON.stringify(m.spec ?? {}).includes('security.istio.io/tlsMode'))) {
    requirements.add('Pods that were mesh members must keep the label security.istio.io/tlsMode=istio after their sidecar is removed (add it to the pod templates before disabling injection): translated identity rules select on it, so that callers Istio could not authenticate stay denied.');
  }
  translations.sort((a, b) => a.source.localeCompare(b.source));
  return {
    rootNamespace: root,
    namespaces: scope,
    translations,
    manifests,
    requirements: [...requirements].sort(),
    workloads: workloads.filter((w) => w.inMesh && (scope.length === 0 || scope.includes(w.namespace))),
    authorizationPolicies: aps,
    peerAuthentications: pas,
  };
}

/** The uncaptured ports a translated policy polices: every one under default deny; else those its deny rules cover
 * (a rule without toPorts covers every port and protocol). */
function policedUncaptured(spec: CiliumRuleSpec, uncaptured: { port: number; protocol: string }[]): { port: number; protocol: string }[] {
  if (spec.enableDefaultDeny?.ingress !== false && spec.ingress?.length) return uncaptured;
  return uncaptured.filter((u) => (spec.ingressDeny ?? []).some((r) => !r.toPorts?.length || r.toPorts.some((pr) => (pr.ports ?? []).some((po) => {
    const proto = l4Proto(po);
    const lo = Number(po.port);
    return (proto === 'ANY' || proto === u.protocol) && (lo === 0 || (u.port >= lo && u.port <= (po.endPort ?? lo)));
  }))));
}
