// Workloads the translator reasons about: pod templates of controllers and bare pods, with their container
// ports (the workload ports Istio `ports` name). Reuses the inventory's controller summary.
import type { KubeObject } from '../model/k8s.js';
import { summarizeController } from '../inventory/workloads.js';
import type { KnownWorkload } from './types.js';

const CONTROLLERS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

function portsOfTemplate(spec: { containers?: { name?: string; ports?: { containerPort?: number; protocol?: string }[] }[] } | undefined): number[] {
  const out = new Set<number>();
  for (const c of spec?.containers ?? []) {
    if (c.name === 'istio-proxy') continue;
    for (const p of c.ports ?? []) if (p.containerPort && (p.protocol ?? 'TCP') === 'TCP') out.add(p.containerPort);
  }
  return [...out].sort((a, b) => a - b);
}

export function knownWorkloads(objects: KubeObject[]): KnownWorkload[] {
  const out: KnownWorkload[] = [];
  for (const o of objects) {
    if (CONTROLLERS.has(o.kind)) {
      const s = summarizeController(o);
      out.push({ namespace: s.namespace, name: `${o.kind}/${o.metadata.name}`, labels: s.templateLabels, serviceAccount: s.serviceAccount, ports: portsOfTemplate(o.spec?.template?.spec) });
    } else if (o.kind === 'Pod' && !(o.metadata.ownerReferences ?? []).length) {
      out.push({ namespace: o.metadata.namespace ?? 'default', name: `Pod/${o.metadata.name}`, labels: o.metadata.labels ?? {}, serviceAccount: o.spec?.serviceAccountName ?? 'default', ports: portsOfTemplate(o.spec) });
    }
  }
  return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
