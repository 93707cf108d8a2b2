// InventoryResult -> a readable summary (terminal) or a Markdown report (--output FILE.md).
import type { InventoryResult } from '../core/model/inventory.js';
import { formatFinding } from '../core/model/finding.js';
import { formatBytes, formatMillicores } from '../core/quantity.js';
import { markdownTable, textTable, type Cell } from './table.js';

const MAX_WORKLOAD_ROWS = 200;

function overview(r: InventoryResult): string[] {
  const s = r.summary;
  const istio = Object.entries(s.istioResources).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `namespaces ${s.namespaces}, workloads ${s.workloads}, pods ${s.pods} (${s.injectedPods} with a sidecar), CNI ${s.cni}`,
    `nodes: ${s.nodesByReadiness.ready} ready, ${s.nodesByReadiness['ready-with-caveats']} ready with caveats, ${s.nodesByReadiness.blocked} blocked`,
    `workloads by class: ${Object.entries(s.workloadsByClass).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `Istio resources: ${istio}`,
  ];
}

function workloadRows(r: InventoryResult): Cell[][] {
  return r.workloads.slice(0, MAX_WORKLOAD_ROWS).map((w) => [
    w.namespace, `${w.kind}/${w.name}`, w.pods, w.injectedPods, w.class, w.reasons.join(',') || '-', w.policies.length,
  ]);
}

function taxRows(r: InventoryResult): Cell[][] {
  const rows: Cell[][] = r.namespaces.filter((n) => n.injectedPods > 0).map((n) => [
    n.name, n.injection, n.injectedPods, formatMillicores(n.sidecar.cpuRequestMillicores), formatBytes(n.sidecar.memoryRequestBytes),
    formatMillicores(n.sidecar.cpuLimitMillicores), formatBytes(n.sidecar.memoryLimitBytes),
    n.sidecarUsage ? `${formatMillicores(n.sidecarUsage.cpuMillicores)} / ${formatBytes(n.sidecarUsage.memoryBytes)}` : '-',
  ]);
  const t = r.sidecarTax;
  rows.push(['(total)', '', r.summary.injectedPods, formatMillicores(t.sidecars.cpuRequestMillicores), formatBytes(t.sidecars.memoryRequestBytes),
    formatMillicores(t.sidecars.cpuLimitMillicores), formatBytes(t.sidecars.memoryLimitBytes),
    t.measured ? `${formatMillicores(t.measured.cpuMillicores)} / ${formatBytes(t.measured.memoryBytes)}` : '-']);
  return rows;
}

const TAX_HEADERS = ['NAMESPACE', 'INJECTION', 'SIDECARS', 'CPU REQ', 'MEM REQ', 'CPU LIM', 'MEM LIM', 'MEASURED CPU / MEM'];

function taxLine(r: InventoryResult): string {
  const t = r.sidecarTax;
  const sign = (n: number, f: (x: number) => string) => (n < 0 ? `-${f(-n)}` : f(n));
  return `agent: ${t.agentNodes} node(s) x ${formatMillicores(t.agentPerNode.cpuRequestMillicores)} CPU / ${formatBytes(t.agentPerNode.memoryRequestBytes)} = ` +
    `${formatMillicores(t.agents.cpuRequestMillicores)} / ${formatBytes(t.agents.memoryRequestBytes)}; projected saving ` +
    `${sign(t.projectedSaving.cpuRequestMillicores, formatMillicores)} CPU, ${sign(t.projectedSaving.memoryRequestBytes, formatBytes)} memory (requests)`;
}

/** Nodes grouped by kernel, OS image and readiness: a fleet of 1,000 nodes reads as a few lines. */
function nodeGroups(r: InventoryResult): Cell[][] {
  const groups = new Map<string, { count: number; kernel: string; os: string; arch: string; readiness: string; reasons: string; example: string }>();
  for (const n of r.nodes) {
    const key = [n.kernelVersion, n.osImage, n.architecture, n.readiness].join('\u0000');
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { count: 1, kernel: n.kernelVersion || '(none)', os: n.osImage || '-', arch: n.architecture || '-', readiness: n.readiness, reasons: n.reasons.join(',') || '-', example: n.name });
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.kernel.localeCompare(b.kernel)).map((g) => [g.count, g.kernel, g.os, g.arch, g.readiness, g.reasons, g.example]);
}

const NODE_HEADERS = ['NODES', 'KERNEL', 'OS IMAGE', 'ARCH', 'READINESS', 'REASONS', 'E.G.'];
const WORKLOAD_HEADERS = ['NAMESPACE', 'WORKLOAD', 'PODS', 'SIDECARS', 'CLASS', 'REASONS', 'POLICIES'];

export function renderInventoryText(r: InventoryResult): string {
  const out: string[] = [`Inventory of ${r.summary.source}`, ...overview(r).map((l) => `  ${l}`), ''];
  out.push('Workloads', textTable(WORKLOAD_HEADERS, workloadRows(r)));
  if (r.workloads.length > MAX_WORKLOAD_ROWS) out.push(`  ... ${r.workloads.length - MAX_WORKLOAD_ROWS} more (use --json or --output FILE.md)`);
  out.push('', 'Sidecar tax (requests and limits of istio-proxy)', textTable(TAX_HEADERS, taxRows(r)), taxLine(r));
  out.push('', 'Nodes', textTable(NODE_HEADERS, nodeGroups(r)));
  if (r.findings.length) out.push('', 'Findings', ...r.findings.map(formatFinding));
  return out.join('\n') + '\n';
}

export function renderInventoryMarkdown(r: InventoryResult): string {
  const out = [`# Inventory`, '', `Source: ${r.summary.source}`, '', ...overview(r).map((l) => `- ${l}`), ''];
  out.push('## Workloads', '', markdownTable(WORKLOAD_HEADERS.map((h) => h.toLowerCase()), r.workloads.map((w) => [
    w.namespace, `${w.kind}/${w.name}`, w.pods, w.injectedPods, w.class, w.reasons.join(', ') || '-', w.policies.join(', ') || '-',
  ])), '');
  const why = r.workloads.filter((w) => w.class === 'needs-waypoint' || w.class === 'blocked');
  if (why.length) {
    out.push('### Why workloads need a waypoint or are blocked', '');
    for (const w of why) {
      out.push(`- **${w.namespace}/${w.name}** (${w.class}):`);
      for (const d of w.reasonDetails.filter((x) => x.code !== 'L4_AUTHZ')) out.push(`  - \`${d.code}\` ${d.source ? `${d.source}: ` : ''}${d.detail}`);
    }
    out.push('');
  }
  out.push('## Sidecar tax', '', markdownTable(TAX_HEADERS.map((h) => h.toLowerCase()), taxRows(r)), '', taxLine(r), '');
  out.push('## Nodes', '', markdownTable(NODE_HEADERS.map((h) => h.toLowerCase()), nodeGroups(r)), '');
  out.push('## Services', '', markdownTable(['namespace', 'service', 'ports (protocol)', 'workloads'], r.services.map((s) => [
    s.namespace, s.name, s.ports.map((p) => `${p.port}/${p.appProtocol}`).join(', '), s.workloads.join(', ') || '-',
  ])), '');
  if (r.findings.length) out.push('## Findings', '', ...r.findings.map((f) => `- ${formatFinding(f)}`), '');
  return out.join('\n');
}
