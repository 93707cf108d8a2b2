// A shadow run on disk (the results directory, also the layout of recorded fixtures and of `--replay DIR`):
//   meta.json           ShadowRunMeta: what was shadowed against what (pods, rule table, L7 rules, gaps)
//   probe.jsonl         shadow-probe records, appended as they arrive
//   access/<pod>.log    each sidecar's access log lines (TEXT or JSON), appended as they arrive
//   metrics/<pod>.{start,end}.prom   the sidecar's Prometheus text at start and end
//   cursor.json         read offsets in the sources, rewritten atomically each tick (resume point)
//   result.json, report.md   written at the end (and on interrupt)
// Everything but meta/cursor/result is append-only, so a crash loses at most the last tick.
import type { KnownGap, L7Rule, RuleRef, ShadowPod } from './types.js';
import type { ProbeConfig } from './probe-config.js';
import type { JoinInputs } from './join.js';

export interface ShadowRunMeta {
  version: 1;
  namespace: string;
  mode: 'local' | 'cluster' | 'replay';
  plan?: string;
  startedAtMs: number;
  pods: ShadowPod[];
  rules: RuleRef[];
  l7: L7Rule[];
  gaps: KnownGap[];
  selectedBy: Record<string, string[]>;
  unsupported: string[];
  /** The nodes' probe identities (absent in older runs). */
  nodes?: { name: string; identity: number }[];
  /** The probe config the run used (absent in cluster mode before the DaemonSet exists). */
  probeConfig?: ProbeConfig;
  /** Where each sidecar's Istio metrics are scraped (url, inside netns when set). */
  metricsSources?: Record<string, { url: string; netns?: string }>;
  /** Where each pod's access log came from. */
  accessLogs: Record<string, string>;
  /** Scenario fixtures: how the recording was made. */
  recordedWith?: string;
}

/** What the join reads of a run: the plan's side of every verdict (also what the differential tests join with). */
export function joinInputsOf(meta: Pick<ShadowRunMeta, 'namespace' | 'pods' | 'rules' | 'l7' | 'gaps' | 'selectedBy' | 'probeConfig' | 'nodes'>): JoinInputs {
  return { namespace: meta.namespace, pods: meta.pods, rules: meta.rules, l7: meta.l7, gaps: meta.gaps, selectedBy: meta.selectedBy, ...(meta.probeConfig ? { identities: meta.probeConfig.identities } : {}), ...(meta.nodes ? { nodes: meta.nodes } : {}) };
}

export interface ShadowCursor {
  /** Bytes of each source access log already copied into access/<pod>.log. */
  access: Record<string, number>;
  /** Lines of probe.jsonl written. */
  probeLines: number;
  updatedAtMs: number;
}

export const RUN_FILES = { meta: 'meta.json', probe: 'probe.jsonl', accessDir: 'access', cursor: 'cursor.json', result: 'result.json', report: 'report.md' } as const;
