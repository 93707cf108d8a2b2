// `migrate shadow --cluster` manifests against the real apiserver of the test cluster: every object the
// command renders is accepted (created for real; the DaemonSet is read back), and the least-privilege choices
// hold: a tokenless ServiceAccount, only the nodes of the target pods, dropped capabilities, resource limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeRest, type KubeObject } from '../cluster/kube-rest.js';
import { getTestCluster } from '../support/cluster.js';
import { clusterManifests, PROBE_NAME } from '../../src/adapters/shadow/cluster.js';
import { readPlanDir } from '../../src/adapters/shadow/plan-reader.js';
import { packagePath } from '../../src/adapters/fs/package.js';

test('the rendered DaemonSet, ServiceAccount, ConfigMap and Roles are accepted by the real apiserver', async () => {
  const plan = readPlanDir(packagePath('fixtures', 'shadow', 'lossless', 'plan'));
  const probeNs = `migrate-shadow-${process.pid}`;
  const docs = clusterManifests({ namespace: 'bookinfo', image: 'ghcr.io/migrate/shadow-probe:0.1.0', plan, outDir: '', nodes: ['node-b', 'node-a'], probeNamespace: probeNs }) as unknown as KubeObject[];
  const rest = await KubeRest.fromKubeconfig(getTestCluster().adminKubeconfig);
  try {
    await rest.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bookinfo' } });
    for (const d of docs) await rest.apply(d);
    const ds = await rest.request<{ spec: { template: { spec: Record<string, unknown> } } }>('GET', `/apis/apps/v1/namespaces/${probeNs}/daemonsets/${PROBE_NAME}`);
    const pod = ds.spec.template.spec as { automountServiceAccountToken: boolean; affinity: unknown; containers: { securityContext: { privileged: boolean; capabilities: { drop: string[]; add: string[] } }; resources: { limits: Record<string, string> } }[]; volumes: { name: string }[] };
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepEqual((pod.affinity as { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchFields: { values: string[] }[] }[] } } }).nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.map((t) => t.matchFields[0]!.values[0]), ['node-a', 'node-b']);
    const c = pod.containers[0]!;
    assert.equal(c.securityContext.privileged, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.ok(c.resources.limits.cpu && c.resources.limits.memory);
    assert.deepEqual(pod.volumes.map((v) => v.name).sort(), ['bpffs', 'cgroup', 'netns', 'plan', 'run', 'tracefs']);
    const sa = await rest.request<{ automountServiceAccountToken: boolean }>('GET', `/api/v1/namespaces/${probeNs}/serviceaccounts/${PROBE_NAME}`);
    assert.equal(sa.automountServiceAccountToken, false);
    const cm = await rest.request<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${probeNs}/configmaps/${PROBE_NAME}-plan`);
    assert.match(cm.data['policies.yaml']!, /istio-ratings-viewer/);
  } finally {
    await rest.request('DELETE', `/api/v1/namespaces/${probeNs}`).catch(() => undefined);
    rest.close();
  }
});
