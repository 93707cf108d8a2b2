// `migrate shadow --cluster` manifests against the real apiserver of the test cluster: every object the
// command renders is accepted (created for real; the DaemonSet is read back), and the least-privilege choices
// hold: a tokenless ServiceAccount, only the nodes of the target pods, dropped capabilities, resource limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeRest, type KubeObject } from '../cluster/kube-rest.js';
import { getTestCluster } from '../support/cluster.js';
import { clusterManifests, PROBE_CAPABILITIES, PROBE_CGROUP_ROOT, PROBE_NAME } from '../../src/adapters/shadow/cluster.js';
import { clusterProbeConfig } from '../../src/workflows/shadow-cluster.js';
import { readPlanDir } from '../../src/adapters/shadow/plan-reader.js';
import { packagePath } from '../../src/adapters/fs/package.js';

test('the rendered DaemonSet, ServiceAccount, ConfigMap and Roles are accepted by the real apiserver', async () => {
  const plan = readPlanDir(packagePath('fixtures', 'shadow', 'lossless', 'plan'));
  const probeNs = `migrate-shadow-${process.pid}`;
  const pods = [{ name: 'reviews', namespace: 'bookinfo', ip: '10.1.0.12', uid: '5f1c2d9e-0b7a-4c1e-9f3a-2b6d8e4a1c70', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews' }, sidecar: true }];
  const probeConfig = clusterProbeConfig(plan, 'bookinfo', pods);
  const docs = clusterManifests({ namespace: 'bookinfo', image: 'ghcr.io/migrate/shadow-probe:0.1.0', plan, outDir: '', nodes: ['node-b', 'node-a'], probeNamespace: probeNs, probeConfig }) as unknown as KubeObject[];
  const rest = await KubeRest.fromKubeconfig(getTestCluster().adminKubeconfig);
  try {
    await rest.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bookinfo' } });
    for (const d of docs) await rest.apply(d);
    const ds = await rest.request<{ spec: { template: { spec: Record<string, unknown> } } }>('GET', `/apis/apps/v1/namespaces/${probeNs}/daemonsets/${PROBE_NAME}`);
    const pod = ds.spec.template.spec as { automountServiceAccountToken: boolean; hostPID?: boolean; hostNetwork?: boolean; affinity: unknown; containers: { args: string[]; securityContext: { privileged: boolean; capabilities: { drop: string[]; add: string[] } }; resources: { limits: Record<string, string> }; volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] }[]; volumes: { name: string; hostPath?: { path: string } }[] };
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepEqual((pod.affinity as { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchFields: { values: string[] }[] }[] } } }).nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.map((t) => t.matchFields[0]!.values[0]), ['node-a', 'node-b']);
    const c = pod.containers[0]!;
    assert.equal(c.securityContext.privileged, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.deepEqual(c.securityContext.capabilities.add, PROBE_CAPABILITIES);
    assert.ok(c.resources.limits.cpu && c.resources.limits.memory);
    // Pod discovery on the node: host pid namespace (cgroup.procs, /proc/<pid>/ns/net), the host's cgroup tree
    // at --cgroup-root; no host network and no /run/netns (pods are entered through /proc).
    assert.equal(pod.hostPID, true);
    assert.notEqual(pod.hostNetwork, true);
    assert.deepEqual(pod.volumes.map((v) => v.name).sort(), ['bpffs', 'cgroup', 'plan', 'run', 'tracefs']);
    assert.equal(pod.volumes.find((v) => v.name === 'cgroup')!.hostPath!.path, '/sys/fs/cgroup');
    const cgMount = c.volumeMounts.find((m) => m.name === 'cgroup')!;
    assert.equal(cgMount.mountPath, PROBE_CGROUP_ROOT);
    assert.equal(c.args[c.args.indexOf('--cgroup-root') + 1], PROBE_CGROUP_ROOT);
    assert.equal(c.args[c.args.indexOf('--proc-root') + 1], '/proc');
    assert.ok(Number(c.args[c.args.indexOf('--rediscover') + 1]) > 0, 'rediscovers periodically');
    const sa = await rest.request<{ automountServiceAccountToken: boolean }>('GET', `/api/v1/namespaces/${probeNs}/serviceaccounts/${PROBE_NAME}`);
    assert.equal(sa.automountServiceAccountToken, false);
    const cm = await rest.request<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${probeNs}/configmaps/${PROBE_NAME}-plan`);
    assert.match(cm.data['policies.yaml']!, /istio-ratings-viewer/);
    const cfgPods = (JSON.parse(cm.data['probe.json']!) as { pods: Record<string, unknown>[] }).pods;
    assert.deepEqual(cfgPods.map((p) => Object.keys(p).sort()), [['identity', 'ip', 'name', 'sidecar', 'uid']]);
    assert.equal(cfgPods[0]!.sidecar, pods[0]!.sidecar, 'the probe learns whether the pod has a sidecar (its app leg)');
    assert.equal(cfgPods[0]!.uid, pods[0]!.uid);
  } finally {
    await rest.request('DELETE', `/api/v1/namespaces/${probeNs}`).catch(() => undefined);
    rest.close();
  }
});
