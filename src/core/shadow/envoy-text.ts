// Istio's default Envoy TEXT access log format (reference/envoy-telemetry.md), parsed by a hand-written scanner:
// one left-to-right pass with indexOf per field, no regex, no split. Quoted fields may hold spaces (user agent);
// a quoted field ends at a '"' followed by a space or the end of the line, because Envoy does not escape quotes
// in TEXT logs. Missing values print '-'.
import type { AccessLogEntry } from './types.js';

export interface ParseStats {
  lines: number;
  parsed: number;
  failed: number;
  /** First few failures: 1-based line number within this chunk and the reason. */
  failures: { line: number; reason: string; text: string }[];
}

export function emptyParseStats(): ParseStats {
  return { lines: 0, parsed: 0, failed: 0, failures: [] };
}

const MAX_FAILURE_SAMPLES = 5;

// START_TIME is `YYYY-MM-DDTHH:MM:SS.mmmZ`; the hour prefix changes rarely, so its epoch value is cached.
let hourKey = '';
let hourMs = 0;
export function parseStartTime(s: string): number {
  if (s.length === 24 && s.charCodeAt(23) === 90 /* Z */ && s.charCodeAt(19) === 46 /* . */) {
    const key = s.slice(0, 13);
    if (key !== hourKey) {
      const ms = Date.parse(`${key}:00:00.000Z`);
      if (Number.isNaN(ms)) return Date.parse(s);
      hourKey = key;
      hourMs = ms;
    }
    const d = (i: number) => s.charCodeAt(i) - 48;
    return hourMs + (d(14) * 10 + d(15)) * 60_000 + (d(17) * 10 + d(18)) * 1000 + d(20) * 100 + d(21) * 10 + d(22);
  }
  return Date.parse(s);
}

/** Decimal integer or '-' (NaN). */
export function parseNum(s: string): number {
  const n = s.length;
  if (n === 0 || n > 15) return n ? Number(s) : NaN;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return s === '-' ? NaN : Number(s);
    v = v * 10 + c;
  }
  return v;
}

// The scanner works on offsets into the chunk (no per-line copy); a malformed line sets `failReason` and
// returns null instead of throwing, so the hot path has no try/catch.
let failReason = '';

function fail(reason: string): null {
  failReason = reason;
  return null;
}

/** Decimal integer at [i, j) of s, or NaN for '-' / anything else. */
function numAt(s: string, i: number, j: number): number {
  if (j <= i) return NaN;
  let v = 0;
  for (let k = i; k < j; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return j - i === 1 && c === -3 ? NaN : Number(s.slice(i, j));
    v = v * 10 + c;
  }
  return v;
}

/** End of a space-delimited token starting at i (end of line if none); -1 past the end. */
function tok(s: string, i: number, end: number): number {
  if (i >= end) return -1;
  const j = s.indexOf(' ', i);
  return j < 0 || j > end ? end : j;
}

/** Index of the closing quote of a quoted field that opens at i, or -1. */
function qend(s: string, i: number, end: number): number {
  if (i >= end || s.charCodeAt(i) !== 34 /* " */) return -1;
  let j = s.indexOf('"', i + 1);
  while (j >= 0 && j + 1 < end && s.charCodeAt(j + 1) !== 32) j = s.indexOf('"', j + 1);
  return j < 0 || j >= end ? -1 : j;
}

