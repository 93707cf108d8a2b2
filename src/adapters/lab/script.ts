// LabRunner over lab/lab.sh (bash + iproute2 + iptables + HAProxy): the only place `migrate lab` touches the
// machine. The script prints data on stdout and progress on stderr; a failure carries the tail of stderr.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { userError } from '../../core/errors.js';
import type { LabDownResult, LabFile, LabLoadRequest, LabLoadResult, LabStatusResult } from '../../core/model/lab.js';
import type { LabRunner } from '../../ports/lab.js';

function packageRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('cannot find the package root above ' + fileURLToPath(import.meta.url));
    d = up;
  }
  return d;
}

export interface ScriptLabOptions {
  /** lab.sh to run; default: lab/lab.sh of this package (MIGRATE_LAB_SH overrides). */
  script?: string;
  /** Extra environment (MIGRATE_LAB_PREFIX, MIGRATE_LAB_STATE, MIGRATE_LAB_TOPOLOGY). */
  env?: NodeJS.ProcessEnv;
  /** Where progress lines of the script go (default: our stderr). */
  onStderr?: (chunk: string) => void;
}

interface Run { code: number | null; stdout: string; stderr: string }

export class ScriptLab implements LabRunner {
  private readonly script: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly onStderr: (chunk: string) => void;

  constructor(opts: ScriptLabOptions = {}) {
    this.script = opts.script ?? process.env.MIGRATE_LAB_SH ?? join(packageRoot(), 'lab', 'lab.sh');
    this.env = { ...process.env, ...opts.env };
    this.onStderr = opts.onStderr ?? ((c) => process.stderr.write(c));
  }

  isRoot(): boolean {
    return process.getuid?.() === 0;
  }

  private run(args: string[]): Promise<Run> {
    if (!existsSync(this.script)) {
      throw userError('MIGRATE_LAB_MISSING', `the lab script is not installed at ${this.script}`, {
        object: this.script, next: 'run from a checkout of the migrate repository, or set MIGRATE_LAB_SH',
      });
    }
    return new Promise((resolve, reject) => {
      const child = spawn(this.script, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
      child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; this.onStderr(c); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  private failed(verb: string, r: Run): never {
    throw userError('MIGRATE_LAB_FAILED', `lab ${verb} failed (exit ${r.code})`, {
      object: `lab ${verb}`,
      detail: r.stderr.trim().split('\n').slice(-8).join('\n'),
      next: verb === 'up' ? "install the lab's packages with 'make lab-deps', then retry; 'migrate lab down' cleans up"
        : "see the script's message above; 'migrate lab down' removes whatever the lab left",
    });
  }

  async up(): Promise<LabFile> {
    const r = await this.run(['up']);
    if (r.code !== 0) this.failed('up', r);
    return JSON.parse(readFileSync(this.podsFile(), 'utf8')) as LabFile;
  }

  async status(): Promise<LabStatusResult> {
    const r = await this.run(['status', '--json']);
    // Exit 1 with a JSON body means "down or degraded", which is an answer, not an error.
    if (r.stdout.trim().startsWith('{')) {
      const s = JSON.parse(r.stdout) as Partial<LabStatusResult>;
      return { up: s.up === true, podsFile: s.podsFile ?? this.podsFile(), pods: s.pods ?? [] };
    }
    return this.failed('status', r);
  }

  async load(req: LabLoadRequest): Promise<LabLoadResult> {
    const args = ['load', '--rate', String(req.rate), '--duration', String(req.durationSeconds),
      '--connections', String(req.connections), '--path', req.path, '--tool', req.tool];
    if (req.target) args.push('--target', req.target);
    if (req.from) args.push('--from', req.from);
    if (req.bypass) args.push('--bypass');
    const r = await this.run(args);
    if (r.code !== 0) this.failed('load', r);
    return JSON.parse(r.stdout) as LabLoadResult;
  }

  async down(): Promise<LabDownResult> {
    const r = await this.run(['down']);
    if (r.code !== 0) this.failed('down', r);
    return { down: true };
  }

  private podsFile(): string {
    const state = this.env.MIGRATE_LAB_STATE ?? join(dirname(dirname(this.script)), '.state', 'lab');
    return join(state, 'pods.json');
  }
}
