// The test control plane itself: the Cilium CRDs are installed with their schemas and the real apiserver enforces
// them (a CiliumNetworkPolicy that violates the schema is rejected with 422, a valid one is stored); the Istio
// CRDs are served; the read-only user is denied exactly what rbac.ts says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeHttpError, KubeRest, type KubeObject } from '../cluster/kube-rest.js';
import { READONLY_DENIED_RESOURCE } from '../cluster/rbac.js';
import { clusterStateDir, getTestCluster, REPO_ROOT, type TestCluster } from '../support/cluster.js';

const NS = 'crd-validation';

async function withAdmin<T>(fn: (rest: KubeRest) => Promise<T>): Promise<T> {
  const rest = await KubeRest.fromKubeconfig(getTestCluster().adminKubeconfig);
  try {
    return await fn(rest);
  } finally {
    rest.close();
  }
}

async function ensureNamespace(rest: KubeRest): Promise<void> {
  await rest.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
}

const cnp = (name: string, spec: unknown): KubeObject => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumNetworkPolicy',
  metadata: { name, namespace: NS },
  spec,
});

test('a schema-valid CiliumNetworkPolicy is stored by the real apiserver', async () => {
  await withAdmin(async (rest) => {
    await ensureNamespace(rest);
    const valid = cnp('allow-frontend', {
      endpointSelector: { matchLabels: { app: 'reviews' } },
      ingress: [
        {
          fromEndpoints: [{ matchLabels: { app: 'productpage' } }],
          toPorts: [{ ports: [{ port: '9080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/reviews/.*' }] } }],
        },
      ],
    });
    await rest.apply(valid);
    const back = await rest.request<KubeObject>('GET', await rest.pathFor(valid));
    assert.equal((back.spec as { ingress: unknown[] }).ingress.length, 1);
  });
});

test('a CiliumNetworkPolicy that violates the CRD schema is rejected with 422 naming the field', async () => {
  await withAdmin(async (rest) => {
    await ensureNamespace(rest);
    // protocol must be one of TCP/UDP/SCTP/ICMP/ICMPv6/VRRP/IGMP/ANY, and port a string matching the port pattern.
    const bad = cnp('bad-protocol', {
      endpointSelector: { matchLabels: { app: 'reviews' } },
      ingress: [{ toPorts: [{ ports: [{ port: '9080', protocol: 'HTTP' }] }] }],
    });
    const err = await rest.create(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubeHttpError, `expected the apiserver to reject it, got ${String(err)}`);
    assert.equal(err.status, 422);
    const status = JSON.parse(err.body) as { reason: string; details: { causes: { reason: string; field: string; message: string }[] } };
    assert.equal(status.reason, 'Invalid');
    assert.deepEqual(
      status.details.causes.map((c) => [c.reason, c.field]),
      [['FieldValueNotSupported', 'spec.ingress[0].toPorts[0].ports[0].protocol']],
    );
    assert.match(status.details.causes[0]!.message, /Unsupported value: "HTTP"/);
  });
});

test('a CiliumClusterwideNetworkPolicy whose endpointSelector is not an object is rejected (type validation)', async () => {
  await withAdmin(async (rest) => {
    const bad: KubeObject = {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumClusterwideNetworkPolicy',
      metadata: { name: 'bad-selector' },
      // endpointSelector must be an object; a string fails type validation.
      spec: { endpointSelector: 'app=reviews' },
    };
    const err = await rest.create(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubeHttpError, `expected a rejection, got ${String(err)}`);
    assert.equal(err.status, 422);
    assert.match(err.body, /endpointSelector/);
  });
});

test('the Istio CRDs are served (AuthorizationPolicy round trip)', async () => {
  await withAdmin(async (rest) => {
    await ensureNamespace(rest);
    const ap: KubeObject = {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'deny-all', namespace: NS },
      spec: {},
    };
    await rest.apply(ap);
    const back = await rest.request<KubeObject>('GET', await rest.pathFor(ap));
    assert.equal(back.metadata.name, 'deny-all');
  });
});

test(`the read-only user may list pods but is forbidden to list ${READONLY_DENIED_RESOURCE}`, async () => {
  const ro = await KubeRest.fromKubeconfig(getTestCluster().readonlyKubeconfig);
  try {
    const pods = await ro.request<{ items: unknown[] }>('GET', '/api/v1/pods?limit=1');
    assert.ok(Array.isArray(pods.items));
    const err = await ro.request('GET', `/api/v1/${READONLY_DENIED_RESOURCE}?limit=1`).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubeHttpError);
    assert.equal(err.status, 403);
    assert.match(err.body, /migrate-readonly/);
  } finally {
    ro.close();
  }
});

test('Gateway API Gateways are served and validated (a listener without a port is rejected)', async () => {
  await withAdmin(async (rest) => {
    await ensureNamespace(rest);
    const gw = (name: string, listener: Record<string, unknown>): KubeObject => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name, namespace: NS, labels: { 'istio.io/waypoint-for': 'service' } },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [listener] },
    });
    await rest.apply(gw('waypoint', { name: 'mesh', port: 15008, protocol: 'HBONE' }));
    const err = await rest.create(gw('no-port', { name: 'mesh', protocol: 'HBONE' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubeHttpError, `expected a rejection, got ${String(err)}`);
    assert.equal(err.status, 422);
    assert.match(err.body, /spec\.listeners\[0\]\.port/);
  });
});

test('starting the cluster again reuses the running one (up.sh is idempotent)', () => {
  const before = getTestCluster();
  const again = spawnSync(join(REPO_ROOT, 'test', 'cluster', 'up.sh'), [], { encoding: 'utf8', env: { ...process.env, MIGRATE_CLUSTER_STATE: clusterStateDir() } });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already running: https:\/\/127\.0\.0\.1:\d+/);
  const after = JSON.parse(readFileSync(join(clusterStateDir(), 'cluster.json'), 'utf8')) as TestCluster;
  assert.equal(after.server, before.server);
  assert.equal(after.apiserverPid, before.apiserverPid);
  process.kill(after.apiserverPid, 0); // still alive
});
