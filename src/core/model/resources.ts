// The Kubernetes resource types the inventory reads. Istio types are discovered (any served version).

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export function apiVersionOf(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

const t = (group: string, version: string, kind: string, plural: string, namespaced = true): ResourceType => ({ group, version, kind, plural, namespaced });

export const CORE_TYPES = {
  namespaces: t('', 'v1', 'Namespace', 'namespaces', false),
  nodes: t('', 'v1', 'Node', 'nodes', false),
  pods: t('', 'v1', 'Pod', 'pods'),
  services: t('', 'v1', 'Service', 'services'),
  deployments: t('apps', 'v1', 'Deployment', 'deployments'),
  statefulsets: t('apps', 'v1', 'StatefulSet', 'statefulsets'),
  daemonsets: t('apps', 'v1', 'DaemonSet', 'daemonsets'),
  replicasets: t('apps', 'v1', 'ReplicaSet', 'replicasets'),
  jobs: t('batch', 'v1', 'Job', 'jobs'),
  cronjobs: t('batch', 'v1', 'CronJob', 'cronjobs'),
} as const;

export const POD_METRICS = t('metrics.k8s.io', 'v1beta1', 'PodMetrics', 'pods');

/** Istio API groups whose every resource is inventoried. */
export const ISTIO_API_GROUPS = ['security.istio.io', 'networking.istio.io', 'telemetry.istio.io', 'extensions.istio.io'];
