// Workloads the translator reasons about: pod templates of controllers and bare pods, with their container
// ports (the workload ports Istio `ports` name). Reuses the inventory's controller summary.
import type { KubeObject } from '../model/k8s.js';
import { summarizeController } from '../inventory/workloads.js';
import { injectionExpected, namespaceInjection } from '../inventory/injection.js';
import type { KnownWorkload } from './types.js';
import { inboundCapture, intercepts } from '../istio/capture.js';
import type { InboundCapture } from '../istio/capture.js';

const CONTROLLERS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

function portsOfTemplate(spec: { containers?: { name?: string; ports?: { containerPort?: number; protocol?: string }[] }[] } | undefined): number[] {
  const out = new Set<number>();
  for (const c of spec?.containers ?? []) {
    if (c.name === 'istio-proxy') continue;
    for (const p of c.ports ?? []) if (p.containerPort && (p.protocol ?? 'TCP') === 'TCP') out.add(p.containerPort);
  }
  return [...out].sort((a, b) => a - b);
}

/** Declared container ports the sidecar lets through unseen: istio-iptables redirects TCP only, and only the
 * ports its annotations include. A capture annotation that does not parse counts as every port (the shadow
 * names it). */
function uncapturedOf(tmpl: { metadata?: { annotations?: Record<string, string> }; spec?: Parameters<typeof portsOfTemplate>[0] } | undefined, name: string): { port: number; protocol: string }[] {
  let capture: InboundCapture | undefined;
  try { capture = inboundCapture(name, tmpl?.metadata?.annotations); } catch { capture = undefined; }
  const out = new Map<string, { port: number; protocol: string }>();
  for (const c of tmpl?.spec?.containers ?? []) {
    if (c.name === 'istio-proxy') continue;
    for (const p of c.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP').toUpperCase();
      if (p.containerPort && (protocol !== 'TCP' || !intercepts(capture, p.containerPort))) out.set(`${protocol}/${p.containerPort}`, { port: p.containerPort, protocol });
    }
  }
  return [...out.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

type PodLike = { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: { containers?: { name?: string }[]; initContainers?: { name?: string }[] } };

/**
 * Has (or would get) a sidecar: Istio authorization only ever applies to these. Without Namespace objects (a
 * bare policy set) every workload is assumed to be in the mesh.
 */
function inMesh(tmpl: PodLike | undefined, ns: string, namespaces: Map<string, KubeObject>): boolean {
  const hasProxy = [...(tmpl?.spec?.containers ?? []), ...(tmpl?.spec?.initContainers ?? [])].some((c) => c.name === 'istio-proxy');
  if (hasProxy) return true;
  if (namespaces.size === 0) return true;
  const n = namespaces.get(ns);
  const override = tmpl?.metadata?.labels?.['sidecar.istio.io/inject'] ?? tmpl?.metadata?.annotations?.['sidecar.istio.io/inject'];
  return injectionExpected(n ? namespaceInjection(ns, n.metadata.labels ?? {}) : undefined, override);
}

export function knownWorkloads(objects: KubeObject[]): KnownWorkload[] {
  const out: KnownWorkload[] = [];
  const namespaces = new Map(objects.filter((o) => o.kind === 'Namespace' && o.apiVersion === 'v1').map((o) => [o.metadata.name, o]));
  for (const o of objects) {
    if (CONTROLLERS.has(o.kind)) {
      const s = summarizeController(o);
      out.push({ namespace: s.namespace, name: `${o.kind}/${o.metadata.name}`, labels: s.templateLabels, serviceAccount: s.serviceAccount, ports: portsOfTemplate(o.spec?.template?.spec), inMesh: inMesh(o.spec?.template, s.namespace, namespaces), uncaptured: uncapturedOf(o.spec?.template, `${o.kind}/${o.metadata.name}`) });
    } else if (o.kind === 'Pod' && !(o.metadata.ownerReferences ?? []).length) {
      out.push({ namespace: o.metadata.namespace ?? 'default', name: `Pod/${o.metadata.name}`, labels: o.metadata.labels ?? {}, serviceAccount: o.spec?.serviceAccountName ?? 'default', ports: portsOfTemplate(o.spec), inMesh: inMesh(o as PodLike, o.metadata.namespace ?? 'default', namespaces), uncaptured: uncapturedOf(o as never, `Pod/${o.metadata.name}`) });
    }
  }
  return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
