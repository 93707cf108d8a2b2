// Ports of `migrate shadow`: the probe (local process or DaemonSet), the sidecars' telemetry (access logs,
// metrics) and the results directory. Narrow: only the calls the workflow makes.
import type { ProbeConfig } from '../core/shadow/probe-config.js';
import type { ShadowCursor, ShadowRunMeta } from '../core/shadow/run.js';
import type { BypassTotal } from '../core/shadow/bypass.js';

export interface ProbeExit { code: number | null; signal: string | null; stderrTail: string }

export interface ProbeHandle {
  /** SIGINT: the loader drains its ring, dumps the edges and detaches; resolves when it exited. */
  stop(): Promise<ProbeExit>;
  /** Resolves when the probe exits on its own (a crash, or a failed start). */
  readonly exited: Promise<ProbeExit>;
}

export interface ProbeRunner {
  readonly where: string;
  /** Starts the probe; `onLines` receives complete JSON lines (one string may hold many, '\n'-terminated). */
  start(config: ProbeConfig, onLines: (text: string) => void): Promise<ProbeHandle>;
}

export interface AccessLogFollower {
  /** New complete lines per pod since the last call, and the new read offsets. */
  poll(): { pod: string; text: string }[];
  offsets(): Record<string, number>;
  /** Releases open streams (API followers); files need nothing. */
  close?(): void;
}

export interface EnvoyTelemetry {
  /** Follows each pod's access log from the given offsets (resume) or from its current end (new run). */
  follow(logs: Record<string, string>, from: Record<string, number> | 'end'): AccessLogFollower;
  /** The sidecar's Prometheus text (istio_* metrics); null when unreachable. */
  scrape?(source: { url: string; netns?: string }): Promise<string | null>;
}

export interface ShadowStore {
  readonly dir: string;
  readMeta(): ShadowRunMeta | null;
  writeMeta(m: ShadowRunMeta): void;
  readCursor(): ShadowCursor | null;
  writeCursor(c: ShadowCursor): void;
  appendProbe(text: string): void;
  appendAccess(pod: string, text: string): void;
  /** Everything recorded so far, for replay and resume. */
  readProbe(): string;
  readAccess(): { pod: string; text: string }[];
  writeResult(json: string, markdown: string): void;
  writeMetrics(pod: string, phase: 'start' | 'end', text: string): void;
  readMetrics(): { pod: string; phase: 'start' | 'end'; text: string }[];
}

/** Live metrics of the run (prom-client in the adapter). */
export interface ShadowMetricsSink {
  verdicts(deltas: Record<string, number>): void;
  latency(leg: 'wire' | 'app' | 'overhead', ms: number): void;
  probeCounters(c: Record<string, number>): void;
  accessLines(pod: string, n: number, failed: number): void;
  /** Traffic no sidecar handles, cumulative since the start (BypassJudge.totals). */
  noSidecar(totals: BypassTotal[]): void;
  close(): Promise<void>;
}
