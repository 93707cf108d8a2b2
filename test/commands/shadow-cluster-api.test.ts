// `migrate shadow --cluster` end to end over a FAKE API server (no kubelet in the real test cluster, so no probe
// pod can run there; apply/cleanup against the real apiserver is test/integration/shadow-cluster-apply.test.ts).
// The fake streams the recorded lab run (fixtures/shadow/lossless) through pods/log and the pod proxy; the real
// CLI, adapters and join must yield the same verdict counts as the replay of that recording, create the
// rendered objects, delete them all at the end (or keep them with --keep), and close every stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { runCli } from '../support/cli.js';
import { runMigrate } from '../support/migrate-cli.js';
import { startFakeShadowApi } from '../support/fake-shadow-apiserver.js';
import type { FakeShadowOptions } from '../support/fake-shadow-apiserver.js';
import { packagePath } from '../../src/adapters/fs/package.js';
import { runShadow } from '../../src/workflows/shadow.js';
import { FsShadowStore } from '../../src/adapters/shadow/store.js';
import { renderShadowMarkdown } from '../../src/render/shadow.js';
import { systemClock } from '../../src/ports/clock.js';
import type { ShadowRunMeta } from '../../src/core/shadow/run.js';
import type { ShadowResult } from '../../src/core/shadow/result.js';

const FIX = packagePath('fixtures', 'shadow', 'lossless');
const meta = JSON.parse(readFileSync(join(FIX, 'meta.json'), 'utf8')) as ShadowRunMeta;
const topo = JSON.parse(readFileSync(packagePath('lab', 'topology.json'), 'utf8')) as { pods: { name: string; serviceAccount: string; labels: Record<string, string>; sidecar: boolean }[] };
const EXPECTED_OBJECTS = ['Namespace/migrate-system', 'ServiceAccount/migrate-shadow-probe', 'ConfigMap/migrate-shadow-probe-plan', 'DaemonSet/migrate-shadow-probe', 'Role/migrate-shadow-operator', 'Role/migrate-shadow-reader'];

function options(over: Partial<FakeShadowOptions> = {}): FakeShadowOptions {
  return {
    // The lab's pods as the API would list them, on two nodes.
    pods: meta.pods.map((p, i) => {
      const t = topo.pods.find((x) => x.name === p.name)!;
      return { name: p.name, namespace: 'bookinfo', ip: p.ip, nodeName: i % 2 ? 'node-b' : 'node-a', serviceAccount: t.serviceAccount, labels: t.labels, containers: p.sidecar ? ['app', 'istio-proxy'] : ['app'] };
    }),
    probeLog: readFileSync(join(FIX, 'probe.jsonl'), 'utf8'),
    accessLogs: Object.fromEntries(Object.keys(meta.accessLogs).map((pod) => [pod, readFileSync(join(FIX, 'access', `${pod}.log`), 'utf8')])),
    metrics: (pod, n) => `# TYPE istio_requests_total counter\nistio_requests_total{reporter="destination",source_workload="client",destination_workload="${pod}",response_code="200"} ${n * 5}\n`,
    ...over,
  };
}

