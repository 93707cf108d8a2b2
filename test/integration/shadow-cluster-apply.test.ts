// `migrate shadow --cluster` applies and removes its objects through the REAL apiserver of the test cluster
// (ApiKubeWriter, strict field validation): exactly the rendered objects are created, the DaemonSet may run
// only on the target pods' nodes, cleanup deletes them all (after a normal stop and after a failure), --keep
// keeps them. There is no kubelet or container runtime here: no probe pod ever runs, so readiness, pods/log and
// the pod proxy are exercised against a fake API server in test/commands/shadow-cluster-api.test.ts; one test
// writes a crash-looping pod's status itself, as kubelet would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeRest } from '../cluster/kube-rest.js';
import { getTestCluster } from '../support/cluster.js';
import { PROBE_NAME } from '../../src/adapters/shadow/cluster.js';
import { ClusterProbeRunner, istioMetricsPath } from '../../src/adapters/shadow/cluster-run.js';
import { ApiKubeWriter, collectionPath } from '../../src/adapters/kube/writer.js';
import { loadKubeAccess } from '../../src/adapters/kube/config.js';
import { clusterTargets } from '../../src/workflows/shadow-cluster.js';
import { readPlanDir } from '../../src/adapters/shadow/plan-reader.js';
import { packagePath } from '../../src/adapters/fs/package.js';
import { compilePlan } from '../../src/core/shadow/probe-config.js';
import type { OwnedObject } from '../../src/ports/kube-writer.js';
import { MigrateError } from '../../src/core/errors.js';

const plan = readPlanDir(packagePath('fixtures', 'shadow', 'lossless', 'plan'));

async function setup(tag: string) {
  const c = getTestCluster();
  const rest = await KubeRest.fromKubeconfig(c.adminKubeconfig);
  const target = `shadow-tgt-${tag}-${process.pid}`;
  const probeNs = `shadow-probe-${tag}-${process.pid}`;
  await rest.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: target } });
  await rest.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: target } });
  // Three target pods on two nodes (bound by nodeName: no scheduler here); a fourth node runs nothing of ours.
  const pods = [['productpage', 'node-a', '10.1.0.11'], ['reviews', 'node-b', '10.1.0.12'], ['ratings', 'node-a', '10.1.0.14']] as const;
  // ratings has a native sidecar (Istio >= 1.19: istio-proxy as an init container with restartPolicy Always)
  const proxy = { name: 'istio-proxy', image: 'istio/proxyv2:1.24' };
  for (const [name, node, ip] of pods) {
    const containers = name === 'ratings' ? { containers: [{ name: 'app', image: 'example/app:1' }], initContainers: [{ ...proxy, restartPolicy: 'Always' }] }
      : { containers: [{ name: 'app', image: 'example/app:1' }, proxy] };
    // reviews leaves a port to its app (Istio's annotation): the diff judges that port as traffic no sidecar handles
    const annotations = name === 'reviews' ? { annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '9081' } } : {};
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: target, labels: { app: name }, ...annotations }, spec: { nodeName: node, automountServiceAccountToken: false, ...containers } };
    await rest.apply(pod);
    await rest.mergePatch(pod, { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }, 'status');
  }
  const kube = new ApiKubeWriter(loadKubeAccess({ kubeconfig: c.adminKubeconfig }), 100);
  const targets = await clusterTargets(kube, target, istioMetricsPath);
  const config = compilePlan(plan.manifests.filter((m) => m.metadata.namespace === 'bookinfo'), targets.pods.map((p) => ({ ...p, namespace: 'bookinfo' }))).config;
  const exists = async (o: OwnedObject) => {
    try { await rest.request('GET', `${collectionPath(o)}/${o.metadata.name}`); return true; } catch (e) { if (/404/.test((e as Error).message)) return false; throw e; }
  };
  const done = async () => { await rest.request('DELETE', `/api/v1/namespaces/${target}`).catch(() => undefined); await rest.request('DELETE', `/api/v1/namespaces/${probeNs}`).catch(() => undefined); rest.close(); };
  return { rest, kube, target, probeNs, targets, config, exists, done };
}

