// The target pods of `migrate shadow --cluster`, read through the API: the probe's pod inputs, the sidecars'
// access logs (pods/log of istio-proxy) and metrics (pod proxy to :15090), and the nodes the DaemonSet may use.
import { userError } from '../core/errors.js';
import { compilePlan } from '../core/shadow/probe-config.js';
import { inboundCapture } from '../core/istio/capture.js';
import type { NodeInput, ProbeConfig } from '../core/shadow/probe-config.js';
import type { KubeWriter } from '../ports/kube-writer.js';
import type { ShadowPlanInput, ShadowRequest } from './shadow.js';

export interface ClusterTargets {
  pods: NonNullable<ShadowRequest['pods']>;
  nodes: string[];
  /** The target nodes' addresses; null when the API does not let this user list nodes (then the nodes' own traffic,
   * kubelet probes among it, is named world, and a default-deny pod denies it where Cilium's allow-localhost would not). */
  nodeAddresses: NodeInput[] | null;
}

export async function clusterTargets(kube: KubeWriter, namespace: string, metricsPath: (ns: string, pod: string) => string): Promise<ClusterTargets> {
  const all = await kube.listPods(namespace);
  const running = all.filter((p) => p.ip && p.nodeName);
  if (!running.length) throw userError('MIGRATE_NS_NOT_FOUND', `no running pods in namespace "${namespace}" on ${kube.where}`, { object: `Namespace/${namespace}`, next: 'check -n and `kubectl get pods -n NS -o wide`' });
  const nodes = [...new Set(running.map((p) => p.nodeName!))].sort();
  const listed = await kube.listNodes();
  return {
    nodes,
    nodeAddresses: listed ? listed.filter((n) => nodes.includes(n.name)) : null,
    pods: running.map((p) => {
      const sidecar = p.containers.includes('istio-proxy');
      let inbound;
      try { inbound = sidecar ? inboundCapture(p.name, p.annotations) : undefined; } catch (e) {
        throw userError('MIGRATE_SHADOW_BAD_POD', (e as Error).message, { object: `Pod/${namespace}/${p.name}`, next: 'fix the annotation (a comma-separated list of ports, or * for includeInboundPorts)' });
      }
      return {
        name: p.name, namespace, ip: p.ip!, ...(p.uid ? { uid: p.uid } : {}), serviceAccount: p.serviceAccount ?? 'default', labels: p.labels, sidecar, node: p.nodeName!, ...(inbound ? { inbound } : {}),
        ...(sidecar ? { accessLog: `${namespace}/${p.name}`, metrics: { url: metricsPath(namespace, p.name) } } : {}),
      };
    }),
  };
}

/** The probe config of a cluster run, as runShadow compiles it (pods by IP and UID: no netns/ifname/cgroup). */
export function clusterProbeConfig(plan: ShadowPlanInput, namespace: string, pods: ClusterTargets['pods'], settings: Record<string, number> = {}, nodes: NodeInput[] = []): ProbeConfig {
  const nsManifests = plan.manifests.filter((m) => m.kind === 'CiliumClusterwideNetworkPolicy' || m.metadata.namespace === namespace);
  return compilePlan(nsManifests, pods, settings, nodes).config;
}
