// A FAKE API server on loopback for `migrate shadow --cluster` (there is no kubelet in the real test cluster, so
// no probe pod can run there): it accepts creates and deletes (recording them, and refusing any create without
// fieldValidation=Strict), reports the probe DaemonSet ready with one pod, and serves what a running cluster
// would: pods/log?follow=true of the probe pod and of each istio-proxy (chunked, cut mid-line, held open until
// the client closes) and /api/v1/namespaces/NS/pods/NAME:15090/proxy/stats/prometheus.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeShadowPod { name: string; namespace: string; uid?: string; ip: string; nodeName: string; serviceAccount: string; labels: Record<string, string>; containers: string[] }

export interface FakeShadowApi {
  url: string;
  kubeconfig: string;
  created: string[];
  deleted: string[];
  /** Open follow streams right now (the CLI must close them all). */
  openStreams(): number;
  logRequests: string[];
  proxyRequests: string[];
  close(): Promise<void>;
}

export interface FakeShadowOptions {
  pods: FakeShadowPod[];
  /** Probe output (JSON lines) streamed from the probe pod's log. */
  probeLog: string;
  /** istio-proxy access log text per pod name. */
  accessLogs: Record<string, string>;
  /** Prometheus text per pod for the n-th scrape (0 = start). */
  metrics: (pod: string, n: number) => string;
  /** DaemonSet never ready, with this waiting reason on its pod (e.g. ImagePullBackOff). */
  notReady?: string;
  /** With notReady: the container's last run, as kubelet reports it (FallbackToLogsOnError: its last log lines). */
  lastTerminated?: { exitCode: number; message: string; restartCount: number };
  /** Answer 403 to creates of this kind. */
  forbidKind?: string;
  /** Answer 403 to a list of nodes (a user without that permission). */
  forbidNodes?: boolean;
}

export async function startFakeShadowApi(o: FakeShadowOptions): Promise<FakeShadowApi> {
  const created: string[] = [];
  const deleted: string[] = [];
  const logRequests: string[] = [];
  const proxyRequests: string[] = [];
  const open = new Set<http.ServerResponse>();
  const scrapes = new Map<string, number>();
  const podJson = (p: FakeShadowPod, ready = true, waiting?: string) => ({
    metadata: { name: p.name, namespace: p.namespace, uid: p.uid ?? `00000000-0000-4000-8000-${Buffer.from(p.name).toString('hex').padEnd(12, '0').slice(0, 12)}`, labels: p.labels },
    spec: { nodeName: p.nodeName, serviceAccountName: p.serviceAccount, containers: p.containers.map((name) => ({ name })) },
    status: { phase: 'Running', podIP: p.ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], ...(waiting ? { containerStatuses: [{ state: { waiting: { reason: waiting, message: o.lastTerminated ? 'back-off 20s restarting failed container=shadow-probe' : 'Back-off pulling image' } }, ...(o.lastTerminated ? { lastState: { terminated: { exitCode: o.lastTerminated.exitCode, reason: 'Error', message: o.lastTerminated.message } }, restartCount: o.lastTerminated.restartCount } : {}) }] } : {}) },
  });
  let probePod: FakeShadowPod | undefined;
  // Sends text in small chunks cut at arbitrary byte offsets (not at line ends), then keeps the stream open.
  const stream = (res: http.ServerResponse, text: string) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    open.add(res);
    res.on('close', () => open.delete(res));
    let i = 0;
    const step = () => { if (i >= text.length || res.destroyed) return; res.write(text.slice(i, i + 997)); i += 997; setImmediate(step); };
    step();
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    const p = url.pathname;
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        const obj = JSON.parse(body) as { kind: string; metadata: { name: string; namespace?: string }; spec?: { selector?: { matchLabels: Record<string, string> } } };
        if (url.searchParams.get('fieldValidation') !== 'Strict') return send(400, { kind: 'Status', message: 'test fake: creates must ask for strict field validation' });
        if (o.forbidKind === obj.kind) return send(403, { kind: 'Status', code: 403, reason: 'Forbidden', message: `${obj.kind.toLowerCase()}s.apps is forbidden: User "dev" cannot create resource` });
        created.push(`${obj.kind}/${obj.metadata.name}`);
        if (obj.kind === 'DaemonSet') probePod = { name: `${obj.metadata.name}-x7k2p`, namespace: obj.metadata.namespace!, ip: '192.168.1.10', nodeName: o.pods[0]!.nodeName, serviceAccount: obj.metadata.name, labels: obj.spec!.selector!.matchLabels, containers: ['shadow-probe'] };
        send(201, obj);
      });
      return;
    }
    if (req.method === 'DELETE') {
      const parts = p.split('/');
      deleted.push(`${parts[parts.length - 2]}/${parts[parts.length - 1]}`);
      return send(200, { kind: 'Status', status: 'Success' });
    }
    if (p === '/api/v1/nodes') {
      if (o.forbidNodes) return send(403, { kind: 'Status', code: 403, reason: 'Forbidden', message: 'nodes is forbidden: User "dev" cannot list resource "nodes"' });
      // every node of the pods, plus one that runs none of them
      const names = [...new Set(o.pods.map((x) => x.nodeName)), 'node-z'];
      return send(200, { items: names.map((n, i) => ({ metadata: { name: n }, status: { addresses: [{ type: 'Hostname', address: n }, { type: 'InternalIP', address: `172.18.0.${i + 2}` }] } })) });
    }
    let m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/daemonsets\/([^/]+)$/.exec(p);
    if (m) return send(200, { metadata: { name: m[2] }, spec: { selector: { matchLabels: probePod?.labels ?? {} } }, status: { desiredNumberScheduled: 1, numberReady: o.notReady ? 0 : 1 } });
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(p);
    if (m) {
      if (probePod && m[1] === probePod.namespace) return send(200, { items: [podJson(probePod, !o.notReady, o.notReady)] });
      return send(200, { items: o.pods.filter((x) => x.namespace === m![1]).map((x) => podJson(x)) });
    }
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(p);
    if (m) {
      logRequests.push(`${m[2]}${url.search}`);
      if (url.searchParams.get('follow') !== 'true') return send(400, { message: 'test fake: follow expected' });
      if (probePod && m[2] === probePod.name) return stream(res, o.probeLog);
      if (url.searchParams.get('container') === 'istio-proxy' && o.accessLogs[m[2]!] !== undefined) return stream(res, o.accessLogs[m[2]!]!);
      return send(404, { kind: 'Status', code: 404, message: `pods "${m[2]}" not found` });
    }
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/:]+):15090\/proxy\/stats\/prometheus$/.exec(p);
    if (m) {
      proxyRequests.push(m[2]!);
      const n = scrapes.get(m[2]!) ?? 0;
      scrapes.set(m[2]!, n + 1);
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(o.metrics(m[2]!, n));
    }
    send(404, { kind: 'Status', code: 404, message: `test fake: no route ${req.method} ${p}` });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'migrate-fake-shadow-')), 'kubeconfig');
  writeFileSync(kubeconfig, ['apiVersion: v1', 'kind: Config', 'current-context: fake', 'clusters:', '- name: fake', '  cluster:', `    server: ${url}`, '    insecure-skip-tls-verify: true', 'contexts:', '- name: fake', '  context: {cluster: fake, user: dev}', 'users:', '- name: dev', '  user: {token: fake-token}', ''].join('\n'));
  return {
    url, kubeconfig, created, deleted, logRequests, proxyRequests, openStreams: () => open.size,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
