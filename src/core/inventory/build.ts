// Assembles the InventoryResult from compact, already-collected facts. Pure and deterministic: everything
// it outputs is sorted, so the same cluster gives byte-identical JSON.
import type { KubeObject, Labels } from '../model/k8s.js';
import { objectRef } from '../model/k8s.js';
import type { Finding } from '../model/finding.js';
import { compareFindings } from '../model/finding.js';
import type {
  InventoryResult, IstioResourceEntry, NamespaceEntry, NodeEntry, ServiceEntrySummary, WorkloadClass, WorkloadEntry,
} from '../model/inventory.js';
import { WORKLOAD_CLASSES } from '../model/inventory.js';
import type { KernelMatrix, Readiness } from '../kernel/readiness.js';
import { nodeReadiness, READINESS_ORDER } from '../kernel/readiness.js';
import { appliesToWorkload, policyScope, selectorOf, targetRefsOf } from '../istio/applicability.js';
import type { Feature } from '../istio/features.js';
import {
  destinationRuleFeatures, envoyFilterAppliesToSidecars, HOST_KINDS, SELECTOR_KINDS, selectorKindFeatures, virtualServiceAppliesToMesh, virtualServiceFeatures, virtualServiceHosts,
} from '../istio/features.js';
import type { PodSummary, Resources } from './pods.js';
import { addResources, INJECT_KEY, ZERO_RESOURCES } from './pods.js';
import type { ControllerSummary } from './workloads.js';
import { groupWorkloads, workloadKey, workloadLabels } from './workloads.js';
import type { ServiceSummary } from './services.js';
import { resolveHost, serviceSelects } from './services.js';
import { injectionExpected, namespaceInjection } from './injection.js';
import type { ReasonCode, ReasonDetail } from './reasons.js';
import { REASONS } from './reasons.js';
import { detectCni } from './cni.js';
import type { AgentCost } from './tax.js';
import { sidecarTax } from './tax.js';

export interface NodeSummary {
  name: string;
  kernelVersion: string;
  osImage: string;
  containerRuntime: string;
  architecture: string;
  operatingSystem: string;
  annotationKeys: string[];
}

export interface SidecarUsage {
  cpuMillicores: number;
  memoryBytes: number;
}

export interface InventoryInput {
  source: string;
  rootNamespace: string;
  /** Namespaces in scope, with their labels. */
  namespaces: { name: string; labels: Labels }[];
  nodes: NodeSummary[];
  pods: PodSummary[];
  controllers: ControllerSummary[];
  /** ReplicaSets: followed to their owners, never listed as workloads. */
  intermediates: ControllerSummary[];
  services: ServiceSummary[];
  /** Every Istio resource in scope (namespaces in scope plus the root namespace). */
  istio: KubeObject[];
  /** DaemonSets anywhere, for CNI detection. */
  daemonSets: { namespace: string; name: string }[];
  /** Measured istio-proxy usage per pod (`ns/name`), when metrics.k8s.io answered. */
  sidecarUsage?: Map<string, SidecarUsage>;
  /** Findings raised while collecting (missing CRDs, metrics unavailable, ...). */
  findings: Finding[];
}

export interface InventoryOptions {
  kernelMatrix: KernelMatrix;
  agentPerNode: AgentCost;
}

interface Applied {
  ref: string;
  features: Feature[];
}

function sortedUnique<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)].sort();
}

function classOf(reasons: Set<ReasonCode>, injected: boolean): WorkloadClass {
  if (!injected) return 'no-sidecar';
  const impacts = [...reasons].map((r) => REASONS[r].impact);
  if (impacts.includes('blocked')) return 'blocked';
  if (impacts.includes('waypoint')) return 'needs-waypoint';
  return 'l4-only';
}

/** PeerAuthentication precedence: workload > namespace > mesh; root-namespace policies with a selector are ignored. */
function effectivePeerAuthentication(pas: KubeObject[], workloadNs: string, rootNs: string): KubeObject[] {
  const usable = pas.filter((p) => !(p.metadata.namespace === rootNs && selectorOf(p) && workloadNs !== rootNs));
  const rank = (p: KubeObject) => (selectorOf(p) ? 0 : p.metadata.namespace === rootNs ? 2 : 1);
  const best = Math.min(...usable.map(rank));
  // Several at the same level is an Istio conflict (oldest wins); keep them all and let findings say so.
  return usable.filter((p) => rank(p) === best);
}

