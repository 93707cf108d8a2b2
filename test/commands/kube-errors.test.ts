// Cluster access through the real ClusterReader against a FAKE API server on loopback (test/support/fake-apiserver):
// pagination, relist on 410, retries, and every error case of the issue with its code and message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApiServer } from '../support/fake-apiserver.js';
import { runCli } from '../support/cli.js';
import { inventoryOfSnapshot } from '../support/inventory.js';
import { SnapshotReader } from '../../src/adapters/snapshot/reader.js';
import { ClusterReader } from '../../src/adapters/kube/reader.js';
import { loadKubeAccess } from '../../src/adapters/kube/config.js';
import { loadKernelMatrix } from '../../src/adapters/fs/kernel-matrix.js';
import { runInventory } from '../../src/workflows/inventory.js';
import { packagePath } from '../../src/adapters/fs/package.js';
import type { KubeObject } from '../../src/core/model/k8s.js';
import { CORE_TYPES } from '../../src/core/model/resources.js';

const FAST = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 5000 };

async function shopObjects(): Promise<KubeObject[]> {
  const r = new SnapshotReader(packagePath('fixtures', 'online-shop', 'snapshot'));
  const all: KubeObject[] = [];
  const types = [...Object.values(CORE_TYPES), ...(await r.discover(['security.istio.io', 'networking.istio.io', 'telemetry.istio.io', 'metrics.k8s.io'])).types];
  for (const t of types) for await (const o of r.list(t)) all.push(structuredClone(o));
  return all;
}

function liveInventory(kubeconfig: string, pageSize = 500, namespaces: string[] = []) {
  return runInventory({
    reader: new ClusterReader(loadKubeAccess({ kubeconfig }), { pageSize, retry: FAST }),
    namespaces, rootNamespace: 'istio-system', kernelMatrix: loadKernelMatrix(),
    agentPerNode: { cpuRequestMillicores: 200, memoryRequestBytes: 512 * 1024 * 1024 },
  });
}

const strip = <T extends { summary: { source: string } }>(r: T) => ({ ...r, summary: { ...r.summary, source: '' } });

test('live mode through paginated lists equals snapshot mode, even when a continue token expires', async () => {
  const api = await startFakeApiServer(await shopObjects(), { expireContinue: true });
  try {
    const live = await liveInventory(api.kubeconfig, 3);
    const offline = await inventoryOfSnapshot(packagePath('fixtures', 'online-shop', 'snapshot'));
    assert.deepEqual(strip(live), strip(offline));
    assert.ok(api.requests.some((p) => p.includes('continue=')), 'paged with continue tokens');
    assert.ok(api.expiredPath, 'a continue token expired');
    assert.equal(api.requests.filter((p) => p === `${api.expiredPath}?limit=3`).length, 2, 'that list started over after the 410');
  } finally { await api.close(); }
});

test('RBAC forbidden names verb, resource and the shipped ClusterRole', async () => {
  const api = await startFakeApiServer(await shopObjects(), { forbid: ['/api/v1/pods'] });
  try {
    await assert.rejects(liveInventory(api.kubeconfig), (e: Error & { code?: string; next?: string; exitCode?: number }) => {
      assert.equal(e.code, 'MIGRATE_RBAC_FORBIDDEN');
      assert.match(e.message, /user "reader" may not list pods at cluster scope/);
      assert.match(e.next ?? '', /deploy\/rbac\.yaml/);
      assert.equal(e.exitCode, 3);
      return true;
    });
  } finally { await api.close(); }
});

test('Istio CRDs not installed: say so and continue with core resources', async () => {
  const api = await startFakeApiServer(await shopObjects(), { unservedGroups: ['security.istio.io', 'networking.istio.io', 'telemetry.istio.io', 'extensions.istio.io'] });
  try {
    const r = await liveInventory(api.kubeconfig);
    assert.deepEqual(r.summary.istioResources, {});
    assert.equal(r.summary.workloads, 17);
    assert.ok(r.findings.some((f) => f.code === 'MIG_ISTIO_CRDS_MISSING' && f.level === 'Warning'));
  } finally { await api.close(); }
});

test('429 and 5xx bursts are retried with backoff; a persistent 503 is a clear error', async () => {
  const api = await startFakeApiServer(await shopObjects(), { burst: { status: 429, count: 3 } });
  try {
    const r = await liveInventory(api.kubeconfig);
    assert.equal(r.summary.pods, 21);
    api.faults.burst = { status: 503, count: 10_000 };
    await assert.rejects(liveInventory(api.kubeconfig), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'MIGRATE_CLUSTER_ERROR');
      assert.match(e.message, /after 4 attempts \(HTTP 503/);
      return true;
    });
  } finally { await api.close(); }
});

