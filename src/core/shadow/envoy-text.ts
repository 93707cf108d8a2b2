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

class LineError extends Error {}

/**
 * Parses one line (no trailing newline). Throws LineError with the reason on a malformed line.
 */
function parseLine(line: string, pod: string): AccessLogEntry {
  let i = 0;
  const end = line.length;
  if (line.charCodeAt(0) !== 91 /* [ */) throw new LineError('does not start with [START_TIME]');
  let j = line.indexOf(']', 1);
  if (j < 0) throw new LineError('unterminated [START_TIME]');
  const startMs = parseStartTime(line.slice(1, j));
  if (Number.isNaN(startMs)) throw new LineError('bad START_TIME');
  i = j + 2;
  // "METHOD PATH PROTOCOL"
  const reqEnd = quotedEnd(line, i, end);
  const sp1 = line.indexOf(' ', i + 1);
  const sp2 = line.lastIndexOf(' ', reqEnd - 1);
  if (sp1 < 0 || sp1 >= reqEnd || sp2 <= sp1) throw new LineError('request line is not "METHOD PATH PROTOCOL"');
  const method = line.slice(i + 1, sp1);
  const path = line.slice(sp1 + 1, sp2);
  const protocol = line.slice(sp2 + 1, reqEnd);
  i = reqEnd + 2;
  j = token(line, i, end); const status = parseNum(line.slice(i, j)); i = j + 1;
  j = token(line, i, end); const flags = line.slice(i, j); i = j + 1;
  j = token(line, i, end); const details = line.slice(i, j); i = j + 1;
  j = token(line, i, end); const termination = line.slice(i, j); i = j + 1;
  j = quotedEnd(line, i, end); i = j + 2; // UPSTREAM_TRANSPORT_FAILURE_REASON (not used by the diff)
  j = token(line, i, end); const bytesReceived = parseNum(line.slice(i, j)); i = j + 1;
  j = token(line, i, end); const bytesSent = parseNum(line.slice(i, j)); i = j + 1;
  j = token(line, i, end); const durationMs = parseNum(line.slice(i, j)); i = j + 1;
  j = token(line, i, end); const upstreamMs = parseNum(line.slice(i, j)); i = j + 1;
  j = quotedEnd(line, i, end); i = j + 2; // X-FORWARDED-FOR
  j = quotedEnd(line, i, end); i = j + 2; // USER-AGENT
  j = quotedEnd(line, i, end); const requestId = line.slice(i + 1, j); i = j + 2;
  j = quotedEnd(line, i, end); const authority = line.slice(i + 1, j); i = j + 2;
  j = quotedEnd(line, i, end); const upstreamHost = line.slice(i + 1, j); i = j + 2;
  j = token(line, i, end); const upstreamCluster = line.slice(i, j); i = j + 1;
  j = token(line, i, end); const upstreamLocal = line.slice(i, j); i = j + 1;
  j = token(line, i, end); const downstreamLocal = line.slice(i, j); i = j + 1;
  j = token(line, i, end); const downstreamRemote = line.slice(i, j); i = j + 1;
  j = token(line, i, end); const sni = line.slice(i, j); i = j + 1;
  if (i > end) throw new LineError('missing ROUTE_NAME');
  const route = line.slice(i, end);
  if (Number.isNaN(status)) throw new LineError('RESPONSE_CODE is not a number');
  return {
    pod, startMs, method, path, protocol, status, flags, details, termination,
    bytesReceived: Number.isNaN(bytesReceived) ? 0 : bytesReceived, bytesSent: Number.isNaN(bytesSent) ? 0 : bytesSent,
    durationMs, upstreamMs, requestId, authority, upstreamHost, upstreamCluster, upstreamLocal, downstreamLocal,
    downstreamRemote, sni, route,
  };
}

/** End of a space-delimited token starting at i. */
function token(line: string, i: number, end: number): number {
  if (i >= end) throw new LineError(`line ends at column ${i} before all fields were read`);
  const j = line.indexOf(' ', i);
  return j < 0 ? end : j;
}

/** Index of the closing quote of a quoted field that opens at i. */
function quotedEnd(line: string, i: number, end: number): number {
  if (line.charCodeAt(i) !== 34 /* " */) throw new LineError(`expected '"' at column ${i + 1}`);
  let j = line.indexOf('"', i + 1);
  while (j >= 0 && j + 1 < end && line.charCodeAt(j + 1) !== 32) j = line.indexOf('"', j + 1);
  if (j < 0) throw new LineError(`unterminated quoted field at column ${i + 1}`);
  return j;
}

/**
 * Parses a chunk of complete lines (TEXT format) written by `pod`'s sidecar. Blank lines are skipped; a line
 * that fails is counted in stats (with a sample), never thrown.
 */
export function parseEnvoyText(text: string, pod: string, onEntry: (e: AccessLogEntry) => void, stats: ParseStats = emptyParseStats()): ParseStats {
  let pos = 0;
  const n = text.length;
  let lineNo = 0;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    lineNo++;
    let stop = nl;
    if (stop > pos && text.charCodeAt(stop - 1) === 13) stop--;
    if (stop > pos) {
      stats.lines++;
      const line = text.slice(pos, stop);
      try {
        onEntry(parseLine(line, pod));
        stats.parsed++;
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        stats.failed++;
        if (stats.failures.length < MAX_FAILURE_SAMPLES) stats.failures.push({ line: lineNo, reason: e.message, text: line.slice(0, 200) });
      }
    }
    pos = nl + 1;
  }
  return stats;
}

/** Parses one TEXT line; null when malformed. */
export function parseEnvoyTextLine(line: string, pod: string): AccessLogEntry | null {
  try { return parseLine(line, pod); } catch (e) { if (e instanceof LineError) return null; throw e; }
}
