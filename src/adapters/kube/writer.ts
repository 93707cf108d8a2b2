// KubeWriter over the API server with the kubeconfig's credentials (client-node applies them to each request):
// strict-validated creates, foreground deletes, DaemonSet readiness, pods/log streams and the pod proxy.
import https from 'node:https';
import http from 'node:http';
import type { KubeAccess } from './config.js';
import { clusterError, userError } from '../../core/errors.js';
import type { ApiPod, KubeWriter, LogStream, OwnedObject } from '../../ports/kube-writer.js';

interface Res { status: number; text: string }

const CORE = new Set(['v1']);
const PLURAL: Record<string, string> = { Namespace: 'namespaces', ServiceAccount: 'serviceaccounts', ConfigMap: 'configmaps', DaemonSet: 'daemonsets', Role: 'roles', RoleBinding: 'rolebindings', ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings' };

/** The collection path of an object's type (cluster-scoped kinds have no namespace segment). */
export function collectionPath(o: OwnedObject): string {
  const plural = PLURAL[o.kind];
  if (!plural) throw new Error(`no REST path for kind ${o.kind}`);
  const base = CORE.has(o.apiVersion) ? `/api/${o.apiVersion}` : `/apis/${o.apiVersion}`;
  return o.metadata.namespace && o.kind !== 'Namespace' ? `${base}/namespaces/${o.metadata.namespace}/${plural}` : `${base}/${plural}`;
}
export const objectRef = (o: OwnedObject) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

function message(text: string): string {
  try { return (JSON.parse(text) as { message?: string }).message ?? text.slice(0, 300); } catch { return text.slice(0, 300); }
}

type Terminated = { exitCode?: number; reason?: string; message?: string };
function toPod(p: { metadata: { name: string; namespace: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { nodeName?: string; serviceAccountName?: string; containers: { name: string }[]; initContainers?: { name: string; restartPolicy?: string }[] }; status?: { podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { state?: { waiting?: { reason?: string; message?: string }; terminated?: Terminated }; lastState?: { terminated?: Terminated }; restartCount?: number }[] } }): ApiPod {
  const waiting = (p.status?.containerStatuses ?? []).map((c) => c.state?.waiting).find((w) => w?.reason);
  const failed = (p.status?.containerStatuses ?? []).map((c) => c.state?.terminated ?? c.lastState?.terminated).find((t) => t && t.exitCode !== 0);
  const lastFailure = failed ? `exit ${failed.exitCode ?? '?'} (${failed.reason ?? 'Error'})${failed.message?.trim() ? `: ${failed.message.trim().split('\n').pop()}` : ''}` : undefined;
  return {
    name: p.metadata.name, namespace: p.metadata.namespace, ...(p.metadata.uid ? { uid: p.metadata.uid } : {}), labels: p.metadata.labels ?? {}, ...(p.metadata.annotations ? { annotations: p.metadata.annotations } : {}), containers: [...p.spec.containers.map((c) => c.name), ...(p.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name)],
    ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    ...(p.spec.nodeName ? { nodeName: p.spec.nodeName } : {}), ...(p.status?.podIP ? { ip: p.status.podIP } : {}),
    ...(p.spec.serviceAccountName ? { serviceAccount: p.spec.serviceAccountName } : {}),
    ...(waiting ? { waiting: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` } : {}),
    ...(lastFailure ? { lastFailure } : {}),
    ...(p.status?.containerStatuses?.length ? { restarts: p.status.containerStatuses.reduce((n, c) => n + (c.restartCount ?? 0), 0) } : {}),
  };
}

export class ApiKubeWriter implements KubeWriter {
  readonly where: string;
  constructor(private readonly access: KubeAccess, private readonly pollMs = 1000) { this.where = `cluster ${access.server} (context ${access.context})`; }

  private async open(method: string, path: string, body?: unknown): Promise<{ req: http.ClientRequest; mod: typeof http | typeof https; opts: https.RequestOptions }> {
    const url = new URL(this.access.server.replace(/\/$/, '') + path);
    const opts: https.RequestOptions = { method, hostname: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80), path: url.pathname + url.search, headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) } };
    try {
      await this.access.kc.applyToHTTPSOptions(opts);
    } catch (e) {
      throw userError('MIGRATE_KUBECONFIG_INVALID', `cannot use context "${this.access.context}": ${(e as Error).message}`, { object: `context/${this.access.context}`, next: 'check the cluster and user entries with `kubectl config view --minify` (renew an expired login)' });
    }
    const mod = url.protocol === 'https:' ? https : http;
    return { req: null as unknown as http.ClientRequest, mod, opts };
  }

  private async call(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Res> {
    const { mod, opts } = await this.open(method, path, body);
    return new Promise((resolve, reject) => {
      const req = mod.request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(clusterError('MIGRATE_CLUSTER_UNREACHABLE', `${method} ${path}: ${e.message}`, { object: this.where, next: 'check that the cluster is reachable and --kubeconfig/--context' })));
      if (body !== undefined) req.write(JSON.stringify(body));
      req.end();
    });
  }

  async create(obj: OwnedObject): Promise<void> {
    const r = await this.call('POST', `${collectionPath(obj)}?fieldValidation=Strict&fieldManager=migrate`, obj);
    if (r.status >= 200 && r.status < 300) return;
    const ref = objectRef(obj);
    if (r.status === 403) throw clusterError('MIGRATE_SHADOW_FORBIDDEN', `not allowed to create ${ref}: ${message(r.text)}`, { object: ref, next: `grant the Role migrate-shadow-operator (see the rendered manifests, --render-only) or ask a cluster admin to apply them; check with \`kubectl auth can-i create ${PLURAL[obj.kind]} -n ${obj.metadata.namespace ?? ''}\`` });
    if (r.status === 409) throw clusterError('MIGRATE_SHADOW_EXISTS', `${ref} already exists (a previous --keep run, or another shadow run)`, { object: ref, next: `delete it (\`kubectl delete ${obj.kind.toLowerCase()} ${obj.metadata.name}${obj.metadata.namespace ? ` -n ${obj.metadata.namespace}` : ''}\`) or wait for the other run to finish` });
    throw clusterError('MIGRATE_SHADOW_APPLY', `creating ${ref} failed (HTTP ${r.status}): ${message(r.text)}`, { object: ref, next: 'check the manifests with --render-only and `kubectl apply --dry-run=server -f`' });
  }

  async delete(obj: OwnedObject): Promise<void> {
    const r = await this.call('DELETE', `${collectionPath(obj)}/${obj.metadata.name}?propagationPolicy=Background`);
    if (r.status === 404 || (r.status >= 200 && r.status < 300)) return;
    const ref = objectRef(obj);
    throw clusterError('MIGRATE_SHADOW_CLEANUP', `deleting ${ref} failed (HTTP ${r.status}): ${message(r.text)}`, { object: ref, next: `delete it by hand: kubectl delete ${obj.kind.toLowerCase()} ${obj.metadata.name}${obj.metadata.namespace ? ` -n ${obj.metadata.namespace}` : ''}` });
  }

  async listPods(namespace: string, labelSelector?: string): Promise<ApiPod[]> {
    const r = await this.call('GET', `/api/v1/namespaces/${namespace}/pods${labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''}`);
    if (r.status === 403) throw clusterError('MIGRATE_SHADOW_FORBIDDEN', `not allowed to list pods in ${namespace}: ${message(r.text)}`, { object: `Namespace/${namespace}`, next: 'grant the Role migrate-shadow-reader (pods, pods/log, pods/proxy) in that namespace' });
    if (r.status !== 200) throw clusterError('MIGRATE_CLUSTER_ERROR', `listing pods in ${namespace} failed (HTTP ${r.status}): ${message(r.text)}`, { object: `Namespace/${namespace}` });
    return (JSON.parse(r.text) as { items: Parameters<typeof toPod>[0][] }).items.map(toPod);
  }

  async listNodes(): Promise<{ name: string; addresses: string[] }[] | null> {
    const r = await this.call('GET', '/api/v1/nodes');
    if (r.status === 403) return null;
    if (r.status !== 200) throw clusterError('MIGRATE_CLUSTER_ERROR', `listing nodes failed (HTTP ${r.status}): ${message(r.text)}`, { object: 'nodes' });
    const items = (JSON.parse(r.text) as { items: { metadata: { name: string }; status?: { addresses?: { type: string; address: string }[] } }[] }).items;
    return items.map((n) => ({ name: n.metadata.name, addresses: (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address) }));
  }

  async waitDaemonSetReady(namespace: string, name: string, timeoutMs: number, signal?: AbortSignal): Promise<ApiPod[]> {
    const t0 = Date.now();
    let last = 'not observed yet';
    let pods: ApiPod[] = [];
    while (Date.now() - t0 < timeoutMs && !signal?.aborted) {
      const r = await this.call('GET', `/apis/apps/v1/namespaces/${namespace}/daemonsets/${name}`);
      if (r.status === 200) {
        const ds = JSON.parse(r.text) as { spec: { selector: { matchLabels: Record<string, string> } }; status?: { desiredNumberScheduled?: number; numberReady?: number } };
        const want = ds.status?.desiredNumberScheduled ?? 0;
        const ready = ds.status?.numberReady ?? 0;
        pods = await this.listPods(namespace, Object.entries(ds.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(','));
        const waiting = pods.find((p) => p.waiting);
        const failed = pods.find((p) => p.lastFailure);
        last = `${ready}/${want} ready${waiting ? `; ${waiting.name}: ${waiting.waiting}` : ''}${failed ? `; ${failed.name} last ${failed.lastFailure}` : ''}`;
        // A container that exits and will exit again (a probe refusing its memory limit or config) does not get
        // better by waiting out --ready-timeout: two failed restarts are enough to report its own words.
        if (failed && /CrashLoopBackOff/.test(failed.waiting ?? '') && (failed.restarts ?? 0) >= 2) break;
        if (want > 0 && ready >= want && pods.filter((p) => p.ready).length >= want) return pods.filter((p) => p.ready);
      } else last = `HTTP ${r.status} ${message(r.text)}`;
      await new Promise((res) => setTimeout(res, this.pollMs));
    }
    const pull = /ImagePull|ErrImage/.test(last);
    const failed = pods.find((p) => p.lastFailure);
    if (failed && !pull) {
      throw clusterError('MIGRATE_SHADOW_PROBE_FAILED', `probe pod ${namespace}/${failed.name} keeps exiting: ${failed.lastFailure}`, {
        object: `Pod/${namespace}/${failed.name}`,
        next: `do what the probe's message says (a memory limit: rerun with --probe-memory set to the MiB it names, or lower --ct-flows); all of it: \`kubectl -n ${namespace} logs ${failed.name} --previous\``,
      });
    }
    throw clusterError(pull ? 'MIGRATE_SHADOW_IMAGE_PULL' : 'MIGRATE_SHADOW_NOT_READY', `DaemonSet ${namespace}/${name} not ready within ${Math.round(timeoutMs / 1000)} s (${last})`, {
      object: `DaemonSet/${namespace}/${name}`,
      next: pull ? 'check that the nodes can pull --image (registry access, imagePullSecrets), or push the image to a registry they reach' : `look at \`kubectl -n ${namespace} describe ds ${name}\` and its pods' events (scheduling, admission, capabilities), or raise --ready-timeout`,
    });
  }

  followLog(namespace: string, pod: string, container: string | undefined, onText: (t: string) => void, opts: { sinceTime?: string; tailLines?: number } = {}): LogStream {
    const q = new URLSearchParams({ follow: 'true' });
    if (container) q.set('container', container);
    if (opts.sinceTime) q.set('sinceTime', opts.sinceTime);
    if (opts.tailLines !== undefined) q.set('tailLines', String(opts.tailLines));
    let req: http.ClientRequest | undefined;
    let closed = false;
    const ended = (async () => {
      const { mod, opts: o } = await this.open('GET', `/api/v1/namespaces/${namespace}/pods/${pod}/log?${q}`);
      if (closed) return;
      await new Promise<void>((resolve) => {
        req = mod.request(o, (res) => {
          res.setEncoding('utf8');
          if ((res.statusCode ?? 0) !== 200) { res.resume(); res.on('end', () => resolve()); return; }
          res.on('data', (d: string) => onText(d));
          res.on('end', () => resolve());
          res.on('error', () => resolve());
          res.on('close', () => resolve());
        });
        req.on('error', () => resolve());
        req.end();
      });
    })().catch(() => undefined);
    return { ended, close: () => { closed = true; req?.destroy(); } };
  }

  async proxyGet(namespace: string, pod: string, port: number, path: string): Promise<string | null> {
    try {
      const r = await this.call('GET', `/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy/${path.replace(/^\//, '')}`, undefined, 10_000);
      return r.status === 200 ? r.text : null;
    } catch { return null; }
  }
}