function scan(s: string, b: number, end: number, pod: string): AccessLogEntry | null {
  if (s.charCodeAt(b) !== 91 /* [ */) return fail('does not start with [START_TIME]');
  let j = s.indexOf(']', b + 1);
  if (j < 0 || j >= end) return fail('unterminated [START_TIME]');
  const startMs = parseStartTime(s.slice(b + 1, j));
  if (startMs !== startMs) return fail('bad START_TIME');
  let i = j + 2;
  // "METHOD PATH PROTOCOL"
  const re = qend(s, i, end);
  if (re < 0) return fail('request line is not quoted');
  const sp1 = s.indexOf(' ', i + 1);
  const sp2 = s.lastIndexOf(' ', re - 1);
  if (sp1 < 0 || sp1 >= re || sp2 <= sp1) return fail('request line is not "METHOD PATH PROTOCOL"');
  const method = s.slice(i + 1, sp1);
  const path = s.slice(sp1 + 1, sp2);
  const protocol = s.slice(sp2 + 1, re);
  i = re + 2;
  j = tok(s, i, end); if (j < 0) return fail('missing RESPONSE_CODE');
  const status = numAt(s, i, j); i = j + 1;
  if (status !== status) return fail('RESPONSE_CODE is not a number');
  j = tok(s, i, end); if (j < 0) return fail('missing RESPONSE_FLAGS');
  const flags = s.slice(i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing RESPONSE_CODE_DETAILS');
  const details = s.slice(i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing CONNECTION_TERMINATION_DETAILS');
  const termination = s.slice(i, j); i = j + 1;
  j = qend(s, i, end); if (j < 0) return fail('missing "UPSTREAM_TRANSPORT_FAILURE_REASON"');
  i = j + 2;
  j = tok(s, i, end); if (j < 0) return fail('missing BYTES_RECEIVED');
  const bytesReceived = numAt(s, i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing BYTES_SENT');
  const bytesSent = numAt(s, i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing DURATION');
  const durationMs = numAt(s, i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing X-ENVOY-UPSTREAM-SERVICE-TIME');
  const upstreamMs = numAt(s, i, j); i = j + 1;
  j = qend(s, i, end); if (j < 0) return fail('missing "X-FORWARDED-FOR"');
  i = j + 2;
  j = qend(s, i, end); if (j < 0) return fail('missing "USER-AGENT"');
  const userAgent = s.slice(i + 1, j); i = j + 2;
  j = qend(s, i, end); if (j < 0) return fail('missing "X-REQUEST-ID"');
  const requestId = s.slice(i + 1, j); i = j + 2;
  j = qend(s, i, end); if (j < 0) return fail('missing ":AUTHORITY"');
  const authority = s.slice(i + 1, j); i = j + 2;
  j = qend(s, i, end); if (j < 0) return fail('missing "UPSTREAM_HOST"');
  const upstreamHost = s.slice(i + 1, j); i = j + 2;
  j = tok(s, i, end); if (j < 0) return fail('missing UPSTREAM_CLUSTER');
  const upstreamCluster = s.slice(i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing UPSTREAM_LOCAL_ADDRESS');
  const upstreamLocal = s.slice(i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing DOWNSTREAM_LOCAL_ADDRESS');
  const downstreamLocal = s.slice(i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing DOWNSTREAM_REMOTE_ADDRESS');
  const downstreamRemote = s.slice(i, j); i = j + 1;
  j = tok(s, i, end); if (j < 0) return fail('missing REQUESTED_SERVER_NAME');
  const sni = s.slice(i, j); i = j + 1;
  if (i >= end) return fail('missing ROUTE_NAME');
  const route = s.slice(i, end);
  return {
    pod, startMs, method, path, protocol, status, flags, details, termination,
    bytesReceived: bytesReceived === bytesReceived ? bytesReceived : 0, bytesSent: bytesSent === bytesSent ? bytesSent : 0,
    durationMs, upstreamMs, requestId, authority, userAgent, upstreamHost, upstreamCluster, upstreamLocal, downstreamLocal,
    downstreamRemote, sni, route,
  };
}

/**
 * Parses a chunk of complete lines (TEXT format) written by `pod`'s sidecar. Blank lines are skipped; a line
 * that fails is counted in stats (with a sample), never thrown.
 */
export function parseEnvoyText(text: string, pod: string, onEntry: (e: AccessLogEntry) => void, stats: ParseStats = emptyParseStats()): ParseStats {
  let pos = 0;
  const n = text.length;
  let lineNo = 0;
  let lines = 0;
  let parsed = 0;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    lineNo++;
    let stop = nl;
    if (stop > pos && text.charCodeAt(stop - 1) === 13) stop--;
    if (stop > pos) {
      lines++;
      const e = scan(text, pos, stop, pod);
      if (e) { onEntry(e); parsed++; } else {
        stats.failed++;
        if (stats.failures.length < MAX_FAILURE_SAMPLES) stats.failures.push({ line: lineNo, reason: failReason, text: text.slice(pos, Math.min(stop, pos + 200)) });
      }
    }
    pos = nl + 1;
  }
  stats.lines += lines;
  stats.parsed += parsed;
  return stats;
}

/** Parses one TEXT line; null when malformed. */
export function parseEnvoyTextLine(line: string, pod: string): AccessLogEntry | null {
  return scan(line, 0, line.length, pod);
}
