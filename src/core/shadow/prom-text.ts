// The sidecars' own request counter, istio_requests_total (reporter="destination"), from Prometheus text
// (:15020/stats/prometheus); the run scrapes it at start and end and the diff compares the delta per edge.

/** `source|destination` -> status class -> count, for reporter="destination". */
export type IstioCounts = Map<string, Record<string, number>>;

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseIstioRequests(text: string): IstioCounts {
  const out: IstioCounts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue;
    const close = line.lastIndexOf('}');
    const value = Number(line.slice(close + 1).trim().split(' ')[0]);
    if (close < 0 || !Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const m of line.slice(21, close).matchAll(LABEL)) labels[m[1]!] = m[2]!;
    if (labels.reporter !== 'destination') continue;
    const k = `${labels.source_workload ?? 'unknown'}|${labels.destination_workload ?? 'unknown'}`;
    const code = Number(labels.response_code);
    const cls = code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : 'unparsed';
    const r = out.get(k) ?? {};
    r[cls] = (r[cls] ?? 0) + value;
    out.set(k, r);
  }
  return out;
}

/** end - start per key and class; a counter that went down (sidecar restart) counts from 0. */
export function istioDelta(start: IstioCounts, end: IstioCounts): IstioCounts {
  const out: IstioCounts = new Map();
  for (const [k, e] of end) {
    const s = start.get(k) ?? {};
    const d: Record<string, number> = {};
    for (const [c, v] of Object.entries(e)) d[c] = v >= (s[c] ?? 0) ? v - (s[c] ?? 0) : v;
    out.set(k, d);
  }
  return out;
}
