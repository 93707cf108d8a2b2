// Live vs snapshot InventoryResult comparison. The two must be equal except for what only a live apiserver has,
// and each such difference is named here (nothing else is dropped):
//  - summary.source names the source ("cluster https://..." vs "snapshot fixtures/...");
//  - the MIG_METRICS_UNAVAILABLE finding: only a live run asks metrics.k8s.io;
//  - objects the apiserver creates itself, when the snapshot does not have them: the namespaces default,
//    kube-system, kube-public and kube-node-lease (empty: no workloads, no pods) and the Service default/kubernetes.
import type { InventoryResult } from '../../src/core/model/inventory.js';

const APISERVER_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
const LIVE_ONLY_FINDINGS = new Set(['MIG_METRICS_UNAVAILABLE']);

export function normalizeLive(live: InventoryResult, snapshot: InventoryResult): InventoryResult {
  const r = structuredClone(live);
  const snapNs = new Set(snapshot.namespaces.map((n) => n.name));
  const extraNs = r.namespaces.filter((n) => APISERVER_NAMESPACES.has(n.name) && !snapNs.has(n.name) && n.workloads === 0 && n.pods === 0);
  r.namespaces = r.namespaces.filter((n) => !extraNs.includes(n));
  r.summary.namespaces -= extraNs.length;
  if (!snapshot.services.some((s) => s.namespace === 'default' && s.name === 'kubernetes')) {
    r.services = r.services.filter((s) => !(s.namespace === 'default' && s.name === 'kubernetes'));
  }
  r.findings = r.findings.filter((f) => !LIVE_ONLY_FINDINGS.has(f.code));
  r.summary.source = snapshot.summary.source;
  return r;
}

export function normalizeSnapshot(snapshot: InventoryResult): InventoryResult {
  const r = structuredClone(snapshot);
  r.findings = r.findings.filter((f) => !LIVE_ONLY_FINDINGS.has(f.code));
  return r;
}
