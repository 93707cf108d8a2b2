// A small, fast REST client for the test control plane: raw HTTPS with a keep-alive agent, TLS taken from a
// kubeconfig through @kubernetes/client-node, and discovery to map apiVersion/kind to a resource path. The seeder
// creates tens of thousands of objects and patches their status subresource, which KubernetesObjectApi does not
// do (and its per-call discovery would dominate the time), so the test tooling talks HTTP itself.
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface Resource {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  verbs: string[];
  /** Subresources the server serves for it, e.g. ['status']. */
  subresources: string[];
}

/** Field manager of everything the test tooling writes: wipe() tells seeded objects from the apiserver's own by it. */
export const FIELD_MANAGER = 'migrate-test-seed';

export class KubeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export class KubeRest {
  private readonly kinds = new Map<string, Resource>();
  private constructor(
    readonly server: string,
    private readonly agent: https.Agent,
  ) {}

  static async fromKubeconfig(file: string, maxSockets = 32): Promise<KubeRest> {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`${file}: no current cluster`);
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const agent = new https.Agent({
      keepAlive: true,
      maxSockets,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      rejectUnauthorized: opts.rejectUnauthorized ?? true,
    });
    return new KubeRest(cluster.server.replace(/\/$/, ''), agent);
  }

  close(): void {
    this.agent.destroy();
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const url = new URL(this.server + path);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(payload !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) return reject(new KubeHttpError(status, method, path, text));
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch (e) {
              reject(e);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Load (or reload) the apiVersion/kind -> resource map from the server's discovery documents. */
  async discover(): Promise<void> {
    this.kinds.clear();
    const gvs: string[] = ['v1'];
    const groups = await this.request<{ groups: { versions: { groupVersion: string }[] }[] }>('GET', '/apis');
    for (const g of groups.groups) for (const v of g.versions) gvs.push(v.groupVersion);
    await Promise.all(
      gvs.map(async (gv) => {
        const list = await this.request<{ resources: { name: string; kind: string; namespaced: boolean; verbs?: string[] }[] }>(
          'GET',
          gv === 'v1' ? '/api/v1' : `/apis/${gv}`,
        );
        const [group, version] = gv.includes('/') ? (gv.split('/') as [string, string]) : ['', gv];
        const subs = new Map<string, string[]>();
        for (const r of list.resources) {
          const [base, sub] = r.name.split('/');
          if (sub && base) subs.set(base, [...(subs.get(base) ?? []), sub]);
        }
        for (const r of list.resources) {
          if (r.name.includes('/')) continue;
          this.kinds.set(`${gv}/${r.kind}`, {
            group,
            version,
            plural: r.name,
            namespaced: r.namespaced,
            verbs: r.verbs ?? [],
            subresources: subs.get(r.name) ?? [],
          });
        }
      }),
    );
  }

  /** Every served resource (after discover()), keyed by apiVersion/kind. */
  resources(): Map<string, Resource> {
    return new Map(this.kinds);
  }

  async resourceFor(apiVersion: string, kind: string): Promise<Resource> {
    let r = this.kinds.get(`${apiVersion}/${kind}`);
    if (!r) {
      await this.discover();
      r = this.kinds.get(`${apiVersion}/${kind}`);
    }
    if (!r) throw new Error(`the apiserver serves no ${kind} in ${apiVersion} (is its CRD installed?)`);
    return r;
  }

  /** Collection path (no name) or object path of a resource, optionally with a subresource. */
  async pathFor(obj: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } }, sub?: string): Promise<string> {
    const r = await this.resourceFor(obj.apiVersion, obj.kind);
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata?.namespace ?? 'default')}` : '';
    const name = obj.metadata?.name ? `/${encodeURIComponent(obj.metadata.name)}` : '';
    return `${base}${ns}/${r.plural}${name}${sub ? `/${sub}` : ''}`;
  }

  async create<T = KubeObject>(obj: KubeObject): Promise<T> {
    const path = await this.pathFor({ ...obj, metadata: { ...obj.metadata, name: undefined } as never });
    return this.request<T>('POST', `${path}?fieldManager=${FIELD_MANAGER}`, obj);
  }

  /** Create, or replace the existing object of the same name (idempotent installs). */
  async apply(obj: KubeObject): Promise<void> {
    try {
      await this.create(obj);
    } catch (e) {
      if (!(e instanceof KubeHttpError) || e.status !== 409) throw e;
      const path = await this.pathFor(obj);
      const cur = await this.request<KubeObject>('GET', path);
      const meta = cur.metadata as { resourceVersion?: string };
      await this.request('PUT', `${path}?fieldManager=${FIELD_MANAGER}`, { ...obj, metadata: { ...obj.metadata, resourceVersion: meta.resourceVersion } });
    }
  }

  async mergePatch(obj: KubeObject, patch: unknown, sub?: string): Promise<void> {
    await this.request('PATCH', await this.pathFor(obj, sub), patch, 'application/merge-patch+json');
  }
}
