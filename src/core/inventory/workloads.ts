// Groups pods into workloads by following owner references (Pod -> ReplicaSet -> Deployment,
// Pod -> Job -> CronJob, StatefulSet, DaemonSet), keeping controllers that have no pods.
import type { KubeObject, Labels } from '../model/k8s.js';
import type { PodSummary } from './pods.js';

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;

/** A controller reduced to what the inventory reads from it. */
export interface ControllerSummary {
  namespace: string;
  kind: string;
  name: string;
  /** Pod template labels and annotations (CronJob: spec.jobTemplate.spec.template). */
  templateLabels: Labels;
  templateAnnotations: Record<string, string>;
  serviceAccount: string;
  owner?: { kind: string; name: string };
}

export function summarizeController(o: KubeObject): ControllerSummary {
  const tmpl = o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template : o.spec?.template;
  const owner = o.metadata.ownerReferences?.find((r) => r.controller) ?? o.metadata.ownerReferences?.[0];
  return {
    namespace: o.metadata.namespace ?? 'default',
    kind: o.kind,
    name: o.metadata.name,
    templateLabels: tmpl?.metadata?.labels ?? {},
    templateAnnotations: tmpl?.metadata?.annotations ?? {},
    serviceAccount: tmpl?.spec?.serviceAccountName ?? tmpl?.spec?.serviceAccount ?? 'default',
    ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
  };
}

export interface WorkloadGroup {
  namespace: string;
  kind: string;
  name: string;
  controller?: ControllerSummary;
  pods: PodSummary[];
}

export function workloadKey(namespace: string, kind: string, name: string): string {
  return `${namespace}\u0000${kind}\u0000${name}`;
}

/**
 * Resolves each pod to its top-level workload. ReplicaSets and Jobs are intermediate: their own owner
 * (Deployment, CronJob, or anything else such as an Argo Rollout) is the workload.
 */
export function groupWorkloads(pods: PodSummary[], controllers: ControllerSummary[], intermediates: ControllerSummary[]): WorkloadGroup[] {
  const groups = new Map<string, WorkloadGroup>();
  const ctrlByKey = new Map<string, ControllerSummary>();
  for (const c of controllers) ctrlByKey.set(workloadKey(c.namespace, c.kind, c.name), c);
  const interByKey = new Map<string, ControllerSummary>();
  for (const c of intermediates) interByKey.set(workloadKey(c.namespace, c.kind, c.name), c);

  const top = (namespace: string, kind: string, name: string): [string, string] => {
    // Follow at most a few hops: RS -> Deployment, Job -> CronJob.
    let k = kind;
    let n = name;
    for (let i = 0; i < 4; i++) {
      const c = interByKey.get(workloadKey(namespace, k, n)) ?? ctrlByKey.get(workloadKey(namespace, k, n));
      if (!c?.owner) break;
      k = c.owner.kind;
      n = c.owner.name;
    }
    return [k, n];
  };

  const groupFor = (namespace: string, kind: string, name: string): WorkloadGroup => {
    const key = workloadKey(namespace, kind, name);
    let g = groups.get(key);
    if (!g) {
      const controller = ctrlByKey.get(key);
      g = { namespace, kind, name, ...(controller ? { controller } : {}), pods: [] };
      groups.set(key, g);
    }
    return g;
  };

  for (const c of controllers) {
    // A Job owned by a CronJob is listed under the CronJob.
    if (c.owner && (c.kind === 'Job' || c.kind === 'ReplicaSet')) continue;
    groupFor(c.namespace, c.kind, c.name);
  }
  for (const p of pods) {
    const [kind, name] = p.owner ? top(p.namespace, p.owner.kind, p.owner.name) : ['Pod', p.name];
    groupFor(p.namespace, kind, name).pods.push(p);
  }
  return [...groups.values()];
}

/** Labels that decide policy applicability: the pod template's, else the first pod's. */
export function workloadLabels(g: WorkloadGroup): Labels {
  if (g.controller && Object.keys(g.controller.templateLabels).length > 0) return g.controller.templateLabels;
  return g.pods[0]?.labels ?? {};
}
