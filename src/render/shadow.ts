// ShadowResult -> the final summary table (text) and the Markdown report.
import type { ShadowResult, Disagreement, ExampleRequest } from '../core/shadow/result.js';
import type { Percentiles } from '../core/shadow/stats.js';
import { markdownTable, textTable } from './table.js';

const OUTCOME: Record<ShadowResult['summary']['outcome'], string> = {
  agreement: 'AGREEMENT: the eBPF plane decided like the sidecars on every matched request',
  disagreements: 'DISAGREEMENTS: the eBPF plane would decide differently (see below)',
  'expected-disagreements-only': 'EXPECTED DISAGREEMENTS ONLY: every difference is a known translation gap',
  'incomplete-evidence': 'INCOMPLETE EVIDENCE: too many requests seen on one side only',
};

const ms = (v: number | null) => (v === null ? '-' : v.toFixed(3));
const pct = (p: Percentiles) => (p.count ? `${ms(p.p50)}/${ms(p.p90)}/${ms(p.p99)}/${ms(p.p999)}` : '-');

function header(r: ShadowResult): string[] {
  const s = r.summary;
  return [
    `Shadow run of namespace ${r.namespace} (${r.mode}${r.plan ? `, plan ${r.plan}` : ''}) ${r.startedAt} .. ${r.endedAt} (${r.durationSeconds} s)`,
    `${OUTCOME[s.outcome]} (exit ${s.exitCode})`,
    `envoy requests ${s.envoyRequests}, probe requests ${s.probeRequests}, matched ${s.matched}, agree ${s.agree}` +
      `${s.agreement === null ? '' : ` (${(s.agreement * 100).toFixed(2)}%)`}; ebpf-would-deny ${s.ebpfWouldDeny}, ebpf-would-allow ${s.ebpfWouldAllow} ` +
      `(expected ${s.expectedDisagreements}, unexpected ${s.unexpectedDisagreements}); unmatched envoy-only ${s.unmatchedEnvoyOnly}, probe-only ${s.unmatchedProbeOnly}`,
    ...(r.bypass.edges.length ? [`traffic no sidecar handled (Istio does not police it): ${bypassCounts(r.bypass)}`] : []),
    `probe: ${r.probe.flows} flow and ${r.probe.http} http records, lost ${r.probe.lost}; access log lines ${r.parse.entries} parsed, ${r.parse.failed} failed`,
  ];
}

/** One line on the RBAC counters: they show whether the access log held every decision the filter made. */
function rbacLine(r: ShadowResult): string | null {
  const rows = r.telemetry.rbac;
  if (!rows) return null;
  if (!rows.length) return 'Envoy RBAC counters: none (no sidecar had an RBAC filter, i.e. no AuthorizationPolicy applied)';
  const m = rows.reduce((s, x) => s + x.metrics.allowed + x.metrics.denied, 0);
  const l = rows.reduce((s, x) => s + x.log.allowed + x.log.denied, 0);
  const bad = rows.filter((x) => !x.ok).map((x) => `${x.pod}:${x.port} counters ${x.metrics.allowed} allowed/${x.metrics.denied} denied vs log ${x.log.allowed}/${x.log.denied}`);
  return `Envoy RBAC counters: ${m} decisions on ${rows.length} sidecar port(s), ${l} in the access logs` +
    (bad.length ? `; LOG INCOMPLETE (the verdict matrix is a sample): ${bad.join('; ')}` : ' (every decision logged)');
}

function bypassCounts(b: { flows: number; flowsDenied: number; requests: number; requestsDenied: number; requestsUnchecked?: number }): string {
  return `${b.flows} flows (eBPF would deny ${b.flowsDenied}), ${b.requests} HTTP requests on allowed flows (eBPF would deny ${b.requestsDenied}` +
    `${b.requestsUnchecked ? `; ${b.requestsUnchecked} allowed only by rules whose host or header conditions nobody checked here: after cutover those headers decide them` : ''})`;
}

