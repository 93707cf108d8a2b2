// Load a fixture snapshot into the test apiserver, so that live mode and snapshot mode can be compared on the same
// data: objects through the API (namespaces first, then CRDs, cluster-scoped objects, then the rest), pods keep
// spec.nodeName (bound, as there is no scheduler), and status (pods, nodes, deployments, ...) goes through the
// status subresource, as a kubelet or controller would write it. wipe() removes everything seeded, without the
// controllers a real cluster has (no namespace controller: namespaces are finalized by hand; no kubelet: pods are
// deleted with grace period 0).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import PQueue from 'p-queue';
import { FIELD_MANAGER, KubeHttpError, type KubeObject, type KubeRest } from './kube-rest.js';

export const SYSTEM_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);

/** Every object of a snapshot: a YAML/JSON file (multi-document, `List` kinds flattened) or a directory of them. */
export function loadSnapshot(path: string): KubeObject[] {
  const files: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n));
    else if (/\.(ya?ml|json)$/.test(p)) files.push(p);
  };
  walk(path);
  const out: KubeObject[] = [];
  const add = (doc: unknown): void => {
    if (!doc || typeof doc !== 'object') return;
    const o = doc as KubeObject & { items?: unknown[] };
    if (Array.isArray(o.items) && (o.kind === 'List' || o.kind?.endsWith('List'))) {
      const itemKind = o.kind === 'List' ? undefined : o.kind.slice(0, -'List'.length);
      for (const i of o.items) {
        const item = i as KubeObject;
        add({ ...item, apiVersion: item.apiVersion ?? o.apiVersion, kind: item.kind ?? itemKind });
      }
      return;
    }
    if (o.apiVersion && o.kind && o.metadata) out.push(o);
  };
  for (const f of files) for (const d of yaml.loadAll(readFileSync(f, 'utf8'))) add(d);
  return out;
}

/** The object as a client would create it: no server-owned metadata, no status. */
export function forCreate(o: KubeObject): KubeObject {
  const { uid: _u, resourceVersion: _rv, creationTimestamp: _c, managedFields: _m, selfLink: _s, generation: _g,
    deletionTimestamp: _d, deletionGracePeriodSeconds: _dg, ...metadata } = o.metadata as Record<string, unknown>;
  const { status: _status, ...rest } = o;
  const out = { ...rest, metadata } as KubeObject;
  if (o.kind === 'Pod' && o.apiVersion === 'v1') {
    const { ephemeralContainers: _e, ...spec } = o.spec as Record<string, unknown>;
    out.spec = spec;
  }
  return out;
}

function withoutClusterIP(o: KubeObject): KubeObject {
  const { clusterIP, clusterIPs: _ips, ...spec } = o.spec as Record<string, unknown>;
  return { ...o, spec: clusterIP === 'None' ? { ...spec, clusterIP } : spec };
}

function phase(o: KubeObject, namespaced: boolean): number {
  if (o.kind === 'Namespace') return 0;
  if (o.kind === 'CustomResourceDefinition') return 1;
  if (!namespaced) return 2;
  if (['ServiceAccount', 'ConfigMap', 'Secret'].includes(o.kind)) return 3;
  return 4;
}

export interface SeedReport {
  created: number;
  statusPatched: number;
  /** What `repair` changed, one line per object. */
  repairs: string[];
  byKind: Record<string, number>;
  ms: number;
}

export interface SeedOptions {
  concurrency?: number;
  /** Called with progress lines (e.g. console.error); quiet when absent. */
  log?: (line: string) => void;
  /**
   * Make schematic fixture objects valid Kubernetes where the apiserver would reject them: a controller's pod
   * template gets the selector labels it lacks (or, with no selector, the selector is its template labels), a
   * container without an image gets a placeholder, and a Job's pod template without restartPolicy gets Never.
   * Off by default: a fixture that needs it is not valid Kubernetes, and every repair is reported.
   */
  repair?: boolean;
}

const CONTROLLERS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job']);
export const PLACEHOLDER_IMAGE = 'placeholder.invalid/missing-image:0';

