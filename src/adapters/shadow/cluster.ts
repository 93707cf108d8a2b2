// `migrate shadow --cluster`: the probe as a DaemonSet. Rendered as plain manifests (written to the results
// directory) so they can be reviewed, validated and applied; the probe needs no API access (its
// ServiceAccount mounts no token), the CLI collects records and access logs through pods/log.
// One probe config serves every node: it names the pods by IP and UID only, and each node's probe finds the
// ones it runs (shadow-probe/src/discover.c: pod cgroup under kubepods by UID, a process in it -> its netns ->
// the interface holding the pod IP) and skips the rest; it looks again every PROBE_REDISCOVER_S seconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { ShadowPlanInput } from '../../workflows/shadow.js';
import { probeMemoryMiB } from '../../core/shadow/probe-config.js';

export interface ClusterShadowOptions {
  namespace: string;
  image: string;
  plan: ShadowPlanInput;
  outDir: string;
  /** Nodes running the target pods; the DaemonSet is scheduled only there. */
  nodes?: string[];
  probeNamespace?: string;
  /** The compiled probe config (mounted from the ConfigMap); absent when only rendering for review. */
  probeConfig?: unknown;
  /** The container's memory limit (MiB) instead of the one its tables call for (--probe-memory). */
  memoryLimitMiB?: number;
}

export const PROBE_NS = 'migrate-system';
export const PROBE_NAME = 'migrate-shadow-probe';
/** Where the host's cgroup v2 hierarchy is mounted in the probe container (the runtime's own /sys/fs/cgroup
 * shows only the container's cgroup namespace). A hybrid host's v2 tree is found at its unified/. */
export const PROBE_CGROUP_ROOT = '/host/sys/fs/cgroup';
export const PROBE_REDISCOVER_S = 10;
/** What the probe needs beyond an unprivileged container (see the DaemonSet below for why each). */
export const PROBE_CAPABILITIES = ['BPF', 'PERFMON', 'NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_RESOURCE'];

export function clusterManifests(o: ClusterShadowOptions): Record<string, unknown>[] {
  const ns = o.probeNamespace ?? PROBE_NS;
  const labels = { 'app.kubernetes.io/name': PROBE_NAME, 'app.kubernetes.io/managed-by': 'migrate', 'migrate.io/shadow-namespace': o.namespace };
  const policies = o.plan.manifests.filter((m) => m.kind === 'CiliumNetworkPolicy' && m.metadata.namespace === o.namespace);
  const hostPath = (name: string, path: string, type = 'Directory') => ({ name, hostPath: { path, type } });
  const mem = probeMemoryMiB((o.probeConfig as { settings?: Record<string, unknown> } | undefined)?.settings, o.memoryLimitMiB);
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'app.kubernetes.io/managed-by': 'migrate', 'pod-security.kubernetes.io/enforce': 'privileged' } } },
    // The probe talks to no API: no token is mounted.
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: PROBE_NAME, namespace: ns, labels }, automountServiceAccountToken: false },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${PROBE_NAME}-plan`, namespace: ns, labels }, data: { 'policies.yaml': policies.map((p) => yaml.dump(p, { noRefs: true, lineWidth: -1 })).join('---\n'), namespace: o.namespace, ...(o.probeConfig ? { 'probe.json': JSON.stringify(o.probeConfig) } : {}) } },
    {
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: PROBE_NAME, namespace: ns, labels },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': PROBE_NAME } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: PROBE_NAME,
            automountServiceAccountToken: false,
            // cgroup.procs lists pids in the reader's pid namespace, and a pod's netns is entered through
            // /proc/<pid>/ns/net: both need the host's. The host network is not needed (setns into each pod).
            hostPID: true,
            priorityClassName: 'system-node-critical',
            terminationGracePeriodSeconds: 30, // SIGTERM: drain the ring, dump edges, detach
            // matchFields takes one node name per term; terms are ORed (the apiserver rejects a list).
            ...(o.nodes?.length ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [...o.nodes].sort().map((n) => ({ matchFields: [{ key: 'metadata.name', operator: 'In', values: [n] }] })) } } } } : {}),
            tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
            containers: [{
              name: 'shadow-probe',
              image: o.image,
              // a probe that refuses to start (its memory limit, its config) says why on stderr and exits: the pod's
              // status then carries those words, and `migrate shadow --cluster` reports them
              terminationMessagePolicy: 'FallbackToLogsOnError',
              args: ['--config', '/etc/migrate/probe.json', '--state-dir', '/run/migrate/state', '--cgroup-root', PROBE_CGROUP_ROOT, '--proc-root', '/proc', '--rediscover', String(PROBE_REDISCOVER_S)],
              securityContext: {
                // BPF+PERFMON: load programs; NET_ADMIN: tc/tcx; SYS_ADMIN: setns into pod netns, cgroup attach;
                // SYS_PTRACE: open /proc/<pid>/ns/net of pod processes running as other users; SYS_RESOURCE:
                // memlock. No privileged mode needed (checked in the lab with exactly this bounding set).
                privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 0,
                capabilities: { drop: ['ALL'], add: PROBE_CAPABILITIES },
                seccompProfile: { type: 'Unconfined' },
              },
              // the memory grows with the CT and in-flight tables the config asks for (BPF maps are charged here)
              resources: { requests: { cpu: '100m', memory: `${mem.request}Mi` }, limits: { cpu: '1', memory: `${mem.limit}Mi` } },
              volumeMounts: [
                // Bidirectional propagation needs a privileged container; the probe uses links, pins are opt-in.
                { name: 'bpffs', mountPath: '/sys/fs/bpf', mountPropagation: 'HostToContainer' },
                // the host's cgroup tree: pod cgroups are found (by UID) and attached to here; read-only is enough
                { name: 'cgroup', mountPath: PROBE_CGROUP_ROOT, readOnly: true, mountPropagation: 'HostToContainer' },
                { name: 'tracefs', mountPath: '/sys/kernel/tracing', readOnly: true },
                { name: 'plan', mountPath: '/etc/migrate', readOnly: true },
                { name: 'run', mountPath: '/run/migrate' },
              ],
            }],
            volumes: [
              hostPath('bpffs', '/sys/fs/bpf'), hostPath('cgroup', '/sys/fs/cgroup'), hostPath('tracefs', '/sys/kernel/tracing'),
              { name: 'plan', configMap: { name: `${PROBE_NAME}-plan` } },
              { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
            ],
          },
        },
      },
    },
    // What the person running `migrate shadow --cluster` needs: manage the probe in its namespace, read the
    // target pods and their logs (records of the probe, access logs of istio-proxy), nothing else.
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'migrate-shadow-operator', namespace: ns, labels }, rules: [
      { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
      { apiGroups: [''], resources: ['configmaps', 'serviceaccounts'], verbs: ['get', 'create', 'delete'] },
      { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
    ] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'migrate-shadow-reader', namespace: o.namespace, labels }, rules: [
      { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] },
    ] },
  ];
}

/** shadow-probe.yaml (every object) and, when compiled, probe.json (the config the ConfigMap carries). */
export function renderClusterShadow(o: ClusterShadowOptions): string[] {
  mkdirSync(o.outDir, { recursive: true });
  const docs = clusterManifests(o);
  const f = join(o.outDir, 'shadow-probe.yaml');
  writeFileSync(f, docs.map((d) => yaml.dump(d, { noRefs: true, lineWidth: -1 })).join('---\n'));
  if (!o.probeConfig) return [f];
  const c = join(o.outDir, 'probe.json');
  writeFileSync(c, JSON.stringify(o.probeConfig, null, 1) + '\n');
  return [f, c];
}
