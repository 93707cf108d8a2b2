// `migrate shadow`: programs shadow-probe with the translated policy of one namespace, follows the sidecars'
// access logs next to it, joins both in the pure core as they arrive, and writes everything to a results
// directory append-only (src/core/shadow/run.ts), so a crash loses at most the last tick and `--resume`
// continues where it stopped. `--replay DIR` runs the same diff over a recorded directory.
import type { KubeObject } from '../core/model/k8s.js';
import { userError, probeError } from '../core/errors.js';
import { ShadowJoiner } from '../core/shadow/join.js';
import { buildShadowResult, DEFAULT_EBPF_COST_US, DEFAULT_TOLERANCE } from '../core/shadow/diff.js';
import { parseEnvoyText, emptyParseStats } from '../core/shadow/envoy-text.js';
import type { ParseStats } from '../core/shadow/envoy-text.js';
import { parseEnvoyJson, detectFormat } from '../core/shadow/envoy-json.js';
import { parseProbeLines } from '../core/shadow/probe-lines.js';
import { compilePlan } from '../core/shadow/probe-config.js';
import { istioDelta, parseIstioRequests, parseRbacStats, rbacDelta } from '../core/shadow/prom-text.js';
import type { RbacByPort } from '../core/shadow/prom-text.js';
import type { NodeInput, ProbePodInput } from '../core/shadow/probe-config.js';
import type { ShadowResult, Matrix } from '../core/shadow/result.js';
import { joinInputsOf } from '../core/shadow/run.js';
import type { ShadowRunMeta } from '../core/shadow/run.js';
import type { KnownGap } from '../core/shadow/types.js';
import type { Clock } from '../ports/clock.js';
import type { EnvoyTelemetry, ProbeHandle, ProbeRunner, ShadowMetricsSink, ShadowStore } from '../ports/shadow.js';

export interface ShadowPlanInput {
  /** Where the plan came from (a plans/<name> directory). */
  source: string;
  manifests: KubeObject[];
  gaps: KnownGap[];
}

export interface ShadowRequest {
  namespace: string;
  mode: 'local' | 'cluster' | 'replay';
  store: ShadowStore;
  clock: Clock;
  /** Live modes: the plan, the pods with their sidecar access logs, the probe and the telemetry source. */
  plan?: ShadowPlanInput;
  pods?: (ProbePodInput & { accessLog?: string; metrics?: { url: string; netns?: string } })[];
  /** The nodes of those pods and their addresses (Cilium's host and remote-node identities); absent: unknown. */
  nodes?: NodeInput[];
  probe?: ProbeRunner;
  telemetry?: EnvoyTelemetry;
  durationMs?: number;
  signal?: AbortSignal;
  /** Resume the run already in the store instead of starting a new one. */
  resume?: boolean;
  metrics?: ShadowMetricsSink;
  /** One live line every tick (stderr in the command). */
  live?: (line: string) => void;
  tickMs?: number;
  windowMs?: number;
  tolerance?: { relative: number; absolute: number };
  ebpfCostUs?: number;
  unmatchedTolerance?: number;
  renderMarkdown: (r: ShadowResult) => string;
  probeSettings?: Record<string, number>;
}

const MATRIX_TO_METRIC: Record<keyof Matrix, string> = {
  allowAllow: 'agree', denyDeny: 'agree', allowDeny: 'ebpf_would_deny', denyAllow: 'ebpf_would_allow', envoyOnly: 'unmatched_envoy_only', probeOnly: 'unmatched_probe_only',
};

function parseAccess(text: string, pod: string, j: ShadowJoiner, stats: ParseStats): void {
  if (detectFormat(text) === 'json') parseEnvoyJson(text, pod, (e) => j.addEntry(e), stats);
  else parseEnvoyText(text, pod, (e) => j.addEntry(e), stats);
}

function newMeta(req: ShadowRequest): ShadowRunMeta {
  if (!req.plan) throw userError('MIGRATE_SHADOW_NO_PLAN', 'no translated policy to shadow', { next: 'pass --plan plans/<name> (written by `migrate translate --out`)' });
  const pods = req.pods ?? [];
  if (!pods.some((p) => p.namespace === req.namespace)) throw userError('MIGRATE_NS_NOT_FOUND', `no pods of namespace "${req.namespace}" to shadow`, { object: `Namespace/${req.namespace}`, next: 'check --namespace (the lab uses bookinfo) and that the pods are up (`migrate lab status`)' });
  const nsManifests = req.plan.manifests.filter((m) => m.kind === 'CiliumClusterwideNetworkPolicy' || m.metadata.namespace === req.namespace);
  const compiled = compilePlan(nsManifests, pods, req.probeSettings, req.nodes);
  const accessLogs: Record<string, string> = {};
  const metricsSources: Record<string, { url: string; netns?: string }> = {};
  for (const p of pods) if (p.sidecar && p.accessLog && p.namespace === req.namespace) accessLogs[p.name] = p.accessLog;
  for (const p of pods) if (p.sidecar && p.metrics && p.namespace === req.namespace) metricsSources[p.name] = p.metrics;
  return {
    version: 1, namespace: req.namespace, mode: req.mode, plan: req.plan.source, startedAtMs: req.clock.now().getTime(),
    pods: compiled.pods, rules: compiled.rules, l7: compiled.config.l7, gaps: req.plan.gaps.filter((g) => g.object.split('/')[1] === req.namespace || g.object.split('/').length === 2),
    selectedBy: compiled.selectedBy, unsupported: compiled.unsupported, nodes: compiled.nodes, probeConfig: compiled.config, accessLogs, metricsSources,
  };
}