type PodTemplate = { metadata?: { labels?: Record<string, string> }; spec?: { restartPolicy?: string; containers?: { name: string; image?: string }[]; initContainers?: { name: string; image?: string }[] } };

/** The repaired object and what was changed (empty when it was valid already). */
export function repairObject(o: KubeObject): { obj: KubeObject; changes: string[] } {
  if (!CONTROLLERS.has(o.kind) || !['apps/v1', 'batch/v1'].includes(o.apiVersion)) return { obj: o, changes: [] };
  const changes: string[] = [];
  const spec = structuredClone(o.spec) as { selector?: { matchLabels?: Record<string, string> }; template?: PodTemplate };
  const template: PodTemplate = (spec.template ??= {});
  const labels = (template.metadata ??= {}).labels ??= {};
  if (o.kind !== 'Job') {
    if (!spec.selector) {
      spec.selector = { matchLabels: { ...labels } };
      changes.push('set spec.selector to the template labels');
    }
    const want = spec.selector.matchLabels ?? {};
    const missing = Object.keys(want).filter((k) => labels[k] !== want[k]);
    if (missing.length) {
      Object.assign(labels, Object.fromEntries(missing.map((k) => [k, want[k]!])));
      changes.push(`added selector label(s) ${missing.join(', ')} to the template`);
    }
  } else if (!template.spec?.restartPolicy) {
    (template.spec ??= {}).restartPolicy = 'Never';
    changes.push('set restartPolicy Never on the Job template');
  }
  for (const c of [...(template.spec?.containers ?? []), ...(template.spec?.initContainers ?? [])]) {
    if (!c.image) {
      c.image = PLACEHOLDER_IMAGE;
      changes.push(`set a placeholder image on container ${c.name}`);
    }
  }
  return { obj: changes.length ? { ...o, spec } : o, changes };
}

export async function seedObjects(rest: KubeRest, objects: KubeObject[], opts: SeedOptions = {}): Promise<SeedReport> {
  const t0 = Date.now();
  await rest.discover();
  const report: SeedReport = { created: 0, statusPatched: 0, repairs: [], byKind: {}, ms: 0 };
  // CRDs of the snapshot first, so that its custom resources are discoverable before they are created.
  const phases = new Map<number, KubeObject[]>();
  for (const o of objects) {
    const known = o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition';
    const namespaced = known ? false : (await resourceOrExplain(rest, o)).namespaced;
    const p = phase(o, namespaced);
    phases.set(p, [...(phases.get(p) ?? []), o]);
  }
  const queue = new PQueue({ concurrency: opts.concurrency ?? 32 });
  for (const p of [...phases.keys()].sort()) {
    const batch = phases.get(p) ?? [];
    await queue.addAll(batch.map((o) => () => seedOne(rest, o, report, opts)));
    if (p === 1 && batch.length) await rest.discover();
    opts.log?.(`seed: phase ${p}: ${batch.length} objects (${Date.now() - t0} ms)`);
  }
  report.ms = Date.now() - t0;
  return report;
}

async function resourceOrExplain(rest: KubeRest, o: KubeObject) {
  try {
    return await rest.resourceFor(o.apiVersion, o.kind);
  } catch (e) {
    throw new Error(`cannot seed ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}: ${(e as Error).message}`);
  }
}

