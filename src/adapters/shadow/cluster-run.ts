// `migrate shadow --cluster` over the API: the probe as a DaemonSet (ClusterProbeRunner creates the rendered
// objects, waits for the pods, follows their logs, and deletes what it created) and the sidecars' telemetry
// (ApiTelemetry: istio-proxy access logs through pods/log, istio_* metrics through the pod proxy subresource).
import { clusterManifests, PROBE_NAME, PROBE_NS } from './cluster.js';
import type { ClusterShadowOptions } from './cluster.js';
import type { ProbeConfig } from '../../core/shadow/probe-config.js';
import type { ApiPod, KubeWriter, LogStream, OwnedObject } from '../../ports/kube-writer.js';
import type { AccessLogFollower, EnvoyTelemetry, ProbeExit, ProbeHandle, ProbeRunner } from '../../ports/shadow.js';

/** Splits a stream into complete lines; the remainder waits for the next chunk. */
function lineSplitter(onLines: (t: string) => void): { push(t: string): void; flush(): void } {
  let partial = '';
  return {
    push(t) { const s = partial + t; const cut = s.lastIndexOf('\n'); partial = cut < 0 ? s : s.slice(cut + 1); if (cut >= 0) onLines(s.slice(0, cut + 1)); },
    flush() { if (partial) { onLines(partial + '\n'); partial = ''; } },
  };
}

export interface ClusterRunOptions extends Omit<ClusterShadowOptions, 'outDir' | 'probeConfig'> {
  keep: boolean;
  readyTimeoutMs: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export class ClusterProbeRunner implements ProbeRunner {
  readonly where: string;
  /** What this run created, in creation order (cleanup deletes in reverse). */
  readonly created: OwnedObject[] = [];
  private streams: LogStream[] = [];
  private cleaned = false;
  constructor(private readonly kube: KubeWriter, private readonly o: ClusterRunOptions) {
    this.where = `DaemonSet/${o.probeNamespace ?? PROBE_NS}/${PROBE_NAME} on ${kube.where}`;
  }

  objects(config: ProbeConfig): OwnedObject[] {
    return clusterManifests({ ...this.o, outDir: '', probeConfig: config }) as unknown as OwnedObject[];
  }

  async start(config: ProbeConfig, onLines: (text: string) => void): Promise<ProbeHandle> {
    const ns = this.o.probeNamespace ?? PROBE_NS;
    try {
      for (const obj of this.objects(config)) {
        try {
          await this.kube.create(obj);
        } catch (e) {
          // A probe namespace that exists already (migrate-system shared by other tools) is used, not owned.
          if (obj.kind === 'Namespace' && (e as { code?: string }).code === 'MIGRATE_SHADOW_EXISTS') continue;
          throw e;
        }
        this.created.push(obj);
        this.o.log?.(`created ${obj.kind}/${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`);
      }
      const pods = await this.kube.waitDaemonSetReady(ns, PROBE_NAME, this.o.readyTimeoutMs, this.o.signal);
      return this.follow(pods, onLines);
    } catch (e) {
      await this.cleanup();
      throw e;
    }
  }

  private follow(pods: ApiPod[], onLines: (text: string) => void): ProbeHandle {
    const splitters = pods.map(() => lineSplitter(onLines));
    this.streams = pods.map((p, i) => this.kube.followLog(p.namespace, p.name, 'shadow-probe', (t) => splitters[i]!.push(t)));
    let stopping = false;
    // A probe pod's log ending means its container exited: the run is missing a node from then on.
    const exited = Promise.race(this.streams.map((s, i) => s.ended.then(() => i))).then(async (i): Promise<ProbeExit> => {
      if (stopping) return new Promise<ProbeExit>(() => {});
      splitters.forEach((s) => s.flush());
      return { code: null, signal: null, stderrTail: `the log of probe pod ${pods[i]!.namespace}/${pods[i]!.name} ended (container exited or pod deleted); see \`kubectl -n ${pods[i]!.namespace} logs ${pods[i]!.name} --previous\`` };
    });
    return {
      exited,
      stop: async () => {
        stopping = true;
        for (const s of this.streams) s.close();
        splitters.forEach((s) => s.flush());
        await this.cleanup();
        return { code: 0, signal: null, stderrTail: '' };
      },
    };
  }

  /** Deletes everything this run created, newest first, unless --keep; idempotent (stop, errors, Ctrl-C). */
  async cleanup(): Promise<string[]> {
    if (this.cleaned) return [];
    this.cleaned = true;
    for (const s of this.streams) s.close();
    if (this.o.keep) { this.o.log?.(`--keep: left ${this.created.map((c) => `${c.kind}/${c.metadata.name}`).join(', ')}`); return []; }
    const failed: string[] = [];
    for (const obj of [...this.created].reverse()) {
      try { await this.kube.delete(obj); } catch (e) { failed.push((e as Error).message); }
    }
    if (failed.length) this.o.log?.(`cleanup incomplete:\n  ${failed.join('\n  ')}`);
    return failed;
  }
}

/** The proxy path of a sidecar's Prometheus endpoint, as stored in the run's metricsSources. */
export const istioMetricsPath = (ns: string, pod: string) => `/api/v1/namespaces/${ns}/pods/${pod}:15090/proxy/stats/prometheus`;

class ApiFollower implements AccessLogFollower {
  private readonly off: Record<string, number> = {};
  private readonly skip: Record<string, number> = {};
  private readonly buf: Record<string, string> = {};
  private readonly streams: LogStream[] = [];
  constructor(kube: KubeWriter, logs: Record<string, string>, from: Record<string, number> | 'end') {
    for (const [pod, ref] of Object.entries(logs)) {
      const [ns, name] = ref.split('/') as [string, string];
      this.off[pod] = from === 'end' ? 0 : from[pod] ?? 0;
      // Resume: the container log from its start, minus the bytes already stored (lost if it was rotated).
      this.skip[pod] = from === 'end' ? 0 : from[pod] ?? 0;
      this.buf[pod] = '';
      this.streams.push(kube.followLog(ns, name, 'istio-proxy', (t) => {
        let chunk = t;
        const s = this.skip[pod]!;
        if (s > 0) { const b = Buffer.from(chunk); const n = Math.min(s, b.length); this.skip[pod] = s - n; chunk = b.subarray(n).toString('utf8'); }
        this.buf[pod] += chunk;
      }, from === 'end' ? { tailLines: 0 } : {}));
    }
  }
  poll(): { pod: string; text: string }[] {
    const out: { pod: string; text: string }[] = [];
    for (const pod of Object.keys(this.buf)) {
      const b = this.buf[pod]!;
      const cut = b.lastIndexOf('\n');
      if (cut < 0) continue;
      const text = b.slice(0, cut + 1);
      this.buf[pod] = b.slice(cut + 1);
      this.off[pod] = (this.off[pod] ?? 0) + Buffer.byteLength(text);
      out.push({ pod, text });
    }
    return out;
  }
  offsets(): Record<string, number> { return { ...this.off }; }
  close(): void { for (const s of this.streams) s.close(); }
}

export function apiTelemetry(kube: KubeWriter): EnvoyTelemetry {
  return {
    follow: (logs, from) => new ApiFollower(kube, logs, from),
    scrape: async (src) => {
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/:]+):(\d+)\/proxy\/(.*)$/.exec(src.url);
      return m ? kube.proxyGet(m[1]!, m[2]!, Number(m[3]), m[4]!) : null;
    },
  };
}
