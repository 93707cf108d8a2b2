import { Flags } from '@oclif/core';
import { join, resolve } from 'node:path';
import { MigrateCommand } from '../cli/base.js';
import { userError } from '../core/errors.js';
import type { ShadowResult } from '../core/shadow/result.js';
import { EXIT_SHADOW } from '../core/shadow/result.js';
import { runShadow } from '../workflows/shadow.js';
import type { ShadowPlanInput } from '../workflows/shadow.js';
import { runTranslate } from '../workflows/translate.js';
import { FsShadowStore } from '../adapters/shadow/store.js';
import { fileTelemetry } from '../adapters/shadow/file-telemetry.js';
import { LocalProbeRunner } from '../adapters/shadow/probe-process.js';
import { readLabPods, readPlanDir } from '../adapters/shadow/plan-reader.js';
import { renderClusterShadow } from '../adapters/shadow/cluster.js';
import { apiTelemetry, ClusterProbeRunner, istioMetricsPath } from '../adapters/shadow/cluster-run.js';
import { ApiKubeWriter } from '../adapters/kube/writer.js';
import { loadKubeAccess } from '../adapters/kube/config.js';
import { clusterProbeConfig, clusterTargets } from '../workflows/shadow-cluster.js';
import { CT_FLOWS, ctFlowsProblem } from '../core/shadow/probe-config.js';
import { PromShadowMetrics } from '../adapters/metrics/shadow-metrics.js';
import { openReader } from '../adapters/reader.js';
import { SchemaValidator } from '../adapters/schema/validator.js';
import { fsPlanWriter } from '../adapters/fs/plan-writer.js';
import { packagePath } from '../adapters/fs/package.js';
import { writeReport } from '../adapters/fs/report.js';
import { systemClock } from '../ports/clock.js';
import { renderShadowMarkdown, renderShadowText } from '../render/shadow.js';

