// KubeReader over a live API server: paginated lists (limit/continue; relist on 410 Expired without yielding
// an object twice), discovery of served Istio groups, RBAC denials named by verb and resource.
import type { KubeObject } from '../../core/model/k8s.js';
import type { ResourceType } from '../../core/model/resources.js';
import { apiVersionOf } from '../../core/model/resources.js';
import { clusterError } from '../../core/errors.js';
import type { Finding } from '../../core/model/finding.js';
import type { Discovery, KubeReader, ListOptions } from '../../ports/kube.js';
import type { KubeAccess } from './config.js';
import { apiGet, DEFAULT_RETRY, type RetryPolicy } from './http.js';

export const RBAC_HINT = 'grant read access with the least-privilege ClusterRole in deploy/rbac.yaml: `kubectl apply -f deploy/rbac.yaml` and bind it to your user (`kubectl create clusterrolebinding migrate-reader --clusterrole=migrate-reader --user=<you>`)';

export function forbidden(access: KubeAccess, verb: string, type: Pick<ResourceType, 'group' | 'plural'>, namespace: string | undefined, body: unknown): Error {
  const resource = type.group ? `${type.plural}.${type.group}` : type.plural;
  const where = namespace ? `in namespace ${namespace}` : 'at cluster scope';
  const msg = (body as { message?: string } | undefined)?.message;
  return clusterError('MIGRATE_RBAC_FORBIDDEN', `user "${access.user}" may not ${verb} ${resource} ${where}${msg ? ` (${msg})` : ''}`, {
    object: `${resource}${namespace ? ` -n ${namespace}` : ''}`, next: RBAC_HINT,
  });
}

export function notServed(type: ResourceType): Error {
  return clusterError('MIGRATE_RESOURCE_NOT_SERVED', `the API server does not serve ${type.plural}.${type.group || 'core'}/${type.version}`, {
    object: `${type.kind}`, next: 'install the CRD or API extension (e.g. metrics-server), or ignore if not used',
  });
}

export interface ClusterReaderOptions {
  pageSize?: number;
  retry?: RetryPolicy;
}

export class ClusterReader implements KubeReader {
  readonly live = true;
  readonly source: string;
  private readonly pageSize: number;
  private readonly retry: RetryPolicy;

  constructor(private readonly access: KubeAccess, opts: ClusterReaderOptions = {}) {
    this.source = `cluster ${access.server} (context ${access.context})`;
    this.pageSize = opts.pageSize ?? 500;
    this.retry = opts.retry ?? DEFAULT_RETRY;
  }

  private path(type: ResourceType, namespace?: string): string {
    const base = type.group ? `/apis/${apiVersionOf(type)}` : `/api/${type.version}`;
    return type.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${type.plural}` : `${base}/${type.plural}`;
  }

  async discover(groups: string[]): Promise<Discovery> {
    const types: ResourceType[] = [];
    const findings: Finding[] = [];
    for (const group of groups) {
      const g = await apiGet(this.access, `/apis/${group}`, this.retry);
      if (g.status === 404) continue; // CRDs of this group not installed
      if (g.status === 403) throw forbidden(this.access, 'get', { group, plural: '(discovery)' }, undefined, g.body);
      if (g.status !== 200) continue;
      const body = g.body as { preferredVersion?: { version?: string }; versions?: { version: string }[] };
      // Kinds live in different versions (Istio serves EnvoyFilter only as v1alpha3): take each kind from the
      // preferred version when it is there, else from the next served version.
      const preferred = body.preferredVersion?.version;
      const versions = [...new Set([preferred, ...(body.versions ?? []).map((v) => v.version)].filter((v): v is string => !!v))];
      const seen = new Set<string>();
      for (const version of versions) {
        const r = await apiGet(this.access, `/apis/${group}/${version}`, this.retry);
        if (r.status !== 200) continue;
        for (const res of (r.body as { resources?: { name: string; kind: string; namespaced: boolean; verbs?: string[] }[] }).resources ?? []) {
          if (res.name.includes('/') || !(res.verbs ?? []).includes('list') || seen.has(res.kind)) continue;
          seen.add(res.kind);
          types.push({ group, version, kind: res.kind, plural: res.name, namespaced: res.namespaced });
        }
      }
    }
    if (types.length === 0 && groups.some((g) => g.endsWith('istio.io'))) {
      findings.push({ level: 'Warning', code: 'MIG_ISTIO_CRDS_MISSING', object: 'APIGroup/*.istio.io', message: 'no Istio API group is served: Istio CRDs are not installed; continuing with core resources only' });
    }
    types.sort((a, b) => a.group.localeCompare(b.group) || a.kind.localeCompare(b.kind));
    return { types, findings };
  }

  async *list(type: ResourceType, opts: ListOptions = {}): AsyncIterable<KubeObject> {
    const path = this.path(type, opts.namespace);
    const seen = new Set<string>();
    let cont: string | undefined;
    let relists = 0;
    for (;;) {
      const q = `?limit=${this.pageSize}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`;
      const res = await apiGet(this.access, path + q, this.retry);
      if (res.status === 410 && cont) {
        // The continue token expired (etcd compacted): start over, skipping what was already yielded.
        if (++relists > 5) throw clusterError('MIGRATE_CLUSTER_ERROR', `list ${type.plural} kept expiring (410) after ${relists} relists`, { object: path, next: 'retry when the cluster is calmer, or use a larger page' });
        cont = undefined;
        continue;
      }
      if (res.status === 403) throw forbidden(this.access, 'list', type, opts.namespace, res.body);
      if (res.status === 404) throw notServed(type);
      if (res.status !== 200) {
        throw clusterError('MIGRATE_CLUSTER_ERROR', `list ${path} answered HTTP ${res.status}`, { object: path, next: 'retry; if it persists check the API server logs' });
      }
      const body = res.body as { items?: KubeObject[]; metadata?: { continue?: string } };
      for (const item of body.items ?? []) {
        // Lists omit kind/apiVersion on items.
        item.kind ??= type.kind;
        item.apiVersion ??= apiVersionOf(type);
        const uid = item.metadata.uid ?? `${item.metadata.namespace}/${item.metadata.name}`;
        if (relists > 0 && seen.has(uid)) continue;
        seen.add(uid);
        yield item;
      }
      cont = body.metadata?.continue || undefined;
      if (!cont) return;
    }
  }
}
