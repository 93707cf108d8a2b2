// Builders for realistic Kubernetes objects, shaped like `kubectl get -o yaml` output (owner references,
// pod-template-hash, injected istio-proxy containers, node info). Used to generate the bundled fixtures and
// the scale benchmark's snapshot; deterministic for a given input.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../src/core/model/k8s.js';

export const uid = (...parts: string[]): string => {
  const h = createHash('sha1').update(parts.join('/')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};
const hash = (s: string, n = 10) => createHash('sha1').update(s).digest('hex').slice(0, n).replace(/[0-9]/g, (d) => 'bcdfghjklm'[Number(d)]!);

export interface SidecarSpec {
  cpu?: string;
  memory?: string;
  cpuLimit?: string;
  memoryLimit?: string;
  native?: boolean;
}

export interface WorkloadSpec {
  namespace: string;
  name: string;
  kind?: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'Pod';
  replicas?: number;
  labels?: Record<string, string>;
  podLabels?: Record<string, string>;
  podAnnotations?: Record<string, string>;
  serviceAccount?: string;
  ports?: { name?: string; port: number; appProtocol?: string }[];
  /** Whether the running pods have a sidecar (what the injector did at creation time). */
  sidecar?: SidecarSpec | false;
  image?: string;
  nodes: string[];
  /** Creates a Service selecting the pods with these ports. */
  service?: boolean | string;
}

export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: uid('ns', name), labels: { 'kubernetes.io/metadata.name': name, ...labels } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}

export function node(name: string, kernelVersion: string, opts: { osImage?: string; arch?: string; os?: string; runtime?: string; annotations?: Record<string, string> } = {}): KubeObject {
  const arch = opts.arch ?? 'amd64';
  const os = opts.os ?? 'linux';
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, uid: uid('node', name), labels: { 'kubernetes.io/arch': arch, 'kubernetes.io/os': os, 'kubernetes.io/hostname': name, 'node.kubernetes.io/instance-type': 'm6i.xlarge' }, annotations: opts.annotations ?? {} },
    spec: { podCIDR: '10.244.0.0/24' },
    status: {
      capacity: { cpu: '4', memory: '16323820Ki', pods: '110' },
      allocatable: { cpu: '3920m', memory: '15173100Ki', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      nodeInfo: {
        kernelVersion, osImage: opts.osImage ?? 'Ubuntu 22.04.4 LTS', containerRuntimeVersion: opts.runtime ?? 'containerd://1.7.12',
        kubeletVersion: 'v1.30.2', kubeProxyVersion: 'v1.30.2', operatingSystem: os, architecture: arch,
        machineID: hash(name, 32), systemUUID: uid('sys', name), bootID: uid('boot', name),
      },
    },
  };
}

function sidecarContainer(s: SidecarSpec): Record<string, unknown> {
  return {
    name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0',
    args: ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local', '--proxyLogLevel=warning'],
    ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }],
    resources: {
      requests: { cpu: s.cpu ?? '100m', memory: s.memory ?? '128Mi' },
      limits: { cpu: s.cpuLimit ?? '2', memory: s.memoryLimit ?? '1Gi' },
    },
    securityContext: { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, readOnlyRootFilesystem: true },
    ...(s.native ? { restartPolicy: 'Always' } : {}),
  };
}

function podTemplate(w: WorkloadSpec, labels: Record<string, string>): Record<string, unknown> {
  return {
    metadata: { labels, ...(w.podAnnotations ? { annotations: w.podAnnotations } : {}) },
    spec: {
      serviceAccountName: w.serviceAccount ?? w.name,
      containers: [{
        name: w.name.split('-')[0], image: w.image ?? `registry.example.com/${w.name}:1.4.2`,
        ports: (w.ports ?? []).map((p) => ({ containerPort: p.port, protocol: 'TCP' })),
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
      }],
    },
  };
}