export function buildInventory(input: InventoryInput, opts: InventoryOptions): InventoryResult {
  const findings: Finding[] = [...input.findings];
  const rootNs = input.rootNamespace;

  // Nodes and their readiness.
  const podsPerNode = new Map<string, number>();
  for (const p of input.pods) if (p.nodeName && p.sidecar !== 'none') podsPerNode.set(p.nodeName, (podsPerNode.get(p.nodeName) ?? 0) + 1);
  const nodes: NodeEntry[] = input.nodes.map((n) => {
    const r = nodeReadiness({ kernelVersion: n.kernelVersion, operatingSystem: n.operatingSystem, architecture: n.architecture }, opts.kernelMatrix);
    return {
      name: n.name, kernelVersion: n.kernelVersion, osImage: n.osImage, containerRuntime: n.containerRuntime, architecture: n.architecture,
      operatingSystem: n.operatingSystem, readiness: r.readiness, reasons: r.reasons.map((x) => x.code), reasonDetails: r.reasons,
      injectedPods: podsPerNode.get(n.name) ?? 0,
    };
  }).sort((a, b) => a.name.localeCompare(b.name));
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));
  // One finding per blocked kernel, not per node: a fleet of 1,000 nodes has a handful of kernels.
  const blockedByKernel = new Map<string, NodeEntry[]>();
  for (const n of nodes) {
    if (n.readiness !== 'blocked') continue;
    const k = `${n.kernelVersion}\u0000${n.reasons.join(',')}`;
    (blockedByKernel.get(k) ?? blockedByKernel.set(k, []).get(k)!).push(n);
  }
  for (const group of blockedByKernel.values()) {
    const n = group[0]!;
    const names = group.map((x) => x.name);
    findings.push({
      level: 'Warning', code: 'MIG_NODE_BLOCKED', object: `Node/${n.name}`,
      message: `${group.length} node(s) with kernel ${n.kernelVersion || '(none)'} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}): ${n.reasonDetails.map((r) => r.message).join('; ')}`,
    });
  }

  // Namespaces and injection.
  const nsInj = new Map(input.namespaces.map((n) => [n.name, namespaceInjection(n.name, n.labels)]));

  // Istio resources, indexed by namespace for selector kinds; VS/DR resolved to Services.
  const selectorByNs = new Map<string, KubeObject[]>();
  const istioEntries = new Map<string, IstioResourceEntry>();
  const hostApplied = new Map<string, Applied[]>(); // workload key -> applied host-kind resources
  const servicesByNs = new Map<string, ServiceSummary[]>();
  for (const s of input.services) (servicesByNs.get(s.namespace) ?? servicesByNs.set(s.namespace, []).get(s.namespace)!).push(s);

  const groups = groupWorkloads(input.pods, input.controllers, input.intermediates);
  const groupsByNs = new Map<string, typeof groups>();
  for (const g of groups) (groupsByNs.get(g.namespace) ?? groupsByNs.set(g.namespace, []).get(g.namespace)!).push(g);
  const labelsOf = new Map(groups.map((g) => [workloadKey(g.namespace, g.kind, g.name), workloadLabels(g)]));
  const workloadsOfService = (s: ServiceSummary) =>
    (groupsByNs.get(s.namespace) ?? []).filter((g) => serviceSelects(s, g.namespace, labelsOf.get(workloadKey(g.namespace, g.kind, g.name))!));

  for (const o of input.istio) {
    const ref = objectRef(o);
    const entry: IstioResourceEntry = { ref, kind: o.kind, apiVersion: o.apiVersion, scope: 'none', appliesTo: 0, features: [] };
    istioEntries.set(ref, entry);
    if (SELECTOR_KINDS.has(o.kind)) {
      entry.scope = policyScope(o, rootNs);
      entry.features = sortedUnique(selectorKindFeatures(o).map((f) => f.code));
      if (entry.scope === 'targetRefs') {
        findings.push({ level: 'Info', code: 'MIG_TARGETREFS_POLICY', object: ref, message: `applies to ${targetRefsOf(o.spec).map((t) => `${t.kind}/${t.name}`).join(', ')} (gateway or waypoint), not to sidecars` });
        continue;
      }
      if (o.kind === 'EnvoyFilter' && !envoyFilterAppliesToSidecars(o)) { entry.scope = 'gateways'; continue; }
      const ns = o.metadata.namespace ?? '';
      (selectorByNs.get(ns) ?? selectorByNs.set(ns, []).get(ns)!).push(o);
    } else if (HOST_KINDS.has(o.kind)) {
      entry.scope = 'hosts';
      const isVs = o.kind === 'VirtualService';
      if (isVs && !virtualServiceAppliesToMesh(o)) { entry.scope = 'gateways'; continue; }
      const features = isVs ? virtualServiceFeatures(o) : destinationRuleFeatures(o);
      entry.features = sortedUnique(features.map((f) => f.code));
      const hosts = isVs ? virtualServiceHosts(o) : [o.spec?.host as string].filter(Boolean);
      const targets = new Set<string>();
      for (const h of hosts) {
        const svcs = resolveHost(h, o.metadata.namespace ?? 'default', input.services);
        if (svcs.length === 0 && !h.includes('*') && h.split('.').length <= 2) {
          findings.push({ level: 'Info', code: 'MIG_HOST_UNRESOLVED', object: ref, message: `host "${h}" matches no Service in scope` });
        }
        for (const s of svcs) for (const g of workloadsOfService(s)) targets.add(workloadKey(g.namespace, g.kind, g.name));
      }
      for (const k of targets) (hostApplied.get(k) ?? hostApplied.set(k, []).get(k)!).push({ ref, features });
    }
  }

  // Workloads.
  const workloads: WorkloadEntry[] = [];
  const nsStats = new Map<string, NamespaceEntry>();
  const nsEntry = (name: string): NamespaceEntry => {
    let e = nsStats.get(name);
    if (!e) {
      e = { name, injection: nsInj.get(name)?.injection ?? 'unset', workloads: 0, pods: 0, injectedPods: 0, sidecar: ZERO_RESOURCES };
      nsStats.set(name, e);
    }
    return e;
  };
  for (const n of input.namespaces) nsEntry(n.name);

  let sidecarTotal: Resources = ZERO_RESOURCES;
  let measured: { cpuMillicores: number; memoryBytes: number; pods: number } | undefined;
  const agentNodes = new Set<string>();
  const uninjectedAuthz = new Map<string, string[]>();

  for (const g of groups) {
    const key = workloadKey(g.namespace, g.kind, g.name);
    const labels = labelsOf.get(key)!;
    const ns = nsInj.get(g.namespace);
    const tmplOverride = g.controller ? g.controller.templateLabels[INJECT_KEY] ?? g.controller.templateAnnotations[INJECT_KEY] : g.pods[0]?.injectOverride;
    const expected = injectionExpected(ns, tmplOverride);
    const injectedPods = g.pods.filter((p) => p.sidecar !== 'none');
    const ambient = g.pods.length > 0 && g.pods.every((p) => p.ambient);
    const injected = injectedPods.length > 0 || (g.pods.length === 0 && expected);
    const reasons = new Set<ReasonCode>();
    const details: ReasonDetail[] = [];
    const add = (code: ReasonCode, detail: string, source?: string) => {
      reasons.add(code);
      details.push({ code, detail, ...(source ? { source } : {}) });
    };
    if (ambient) add('AMBIENT', 'ambient.istio.io/redirection=enabled');
    if (expected && g.pods.length > 0 && injectedPods.length < g.pods.length && !ambient) add('INJECTION_PENDING', `${g.pods.length - injectedPods.length} of ${g.pods.length} pods without sidecar`);
    if (!expected && injectedPods.length > 0) add('SIDECAR_NOT_EXPECTED', `${injectedPods.length} pods with sidecar`);

    // Policies that apply through selectors, in this namespace and the root namespace.
    const applied: Applied[] = [];
    const candidates = [...(selectorByNs.get(g.namespace) ?? []), ...(g.namespace !== rootNs ? selectorByNs.get(rootNs) ?? [] : [])];
    const pas: KubeObject[] = [];
    for (const o of candidates) {
      if (!appliesToWorkload(o, { namespace: g.namespace, labels }, rootNs)) continue;
      if (o.kind === 'PeerAuthentication') { pas.push(o); continue; }
      applied.push({ ref: objectRef(o), features: selectorKindFeatures(o) });
      if (o.kind === 'AuthorizationPolicy' && !injected) {
        const list = uninjectedAuthz.get(objectRef(o)) ?? [];
        list.push(`${g.kind}/${g.namespace}/${g.name}`);
        uninjectedAuthz.set(objectRef(o), list);
      }
    }
    for (const p of effectivePeerAuthentication(pas, g.namespace, rootNs)) applied.push({ ref: objectRef(p), features: selectorKindFeatures(p) });
    applied.push(...(hostApplied.get(key) ?? []));
    for (const a of applied) {
      const e = istioEntries.get(a.ref);
      if (e) e.appliesTo++;
      // Without a sidecar nothing enforces these today: they are listed in policies[], not as reasons.
      if (injected) for (const f of a.features) add(f.code, f.detail, a.ref);
    }

    // Nodes.
    const nodeNames = sortedUnique(g.pods.map((p) => p.nodeName).filter((n): n is string => !!n));
    const readiness = nodeNames.map((n) => nodeByName.get(n)?.readiness).filter((r): r is Readiness => !!r);
    if (injected && readiness.length > 0) {
      const blocked = readiness.filter((r) => r === 'blocked').length;
      if (blocked === readiness.length) add('NODES_BLOCKED', `${blocked} of ${readiness.length} nodes blocked`);
      else if (blocked > 0) add('NODES_PARTLY_BLOCKED', `${blocked} of ${readiness.length} nodes blocked`);
      if (readiness.includes('ready-with-caveats')) add('NODES_CAVEATS', `${readiness.filter((r) => r === 'ready-with-caveats').length} nodes ready with caveats`);
    }

    let res: Resources = ZERO_RESOURCES;
    for (const p of injectedPods) {
      res = addResources(res, p.sidecarResources);
      if (p.nodeName) agentNodes.add(p.nodeName);
      const u = input.sidecarUsage?.get(`${p.namespace}/${p.name}`);
      if (u) {
        measured ??= { cpuMillicores: 0, memoryBytes: 0, pods: 0 };
        measured.cpuMillicores += u.cpuMillicores;
        measured.memoryBytes += u.memoryBytes;
        measured.pods++;
        const ne = nsEntry(g.namespace);
        ne.sidecarUsage ??= { cpuMillicores: 0, memoryBytes: 0, pods: 0 };
        ne.sidecarUsage.cpuMillicores += u.cpuMillicores;
        ne.sidecarUsage.memoryBytes += u.memoryBytes;
        ne.sidecarUsage.pods++;
      }
    }
    sidecarTotal = addResources(sidecarTotal, res);
    const ne = nsEntry(g.namespace);
    ne.workloads++;
    ne.pods += g.pods.length;
    ne.injectedPods += injectedPods.length;
    ne.sidecar = addResources(ne.sidecar, res);

    const services = (servicesByNs.get(g.namespace) ?? []).filter((s) => serviceSelects(s, g.namespace, labels)).map((s) => `${s.namespace}/${s.name}`);
    const dedup = new Map(details.map((d) => [`${d.code}\u0000${d.source ?? ''}\u0000${d.detail}`, d]));
    workloads.push({
      namespace: g.namespace, kind: g.kind, name: g.name,
      serviceAccount: g.controller?.serviceAccount ?? g.pods[0]?.serviceAccount ?? 'default',
      pods: g.pods.length, injectedPods: injectedPods.length, injected, injectionExpected: expected,
      class: ambient ? 'no-sidecar' : classOf(reasons, injected),
      reasons: [...reasons].sort(),
      reasonDetails: [...dedup.values()].sort((a, b) => a.code.localeCompare(b.code) || (a.source ?? '').localeCompare(b.source ?? '') || a.detail.localeCompare(b.detail)),
      policies: sortedUnique(applied.map((a) => a.ref)),
      services: services.sort(),
      nodes: nodeNames,
      sidecarResources: res,
    });
  }
  workloads.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));

  // Findings about policies.
  for (const [ref, ws] of uninjectedAuthz) {
    findings.push({ level: 'Warning', code: 'MIG_AUTHZ_NOT_ENFORCED', object: ref, message: `selects ${ws.length} workload(s) without a sidecar (${ws.slice(0, 3).join(', ')}${ws.length > 3 ? ', ...' : ''}): Istio does not enforce it there today, an eBPF plane would` });
  }
  for (const e of istioEntries.values()) {
    if (e.appliesTo === 0 && e.scope !== 'targetRefs' && e.scope !== 'gateways' && (SELECTOR_KINDS.has(e.kind) || HOST_KINDS.has(e.kind))) {
      findings.push({ level: 'Info', code: 'MIG_APPLIES_TO_NOTHING', object: e.ref, message: 'applies to no sidecar workload in scope' });
    }
    if (e.kind === 'EnvoyFilter' && e.features.includes('ENVOY_FILTER')) {
      findings.push({ level: 'Warning', code: 'MIG_ENVOYFILTER_REVIEW', object: e.ref, message: 'raw Envoy patch: review it and re-create it as a waypoint or reviewed CiliumEnvoyConfig before cutover' });
    }
  }
  for (const w of workloads) {
    if (w.reasons.includes('INJECTION_PENDING')) findings.push({ level: 'Warning', code: 'MIG_INJECTION_PENDING', object: `${w.kind}/${w.namespace}/${w.name}`, message: 'injection is enabled but some pods have no sidecar: restart them, or the inventory under-counts' });
  }

  const services: ServiceEntrySummary[] = input.services.map((s) => ({
    namespace: s.namespace, name: s.name, ports: s.ports,
    workloads: workloadsOfService(s).map((g) => `${g.kind}/${g.namespace}/${g.name}`).sort(),
  })).sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));

  const istioCount: Record<string, number> = {};
  for (const o of input.istio) istioCount[o.kind] = (istioCount[o.kind] ?? 0) + 1;
  const byReadiness = Object.fromEntries(READINESS_ORDER.map((r) => [r, nodes.filter((n) => n.readiness === r).length])) as Record<Readiness, number>;
  const byClass = Object.fromEntries(WORKLOAD_CLASSES.map((c) => [c, workloads.filter((w) => w.class === c).length])) as Record<WorkloadClass, number>;
  const injectedPodCount = workloads.reduce((s, w) => s + w.injectedPods, 0);

  return {
    apiVersion: 'migrate.dev/v1alpha1',
    kind: 'InventoryResult',
    summary: {
      source: input.source,
      namespaces: nsStats.size,
      workloads: workloads.length,
      pods: workloads.reduce((s, w) => s + w.pods, 0),
      injectedPods: injectedPodCount,
      sidecarCpuRequestMillicores: sidecarTotal.cpuRequestMillicores,
      sidecarMemoryRequestBytes: sidecarTotal.memoryRequestBytes,
      sidecarCpuLimitMillicores: sidecarTotal.cpuLimitMillicores,
      sidecarMemoryLimitBytes: sidecarTotal.memoryLimitBytes,
      istioResources: Object.fromEntries(Object.entries(istioCount).sort(([a], [b]) => a.localeCompare(b))),
      nodesByReadiness: byReadiness,
      workloadsByClass: byClass,
      cni: detectCni(input.daemonSets, input.nodes.flatMap((n) => n.annotationKeys)),
    },
    namespaces: [...nsStats.values()].sort((a, b) => a.name.localeCompare(b.name)),
    workloads,
    nodes,
    services,
    istioResources: [...istioEntries.values()].sort((a, b) => a.ref.localeCompare(b.ref)),
    sidecarTax: sidecarTax(sidecarTotal, opts.agentPerNode, agentNodes.size, measured),
    findings: findings.sort(compareFindings),
  };
}
