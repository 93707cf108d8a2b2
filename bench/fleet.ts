// A synthetic Istio fleet for the live scale bench: KWOK-managed nodes, sidecar-injected Deployments with their
// ReplicaSets and bound Pods, Services, and Istio resources. Deterministic (no randomness), so every run seeds the
// same objects.
import type { KubeObject } from '../test/cluster/kube-rest.js';

export interface FleetSize {
  nodes: number;
  namespaces: number;
  deploymentsPerNamespace: number;
  replicas: number;
  istioPerNamespace: number;
}

export const DEFAULT_FLEET: FleetSize = { nodes: 1000, namespaces: 50, deploymentsPerNamespace: 50, replicas: 20, istioPerNamespace: 40 };

const pad = (n: number, w = 4): string => String(n).padStart(w, '0');
const ISTIO_VERSION = '1.28.0';

export function fleetNodes(size: FleetSize): KubeObject[] {
  return Array.from({ length: size.nodes }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `kwok-node-${pad(i)}`,
      // KWOK manages nodes carrying this annotation (kwok --manage-nodes-with-annotation-selector).
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': `kwok-node-${pad(i)}`,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': i % 4 === 0 ? 'm6i.4xlarge' : 'm6i.2xlarge',
        'topology.kubernetes.io/zone': `zone-${i % 3}`,
        type: 'kwok',
      },
    },
    spec: { taints: [] },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        osImage: 'Ubuntu 24.04 LTS',
        kernelVersion: i % 10 === 0 ? '5.4.0-1103-aws' : '6.8.0-1015-aws',
        kubeletVersion: 'v1.34.4',
        kubeProxyVersion: '',
        containerRuntimeVersion: 'containerd://1.7.20',
        machineID: '', systemUUID: '', bootID: '',
      },
    },
  }));
}

export function fleetNamespaces(size: FleetSize): KubeObject[] {
  return Array.from({ length: size.namespaces }, (_, n) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: `bench-${pad(n, 2)}`, labels: { 'istio-injection': 'enabled' } },
  }));
}

function podSpec(app: string, sa: string) {
  return {
    serviceAccountName: sa,
    initContainers: [
      {
        name: 'istio-init',
        image: `docker.io/istio/proxyv2:${ISTIO_VERSION}`,
        args: ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'],
        securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'] }, runAsUser: 0, runAsNonRoot: false },
      },
    ],
    containers: [
      {
        name: app,
        image: `registry.example/${app}:1.0.0`,
        ports: [{ containerPort: 8080, protocol: 'TCP', name: 'http' }],
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
      },
      {
        name: 'istio-proxy',
        image: `docker.io/istio/proxyv2:${ISTIO_VERSION}`,
        args: ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local'],
        ports: [{ containerPort: 15090, protocol: 'TCP', name: 'http-envoy-prom' }],
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
      },
    ],
  };
}