test('shadow --cluster: apply creates exactly the rendered objects (strict validation), scheduled only on the target pods\' nodes; the probe never becomes ready (no kubelet here), so the run fails with MIGRATE_SHADOW_NOT_READY and cleanup deletes them all', async () => {
  const s = await setup('fail');
  try {
    assert.deepEqual(s.targets.nodes, ['node-a', 'node-b']);
    assert.deepEqual(s.targets.pods.map((p) => [p.name, p.ip, p.sidecar]).sort(), [['productpage', '10.1.0.11', true], ['ratings', '10.1.0.14', true], ['reviews', '10.1.0.12', true]]);
    assert.deepEqual(s.targets.pods.map((p) => [p.name, p.inbound]).sort(), [['productpage', undefined], ['ratings', undefined], ['reviews', { include: '*', exclude: [9081] }]]);
    const lines: string[] = [];
    const runner = new ClusterProbeRunner(s.kube, { namespace: s.target, image: 'ghcr.io/migrate/shadow-probe:0.1.0', plan, nodes: s.targets.nodes, probeNamespace: s.probeNs, keep: false, readyTimeoutMs: 1500, log: (l) => lines.push(l) });
    const rendered = runner.objects(s.config);
    // Observe the objects while they exist: wrap create to check each one after the apiserver accepted it.
    const seen: string[] = [];
    const create = s.kube.create.bind(s.kube);
    s.kube.create = async (o) => { await create(o); assert.ok(await s.exists(o), `${o.kind}/${o.metadata.name} created`); seen.push(`${o.kind}/${o.metadata.name}`); };
    await assert.rejects(runner.start(s.config, () => {}), (e: unknown) => e instanceof MigrateError && e.code === 'MIGRATE_SHADOW_NOT_READY' && /0\/0 ready|not observed/.test(e.message) && e.object === `DaemonSet/${s.probeNs}/${PROBE_NAME}`);
    assert.deepEqual(seen, rendered.map((o) => `${o.kind}/${o.metadata.name}`));
    assert.deepEqual(runner.created.map((o) => o.kind), ['Namespace', 'ServiceAccount', 'ConfigMap', 'DaemonSet', 'Role', 'Role']);
    // Cleanup after the failure: none of the namespaced objects is left (the namespace itself may stay
    // Terminating: there is no namespace controller in this control plane to finish it).
    for (const o of rendered.filter((x) => x.kind !== 'Namespace')) assert.equal(await s.exists(o), false, `${o.kind}/${o.metadata.name} deleted`);
    const nsObj = await s.rest.request<{ metadata: { deletionTimestamp?: string } }>('GET', `/api/v1/namespaces/${s.probeNs}`).catch(() => null);
    assert.ok(nsObj === null || nsObj.metadata.deletionTimestamp, 'probe namespace deleted or terminating');
  } finally { await s.done(); }
});

