// shadow-probe's JSON-line output (one record per line). `ts` is wall-clock ns; beyond 2^53 it loses a few
// hundred ns in a double, far below the join window.
import type { ProbeLine } from './types.js';
import type { ParseStats } from './envoy-text.js';
import { emptyParseStats } from './envoy-text.js';

const TYPES = new Set(['flow', 'http', 'conn', 'edge', 'metrics']);

export function parseProbeLines(text: string, onRecord: (r: ProbeLine) => void, stats: ParseStats = emptyParseStats()): ParseStats {
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    lineNo++;
    if (nl > pos) {
      const line = text.slice(pos, nl);
      stats.lines++;
      let reason = '';
      try {
        const o = JSON.parse(line) as { type?: unknown };
        if (o && typeof o === 'object' && typeof o.type === 'string') {
          if (TYPES.has(o.type)) { onRecord(o as ProbeLine); stats.parsed++; } else stats.parsed++; // e.g. cleanup: not data
        } else reason = 'no "type"';
      } catch (e) { reason = `invalid JSON: ${(e as Error).message}`; }
      if (reason) {
        stats.failed++;
        if (stats.failures.length < 5) stats.failures.push({ line: lineNo, reason, text: line.slice(0, 200) });
      }
    }
    pos = nl + 1;
  }
  return stats;
}