async function seedOne(rest: KubeRest, o: KubeObject, report: SeedReport, opts: SeedOptions): Promise<void> {
  let body = forCreate(o);
  const id = `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
  if (opts.repair) {
    const { obj, changes } = repairObject(body);
    if (changes.length) report.repairs.push(`${id}: ${changes.join('; ')}`);
    body = obj;
  }
  try {
    try {
      await rest.create(body);
    } catch (e) {
      // A Service keeps its fixture clusterIP when it is free and inside the test range (10.96.0.0/12, the
      // Kubernetes default); otherwise the apiserver allocates one.
      if (!(e instanceof KubeHttpError) || e.status !== 422 || !/clusterIP/.test(e.body) || o.kind !== 'Service') throw e;
      body = withoutClusterIP(body);
      await rest.create(body);
    }
  } catch (e) {
    if (!(e instanceof KubeHttpError) || e.status !== 409) throw new Error(`seed ${id}: ${(e as Error).message}`);
    // Already there (system namespaces, a re-seed): replace it, except namespaces which carry nothing of ours.
    if (o.kind !== 'Namespace') await rest.apply(body);
  }
  report.created++;
  report.byKind[o.kind] = (report.byKind[o.kind] ?? 0) + 1;
  const status = o.status as Record<string, unknown> | undefined;
  if (status && Object.keys(status).length > 0) {
    const r = await rest.resourceFor(o.apiVersion, o.kind);
    if (r.subresources.includes('status')) {
      try {
        await rest.mergePatch(body, { status }, 'status');
      } catch (e) {
        throw new Error(`seed ${id} status: ${(e as Error).message}`);
      }
      report.statusPatched++;
    }
  }
}

function writtenByTooling(o: KubeObject): boolean {
  const mf = (o.metadata.managedFields ?? []) as { manager?: string }[];
  return mf.some((m) => m.manager === FIELD_MANAGER);
}

/** Remove every object outside the system namespaces, what the tooling wrote inside them (default, kube-system,
 * ...), all nodes, cluster-scoped Istio/Cilium/metrics resources, and every non-system namespace. */
export async function wipe(rest: KubeRest, opts: SeedOptions = {}): Promise<number> {
  const t0 = Date.now();
  await rest.discover();
  let deleted = 0;
  const queue = new PQueue({ concurrency: 32 });
  const seen = new Set<string>();
  for (const [key, r] of rest.resources()) {
    if (!r.verbs.includes('list') || !r.verbs.includes('delete')) continue;
    const kind = key.slice(key.lastIndexOf('/') + 1);
    // The same objects are served in several versions (Istio's v1, v1beta1, ...): list them once.
    if (seen.has(`${r.group}/${r.plural}`)) continue;
    seen.add(`${r.group}/${r.plural}`);
    if (kind === 'Namespace' || kind === 'Event' || (r.group === 'events.k8s.io')) continue;
    if (!r.namespaced && !(kind === 'Node' || r.group.endsWith('istio.io') || r.group === 'cilium.io' || r.group === 'metrics.k8s.io')) continue;
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    let list: { items: KubeObject[] };
    try {
      list = await rest.request('GET', `${base}/${r.plural}`);
    } catch {
      continue;
    }
    for (const item of list.items ?? []) {
      const ns = item.metadata.namespace;
      // In the apiserver's own namespaces only what the tooling wrote goes (leases, RBAC, the kubernetes Service
      // and the like stay).
      if (ns && SYSTEM_NAMESPACES.has(ns) && !writtenByTooling(item)) continue;
      const path = `${base}${ns ? `/namespaces/${ns}` : ''}/${r.plural}/${encodeURIComponent(item.metadata.name)}`;
      queue.add(async () => {
        try {
          await rest.request('DELETE', `${path}?gracePeriodSeconds=0`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, propagationPolicy: 'Background' });
          deleted++;
        } catch (e) {
          if (!(e instanceof KubeHttpError) || e.status !== 404) throw e;
        }
      });
    }
  }
  await queue.onIdle();
  // No namespace controller here: delete, then clear the finalizer ourselves (contents are already gone).
  const nss = await rest.request<{ items: KubeObject[] }>('GET', '/api/v1/namespaces');
  for (const ns of nss.items) {
    const name = ns.metadata.name;
    if (SYSTEM_NAMESPACES.has(name)) continue;
    try {
      await rest.request('DELETE', `/api/v1/namespaces/${name}`);
    } catch (e) {
      if (!(e instanceof KubeHttpError) || e.status !== 404) throw e;
    }
    try {
      const cur = await rest.request<KubeObject>('GET', `/api/v1/namespaces/${name}`);
      await rest.request('PUT', `/api/v1/namespaces/${name}/finalize`, { ...cur, spec: { finalizers: [] } });
    } catch (e) {
      if (!(e instanceof KubeHttpError) || e.status !== 404) throw e;
    }
    deleted++;
  }
  opts.log?.(`wipe: deleted ${deleted} objects in ${Date.now() - t0} ms`);
  return deleted;
}