test('shadow --cluster over a fake API: probe records (pods/log of the DaemonSet pod) and istio-proxy logs (pods/log, chunked, follow) yield the verdict counts of the recorded run; istio_* scraped through the pod proxy; everything created is deleted', async () => {
  const api = await startFakeShadowApi(options());
  try {
    const results = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const r = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--duration', '3s', '--results', results, '--json'], { MIGRATE_NO_PROGRESS: '1' });
    const replay = await runShadow({ namespace: 'bookinfo', mode: 'replay', store: new FsShadowStore(FIX, false), clock: systemClock, renderMarkdown: renderShadowMarkdown });
    assert.equal(r.code, replay.summary.exitCode, r.stderr);
    const res = JSON.parse(r.stdout) as ShadowResult;
    assert.equal(res.mode, 'cluster');
    assert.deepEqual(res.matrix, replay.matrix);
    const counts = (x: ShadowResult) => { const { envoyRequests, probeRequests, matched, agree, ebpfWouldDeny, ebpfWouldAllow, unmatchedEnvoyOnly, unmatchedProbeOnly, outcome } = x.summary; return { envoyRequests, probeRequests, matched, agree, ebpfWouldDeny, ebpfWouldAllow, unmatchedEnvoyOnly, unmatchedProbeOnly, outcome }; };
    assert.deepEqual(counts(res), counts(replay));
    assert.ok(res.summary.matched >= 100, `matched ${res.summary.matched}`);
    assert.deepEqual(api.created, EXPECTED_OBJECTS);
    assert.deepEqual(api.deleted.sort(), ['configmaps/migrate-shadow-probe-plan', 'daemonsets/migrate-shadow-probe', 'namespaces/migrate-system', 'roles/migrate-shadow-operator', 'roles/migrate-shadow-reader', 'serviceaccounts/migrate-shadow-probe']);
    // One follow stream per sidecar (container=istio-proxy, only new lines) and one for the probe pod.
    assert.ok(api.logRequests.some((l) => l.startsWith('migrate-shadow-probe-x7k2p?') && /container=shadow-probe/.test(l)));
    assert.deepEqual(api.logRequests.filter((l) => /container=istio-proxy/.test(l)).map((l) => l.split('?')[0]).sort(), Object.keys(meta.accessLogs).sort());
    assert.ok(api.logRequests.filter((l) => /container=istio-proxy/.test(l)).every((l) => /tailLines=0/.test(l)));
    // Start and end snapshot per sidecar through the proxy subresource.
    assert.deepEqual([...new Set(api.proxyRequests)].sort(), Object.keys(meta.accessLogs).sort());
    assert.equal(api.proxyRequests.length, 2 * Object.keys(meta.accessLogs).length);
    await new Promise((res2) => setTimeout(res2, 200));
    assert.equal(api.openStreams(), 0, 'every pods/log stream was closed');
  } finally { await api.close(); }
});

test('shadow --cluster --keep over a fake API leaves the objects in place', async () => {
  const api = await startFakeShadowApi(options());
  try {
    const results = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const r = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--keep', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--duration', '1s', '--results', results, '--json'], { MIGRATE_NO_PROGRESS: '1' });
    assert.ok(r.code < 20 && r.code !== 2 && r.code !== 3, r.stderr);
    assert.deepEqual(api.created, EXPECTED_OBJECTS);
    assert.deepEqual(api.deleted, []);
  } finally { await api.close(); }
});

test('shadow --cluster: a probe image that cannot be pulled fails with MIGRATE_SHADOW_IMAGE_PULL naming the DaemonSet, and cleanup still runs', async () => {
  const api = await startFakeShadowApi(options({ notReady: 'ImagePullBackOff' }));
  try {
    const results = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const r = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--ready-timeout', '1500ms', '--results', results, '--json'], { MIGRATE_NO_PROGRESS: '1' });
    assert.equal(r.code, 3, r.stderr + r.stdout);
    const err = (JSON.parse(r.stdout) as { error: { code: string; object: string; next: string; message: string } }).error;
    assert.equal(err.code, 'MIGRATE_SHADOW_IMAGE_PULL');
    assert.equal(err.object, 'DaemonSet/migrate-system/migrate-shadow-probe');
    assert.match(err.message, /ImagePullBackOff/);
    assert.match(err.next, /pull --image/);
    assert.equal(api.deleted.length, EXPECTED_OBJECTS.length);
  } finally { await api.close(); }
});

test('shadow --cluster: a probe that keeps refusing to start (its memory limit) fails with MIGRATE_SHADOW_PROBE_FAILED carrying the probe\'s own words, before --ready-timeout, and cleanup still runs', async () => {
  // what kubelet reports for the DaemonSet's container (FallbackToLogsOnError): the probe's last stderr lines
  const words = 'shadow-probe: failed to start: the load needs ~57 MiB: maps 45.0 MiB (CT 16.0, in-flight 12.0, per-CPU edges 5.2 over 2 CPUs, ring 4.0, other 7.8) + 12 MiB to load, but the memory cgroup /sys/fs/cgroup allows 40 MiB with 2 MiB in use, so the kernel would refuse the maps or OOM-kill the probe while it loads. Raise the container\'s memory limit to at least 60 MiB, or lower settings.ctFlows / settings.inflightSlots';
  const api = await startFakeShadowApi(options({ notReady: 'CrashLoopBackOff', lastTerminated: { exitCode: 2, message: `libbpf: something earlier\n${words}\n`, restartCount: 2 } }));
  try {
    const results = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const t0 = Date.now();
    const r = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--ready-timeout', '60s', '--results', results, '--json'], { MIGRATE_NO_PROGRESS: '1' });
    assert.ok(Date.now() - t0 < 30_000, 'reported without waiting out --ready-timeout');
    assert.equal(r.code, 3, r.stderr + r.stdout);
    const err = (JSON.parse(r.stdout) as { error: { code: string; object: string; next: string; message: string } }).error;
    assert.equal(err.code, 'MIGRATE_SHADOW_PROBE_FAILED');
    assert.equal(err.object, 'Pod/migrate-system/migrate-shadow-probe-x7k2p');
    assert.ok(err.message.includes(`exit 2 (Error): ${words}`), err.message);
    assert.match(err.next, /--probe-memory.*--ct-flows.*logs migrate-shadow-probe-x7k2p --previous/);
    assert.equal(api.deleted.length, EXPECTED_OBJECTS.length);
  } finally { await api.close(); }
});