test('rejected credentials: MIGRATE_AUTH_FAILED with exit code 3, through the CLI', async () => {
  const api = await startFakeApiServer([], { unauthorized: true });
  try {
    const r = await runCli(['inventory', '--kubeconfig', api.kubeconfig]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /error \[MIGRATE_AUTH_FAILED\] \(user\/reader\) .*401 Unauthorized/);
    assert.match(r.stderr, /next: .*log in again/);
    assert.equal(r.stdout, '');
  } finally { await api.close(); }
});

test('server unreachable: MIGRATE_CLUSTER_UNREACHABLE, and --json prints the error object', async () => {
  const api = await startFakeApiServer([]);
  const kubeconfig = api.kubeconfig;
  await api.close(); // nothing listens on that port now
  const r = await runCli(['inventory', '--kubeconfig', kubeconfig, '--json']);
  assert.equal(r.code, 3);
  const out = JSON.parse(r.stdout);
  assert.equal(out.error.code, 'MIGRATE_CLUSTER_UNREACHABLE');
  assert.match(out.error.message, /cannot reach the API server at http:\/\/127\.0\.0\.1:\d+: connection refused/);
  assert.equal(out.error.class, 'cluster');
});

test('missing credentials, unknown context, missing kubeconfig', async () => {
  const api = await startFakeApiServer([]);
  try {
    assert.throws(() => loadKubeAccess({ kubeconfig: api.kubeconfig, context: 'other' }), (e: Error & { code?: string }) => e.code === 'MIGRATE_AUTH_MISSING' && /user "nobody"/.test(e.message));
    assert.throws(() => loadKubeAccess({ kubeconfig: api.kubeconfig, context: 'prod' }), (e: Error & { code?: string }) => e.code === 'MIGRATE_CONTEXT_NOT_FOUND' && /have: fake, other/.test(e.message));
    assert.throws(() => loadKubeAccess({ kubeconfig: '/nonexistent/kubeconfig' }), (e: Error & { code?: string }) => e.code === 'MIGRATE_KUBECONFIG_NOT_FOUND');
    assert.throws(() => loadKubeAccess({ env: { HOME: '/nonexistent' } }), (e: Error & { code?: string }) => e.code === 'MIGRATE_KUBECONFIG_NOT_FOUND' && /no cluster configuration/.test(e.message));
    // KUBECONFIG is honoured like kubectl does.
    assert.equal(loadKubeAccess({ env: { KUBECONFIG: api.kubeconfig } }).context, 'fake');
    const r = await runCli(['inventory', '--kubeconfig', api.kubeconfig, '--context', 'prod']);
    assert.equal(r.code, 2, 'a wrong context is a user error');
  } finally { await api.close(); }
});

test('an expired client certificate: MIGRATE_AUTH_EXPIRED before any request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'migrate-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=alice', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
  const kc = join(dir, 'kubeconfig');
  writeFileSync(kc, `apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: c\n  context: {cluster: c, user: alice}\nusers:\n- name: alice\n  user: {client-certificate: ${join(dir, 'c.pem')}, client-key: ${join(dir, 'k.pem')}}\n`);
  assert.equal(loadKubeAccess({ kubeconfig: kc }).user, 'alice', 'valid today');
  const later = new Date(Date.now() + 3 * 86400_000);
  assert.throws(() => loadKubeAccess({ kubeconfig: kc, now: later }), (e: Error & { code?: string }) => e.code === 'MIGRATE_AUTH_EXPIRED' && /client certificate of user "alice" expired/.test(e.message));
  assert.equal(existsSync(kc), true);
});

test('in-cluster service account is used when there is no kubeconfig', async () => {
  const root = mkdtempSync(join(tmpdir(), 'migrate-incluster-'));
  const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  execFileSync('mkdir', ['-p', sa]);
  writeFileSync(join(sa, 'token'), 'sa-token');
  writeFileSync(join(sa, 'namespace'), 'migrate');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=ca', '-keyout', join(root, 'k.pem'), '-out', join(sa, 'ca.crt')], { stdio: 'ignore' });
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
  process.env.KUBERNETES_SERVICE_PORT = '443';
  try {
    const a = loadKubeAccess({ env: { HOME: '/nonexistent', KUBERNETES_SERVICE_HOST: '10.96.0.1' }, inClusterRoot: root });
    assert.equal(a.server, 'https://10.96.0.1:443');
  } finally {
    if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST; else process.env.KUBERNETES_SERVICE_HOST = saved.host;
    if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT; else process.env.KUBERNETES_SERVICE_PORT = saved.port;
  }
});