test('shadow --cluster: a probe pod that keeps exiting, as kubelet reports it through the REAL apiserver (statuses written here, strict validation), fails with MIGRATE_SHADOW_PROBE_FAILED carrying the probe\'s words', async () => {
  // No kubelet here: the test writes what kubelet would, through the status subresources, with strict field
  // validation, so the field names the CLI reads (lastState.terminated.message, restartCount) are the API's own.
  const s = await setup('crash');
  try {
    const words = 'shadow-probe: failed to start: the load needs ~57 MiB ... Raise the container\'s memory limit to at least 60 MiB, or lower settings.ctFlows / settings.inflightSlots';
    const runner = new ClusterProbeRunner(s.kube, { namespace: s.target, image: 'ghcr.io/migrate/shadow-probe:0.1.0', plan, nodes: s.targets.nodes, probeNamespace: s.probeNs, keep: false, readyTimeoutMs: 20_000, log: () => {} });
    const create = s.kube.create.bind(s.kube);
    s.kube.create = async (o) => {
      await create(o);
      if (o.kind !== 'DaemonSet') return;
      const strict = (path: string, body: unknown) => s.rest.request('PATCH', `${path}?fieldValidation=Strict`, body, 'application/merge-patch+json');
      await strict(`/apis/apps/v1/namespaces/${s.probeNs}/daemonsets/${PROBE_NAME}/status`, { status: { currentNumberScheduled: 1, desiredNumberScheduled: 1, numberMisscheduled: 0, numberReady: 0 } });
      const labels = (o as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${PROBE_NAME}-crash`, namespace: s.probeNs, labels }, spec: { nodeName: 'node-a', containers: [{ name: 'shadow-probe', image: 'ghcr.io/migrate/shadow-probe:0.1.0', terminationMessagePolicy: 'FallbackToLogsOnError' }] } };
      await s.rest.apply(pod);
      await strict(`/api/v1/namespaces/${s.probeNs}/pods/${pod.metadata.name}/status`, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{
        name: 'shadow-probe', ready: false, restartCount: 2, image: 'ghcr.io/migrate/shadow-probe:0.1.0', imageID: '',
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s restarting failed container=shadow-probe' } },
        lastState: { terminated: { exitCode: 2, reason: 'Error', message: `libbpf: an earlier line\n${words}\n` } },
      }] } });
    };
    const t0 = Date.now();
    await assert.rejects(runner.start(s.config, () => {}), (e: unknown) => {
      assert.ok(e instanceof MigrateError, String(e));
      assert.equal(e.code, 'MIGRATE_SHADOW_PROBE_FAILED', e.message);
      assert.equal(e.object, `Pod/${s.probeNs}/${PROBE_NAME}-crash`);
      assert.ok(e.message.endsWith(`exit 2 (Error): ${words}`), e.message);
      return true;
    });
    assert.ok(Date.now() - t0 < 15_000, 'reported at the second failed restart, not at --ready-timeout');
    assert.equal(await s.exists(runner.objects(s.config).find((o) => o.kind === 'DaemonSet')!), false, 'cleanup deleted the DaemonSet');
  } finally { await s.done(); }
});

test('shadow --cluster: the DaemonSet read back from the apiserver has node affinity on exactly the target pods\' nodes, and --keep leaves every object in place', async () => {
  const s = await setup('keep');
  try {
    const runner = new ClusterProbeRunner(s.kube, { namespace: s.target, image: 'ghcr.io/migrate/shadow-probe:0.1.0', plan, nodes: s.targets.nodes, probeNamespace: s.probeNs, keep: true, readyTimeoutMs: 500 });
    await assert.rejects(runner.start(s.config, () => {}), /not ready within/);
    for (const o of runner.objects(s.config)) assert.equal(await s.exists(o), true, `${o.kind}/${o.metadata.name} kept`);
    const ds = await s.rest.request<{ spec: { template: { spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchFields: { values: string[] }[] }[] } } } } } } }>('GET', `/apis/apps/v1/namespaces/${s.probeNs}/daemonsets/${PROBE_NAME}`);
    assert.deepEqual(ds.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.flatMap((t) => t.matchFields.flatMap((m) => m.values)), ['node-a', 'node-b']);
    const cm = await s.rest.request<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${s.probeNs}/configmaps/${PROBE_NAME}-plan`);
    // One config for every node: pods named by IP and the UID the apiserver gave them, nothing node-local.
    const podsIn = (JSON.parse(cm.data['probe.json']!) as { pods: Record<string, unknown>[] }).pods;
    const live = await s.rest.request<{ items: { metadata: { name: string; uid: string }; status: { podIP: string } }[] }>('GET', `/api/v1/namespaces/${s.target}/pods`);
    assert.deepEqual(podsIn.map((p) => [p.name, p.ip, p.uid]).sort(), live.items.map((p) => [p.metadata.name, p.status.podIP, p.metadata.uid]).sort());
    assert.ok(live.items.every((p) => /^[0-9a-f-]{36}$/.test(p.metadata.uid)), 'the apiserver assigned UIDs');
    assert.ok(podsIn.every((p) => p.netns === undefined && p.ifname === undefined && p.cgroup === undefined), 'no node-local attachment names');
    // A second run meets the kept objects: a named conflict, not a silent adoption.
    const again = new ClusterProbeRunner(s.kube, { namespace: s.target, image: 'x', plan, nodes: s.targets.nodes, probeNamespace: s.probeNs, keep: false, readyTimeoutMs: 500 });
    await assert.rejects(again.start(s.config, () => {}), (e: unknown) => e instanceof MigrateError && e.code === 'MIGRATE_SHADOW_EXISTS' && e.object === `ServiceAccount/${s.probeNs}/${PROBE_NAME}`);
    assert.equal(await s.exists(runner.objects(s.config)[1]!), true, 'the conflicting run deleted nothing it did not create');
  } finally { await s.done(); }
});

test('shadow --cluster: a user without RBAC to create DaemonSets gets MIGRATE_SHADOW_FORBIDDEN naming the object, and nothing is left behind', async () => {
  const c = getTestCluster();
  const s = await setup('rbac');
  try {
    const ro = new ApiKubeWriter(loadKubeAccess({ kubeconfig: c.readonlyKubeconfig }), 100);
    const runner = new ClusterProbeRunner(ro, { namespace: s.target, image: 'x', plan, nodes: s.targets.nodes, probeNamespace: s.probeNs, keep: false, readyTimeoutMs: 500 });
    await assert.rejects(runner.start(s.config, () => {}), (e: unknown) => e instanceof MigrateError && e.code === 'MIGRATE_SHADOW_FORBIDDEN' && e.object === `Namespace/${s.probeNs}` && /auth can-i/.test(e.next ?? ''));
    assert.deepEqual(runner.created, []);
  } finally { await s.done(); }
});

test('shadow --cluster: probe records and sidecar telemetry over pods/log and the pod proxy of real probe pods', (t) => {
  t.skip('no kubelet or container runtime in the test cluster (kube-apiserver + etcd only): no probe pod runs; collection is tested against the fake API server in test/commands/shadow-cluster-api.test.ts');
});