test('shadow --cluster: RBAC forbidding DaemonSets fails with MIGRATE_SHADOW_FORBIDDEN naming it; what was created before is deleted', async () => {
  const api = await startFakeShadowApi(options({ forbidKind: 'DaemonSet' }));
  try {
    const results = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const r = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--results', results, '--json'], { MIGRATE_NO_PROGRESS: '1' });
    assert.equal(r.code, 3, r.stderr + r.stdout);
    const err = (JSON.parse(r.stdout) as { error: { code: string; object: string; next: string } }).error;
    assert.equal(err.code, 'MIGRATE_SHADOW_FORBIDDEN');
    assert.equal(err.object, 'DaemonSet/migrate-system/migrate-shadow-probe');
    assert.match(err.next, /kubectl auth can-i create daemonsets/);
    assert.deepEqual(api.created, EXPECTED_OBJECTS.slice(0, 3));
    assert.deepEqual(api.deleted, ['configmaps/migrate-shadow-probe-plan', 'serviceaccounts/migrate-shadow-probe', 'namespaces/migrate-system']);
  } finally { await api.close(); }
});

test('shadow --cluster: Ctrl-C (SIGINT) mid-run still writes the result and deletes everything it created', async () => {
  const api = await startFakeShadowApi(options());
  try {
    const results = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const r = await runMigrate(['shadow', '-n', 'bookinfo', '--cluster', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--duration', '10m', '--results', results, '--json'], {
      env: { MIGRATE_NO_PROGRESS: '1' }, timeoutMs: 60_000,
      // Interrupt once the DaemonSet exists (the run is live), by the pid of the CLI this test spawned.
      onSpawn: (pid) => { const t = setInterval(() => { if (api.created.includes('DaemonSet/migrate-shadow-probe') && api.logRequests.length) { clearInterval(t); setTimeout(() => process.kill(pid, 'SIGINT'), 1500); } }, 50); },
    });
    assert.ok(r.status !== null && r.status < 20, `exit ${r.status}: ${r.stderr}`);
    assert.equal((JSON.parse(r.stdout) as ShadowResult).mode, 'cluster');
    assert.equal(api.deleted.length, EXPECTED_OBJECTS.length);
  } finally { await api.close(); }
});

test('shadow --ct-flows refuses a size the probe cannot take, before it reads or creates anything', async () => {
  for (const bad of ['100000', '4096', '2097152']) {
    const r = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--plan', join(FIX, 'plan'), '--kubeconfig', '/nonexistent', '--ct-flows', bad, '--json'], { MIGRATE_NO_PROGRESS: '1' });
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'MIGRATE_BAD_FLAG', r.stdout);
    assert.match(err.message, new RegExp(`--ct-flows ${bad} is not a power of two from 8192 to 1048576`));
  }
});

