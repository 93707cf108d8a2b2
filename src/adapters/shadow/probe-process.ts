// Runs shadow-probe (JSON-line output, stored verbatim in the run directory) on this node (`migrate shadow --local`): writes the config to the run directory, spawns
// the loader, hands its stdout lines to the workflow and keeps the tail of its stderr for error reports.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import { probeError } from '../../core/errors.js';
import type { ProbeConfig } from '../../core/shadow/probe-config.js';
import type { ProbeExit, ProbeHandle, ProbeRunner } from '../../ports/shadow.js';

export class LocalProbeRunner implements ProbeRunner {
  readonly where = 'local';
  constructor(private readonly bin: string, private readonly runDir: string, private readonly extraArgs: string[] = []) {}

  async start(config: ProbeConfig, onLines: (text: string) => void): Promise<ProbeHandle> {
    if (!existsSync(this.bin)) throw probeError('MIGRATE_PROBE_NOT_BUILT', `shadow-probe not found at ${this.bin}`, { object: this.bin, next: 'run `make probe-build` (needs clang, libbpf; see shadow-probe/README.md)' });
    if (process.getuid && process.getuid() !== 0) throw probeError('MIGRATE_PROBE_NEEDS_ROOT', 'the probe loads eBPF programs: --local needs root', { next: 'run as root, or use --cluster (a privileged DaemonSet) or --replay DIR' });
    const cfgPath = join(this.runDir, 'probe-config.json');
    writeFileAtomic(cfgPath, JSON.stringify(config, null, 1) + '\n');
    const child = spawn(this.bin, ['--config', cfgPath, '--state-dir', join(this.runDir, 'probe-state'), ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The pid lets a supervisor (or a test) stop a loader orphaned by a killed CLI, by id.
    if (child.pid !== undefined) writeFileAtomic(join(this.runDir, 'probe.pid'), `${child.pid}\n`);
    let tail = '';
    let ready = false;
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      const t = partial + d;
      const cut = t.lastIndexOf('\n');
      partial = cut < 0 ? t : t.slice(cut + 1);
      if (cut >= 0) onLines(t.slice(0, cut + 1));
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      tail = (tail + d).slice(-4000);
      if (!ready && /running: /.test(tail)) ready = true;
    });
    const exited = new Promise<ProbeExit>((resolve) => {
      child.on('exit', (code, signal) => {
        if (partial) { onLines(partial + '\n'); partial = ''; }
        resolve({ code, signal, stderrTail: tail });
      });
      child.on('error', (e) => resolve({ code: -1, signal: null, stderrTail: `${tail}\n${e.message}` }));
    });
    // Wait until the loader says "running: " (attached), or exits, or 60 s pass.
    const t0 = Date.now();
    while (!ready && Date.now() - t0 < 60_000) {
      const r = await Promise.race([exited, new Promise<null>((res) => setTimeout(() => res(null), 100))]);
      if (r) throw probeError('MIGRATE_PROBE_START', `shadow-probe exited during start (code ${r.code}${r.signal ? `, ${r.signal}` : ''})`, { object: this.bin, detail: r.stderrTail.split('\n').slice(-12).join('\n'), next: 'check `shadow-probe --check` for what this kernel allows' });
    }
    return {
      exited,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const r = await exited;
        clearTimeout(timer);
        return r;
      },
    };
  }
}
