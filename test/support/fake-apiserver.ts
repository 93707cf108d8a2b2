// A fake API server on loopback for command tests (a FAKE, not a real kube-apiserver: integration tests use the
// real one). It serves list, pagination (limit/continue) and discovery from objects seeded from a snapshot,
// and injects the failures users meet: 403, 401, 429/5xx bursts, 410 on continue, unserved Istio groups.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { apiGroup } from '../../src/core/model/k8s.js';

export interface Faults {
  /** Paths (prefix match, without query) answered 403. */
  forbid?: string[];
  unauthorized?: boolean;
  /** The first N requests get this status (429 or 5xx). */
  burst?: { status: number; count: number };
  /** Answer 410 to the first continue request. */
  expireContinue?: boolean;
  /** Do not serve these API groups (CRDs not installed). */
  unservedGroups?: string[];
}

export interface FakeApiServer {
  url: string;
  kubeconfig: string;
  requests: string[];
  faults: Faults;
  /** The list path that got a 410 on its continue token, if any. */
  expiredPath?: string;
  close(): Promise<void>;
}

const PLURALS: Record<string, string> = { NetworkPolicy: 'networkpolicies', PodMetrics: 'pods' };
const pluralOf = (kind: string) => PLURALS[kind] ?? `${kind.toLowerCase()}${kind.endsWith('s') ? 'es' : kind.endsWith('y') ? '' : 's'}`.replace(/ys$/, 'ies');

export async function startFakeApiServer(objects: KubeObject[], faults: Faults = {}, pageSize?: number): Promise<FakeApiServer> {
  const requests: string[] = [];
  const byPath = new Map<string, KubeObject[]>(); // "<group>/<version>/<plural>" -> objects
  const groups = new Map<string, Set<string>>(); // group -> kinds
  for (const o of objects) {
    const group = apiGroup(o.apiVersion);
    const version = o.apiVersion.split('/').pop()!;
    const key = `${group}/${version}/${pluralOf(o.kind)}`;
    (byPath.get(key) ?? byPath.set(key, []).get(key)!).push(o);
    (groups.get(group) ?? groups.set(group, new Set()).get(group)!).add(`${version}/${o.kind}`);
  }
  let served = 0;
  let expired = false;
  const state: FakeApiServer = { url: '', kubeconfig: '', requests, faults, close: async () => {} };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname + url.search);
    const send = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    const f = state.faults;
    if (f.unauthorized) return send(401, { kind: 'Status', status: 'Failure', message: 'Unauthorized', code: 401 });
    if (f.burst && served++ < f.burst.count) return send(f.burst.status, { kind: 'Status', message: 'try later', code: f.burst.status });
    if ((f.forbid ?? []).some((p) => url.pathname.startsWith(p))) {
      return send(403, { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message: `pods is forbidden: User "reader" cannot list resource at ${url.pathname}` });
    }
    const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    if (m) {
      const [, group, version] = m;
      const kinds = groups.get(group!);
      if (!kinds || (f.unservedGroups ?? []).includes(group!)) return send(404, { kind: 'Status', code: 404, message: 'the server could not find the requested resource' });
      const versions = [...new Set([...kinds].map((k) => k.split('/')[0]!))].sort();
      if (!version) return send(200, { kind: 'APIGroup', name: group, versions: versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v })), preferredVersion: { groupVersion: `${group}/${versions[0]}`, version: versions[0] } });
      return send(200, { kind: 'APIResourceList', groupVersion: `${group}/${version}`, resources: [...kinds].filter((k) => k.startsWith(`${version}/`)).map((k) => k.split('/')[1]!).map((kind) => ({ name: pluralOf(kind), kind, namespaced: kind !== 'Node' && kind !== 'Namespace', verbs: ['get', 'list', 'watch'] })) });
    }
    const lm = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([a-z]+)$/.exec(url.pathname);
    if (!lm) return send(404, { kind: 'Status', code: 404 });
    const [, coreV, group, gv, ns, plural] = lm;
    const key = coreV ? `/${coreV}/${plural}` : `${group}/${gv}/${plural}`;
    if (!coreV && (!groups.has(group!) || (f.unservedGroups ?? []).includes(group!))) return send(404, { kind: 'Status', code: 404 });
    let items = byPath.get(key) ?? [];
    if (ns) items = items.filter((o) => o.metadata.namespace === ns);
    const limit = Number(url.searchParams.get('limit') ?? pageSize ?? 0) || items.length;
    const cont = url.searchParams.get('continue');
    if (cont && f.expireContinue && !expired) {
      expired = true;
      state.expiredPath = url.pathname;
      return send(410, { kind: 'Status', code: 410, reason: 'Expired', message: 'The provided continue parameter is too old' });
    }
    const start = cont ? Number(cont) : 0;
    const page = items.slice(start, start + limit).map((o) => { const { kind: _k, apiVersion: _a, ...rest } = o; return rest; });
    const next = start + limit < items.length ? String(start + limit) : undefined;
    send(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1', ...(next ? { continue: next } : {}) }, items: page });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'migrate-fake-'));
  state.kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(state.kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: fake',
    'clusters:', `- name: fake`, `  cluster:`, `    server: ${state.url}`, '    insecure-skip-tls-verify: true',
    'contexts:', '- name: fake', '  context: {cluster: fake, user: reader}',
    '- name: other', '  context: {cluster: fake, user: nobody}',
    'users:', '- name: reader', '  user: {token: fake-token}', '- name: nobody', '  user: {}', '',
  ].join('\n'));
  state.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return state;
}
