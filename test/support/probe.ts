// Test access to the shadow-probe binary: start it on a lab, collect its JSON records, stop or kill it, and
// list what BPF objects of ours are still attached anywhere (links, tc filters, cgroup programs).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';

export const PROBE_BIN = join(REPO_ROOT, 'shadow-probe', 'build', 'shadow-probe');
export const LAB_CONFIG = join(REPO_ROOT, 'shadow-probe', 'tests', 'lab', 'lab-config.py');

/** Why the probe cannot run here, or undefined. */
export function probeSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'shadow-probe needs root (CAP_BPF, CAP_NET_ADMIN)';
  if (!existsSync(PROBE_BIN)) return `no ${PROBE_BIN}: run 'make probe-build'`;
  const c = spawnSync(PROBE_BIN, ['--check'], { encoding: 'utf8' });
  if (c.status !== 0) return `shadow-probe --check refuses: ${c.stdout.trim().split('\n').pop()}`;
  if (spawnSync('sh', ['-c', 'command -v bpftool']).status !== 0) return "no bpftool: run 'make probe-deps'";
  return undefined;
}

export type Json = Record<string, unknown>;

/** A throwaway memory cgroup with a limit: cgroup v2 where the root enables its memory controller, else v1's
 * memory hierarchy (a hybrid host's). usage() is the working set, the figure the probe's memory checks use: the
 * usage file less the inactive page cache (memory.stat inactive_file; v1 total_inactive_file). */
export interface MemoryCgroup { procs: string; setLimit(bytes: number): void; usage(): number; raw(): number; oomKills(): number; remove(): void }

function memoryHierarchy(): { v: 1 | 2; mnt: string } | undefined {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
  const v2 = mounts.find((m) => m[2] === 'cgroup2')?.[1];
  if (v2 && readFileSync(join(v2, 'cgroup.subtree_control'), 'utf8').trim().split(' ').includes('memory')) return { v: 2, mnt: v2 };
  const v1 = mounts.find((m) => m[2] === 'cgroup' && (m[3] ?? '').split(',').includes('memory'))?.[1];
  return v1 ? { v: 1, mnt: v1 } : undefined;
}

export function memoryCgroupSkipReason(): string | undefined {
  return memoryHierarchy() ? undefined : 'no memory cgroup controller here (neither enabled in cgroup v2 nor mounted as v1)';
}