test('shadow --cluster --render-only reads the target pods (read only), writes the manifests and the probe config naming pods by IP and UID, and creates nothing', async () => {
  const api = await startFakeShadowApi(options());
  try {
    const results = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const r = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--render-only', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--results', results, '--ct-flows', '262144', '--json'], { MIGRATE_NO_PROGRESS: '1' });
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'MIGRATE_SHADOW_RENDERED', r.stderr);
    assert.deepEqual(api.created, [], 'nothing created');
    const cfg = JSON.parse(readFileSync(join(results, 'cluster', 'probe.json'), 'utf8')) as { settings: Record<string, number>; pods: Record<string, unknown>[]; policy: { pod: string; identity: number; ruleId: number }[]; identities: { ip?: string; identity: number }[] };
    assert.equal(cfg.settings.ctFlows, 262144, '--ct-flows sizes the CT of every node\'s probe');
    // The fake API gives each pod a UID; the probe finds the pod on its node by it (and by IP).
    assert.deepEqual(cfg.pods.map((p) => [p.name, p.ip]).sort(), meta.pods.map((p) => [p.name, p.ip]).sort());
    assert.ok(cfg.pods.every((p) => typeof p.uid === 'string' && /^00000000-0000-4000-8000-[0-9a-f]{12}$/.test(p.uid as string)), JSON.stringify(cfg.pods));
    assert.ok(cfg.pods.every((p) => p.netns === undefined && p.cgroup === undefined && p.ifname === undefined));
    assert.ok(cfg.policy.length > 0, 'the plan compiled into policy entries');
    // The pods' nodes (read from the API) are identities of their own; each default-deny pod admits its own node
    // (Cilium's allow-localhost: kubelet probes), not the other node, and nodes running none of the pods are left out.
    assert.deepEqual(cfg.identities.filter((i) => i.ip?.startsWith('172.18.')).map((i) => [i.ip, i.identity]), [['172.18.0.2', 0xf00000], ['172.18.0.3', 0xf00001]]);
    const nodeOf = Object.fromEntries(options().pods.map((p) => [p.name, p.nodeName === 'node-a' ? 0xf00000 : 0xf00001]));
    const localhost = cfg.policy.filter((e) => e.ruleId === 1);
    assert.ok(localhost.length > 0 && localhost.every((e) => e.identity === nodeOf[e.pod]), JSON.stringify(localhost));
    // The ConfigMap in the manifests carries the same config; the DaemonSet runs only on the pods' nodes.
    const yamlText = readFileSync(join(results, 'cluster', 'shadow-probe.yaml'), 'utf8');
    const docs = yamlText.split(/^---$/m).map((d) => yaml.load(d) as { kind: string; data?: Record<string, string>; spec?: { template: { spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchFields: { values: string[] }[] }[] } } } } } } });
    assert.deepEqual(JSON.parse(docs.find((d) => d.kind === 'ConfigMap')!.data!['probe.json']!), cfg);
    // a 262,144-flow CT is 64 MiB, 48 more than the default's: the container's memory grows by as much
    const container = (docs.find((d) => d.kind === 'DaemonSet')!.spec!.template.spec as unknown as { containers: { resources: { requests: { memory: string }; limits: { memory: string } } }[] }).containers[0]!;
    assert.deepEqual([container.resources.requests.memory, container.resources.limits.memory], ['176Mi', '560Mi']);
    // a probe that refuses to start leaves its words in the pod's status, where the CLI reads them
    assert.equal((container as unknown as { terminationMessagePolicy: string }).terminationMessagePolicy, 'FallbackToLogsOnError');
    // --probe-memory: the operator's limit (a node of many CPUs: the per-CPU maps outgrow the default)
    const results2 = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const r2 = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--render-only', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--results', results2, '--probe-memory', '2048', '--json'], { MIGRATE_NO_PROGRESS: '1' });
    assert.match(r2.stdout, /MIGRATE_SHADOW_RENDERED/, r2.stderr);
    assert.match(readFileSync(join(results2, 'cluster', 'shadow-probe.yaml'), 'utf8'), /limits:\n\s+cpu: '1'\n\s+memory: 2048Mi/);
    assert.deepEqual(docs.find((d) => d.kind === 'DaemonSet')!.spec!.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.map((t) => t.matchFields[0]!.values[0]), ['node-a', 'node-b']);
  } finally { await api.close(); }
});

test('shadow --cluster --render-only by a user who may not list nodes: said, and no node identities', async () => {
  const api = await startFakeShadowApi(options({ forbidNodes: true }));
  try {
    const results = join(mkdtempSync(join(tmpdir(), 'migrate-shadow-cluster-')), 'run');
    const r = await runCli(['shadow', '-n', 'bookinfo', '--cluster', '--render-only', '--plan', join(FIX, 'plan'), '--kubeconfig', api.kubeconfig, '--results', results, '--json'], { MIGRATE_NO_PROGRESS: '1' });
    assert.match(r.stdout, /MIGRATE_SHADOW_RENDERED/, r.stderr);
    assert.match(r.stderr, /not allowed to list them, so their own traffic \(kubelet probes\) is judged as world/);
    const cfg = JSON.parse(readFileSync(join(results, 'cluster', 'probe.json'), 'utf8')) as { policy: { ruleId: number }[]; identities: { identity: number }[] };
    assert.ok(cfg.identities.every((i) => i.identity < 0xf00000 || i.identity >= 0x1000000));
    assert.ok(cfg.policy.every((e) => e.ruleId !== 1));
  } finally { await api.close(); }
});
