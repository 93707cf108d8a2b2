// `migrate inventory`: lists what the inventory needs through a KubeReader (cluster or snapshot), reducing
// each object to a compact summary as it streams in, then hands the facts to the pure core.
import PQueue from 'p-queue';
import type { KubeObject } from '../core/model/k8s.js';
import type { Finding } from '../core/model/finding.js';
import type { InventoryResult } from '../core/model/inventory.js';
import type { ResourceType } from '../core/model/resources.js';
import { CORE_TYPES, ISTIO_API_GROUPS, POD_METRICS } from '../core/model/resources.js';
import type { KernelMatrix } from '../core/kernel/readiness.js';
import { buildInventory, type NodeSummary, type SidecarUsage } from '../core/inventory/build.js';
import { summarizePod, SIDECAR_CONTAINER, type PodSummary } from '../core/inventory/pods.js';
import { summarizeController, type ControllerSummary } from '../core/inventory/workloads.js';
import { summarizeService, type ServiceSummary } from '../core/inventory/services.js';
import type { AgentCost } from '../core/inventory/tax.js';
import { cpuMillicores, isValidQuantity, quantityValue } from '../core/quantity.js';
import { MigrateError, userError } from '../core/errors.js';
import type { KubeReader, Progress } from '../ports/kube.js';
import { silentProgress } from '../ports/kube.js';

export interface InventoryRequest {
  reader: KubeReader;
  /** Namespaces to inventory; empty = all. */
  namespaces: string[];
  rootNamespace: string;
  kernelMatrix: KernelMatrix;
  agentPerNode: AgentCost;
  progress?: Progress;
  concurrency?: number;
}

function summarizeNode(n: KubeObject): NodeSummary {
  const info = n.status?.nodeInfo ?? {};
  return {
    name: n.metadata.name,
    kernelVersion: info.kernelVersion ?? '',
    osImage: info.osImage ?? '',
    containerRuntime: info.containerRuntimeVersion ?? '',
    architecture: info.architecture ?? n.metadata.labels?.['kubernetes.io/arch'] ?? '',
    operatingSystem: info.operatingSystem ?? n.metadata.labels?.['kubernetes.io/os'] ?? 'linux',
    annotationKeys: Object.keys(n.metadata.annotations ?? {}),
  };
}

function sidecarUsageOf(m: KubeObject): SidecarUsage | undefined {
  const c = ((m as { containers?: { name: string; usage?: Record<string, string> }[] }).containers ?? []).find((x) => x.name === SIDECAR_CONTAINER);
  if (!c?.usage) return undefined;
  const cpu = c.usage.cpu;
  const mem = c.usage.memory;
  return {
    cpuMillicores: isValidQuantity(cpu) ? cpuMillicores(cpu!) : 0,
    memoryBytes: isValidQuantity(mem) ? quantityValue(mem!) : 0,
  };
}