export function memoryCgroup(): MemoryCgroup {
  const h = memoryHierarchy();
  if (!h) throw new Error(memoryCgroupSkipReason());
  const dir = join(h.mnt, `migrate-memtest-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const [limit, usage, events, inactive] = h.v === 2 ? ['memory.max', 'memory.current', 'memory.events', 'inactive_file'] : ['memory.limit_in_bytes', 'memory.usage_in_bytes', 'memory.oom_control', 'total_inactive_file'];
  const stat = (key: string): number => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(join(dir, 'memory.stat'), 'utf8'))?.[1] ?? 0);
  return {
    procs: join(dir, 'cgroup.procs'),
    setLimit: (b) => writeFileSync(join(dir, limit), String(b)),
    usage: () => Math.max(0, Number(readFileSync(join(dir, usage), 'utf8')) - stat(inactive)),
    raw: () => Number(readFileSync(join(dir, usage), 'utf8')),
    oomKills: () => Number(/oom_kill (\d+)/.exec(readFileSync(join(dir, events), 'utf8'))?.[1] ?? 0),
    remove: () => rmdirSync(dir),
  };
}

export class Probe {
  readonly stateDir = mkdtempSync(join(tmpdir(), 'shadow-probe-'));
  readonly configPath = join(this.stateDir, 'config.json');
  proc: ChildProcess | undefined;
  lines: Json[] = [];
  stderr = '';
  private buf = '';

  writeConfig(podsJson: string, extra: string[] = []): Json {
    const r = spawnSync('python3', [LAB_CONFIG, podsJson, ...extra], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`lab-config.py: ${r.stderr}`);
    writeFileSync(this.configPath, r.stdout);
    return JSON.parse(r.stdout) as Json;
  }

  setConfig(cfg: Json): void {
    writeFileSync(this.configPath, JSON.stringify(cfg, null, 1));
  }

  /** Starts the loader and resolves once it reports that it is attached and running. cgroupProcs: a cgroup's
   * cgroup.procs to run it in from its first instruction (the shell moves itself there, then execs the probe). */
  async start(args: string[] = [], cgroupProcs?: string): Promise<void> {
    this.lines = [];
    this.stderr = '';
    const argv = ['--config', this.configPath, '--state-dir', join(this.stateDir, 'run'), ...args];
    const p = cgroupProcs
      ? spawn('sh', ['-c', 'echo $$ > "$0" && exec "$@"', cgroupProcs, PROBE_BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(PROBE_BIN, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (line) this.lines.push(JSON.parse(line) as Json);
      }
    });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    await this.waitFor(() => /running: /.test(this.stderr), 60_000, 'the probe to attach');
  }

  async waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.proc && this.proc.exitCode !== null) throw new Error(`probe exited (${this.proc.exitCode}) waiting for ${what}: ${this.stderr}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a signal and resolves with the exit code (or the signal name). */
  stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | string> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode) return Promise.resolve(p?.exitCode ?? p?.signalCode ?? 0);
    return new Promise((resolve) => {
      p.once('close', (code, sig) => resolve(code ?? sig ?? -1));
      p.kill(signal);
    });
  }

  /** IDs of the BPF programs this loader holds (from its fdinfo): scopes leftover checks to this instance */
  progIds(): number[] {
    const pid = this.proc?.pid;
    if (!pid) return [];
    const ids = new Set<number>();
    for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
      try {
        const m = /^prog_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
        if (m) ids.add(Number(m[1]));
      } catch {
        /* fd closed meanwhile */
      }
    }
    return [...ids];
  }

  /** This loader's map `name` as `bpftool map show` describes it (id, max_entries, ...), or undefined. */
  mapInfo(name: string): { id: number; max_entries: number; bytes_memlock?: number } | undefined {
    const pid = this.proc?.pid;
    if (!pid) return undefined;
    for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
      let id: number | undefined;
      try {
        const m = /^map_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
        if (m) id = Number(m[1]);
      } catch {
        /* fd closed meanwhile */
      }
      if (id === undefined) continue;
      const show = JSON.parse(spawnSync('bpftool', ['-j', 'map', 'show', 'id', String(id)], { encoding: 'utf8' }).stdout || '{}') as {
        name?: string; id: number; max_entries: number; bytes_memlock?: number;
      };
      if (show.name === name) return show;
    }
    return undefined;
  }

  /** Entries of this loader's map `name` as bpftool prints them with BTF (`formatted` key and value). */
  mapDump(name: string): Array<{ key: Json; value: Json }> {
    const info = this.mapInfo(name);
    if (!info) return [];
    const dump = JSON.parse(spawnSync('bpftool', ['-j', 'map', 'dump', 'id', String(info.id)], { encoding: 'utf8' }).stdout || '[]') as Array<{ formatted?: { key: Json; value: Json } }>;
    return dump.flatMap((e) => (e.formatted ? [e.formatted] : []));
  }

  records(type: string): Json[] {
    return this.lines.filter((l) => l.type === type);
  }

  /** The newest dump of each edge (edges are cumulative). */
  edges(): Json[] {
    const last = new Map<string, Json>();
    for (const e of this.records('edge')) last.set(`${e.pod}|${e.dir}|${e.leg}|${e.remoteIdentity}|${e.port}|${e.proto}`, e);
    return [...last.values()];
  }
}

/**
 * What one probe instance (its program IDs) still has attached: links (tcx, cgroup) of those programs, and
 * shadow_* tc filters or cgroup programs in the given netns and cgroups. Other probes on the machine are not
 * counted. The kernel frees a released link from a workqueue, so an exit is followed by a short settling time.
 */
export async function attachedLeftovers(progIds: number[], netns: string[], cgroups: string[], settleMs = 3000): Promise<string[]> {
  const end = Date.now() + settleMs;
  for (;;) {
    const left = attachedNow(new Set(progIds), netns, cgroups);
    if (!left.length || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function attachedNow(ours: Set<number>, netns: string[], cgroups: string[]): string[] {
  const out: string[] = [];
  const links = JSON.parse(spawnSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as Array<{ id: number; prog_id: number }>;
  out.push(...links.filter((l) => ours.has(l.prog_id)).map((l) => `link ${l.id} (prog ${l.prog_id})`));
  for (const ns of netns) {
    const tc = spawnSync('nsenter', [`--net=/run/netns/${ns}`, 'tc', 'filter', 'show', 'dev', 'eth0', 'ingress'], { encoding: 'utf8' }).stdout
      + spawnSync('nsenter', [`--net=/run/netns/${ns}`, 'tc', 'filter', 'show', 'dev', 'eth0', 'egress'], { encoding: 'utf8' }).stdout;
    if (/shadow_/.test(tc)) out.push(`tc filter in ${ns}`);
    const net = spawnSync('nsenter', [`--net=/run/netns/${ns}`, 'bpftool', 'net', 'show'], { encoding: 'utf8' }).stdout;
    if (/shadow_/.test(net)) out.push(`bpftool net in ${ns}: ${net.replace(/\s+/g, ' ').trim()}`);
  }
  for (const cg of cgroups) {
    const r = spawnSync('bpftool', ['cgroup', 'show', cg], { encoding: 'utf8' }).stdout;
    if (/shadow_/.test(r)) out.push(`cgroup ${cg}: ${r.replace(/\s+/g, ' ').trim()}`);
  }
  return out;
}
