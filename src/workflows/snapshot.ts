// `migrate snapshot --out DIR`: copies what the inventory and translation read from a live cluster to disk, so
// a team can work offline. Secrets and ConfigMaps are never read.
import type { KubeObject } from '../core/model/k8s.js';
import type { ResourceType } from '../core/model/resources.js';
import { CORE_TYPES, ISTIO_API_GROUPS, POD_METRICS } from '../core/model/resources.js';
import { MigrateError, userError } from '../core/errors.js';
import type { KubeReader, Progress } from '../ports/kube.js';
import { silentProgress } from '../ports/kube.js';
import type { Clock } from '../ports/clock.js';

export interface SnapshotSink {
  writeList(file: string, objects: AsyncIterable<KubeObject>): Promise<number>;
  commit(meta: Record<string, unknown>): void;
  abort(): void;
}

export interface SnapshotRequest {
  reader: KubeReader;
  sink: SnapshotSink;
  namespaces: string[];
  rootNamespace: string;
  clock: Clock;
  progress?: Progress;
}

export interface SnapshotResult {
  apiVersion: 'migrate.dev/v1alpha1';
  kind: 'SnapshotResult';
  source: string;
  out: string;
  takenAt: string;
  namespaces: string[];
  counts: Record<string, number>;
  notes: string[];
}

const fileOf = (t: ResourceType) => (t.group ? `${t.group}-${t.plural}` : t.plural);

export async function runSnapshot(req: SnapshotRequest, out: string): Promise<SnapshotResult> {
  const { reader, sink } = req;
  const progress = req.progress ?? silentProgress;
  const counts: Record<string, number> = {};
  const notes: string[] = [];
  try {
    const all: string[] = [];
    for await (const ns of reader.list(CORE_TYPES.namespaces)) all.push(ns.metadata.name);
    for (const n of req.namespaces) if (!all.includes(n)) throw userError('MIGRATE_NS_NOT_FOUND', `namespace "${n}" does not exist in ${reader.source}`, { object: `Namespace/${n}`, next: 'list namespaces with `kubectl get ns`' });
    const wanted = new Set(req.namespaces);
    const nsScope: (string | undefined)[] = wanted.size ? [...wanted].sort() : [undefined];
    const istioScope: (string | undefined)[] = wanted.size ? [...new Set([...wanted, req.rootNamespace])].filter((n) => all.includes(n)).sort() : [undefined];

    async function* listAll(t: ResourceType, scope: (string | undefined)[]): AsyncIterable<KubeObject> {
      let n = 0;
      for (const ns of scope) {
        for await (const o of reader.list(t, ns === undefined ? {} : { namespace: ns })) {
          if (t === CORE_TYPES.namespaces && wanted.size && !wanted.has(o.metadata.name) && o.metadata.name !== req.rootNamespace) continue;
          if (++n % 1000 === 0) progress.update(t.plural, n);
          yield o;
        }
      }
      progress.done(fileOf(t), n);
    }

    for (const t of Object.values(CORE_TYPES)) counts[t.kind] = await sink.writeList(fileOf(t), listAll(t, t.namespaced ? nsScope : [undefined]));
    const discovery = await reader.discover(ISTIO_API_GROUPS);
    notes.push(...discovery.findings.map((f) => f.message));
    for (const t of discovery.types) counts[t.kind] = await sink.writeList(fileOf(t), listAll(t, t.namespaced ? istioScope : [undefined]));
    try {
      counts.PodMetrics = await sink.writeList('metrics.k8s.io-pods', listAll(POD_METRICS, nsScope));
    } catch (e) {
      if (!(e instanceof MigrateError) || !['MIGRATE_RESOURCE_NOT_SERVED', 'MIGRATE_RBAC_FORBIDDEN'].includes(e.code)) throw e;
      notes.push(`pod metrics not included: ${e.message}`);
    }
    const takenAt = req.clock.now().toISOString();
    sink.commit({ source: reader.source, takenAt, namespaces: [...wanted].sort(), counts });
    return { apiVersion: 'migrate.dev/v1alpha1', kind: 'SnapshotResult', source: reader.source, out, takenAt, namespaces: [...wanted].sort(), counts, notes };
  } catch (e) {
    sink.abort();
    throw e;
  }
}