export async function runInventory(req: InventoryRequest): Promise<InventoryResult> {
  const { reader } = req;
  const progress = req.progress ?? silentProgress;
  const findings: Finding[] = [];
  const queue = new PQueue({ concurrency: req.concurrency ?? 4 });

  // Namespaces first: they scope everything else, and an unknown -n is a user error.
  const allNs: { name: string; labels: Record<string, string> }[] = [];
  for await (const ns of reader.list(CORE_TYPES.namespaces)) allNs.push({ name: ns.metadata.name, labels: ns.metadata.labels ?? {} });
  const wanted = [...new Set(req.namespaces)].sort();
  for (const n of wanted) {
    if (!allNs.some((x) => x.name === n)) {
      throw userError('MIGRATE_NS_NOT_FOUND', `namespace "${n}" does not exist in ${reader.source}`, { object: `Namespace/${n}`, next: `list namespaces with \`kubectl get ns\`; known here: ${allNs.map((x) => x.name).sort().slice(0, 10).join(', ')}${allNs.length > 10 ? ', ...' : ''}` });
    }
  }
  const scope = wanted.length ? allNs.filter((n) => wanted.includes(n.name)) : allNs;
  // Istio policies in the root namespace apply mesh-wide, so they are read even when it is out of scope.
  const istioNs = wanted.length ? [...new Set([...wanted, req.rootNamespace])].filter((n) => allNs.some((x) => x.name === n)) : [undefined];
  const nsList: (string | undefined)[] = wanted.length ? wanted : [undefined];

  const discovery = await reader.discover(ISTIO_API_GROUPS);
  findings.push(...discovery.findings);

  const pods: PodSummary[] = [];
  const controllers: ControllerSummary[] = [];
  const intermediates: ControllerSummary[] = [];
  const services: ServiceSummary[] = [];
  const nodes: NodeSummary[] = [];
  const istio: KubeObject[] = [];
  const daemonSets: { namespace: string; name: string }[] = [];
  const usage = new Map<string, SidecarUsage>();
  let metricsSeen = false;

  const listInto = async (type: ResourceType, namespaces: (string | undefined)[], sink: (o: KubeObject) => void) => {
    let n = 0;
    for (const ns of namespaces) {
      for await (const o of reader.list(type, ns === undefined ? {} : { namespace: ns })) {
        sink(o);
        if (++n % 1000 === 0) progress.update(type.plural, n);
      }
    }
    progress.done(type.kind === 'PodMetrics' ? 'pod metrics' : type.plural, n);
  };

  const tasks: (() => Promise<void>)[] = [
    () => listInto(CORE_TYPES.nodes, [undefined], (o) => nodes.push(summarizeNode(o))),
    () => listInto(CORE_TYPES.pods, nsList, (o) => pods.push(summarizePod(o, findings))),
    () => listInto(CORE_TYPES.services, nsList, (o) => services.push(summarizeService(o))),
    () => listInto(CORE_TYPES.replicasets, nsList, (o) => intermediates.push(summarizeController(o))),
    ...(['deployments', 'statefulsets', 'jobs', 'cronjobs'] as const).map((k) => () => listInto(CORE_TYPES[k], nsList, (o) => controllers.push(summarizeController(o)))),
    () => listInto(CORE_TYPES.daemonsets, nsList, (o) => {
      controllers.push(summarizeController(o));
      daemonSets.push({ namespace: o.metadata.namespace ?? '', name: o.metadata.name });
    }),
    ...discovery.types.map((t) => () => listInto(t, t.namespaced ? istioNs : [undefined], (o) => istio.push(o))),
    async () => {
      try {
        await listInto(POD_METRICS, nsList, (o) => {
          metricsSeen = true;
          const u = sidecarUsageOf(o);
          if (u) usage.set(`${o.metadata.namespace}/${o.metadata.name}`, u);
        });
      } catch (e) {
        // Measured usage is a bonus: without metrics-server (or the right to read it) the inventory goes on.
        if (!(e instanceof MigrateError) || !['MIGRATE_RESOURCE_NOT_SERVED', 'MIGRATE_RBAC_FORBIDDEN'].includes(e.code)) throw e;
        findings.push({ level: 'Info', code: 'MIG_METRICS_UNAVAILABLE', object: 'APIGroup/metrics.k8s.io', message: `no measured sidecar usage: ${e.message}` });
      }
    },
  ];
  // With -n, CNI DaemonSets in kube-system are read when allowed; they only refine the CNI guess.
  if (wanted.length && !wanted.includes('kube-system')) {
    tasks.push(async () => {
      try {
        for await (const o of reader.list(CORE_TYPES.daemonsets, { namespace: 'kube-system' })) daemonSets.push({ namespace: 'kube-system', name: o.metadata.name });
      } catch (e) {
        if (!(e instanceof MigrateError)) throw e;
      }
    });
  }
  await Promise.all(tasks.map((t) => queue.add(t)));
  if (!metricsSeen && reader.live && !findings.some((f) => f.code === 'MIG_METRICS_UNAVAILABLE')) {
    findings.push({ level: 'Info', code: 'MIG_METRICS_UNAVAILABLE', object: 'APIGroup/metrics.k8s.io', message: 'metrics.k8s.io returned no pod metrics: sidecar usage is not measured' });
  }

  return buildInventory({
    source: reader.source,
    rootNamespace: req.rootNamespace,
    namespaces: scope,
    nodes, pods, controllers, intermediates, services, istio, daemonSets,
    ...(usage.size ? { sidecarUsage: usage } : {}),
    findings,
  }, { kernelMatrix: req.kernelMatrix, agentPerNode: req.agentPerNode });
}