/** A flow (no request line) by its addresses, a request by its line and status. */
const example = (e: ExampleRequest) => (e.method === '-' && e.layer === 'L3/L4' ? `${e.client} -> ${e.server}` : `${e.method} ${e.path} -> ${e.status}`);

function exampleLine(e: ExampleRequest): string {
  return e.method === '-' && e.layer === 'L3/L4'
    ? `- \`${e.time}\` flow ${e.client} -> ${e.server}, eBPF verdict at L3/L4 (${e.where})`
    : `- \`${e.time} ${e.method} ${e.path}\` -> ${e.status}, ${e.client} -> ${e.server}, request id ${e.requestId}, eBPF verdict at ${e.layer} (${e.where})`;
}

function disRow(d: Disagreement): (string | number)[] {
  return [d.class + (d.expected ? ` (expected: ${d.gapCode})` : ''), d.edge, d.count, d.envoyRule, d.ebpfRule, d.examples.map(example).slice(0, 2).join('; ')];
}

export function renderShadowText(r: ShadowResult): string {
  const out = header(r);
  out.push('', textTable(['EDGE', 'ALLOW/ALLOW', 'ALLOW/DENY', 'DENY/ALLOW', 'DENY/DENY', 'ENVOY-ONLY', 'PROBE-ONLY', 'WIRE ms p50/90/99/99.9', 'APP ms', 'SIDECAR ms', 'PARITY'],
    r.edges.map((e) => [e.edge, e.matrix.allowAllow, e.matrix.allowDeny, e.matrix.denyAllow, e.matrix.denyDeny, e.matrix.envoyOnly, e.matrix.probeOnly, pct(e.latency.wire), pct(e.latency.app), pct(e.latency.sidecarOverhead), e.parity.ok ? 'ok' : `DIFF (log ${e.parity.requests.envoy} / kernel ${e.parity.requests.probe}${e.parity.istioMetrics ? ` / istio ${e.parity.istioMetrics.envoy}` : ''})`])));
  if (r.disagreements.length) {
    out.push('', textTable(['CLASS', 'EDGE', 'COUNT', 'ENVOY RULE', 'EBPF RULE', 'EXAMPLES'], r.disagreements.slice(0, 20).map(disRow)));
  }
  if (r.bypass.edges.length) {
    out.push('', textTable(['NO SIDECAR ON THE PATH', 'WHY', 'FLOWS', 'FLOWS EBPF DENIES', 'REQUESTS', 'REQUESTS EBPF DENIES'],
      r.bypass.edges.map((e) => [e.edge, e.reason, e.flows, e.flowsDenied, e.requests, e.requestsDenied])));
    if (r.bypass.requestsUnchecked) out.push(`no sidecar on the path: ${bypassCounts(r.bypass)}`);
  }
  const rl = rbacLine(r);
  if (rl) out.push('', rl);
  if (r.notShadowed.length) out.push('', `not shadowed (${r.notShadowed.length}): ${r.notShadowed.slice(0, 5).join('; ')}${r.notShadowed.length > 5 ? '; ... (all in the report)' : ''}`);
  if (r.coverage.envoyOnly.length || r.coverage.probeOnly.length) out.push('', `coverage: envoy-only edges ${r.coverage.envoyOnly.join(', ') || '-'}; probe-only edges ${r.coverage.probeOnly.join(', ') || '-'}`);
  return out.join('\n');
}