/** The workload's controller objects, its pods (spread over nodes) and optionally its Service. */
export function workload(w: WorkloadSpec): KubeObject[] {
  const kind = w.kind ?? 'Deployment';
  const labels = { app: w.name, ...(w.labels ?? {}) };
  const app = labels.app;
  const podLabels = { ...labels, ...(w.podLabels ?? {}) };
  const tmpl = podTemplate(w, podLabels);
  // Jobs (and CronJob job templates) must not restart Always.
  if (kind === 'Job' || kind === 'CronJob') (tmpl.spec as Record<string, unknown>).restartPolicy = 'OnFailure';
  const out: KubeObject[] = [];
  const ns = w.namespace;
  const replicas = kind === 'DaemonSet' ? w.nodes.length : w.replicas ?? 1;
  let ownerKind: string = kind;
  let ownerName = w.name;
  const meta = (name: string, k: string, owner?: [string, string, string]) => ({
    name, namespace: ns, uid: uid(k, ns, name), labels,
    ...(owner ? { ownerReferences: [{ apiVersion: owner[0], kind: owner[1], name: owner[2], uid: uid(owner[1], ns, owner[2]), controller: true, blockOwnerDeletion: true }] } : {}),
  });
  const hashSuffix = hash(`${ns}/${w.name}`);
  if (kind === 'Deployment') {
    out.push({ apiVersion: 'apps/v1', kind, metadata: meta(w.name, kind), spec: { replicas, selector: { matchLabels: labels }, template: tmpl }, status: { replicas, readyReplicas: replicas } });
    const rs = `${w.name}-${hashSuffix}`;
    const rsTemplate = { ...tmpl, metadata: { ...(tmpl.metadata as object), labels: { ...podLabels, 'pod-template-hash': hashSuffix } } };
    out.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { ...meta(rs, 'ReplicaSet', ['apps/v1', 'Deployment', w.name]), labels: { ...labels, 'pod-template-hash': hashSuffix } }, spec: { replicas, selector: { matchLabels: { ...labels, 'pod-template-hash': hashSuffix } }, template: rsTemplate }, status: { replicas } });
    ownerKind = 'ReplicaSet';
    ownerName = rs;
  } else if (kind === 'StatefulSet' || kind === 'DaemonSet') {
    out.push({ apiVersion: 'apps/v1', kind, metadata: meta(w.name, kind), spec: { ...(kind === 'StatefulSet' ? { replicas, serviceName: w.name } : {}), selector: { matchLabels: labels }, template: tmpl }, status: {} });
  } else if (kind === 'CronJob') {
    out.push({ apiVersion: 'batch/v1', kind, metadata: meta(w.name, kind), spec: { schedule: '*/30 * * * *', jobTemplate: { spec: { template: tmpl } } }, status: {} });
    const job = `${w.name}-29150310`;
    out.push({ apiVersion: 'batch/v1', kind: 'Job', metadata: meta(job, 'Job', ['batch/v1', 'CronJob', w.name]), spec: { template: tmpl }, status: { active: replicas } });
    ownerKind = 'Job';
    ownerName = job;
  } else if (kind === 'Job') {
    out.push({ apiVersion: 'batch/v1', kind, metadata: meta(w.name, kind), spec: { template: tmpl }, status: { active: replicas } });
  }
  const ownerApi = ownerKind === 'ReplicaSet' || ownerKind === 'StatefulSet' || ownerKind === 'DaemonSet' ? 'apps/v1' : 'batch/v1';
  for (let i = 0; i < replicas; i++) {
    const podName = kind === 'Pod' ? w.name : kind === 'StatefulSet' ? `${w.name}-${i}` : `${ownerName}-${hash(`${ns}/${w.name}/${i}`, 5)}`;
    const spec = structuredClone(tmpl.spec) as Record<string, unknown> & { containers: Record<string, unknown>[]; initContainers?: Record<string, unknown>[] };
    spec.nodeName = w.nodes[i % w.nodes.length];
    if (w.sidecar) {
      const init = { name: 'istio-init', image: 'docker.io/istio/proxyv2:1.28.0', args: ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337'], securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } } };
      if (w.sidecar.native) spec.initContainers = [init, sidecarContainer(w.sidecar)];
      else {
        spec.initContainers = [init];
        spec.containers.push(sidecarContainer(w.sidecar));
      }
    }
    const annotations: Record<string, string> = { ...(w.podAnnotations ?? {}) };
    if (w.sidecar) Object.assign(annotations, { 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}', 'prometheus.io/port': '15020' });
    out.push({
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: podName, namespace: ns, uid: uid('pod', ns, podName),
        labels: { ...podLabels, ...(kind === 'Deployment' ? { 'pod-template-hash': hashSuffix } : {}), ...(w.sidecar ? { 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': w.name } : {}) },
        ...(Object.keys(annotations).length ? { annotations } : {}),
        ...(kind !== 'Pod' ? { ownerReferences: [{ apiVersion: ownerApi, kind: ownerKind, name: ownerName, uid: uid(ownerKind, ns, ownerName), controller: true, blockOwnerDeletion: true }] } : {}),
      },
      spec,
      status: { phase: 'Running', podIP: `10.244.${i % 250}.${(hash(podName, 2).charCodeAt(0) % 250) + 2}`, hostIP: '172.18.0.2', qosClass: 'Burstable', conditions: [{ type: 'Ready', status: 'True' }] },
    });
  }
  if (w.service !== false && w.ports?.length) {
    const name = typeof w.service === 'string' ? w.service : w.name;
    out.push({
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, uid: uid('svc', ns, name), labels },
      spec: { type: 'ClusterIP', clusterIP: `10.96.${hash(name, 1).charCodeAt(0) % 250}.${hash(ns + name, 2).charCodeAt(1) % 250}`, selector: { app }, ports: w.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: 'TCP', ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })) },
    });
  }
  return out;
}

export function istio(kind: string, namespace: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): KubeObject {
  const group = ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication'].includes(kind) ? 'security.istio.io/v1'
    : kind === 'EnvoyFilter' ? 'networking.istio.io/v1alpha3' : kind === 'Telemetry' ? 'telemetry.istio.io/v1' : kind === 'WasmPlugin' ? 'extensions.istio.io/v1alpha1' : 'networking.istio.io/v1';
  return { apiVersion: group, kind, metadata: { name, namespace, uid: uid(kind, namespace, name), ...(annotations ? { annotations } : {}) }, spec };
}

export function podMetrics(pod: KubeObject, sidecarCpu: string, sidecarMem: string): KubeObject {
  return {
    apiVersion: 'metrics.k8s.io/v1beta1', kind: 'PodMetrics',
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace },
    timestamp: '2026-11-20T10:00:00Z', window: '30s',
    containers: [{ name: 'istio-proxy', usage: { cpu: sidecarCpu, memory: sidecarMem } }, { name: String((pod.spec?.containers?.[0] as { name?: string })?.name ?? 'app'), usage: { cpu: '3m', memory: '41Mi' } }],
  } as KubeObject;
}