export async function runShadow(req: ShadowRequest): Promise<ShadowResult> {
  const { store, clock } = req;
  const windowMs = req.windowMs ?? 1000;
  const tickMs = req.tickMs ?? 1000;
  let meta = store.readMeta();
  if (req.mode !== 'replay') {
    if (meta && !req.resume) throw userError('MIGRATE_SHADOW_RESULTS_EXIST', `${store.dir} already holds a shadow run`, { object: store.dir, next: 'pass --resume to continue it, or another --results directory' });
    if (meta && meta.namespace !== req.namespace) throw userError('MIGRATE_SHADOW_RESULTS_EXIST', `${store.dir} holds a run of namespace ${meta.namespace}, not ${req.namespace}`, { object: store.dir });
    if (!meta) { meta = newMeta(req); store.writeMeta(meta); }
  }
  if (!meta) throw userError('MIGRATE_SHADOW_NO_RUN', `${store.dir} holds no shadow run`, { object: store.dir });

  const joiner = new ShadowJoiner(joinInputsOf(meta), { windowMs });
  const parse = new Map<string, ParseStats>();
  const statsOf = (pod: string) => { let s = parse.get(pod); if (!s) parse.set(pod, (s = emptyParseStats())); return s; };
  const probeStats = emptyParseStats();
  // What is already recorded (replay, or the part of a resumed run before the crash).
  for (const { pod, text } of store.readAccess()) parseAccess(text, pod, joiner, statsOf(pod));
  const recorded = store.readProbe();
  parseProbeLines(recorded, (r) => joiner.addProbe(r), probeStats);
  let probeLines = probeStats.lines;

  let endedAtMs: number;
  if (req.mode === 'replay') {
    joiner.flush(Infinity);
    const c = store.readCursor();
    endedAtMs = c?.updatedAtMs ?? meta.startedAtMs;
  } else {
    if (!req.probe || !req.telemetry) throw new Error('live shadow run without a probe runner or telemetry');
    const cursor = store.readCursor();
    const follower = req.telemetry.follow(meta.accessLogs, req.resume && cursor ? cursor.access : 'end');
    let probeBuf: string[] = [];
    const lastMatrix: Matrix = { ...joiner.matrix };
    const onProbe = (text: string) => {
      probeBuf.push(text);
      parseProbeLines(text, (r) => {
        joiner.addProbe(r);
        if (r.type === 'metrics') req.metrics?.probeCounters(r.counters);
      }, probeStats);
    };
    if (!meta.probeConfig) throw userError('MIGRATE_SHADOW_NO_PLAN', 'the run has no probe config');
    if (req.metrics) { const mm = req.metrics; joiner.onLatency = (leg, ms) => mm.latency(leg, ms); }
    const scrapeAll = async (phase: 'start' | 'end') => {
      const tel = req.telemetry!;
      if (!tel.scrape || !meta!.metricsSources) return;
      // A resumed run keeps the first start snapshot: the delta then covers the whole run.
      if (phase === 'start' && store.readMetrics().some((m) => m.phase === 'start')) return;
      await Promise.all(Object.entries(meta!.metricsSources).map(async ([pod, src]) => {
        const text = await tel.scrape!(src);
        if (text !== null) store.writeMetrics(pod, phase, text);
      }));
    };
    const handle: ProbeHandle = await req.probe.start(meta.probeConfig, onProbe);
    await scrapeAll('start');
    const started = clock.now().getTime();
    const deadline = req.durationMs ? started + req.durationMs : Infinity;
    let crashed: { code: number | null; signal: string | null; stderrTail: string } | null = null;
    void handle.exited.then((x) => { crashed = x; });
    const tick = (final: boolean) => {
      for (const { pod, text } of follower.poll()) {
        store.appendAccess(pod, text);
        const s = statsOf(pod);
        const before = { p: s.parsed, f: s.failed };
        parseAccess(text, pod, joiner, s);
        req.metrics?.accessLines(pod, s.parsed - before.p, s.failed - before.f);
      }
      if (probeBuf.length) {
        const t = probeBuf.join('');
        probeBuf = [];
        store.appendProbe(t);
        probeLines = probeStats.lines;
      }
      store.writeCursor({ access: follower.offsets(), probeLines, updatedAtMs: clock.now().getTime() });
      // Settle what is older than two windows: both sides have had time to arrive.
      joiner.flush(final ? Infinity : clock.now().getTime() - 2 * windowMs);
      const m = joiner.matrix;
      if (req.metrics) {
        const d: Record<string, number> = {};
        for (const k of Object.keys(m) as (keyof Matrix)[]) { const metric = MATRIX_TO_METRIC[k]; d[metric] = (d[metric] ?? 0) + m[k] - lastMatrix[k]; lastMatrix[k] = m[k]; }
        req.metrics.verdicts(d);
        req.metrics.noSidecar(joiner.bypass.totals());
      }
      const lost = ['ringbuf_full', 'ratelimited', 'ct_full', 'inflight_evicted'].reduce((a, c) => a + (joiner.metrics?.counters[c] ?? 0), 0);
      req.live?.(`shadow ${Math.round((clock.now().getTime() - started) / 1000)}s: envoy ${joiner.counts.entries} probe ${joiner.counts.probeRequests} | agree ${m.allowAllow + m.denyDeny} ebpf-would-deny ${m.allowDeny} ebpf-would-allow ${m.denyAllow} unmatched ${m.envoyOnly}/${m.probeOnly} no-sidecar-would-deny ${joiner.bypass.denied()} | pending ${joiner.pending()} lost ${lost}`);
    };
    try {
      while (clock.now().getTime() < deadline && !req.signal?.aborted && !crashed) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(tickMs, Math.max(0, deadline - clock.now().getTime())));
          req.signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
        });
        tick(false);
      }
    } finally {
      const died = crashed as { code: number | null; signal: string | null; stderrTail: string } | null;
      const exit = died ?? (await handle.stop());
      // Late sidecar lines of requests the probe already saw: one more poll after the probe drained.
      await new Promise((r) => setTimeout(r, Math.min(windowMs, 1000)));
      tick(true);
      follower.close?.();
      await scrapeAll('end');
      if (died) {
        const c = died;
        throw probeError('MIGRATE_PROBE_EXITED', `shadow-probe exited during the run (code ${c.code}${c.signal ? `, ${c.signal}` : ''}); results so far are in ${store.dir} (--resume continues)`, { object: req.probe.where, detail: c.stderrTail.split('\n').slice(-12).join('\n') });
      }
      if (exit.code !== 0 && exit.signal !== 'SIGINT') req.live?.(`probe exited with ${exit.code ?? exit.signal}: ${exit.stderrTail.split('\n').slice(-3).join(' | ')}`);
    }
    endedAtMs = clock.now().getTime();
  }

  // The sidecars' istio_requests_total over the run, where both snapshots exist.
  const snaps = store.readMetrics();
  let istio: ReturnType<typeof istioDelta> | undefined;
  let rbac: Map<string, RbacByPort> | undefined;
  if (snaps.length) {
    istio = new Map();
    rbac = new Map();
    for (const end of snaps.filter((m) => m.phase === 'end')) {
      const start = snaps.find((m) => m.pod === end.pod && m.phase === 'start');
      if (!start) continue;
      for (const [k, v] of istioDelta(parseIstioRequests(start.text), parseIstioRequests(end.text))) istio.set(k, v);
      // A sidecar without any AuthorizationPolicy has no RBAC filter, hence no counters: nothing to compare.
      const r = rbacDelta(parseRbacStats(start.text), parseRbacStats(end.text));
      if (r.size) rbac.set(end.pod, r);
    }
  }
  const result = buildShadowResult(joiner, {
    ...(istio ? { istio } : {}), ...(rbac ? { rbac } : {}),
    namespace: meta.namespace, mode: req.mode, ...(meta.plan ? { plan: meta.plan } : {}), resultsDir: store.dir,
    startedAtMs: meta.startedAtMs, endedAtMs, tolerance: req.tolerance ?? DEFAULT_TOLERANCE, ebpfCostUs: req.ebpfCostUs ?? DEFAULT_EBPF_COST_US,
    unmatchedTolerance: req.unmatchedTolerance ?? 0.01, notShadowed: meta.unsupported ?? [], parse: [...parse.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([pod, stats]) => ({ pod, stats })),
  });
  if (probeStats.failed) result.parse.failures.push(...probeStats.failures.map((f) => ({ pod: '(probe.jsonl)', ...f })));
  if (req.mode !== 'replay') store.writeResult(JSON.stringify(result, null, 2) + '\n', req.renderMarkdown(result));
  return result;
}