/** `90s`, `10m`, `1h`, or plain seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw userError('MIGRATE_BAD_FLAG', `--duration ${s}: expected e.g. 30s, 10m, 1h`, { object: '--duration' });
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']);
}

export default class Shadow extends MigrateCommand<typeof Shadow> {
  static override summary = 'Run the translated policy in shadow next to the sidecars and show where the eBPF plane would decide differently';
  static override description = `Programs shadow-probe with the translated CiliumNetworkPolicies of one namespace (observe only: nothing is enforced), follows the sidecars' access logs, and joins each request with the probe's records: a verdict matrix (Envoy allow/deny by eBPF allow/deny) per edge and rule, disagreements classified as ebpf-would-deny (outage risk), ebpf-would-allow (security risk) or unmatched, latency per leg (wire, app, sidecar overhead, projected after cutover), telemetry parity and coverage.

Results are written append-only to --results DIR as they arrive (probe.jsonl, access/<pod>.log, cursor.json; result.json and report.md at the end); --resume continues a run that was interrupted. --replay DIR runs the same diff over a recorded directory (fixtures/shadow/<scenario>).

Exit codes: ${EXIT_SHADOW.agreement} = agreement; ${EXIT_SHADOW.disagreements} = disagreements not explained by a known translation gap; ${EXIT_SHADOW.expectedOnly} = only expected disagreements (known gaps); ${EXIT_SHADOW.incomplete} = verdicts agree but too many requests were seen on one side only (or none at all); 2 user error, 3 cluster error, 4 probe error, 70 bug.`;
  static override examples = [
    '<%= config.bin %> shadow --replay fixtures/shadow/l7-deny-gap',
    '<%= config.bin %> shadow -n bookinfo --local --duration 30s --plan plans/lab --metrics-addr 127.0.0.1:9464',
    '<%= config.bin %> shadow -n shop --cluster --plan plans/shop --duration 10m --json',
  ];

  static override flags = {
    namespace: Flags.string({ char: 'n', description: 'namespace to shadow' }),
    duration: Flags.string({ description: 'how long to run (30s, 10m, 1h); Ctrl-C stops earlier and still writes the result', default: '10m' }),
    plan: Flags.string({ description: 'translated plan directory (migrate translate --out); default with --local: translate the lab snapshot into the results directory' }),
    local: Flags.boolean({ description: 'run the probe on this node (the lab, single-node clusters; needs root)', exclusive: ['cluster', 'replay'] }),
    cluster: Flags.boolean({ description: 'run the probe as a DaemonSet on the nodes of the target pods', exclusive: ['local', 'replay'] }),
    replay: Flags.string({ description: 'run the diff over a recorded run directory instead of live traffic', exclusive: ['local', 'cluster'] }),
    results: Flags.string({ description: 'results directory (default .state/shadow/<namespace>-<time>)' }),
    resume: Flags.boolean({ description: 'continue the run in --results after an interruption', default: false }),
    'metrics-addr': Flags.string({ description: 'serve live Prometheus metrics on HOST:PORT (/metrics)' }),
    'lab-state': Flags.string({ description: 'the lab state directory (pods.json)', env: 'MIGRATE_LAB_STATE' }),
    'probe-bin': Flags.string({ description: 'shadow-probe binary', default: 'shadow-probe/build/shadow-probe' }),
    output: Flags.string({ char: 'o', description: 'also write the report to FILE (.md or .json)' }),
    'ct-flows': Flags.integer({ description: "the probe's connection-tracking capacity per node, in flows: a power of two from 8192 to 1048576 (default 65536, 16 MiB); about twice the node's concurrent flows" }),
    'window-ms': Flags.integer({ description: 'join window between a log entry and the probe records, ms', default: 1000, min: 10 }),
    tolerance: Flags.string({ description: 'telemetry parity tolerance: relative share (0.01 = 1%)', default: '0.01' }),
    image: Flags.string({ description: '--cluster: probe image', default: 'ghcr.io/migrate/shadow-probe:0.1.0' }),
    keep: Flags.boolean({ description: '--cluster: keep the DaemonSet and its RBAC after the run', default: false }),
    'probe-memory': Flags.integer({ description: "--cluster: the probe container's memory limit in MiB (default 512, plus what --ct-flows adds). The kernel charges the probe's maps to it, per-CPU ones once per CPU: raise it when the probe says so (nodes of more than ~150 CPUs)", min: 128, max: 65536 }),
    'ready-timeout': Flags.string({ description: '--cluster: how long to wait for the probe pods (image pull, scheduling)', default: '120s' }),
    kubeconfig: Flags.string({ description: '--cluster: kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)' }),
    context: Flags.string({ description: '--cluster: kubeconfig context to use' }),
    'render-only': Flags.boolean({ description: '--cluster: only write the manifests and the probe config (pods read from the API, nothing created) to the results directory', default: false }),
  };

  async run(): Promise<ShadowResult> {
    const f = this.flags;
    const live = (l: string) => { if (!process.env.MIGRATE_NO_PROGRESS) process.stderr.write(`${l}\n`); };
    let result: ShadowResult;
    const ctProblem = f['ct-flows'] === undefined ? undefined : ctFlowsProblem(f['ct-flows']);
    if (ctProblem) throw userError('MIGRATE_BAD_FLAG', `--ct-flows ${ctProblem}`, { object: '--ct-flows', next: `e.g. --ct-flows ${CT_FLOWS.default * 2}` });
    const probeSettings: Record<string, number> = f['ct-flows'] === undefined ? {} : { ctFlows: f['ct-flows'] };
    if (f.replay) {
      result = await runShadow({ namespace: f.namespace ?? '', mode: 'replay', store: new FsShadowStore(f.replay, false), clock: systemClock, renderMarkdown: renderShadowMarkdown, windowMs: f['window-ms'], tolerance: { relative: Number(f.tolerance), absolute: 2 } });
    } else {
      if (!f.namespace) throw userError('MIGRATE_BAD_FLAG', '--namespace is required for a live shadow run', { object: '--namespace', next: 'e.g. -n bookinfo (the lab), or --replay DIR' });
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
      const resultsDir = resolve(f.results ?? join('.state', 'shadow', `${f.namespace}-${stamp}`));
      const store = new FsShadowStore(resultsDir);
      if (f.cluster) return this.done(await this.runCluster(f, resultsDir, store, live, probeSettings));
      const podsJson = join(resolve(f['lab-state'] ?? packagePath('.state', 'lab')), 'pods.json');
      const lab = readLabPods(podsJson);
      let plan: ShadowPlanInput;
      if (f.plan) plan = readPlanDir(f.plan);
      else {
        const planDir = join(resultsDir, 'plan');
        await runTranslate({ reader: openReader({ snapshot: lab.snapshot }), namespaces: [f.namespace], rootNamespace: 'istio-system', verify: false, validator: new SchemaValidator(), outDir: planDir, writer: fsPlanWriter });
        plan = readPlanDir(planDir);
      }
      const metrics = f['metrics-addr'] ? new PromShadowMetrics() : undefined;
      if (metrics) live(`metrics on http://${await metrics.listen(f['metrics-addr']!)}/metrics`);
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      try {
        result = await runShadow({
          namespace: f.namespace, mode: 'local', store, clock: systemClock, plan, probeSettings,
          pods: lab.pods.map((p) => ({ name: p.name, namespace: p.namespace, ip: p.ip, serviceAccount: p.serviceAccount, labels: p.labels, sidecar: p.sidecar !== null, netns: p.netns, ifname: p.ifname, cgroup: p.cgroup, node: 'lab', ...(p.sidecar ? { inbound: { include: '*' as const, exclude: [p.bypassPort] }, accessLog: p.sidecar.accessLog, metrics: { url: `http://${p.ip}:15020/stats/prometheus`, netns: p.netns } } : {}) })),
          // the lab's node is its bridge address in the node namespace: what the node's own traffic comes from
          nodes: [{ name: 'lab', addresses: [lab.gateway] }],
          probe: new LocalProbeRunner(resolve(f['probe-bin'].startsWith('/') ? f['probe-bin'] : packagePath(f['probe-bin'])), resultsDir),
          telemetry: fileTelemetry, durationMs: parseDuration(f.duration), signal: ac.signal, resume: f.resume, ...(metrics ? { metrics } : {}),
          live, renderMarkdown: renderShadowMarkdown, windowMs: f['window-ms'], tolerance: { relative: Number(f.tolerance), absolute: 2 },
        });
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
        await metrics?.close();
      }
    }
    return this.done(result);
  }

  private done(result: ShadowResult): ShadowResult {
    const f = this.flags;
    if (f.output) writeReport(f.output, result, renderShadowMarkdown);
    if (!this.jsonEnabled()) this.log(renderShadowText(result));
    process.exitCode = result.summary.exitCode;
    return result;
  }

  /** --cluster: the probe as a DaemonSet, the sidecars through the API; everything created is deleted unless --keep. */
  private async runCluster(f: Shadow['flags'], resultsDir: string, store: FsShadowStore, live: (l: string) => void, probeSettings: Record<string, number>): Promise<ShadowResult> {
    const namespace = f.namespace!;
    const plan = f.plan ? readPlanDir(f.plan) : undefined;
    if (!plan) throw userError('MIGRATE_SHADOW_NO_PLAN', '--cluster needs --plan', { object: '--plan', next: 'write one with `migrate translate --out plans/<name>`' });
    const kube = new ApiKubeWriter(loadKubeAccess({ ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}), ...(f.context ? { context: f.context } : {}) }));
    // Read only: the pods' IPs, UIDs and nodes go into the probe config and the DaemonSet's node affinity.
    const targets = await clusterTargets(kube, namespace, istioMetricsPath);
    if (!targets.nodeAddresses) process.stderr.write('warning: nodes: not allowed to list them, so their own traffic (kubelet probes) is judged as world, not as Cilium\'s host (grant list on nodes for an exact verdict)\n');
    const probeConfig = clusterProbeConfig(plan, namespace, targets.pods, probeSettings, targets.nodeAddresses ?? []);
    const files = renderClusterShadow({ namespace, image: f.image, plan, outDir: join(resultsDir, 'cluster'), nodes: targets.nodes, probeConfig, ...(f['probe-memory'] ? { memoryLimitMiB: f['probe-memory'] } : {}) });
    if (f['render-only']) {
      live(`rendered ${files.join(', ')}`);
      throw userError('MIGRATE_SHADOW_RENDERED', `manifests and probe config written to ${join(resultsDir, 'cluster')} (--render-only; nothing was created)`, { next: 'kubectl apply -f shadow-probe.yaml there, or run without --render-only' });
    }
    const ac = new AbortController();
    const onSig = () => ac.abort();
    process.once('SIGINT', onSig);
    process.once('SIGTERM', onSig);
    const probe = new ClusterProbeRunner(kube, { namespace, image: f.image, plan, nodes: targets.nodes, ...(f['probe-memory'] ? { memoryLimitMiB: f['probe-memory'] } : {}), keep: f.keep, readyTimeoutMs: parseDuration(f['ready-timeout']), signal: ac.signal, log: live });
    try {
      return await runShadow({
        namespace, mode: 'cluster', store, clock: systemClock, plan, probeSettings, pods: targets.pods, ...(targets.nodeAddresses ? { nodes: targets.nodeAddresses } : {}), probe, telemetry: apiTelemetry(kube),
        durationMs: parseDuration(f.duration), signal: ac.signal, resume: f.resume, live, renderMarkdown: renderShadowMarkdown,
        windowMs: f['window-ms'], tolerance: { relative: Number(f.tolerance), absolute: 2 },
      });
    } finally {
      // Errors and Ctrl-C included: the DaemonSet must not outlive the run unless --keep.
      await probe.cleanup();
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    }
  }
}