/** Namespaced objects of namespace n: Deployments, ReplicaSets, Services, ServiceAccounts, Pods, Istio resources. */
export function fleetNamespaceObjects(size: FleetSize, n: number): { pods: KubeObject[]; others: KubeObject[] } {
  const ns = `bench-${pad(n, 2)}`;
  const pods: KubeObject[] = [];
  const others: KubeObject[] = [];
  for (let d = 0; d < size.deploymentsPerNamespace; d++) {
    const app = `svc-${pad(d, 3)}`;
    const hash = `h${pad(n, 2)}${pad(d, 3)}`;
    const labels = { app, version: 'v1', 'service.istio.io/canonical-name': app, 'security.istio.io/tlsMode': 'istio' };
    const depUid = `00000000-0000-4000-8000-${pad(n, 4)}${pad(d, 8)}`;
    const rsUid = `00000000-0000-4000-9000-${pad(n, 4)}${pad(d, 8)}`;
    others.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: app, namespace: ns } });
    others.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: app, namespace: ns, labels: { app } },
      spec: {
        replicas: size.replicas,
        selector: { matchLabels: { app, version: 'v1' } },
        template: { metadata: { labels, annotations: { 'sidecar.istio.io/inject': 'true' } }, spec: podSpec(app, app) },
      },
      status: { replicas: size.replicas, readyReplicas: size.replicas, availableReplicas: size.replicas, updatedReplicas: size.replicas, observedGeneration: 1 },
    });
    others.push({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${app}-${hash}`,
        namespace: ns,
        labels: { ...labels, 'pod-template-hash': hash },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: app, uid: depUid, controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        replicas: size.replicas,
        selector: { matchLabels: { app, version: 'v1', 'pod-template-hash': hash } },
        template: { metadata: { labels: { ...labels, 'pod-template-hash': hash } }, spec: podSpec(app, app) },
      },
      status: { replicas: size.replicas, readyReplicas: size.replicas, availableReplicas: size.replicas, fullyLabeledReplicas: size.replicas, observedGeneration: 1 },
    });
    others.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: app, namespace: ns, labels: { app } },
      spec: { selector: { app }, ports: [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }] },
    });
    for (let r = 0; r < size.replicas; r++) {
      const global = (n * size.deploymentsPerNamespace + d) * size.replicas + r;
      pods.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${app}-${hash}-${pad(r, 3)}`,
          namespace: ns,
          labels: { ...labels, 'pod-template-hash': hash },
          annotations: {
            'sidecar.istio.io/status': JSON.stringify({ initContainers: ['istio-init'], containers: ['istio-proxy'], volumes: ['istio-envoy'], revision: 'default' }),
            'kubectl.kubernetes.io/default-container': app,
          },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${hash}`, uid: rsUid, controller: true, blockOwnerDeletion: true }],
        },
        spec: {
          ...podSpec(app, app),
          nodeName: `kwok-node-${pad(global % size.nodes)}`,
          // KWOK's fake nodes may carry the kwok taint in other setups; tolerate it so the pods stay bound.
          tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
        },
      });
    }
  }
  // Istio resources: AuthorizationPolicies, DestinationRules, VirtualServices, one PeerAuthentication, one Sidecar.
  const split = [Math.ceil(size.istioPerNamespace / 2), Math.floor(size.istioPerNamespace / 4)];
  const nAuthz = split[0]!;
  const nDr = split[1]!;
  const nVs = Math.max(0, size.istioPerNamespace - nAuthz - nDr - 2);
  for (let i = 0; i < nAuthz; i++) {
    const app = `svc-${pad(i % size.deploymentsPerNamespace, 3)}`;
    const caller = `svc-${pad((i + 1) % size.deploymentsPerNamespace, 3)}`;
    others.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `allow-${app}-${pad(i, 3)}`, namespace: ns },
      spec: {
        selector: { matchLabels: { app } },
        action: 'ALLOW',
        rules: [
          {
            from: [{ source: { principals: [`cluster.local/ns/${ns}/sa/${caller}`] } }],
            to: [{ operation: { methods: ['GET', 'POST'], paths: [`/api/v${i % 3}/*`] } }],
          },
        ],
      },
    });
  }
  for (let i = 0; i < nDr; i++) {
    const app = `svc-${pad(i, 3)}`;
    others.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: app, namespace: ns },
      spec: { host: `${app}.${ns}.svc.cluster.local`, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
    });
  }
  for (let i = 0; i < nVs; i++) {
    const app = `svc-${pad(i, 3)}`;
    others.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: app, namespace: ns },
      spec: { hosts: [app], http: [{ timeout: '5s', route: [{ destination: { host: app, subset: 'v1' } }] }] },
    });
  }
  others.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: ns }, spec: { mtls: { mode: 'STRICT' } } });
  others.push({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Sidecar',
    metadata: { name: 'default', namespace: ns },
    spec: { egress: [{ hosts: ['./*', 'istio-system/*'] }] },
  });
  return { pods, others };
}
