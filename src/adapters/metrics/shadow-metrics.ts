// Live metrics of a shadow run on --metrics-addr (Prometheus text on /metrics), named by Prometheus
// conventions: migrate_shadow_ prefix, _total counters, base units (seconds), bounded label values.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { userError } from '../../core/errors.js';
import type { ShadowMetricsSink } from '../../ports/shadow.js';
import type { BypassTotal } from '../../core/shadow/bypass.js';

// Istio's default buckets (ms) as seconds, plus sub-millisecond ones for the app leg on loopback.
const BUCKETS = [0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class PromShadowMetrics implements ShadowMetricsSink {
  readonly registry = new Registry();
  private readonly verdictsC: Counter<'agreement'>;
  private readonly latencyH: Histogram<'leg'>;
  private readonly probeG: Gauge<'counter'>;
  private readonly linesC: Counter<'pod'>;
  private readonly failedC: Counter<'pod'>;
  private readonly noSidecarC: Counter<'unit' | 'reason'>;
  private readonly noSidecarDenyC: Counter<'unit' | 'reason'>;
  private readonly lastNoSidecar = new Map<string, { seen: number; denied: number }>();
  private server: Server | null = null;

  constructor() {
    this.verdictsC = new Counter({ name: 'migrate_shadow_requests_total', help: 'Requests compared, by agreement of the Envoy and eBPF verdicts (agree, ebpf_would_deny, ebpf_would_allow, unmatched_envoy_only, unmatched_probe_only)', labelNames: ['agreement'], registers: [this.registry] });
    this.latencyH = new Histogram({ name: 'migrate_shadow_request_duration_seconds', help: 'Request latency measured by the probe per leg: wire (pod eth0, sidecar included), app (loopback hop, app only), overhead (wire - app)', labelNames: ['leg'], buckets: BUCKETS, registers: [this.registry] });
    this.probeG = new Gauge({ name: 'migrate_shadow_probe_events', help: "shadow-probe's own counters (cumulative since it started), e.g. ringbuf_full, ratelimited, http_requests", labelNames: ['counter'], registers: [this.registry] });
    this.linesC = new Counter({ name: 'migrate_shadow_access_log_lines_total', help: 'Sidecar access log lines read, by pod', labelNames: ['pod'], registers: [this.registry] });
    this.failedC = new Counter({ name: 'migrate_shadow_access_log_parse_failures_total', help: 'Sidecar access log lines that did not parse, by pod', labelNames: ['pod'], registers: [this.registry] });
    const ns = 'traffic no sidecar handles (Istio polices none of it: not TCP, to a pod without a sidecar, to a port the sidecar does not intercept), by unit (flows at L3/L4, HTTP requests on allowed flows at L7) and reason (not_tcp, no_sidecar, not_intercepted)';
    this.noSidecarC = new Counter({ name: 'migrate_shadow_no_sidecar_total', help: `Seen: ${ns}`, labelNames: ['unit', 'reason'], registers: [this.registry] });
    this.noSidecarDenyC = new Counter({ name: 'migrate_shadow_no_sidecar_would_deny_total', help: `The eBPF plane would deny (an outage at cutover): ${ns}`, labelNames: ['unit', 'reason'], registers: [this.registry] });
    for (const a of ['agree', 'ebpf_would_deny', 'ebpf_would_allow', 'unmatched_envoy_only', 'unmatched_probe_only']) this.verdictsC.inc({ agreement: a }, 0);
    // present from the start, so an alert on the would-deny rate has a series before the first such flow
    for (const unit of ['flows', 'requests']) for (const reason of ['not_tcp', 'no_sidecar', 'not_intercepted']) this.noSidecarDenyC.inc({ unit, reason }, 0);
    collectDefaultMetrics({ register: this.registry, prefix: 'migrate_shadow_process_' });
  }

  async listen(addr: string): Promise<string> {
    const m = /^(?:\[?([^\]]*)\]?:)?(\d+)$/.exec(addr);
    if (!m) throw userError('MIGRATE_BAD_FLAG', `--metrics-addr ${addr}: expected HOST:PORT or :PORT`, { object: '--metrics-addr' });
    const host = m[1] || '127.0.0.1';
    const port = Number(m[2]);
    this.server = createServer((req, res) => {
      if (req.url !== '/metrics') { res.writeHead(404).end('not found: try /metrics\n'); return; }
      this.registry.metrics().then((body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body), (e: Error) => res.writeHead(500).end(e.message));
    });
    await new Promise<void>((resolve, reject) => { this.server!.once('error', reject); this.server!.listen(port, host, () => resolve()); });
    const a = this.server.address();
    return typeof a === 'object' && a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : addr;
  }

  verdicts(d: Record<string, number>): void {
    for (const [k, v] of Object.entries(d)) if (v > 0) this.verdictsC.inc({ agreement: k }, v);
  }
  latency(leg: 'wire' | 'app' | 'overhead', ms: number): void { this.latencyH.observe({ leg }, ms / 1000); }
  probeCounters(c: Record<string, number>): void { for (const [k, v] of Object.entries(c)) this.probeG.set({ counter: k }, v); }
  accessLines(pod: string, n: number, failed: number): void { if (n) this.linesC.inc({ pod }, n); if (failed) this.failedC.inc({ pod }, failed); }
  noSidecar(totals: BypassTotal[]): void {
    for (const t of totals) {
      const labels = { unit: t.unit, reason: t.reason.replace(/-/g, '_') };
      const k = `${labels.unit}|${labels.reason}`;
      const last = this.lastNoSidecar.get(k) ?? { seen: 0, denied: 0 };
      // the totals only grow; a counter takes the increase
      if (t.seen > last.seen) this.noSidecarC.inc(labels, t.seen - last.seen);
      if (t.denied > last.denied) this.noSidecarDenyC.inc(labels, t.denied - last.denied);
      this.lastNoSidecar.set(k, { seen: Math.max(t.seen, last.seen), denied: Math.max(t.denied, last.denied) });
    }
  }
  async close(): Promise<void> {
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
  }
}
