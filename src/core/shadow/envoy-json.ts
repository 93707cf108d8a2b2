// Envoy JSON access log format (Istio's `accessLogEncoding: JSON`), keys as in reference/envoy-telemetry.md.
// Values may be null or '-' for missing; numbers may arrive as numbers or strings.
import type { AccessLogEntry } from './types.js';
import { emptyParseStats, parseNum, parseStartTime } from './envoy-text.js';
import type { ParseStats } from './envoy-text.js';

function str(v: unknown): string {
  return v === null || v === undefined ? '-' : typeof v === 'string' ? v : String(v);
}
function num(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' ? parseNum(v) : NaN;
}

export function entryFromJson(o: Record<string, unknown>, pod: string): AccessLogEntry | string {
  const start = str(o.start_time);
  const startMs = parseStartTime(start);
  if (Number.isNaN(startMs)) return 'bad start_time';
  const status = num(o.response_code);
  if (Number.isNaN(status)) return 'response_code is not a number';
  const br = num(o.bytes_received);
  const bs = num(o.bytes_sent);
  return {
    pod, startMs, method: str(o.method), path: str(o.path), protocol: str(o.protocol), status,
    flags: str(o.response_flags), details: str(o.response_code_details), termination: str(o.connection_termination_details),
    bytesReceived: Number.isNaN(br) ? 0 : br, bytesSent: Number.isNaN(bs) ? 0 : bs, durationMs: num(o.duration),
    upstreamMs: num(o.upstream_service_time), requestId: str(o.request_id), authority: str(o.authority), userAgent: str(o.user_agent),
    upstreamHost: str(o.upstream_host), upstreamCluster: str(o.upstream_cluster), upstreamLocal: str(o.upstream_local_address),
    downstreamLocal: str(o.downstream_local_address), downstreamRemote: str(o.downstream_remote_address),
    sni: str(o.requested_server_name), route: str(o.route_name),
  };
}

export function parseEnvoyJson(text: string, pod: string, onEntry: (e: AccessLogEntry) => void, stats: ParseStats = emptyParseStats()): ParseStats {
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.trim();
    if (!line) continue;
    stats.lines++;
    let reason: string;
    try {
      const o = JSON.parse(line) as unknown;
      if (o && typeof o === 'object' && !Array.isArray(o)) {
        const e = entryFromJson(o as Record<string, unknown>, pod);
        if (typeof e !== 'string') { onEntry(e); stats.parsed++; continue; }
        reason = e;
      } else reason = 'not a JSON object';
    } catch (e) {
      reason = `invalid JSON: ${(e as Error).message}`;
    }
    stats.failed++;
    if (stats.failures.length < 5) stats.failures.push({ line: lineNo, reason, text: line.slice(0, 200) });
  }
  return stats;
}

/** Picks the parser by the first non-blank character: '{' is JSON, '[' is TEXT. */
export function detectFormat(text: string): 'json' | 'text' {
  const m = /\S/.exec(text.slice(0, 4096));
  return m && m[0] === '{' ? 'json' : 'text';
}