export function renderShadowMarkdown(r: ShadowResult): string {
  const out = [`# Shadow comparison: ${r.namespace}`, '', ...header(r).map((l) => `- ${l}`), ''];
  out.push('## Verdict matrix (Envoy / eBPF)', '', markdownTable(['', 'eBPF allow', 'eBPF deny', 'no probe record'], [
    ['Envoy allow', r.matrix.allowAllow, r.matrix.allowDeny, '-'], ['Envoy deny', r.matrix.denyAllow, r.matrix.denyDeny, '-'], ['no Envoy entry', r.matrix.probeOnly, '-', '-'],
  ]), '', `Envoy requests without a probe record: ${r.matrix.envoyOnly}.`, '');
  out.push('## Disagreements', '');
  if (!r.disagreements.length) out.push('None.', '');
  else {
    out.push(markdownTable(['class', 'risk', 'edge', 'count', 'Envoy rule', 'eBPF rule', 'expected'], r.disagreements.map((d) => [d.class, d.risk, d.edge, d.count, d.envoyRule, d.ebpfRule, d.expected ? `yes (${d.gapCode} ${d.gapObject})` : 'no'])), '');
    for (const d of r.disagreements.slice(0, 20)) {
      out.push(`### ${d.class}: ${d.edge} (${d.count})`, '', ...d.examples.map(exampleLine), '');
    }
  }
  if (r.bypass.edges.length) {
    out.push('## Traffic no sidecar handled', '', `${r.bypass.note} Flow counts from ${r.bypass.flowSource === 'edge-aggregate' ? 'the kernel\'s edge aggregates' : 'flow records (sampled)'}; ${bypassCounts(r.bypass)}.`, '',
      markdownTable(['edge', 'why', 'flows', 'eBPF denies', 'HTTP requests', 'eBPF denies'], r.bypass.edges.map((e) => [e.edge, e.reason, e.flows, e.flowsDenied, e.requests, e.requestsDenied])), '');
  }
  out.push('## Edges', '', markdownTable(['edge', 'agreement', 'wire p50/p90/p99/p99.9 ms', 'app', 'sidecar overhead', 'projected after cutover', 'requests envoy log/kernel', 'istio_requests_total', 'parity'],
    r.edges.map((e) => [e.edge, e.agreement === null ? '-' : `${(e.agreement * 100).toFixed(2)}%`, pct(e.latency.wire), pct(e.latency.app), pct(e.latency.sidecarOverhead), pct(e.latency.projected), `${e.parity.requests.envoy}/${e.parity.requests.probe}`, e.parity.istioMetrics ? String(e.parity.istioMetrics.envoy) : '-', e.parity.ok ? 'ok' : 'differs'])), '');
  out.push(`Latency: ${r.latencyAssumptions.note} (eBPF cost ${r.latencyAssumptions.ebpfCostUs} µs). Telemetry: ${r.telemetry.note}; ${r.telemetry.edgesOk}/${r.telemetry.edgesChecked} edges within tolerance.`, '');
  if (r.telemetry.rbac) {
    out.push('## Envoy RBAC counters vs access log', '', `${rbacLine(r)}.`, '');
    if (r.telemetry.rbac.length) {
      out.push(markdownTable(['sidecar', 'port', 'counters allowed', 'counters denied', 'log allowed', 'log denied', 'dry-run (action:result)', 'log complete'],
        r.telemetry.rbac.map((x) => [x.pod, x.port, x.metrics.allowed, x.metrics.denied, x.log.allowed, x.log.denied, x.dryRun ? Object.entries(x.dryRun).map(([k, v]) => `${k} ${v}`).join(', ') : '-', x.ok ? 'yes' : 'NO'])), '');
    }
  }
  out.push('## Rules', '', markdownTable(['side', 'rule', 'source', 'allow/allow', 'allow/deny', 'deny/allow', 'deny/deny'], r.rules.map((x) => [x.side, x.rule, x.source ?? '-', x.matrix.allowAllow, x.matrix.allowDeny, x.matrix.denyAllow, x.matrix.denyDeny])), '');
  out.push('## Coverage', '', `- both sides: ${r.coverage.both.join(', ') || '-'}`, `- Envoy only: ${r.coverage.envoyOnly.join(', ') || '-'}`, `- probe only: ${r.coverage.probeOnly.join(', ') || '-'}`, '');
  if (r.notShadowed.length) out.push('## Not shadowed', '', 'What the plan holds that the probe does not check; requests that depend on it were judged without it.', '', ...r.notShadowed.map((u) => `- ${u}`), '');
  if (r.gaps.length) out.push('## Known translation gaps', '', ...r.gaps.map((g) => `- ${g.code} ${g.object}: ${g.reason}`), '');
  return out.join('\n');
}
