// A pod reduced to the facts the inventory needs, so large clusters are streamed, not held raw.
import type { KubeObject, Labels } from '../model/k8s.js';
import type { Finding } from '../model/finding.js';
import { cpuMillicores, isValidQuantity, quantityValue } from '../quantity.js';

export const SIDECAR_CONTAINER = 'istio-proxy';

export interface Resources {
  cpuRequestMillicores: number;
  cpuLimitMillicores: number;
  memoryRequestBytes: number;
  memoryLimitBytes: number;
}

export type SidecarKind = 'container' | 'native' | 'none';

export interface PodSummary {
  namespace: string;
  name: string;
  labels: Labels;
  serviceAccount: string;
  nodeName?: string;
  phase?: string;
  /** Controller owner as found on the pod (ReplicaSet, Job, StatefulSet, ...). */
  owner?: { kind: string; name: string };
  sidecar: SidecarKind;
  sidecarResources: Resources;
  /** `sidecar.istio.io/inject` label or annotation on the pod, if any. */
  injectOverride?: string;
  ambient: boolean;
}

export const ZERO_RESOURCES: Resources = { cpuRequestMillicores: 0, cpuLimitMillicores: 0, memoryRequestBytes: 0, memoryLimitBytes: 0 };

export function addResources(a: Resources, b: Resources): Resources {
  return {
    cpuRequestMillicores: a.cpuRequestMillicores + b.cpuRequestMillicores,
    cpuLimitMillicores: a.cpuLimitMillicores + b.cpuLimitMillicores,
    memoryRequestBytes: a.memoryRequestBytes + b.memoryRequestBytes,
    memoryLimitBytes: a.memoryLimitBytes + b.memoryLimitBytes,
  };
}

interface ContainerLike {
  name?: string;
  args?: string[];
  restartPolicy?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

function quantityOr0(q: unknown, conv: (q: string) => number, object: string, field: string, findings: Finding[]): number {
  if (q === undefined || q === null || q === '') return 0;
  if (!isValidQuantity(q)) {
    findings.push({ level: 'Warning', code: 'IST_INVALID_QUANTITY', object, message: `${field}: "${String(q)}" is not a Kubernetes quantity; counted as 0` });
    return 0;
  }
  return conv(String(q));
}

export function containerResources(c: ContainerLike, object: string, findings: Finding[]): Resources {
  const path = `container ${c.name ?? '?'} resources`;
  return {
    cpuRequestMillicores: quantityOr0(c.resources?.requests?.cpu, cpuMillicores, object, `${path}.requests.cpu`, findings),
    cpuLimitMillicores: quantityOr0(c.resources?.limits?.cpu, cpuMillicores, object, `${path}.limits.cpu`, findings),
    memoryRequestBytes: quantityOr0(c.resources?.requests?.memory, quantityValue, object, `${path}.requests.memory`, findings),
    memoryLimitBytes: quantityOr0(c.resources?.limits?.memory, quantityValue, object, `${path}.limits.memory`, findings),
  };
}

export const PROXY_ANNOTATIONS = {
  cpuRequest: 'sidecar.istio.io/proxyCPU',
  memoryRequest: 'sidecar.istio.io/proxyMemory',
  cpuLimit: 'sidecar.istio.io/proxyCPULimit',
  memoryLimit: 'sidecar.istio.io/proxyMemoryLimit',
} as const;

/**
 * Resources the injector would give a sidecar for a pod template: the proxy annotations override the mesh
 * default field by field (that is what the injection template does).
 */
export function annotatedSidecarResources(annotations: Record<string, string> | undefined, defaults: Resources, object: string, findings: Finding[]): Resources {
  const a = annotations ?? {};
  const pick = (key: string, conv: (q: string) => number, dflt: number) =>
    a[key] === undefined ? dflt : quantityOr0(a[key], conv, object, `annotation ${key}`, findings);
  return {
    cpuRequestMillicores: pick(PROXY_ANNOTATIONS.cpuRequest, cpuMillicores, defaults.cpuRequestMillicores),
    cpuLimitMillicores: pick(PROXY_ANNOTATIONS.cpuLimit, cpuMillicores, defaults.cpuLimitMillicores),
    memoryRequestBytes: pick(PROXY_ANNOTATIONS.memoryRequest, quantityValue, defaults.memoryRequestBytes),
    memoryLimitBytes: pick(PROXY_ANNOTATIONS.memoryLimit, quantityValue, defaults.memoryLimitBytes),
  };
}

/** An `istio-proxy` container, or a native sidecar: an init container with restartPolicy Always (Istio >= 1.19). */
export function findSidecar(spec: { containers?: ContainerLike[]; initContainers?: ContainerLike[] } | undefined): { kind: SidecarKind; container?: ContainerLike } {
  const c = spec?.containers?.find((x) => x.name === SIDECAR_CONTAINER);
  // Gateways run the same proxy image as `istio-proxy` with `proxy router`: a gateway, not a sidecar.
  if (c && c.args?.[0] === 'proxy' && c.args[1] === 'router') return { kind: 'none' };
  if (c) return { kind: 'container', container: c };
  const n = spec?.initContainers?.find((x) => x.name === SIDECAR_CONTAINER && x.restartPolicy === 'Always');
  if (n) return { kind: 'native', container: n };
  return { kind: 'none' };
}

export const INJECT_KEY = 'sidecar.istio.io/inject';

export function summarizePod(pod: KubeObject, findings: Finding[]): PodSummary {
  const md = pod.metadata;
  const object = `Pod/${md.namespace}/${md.name}`;
  const sc = findSidecar(pod.spec);
  const owner = md.ownerReferences?.find((o) => o.controller) ?? md.ownerReferences?.[0];
  const injectOverride = md.labels?.[INJECT_KEY] ?? md.annotations?.[INJECT_KEY];
  return {
    namespace: md.namespace ?? 'default',
    name: md.name,
    labels: md.labels ?? {},
    serviceAccount: pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? 'default',
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName as string } : {}),
    ...(pod.status?.phase ? { phase: pod.status.phase as string } : {}),
    ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
    sidecar: sc.kind,
    sidecarResources: sc.container ? containerResources(sc.container, object, findings) : ZERO_RESOURCES,
    ...(injectOverride !== undefined ? { injectOverride } : {}),
    ambient: md.annotations?.['ambient.istio.io/redirection'] === 'enabled' || md.labels?.['istio.io/dataplane-mode'] === 'ambient',
  };
}
