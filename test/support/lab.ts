// Test access to the lab (lab/lab.sh): a private instance per test file (own netns prefix, state dir and
// cgroup), so tests never touch a lab a user brought up with the default prefix.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';

export const LAB_SH = join(REPO_ROOT, 'lab', 'lab.sh');
const TOOLS = ['haproxy', 'iptables-restore', 'ip', 'nsenter', 'setpriv', 'curl', 'jq', 'python3', 'wrk'];

export interface LabPod {
  name: string; namespace: string; netns: string; ifname: string; hostIfname: string; hostNetns: string;
  cgroup: string; ip: string; appPort: number; bypassPort: number; serviceAccount: string; principal: string;
  labels: Record<string, string>;
  sidecar: null | { uid: number; inboundPort: number; outboundPort: number; inboundSource: string; accessLog: string };
}
export interface LabFile { prefix: string; node: { netns: string; bridge: string }; cgroupRoot: string; stateDir: string; snapshot: string; pods: LabPod[] }

/** Why the lab cannot run here, or undefined when it can. */
export function labSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, iptables, cgroups)';
  const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length) return `missing ${missing.join(', ')}: run 'make lab-deps'`;
  const cg2 = spawnSync('findmnt', ['-n', '-t', 'cgroup2', '-o', 'TARGET'], { encoding: 'utf8' }).stdout.trim();
  if (!cg2) return 'no cgroup v2 mount';
  // A name of this process only: parallel test runs must not delete each other's probe.
  const probe = spawnSync('ip', ['netns', 'add', `mlab-skip-${process.pid}`], { encoding: 'utf8' });
  if (probe.status !== 0) return `cannot create network namespaces: ${probe.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', `mlab-skip-${process.pid}`]);
  return undefined;
}

/** The lab prefix a test file asks for, behind MIGRATE_LAB_TEST_PREFIX when set: parallel checkouts (worktrees)
 * running the same test file then use different netns, cgroups and bridges instead of tearing down each
 * other's lab. At most 14 characters in all (the bridge `<prefix>0` is an interface name). */
export function labTestPrefix(prefix: string): string {
  const p = `${process.env.MIGRATE_LAB_TEST_PREFIX ?? ''}${prefix}`;
  if (!/^[a-z][a-z0-9]{0,13}$/.test(p)) throw new Error(`lab prefix ${p} (MIGRATE_LAB_TEST_PREFIX + ${prefix}): use at most 14 lowercase letters and digits`);
  return p;
}

export class Lab {
  readonly env: NodeJS.ProcessEnv;
  readonly prefix: string;
  readonly stateDir: string;
  constructor(prefix: string, stateDir?: string) {
    this.prefix = labTestPrefix(prefix);
    this.stateDir = stateDir ?? mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    // The pods' apps run as nobody and read their config from the state dir.
    chmodSync(this.stateDir, 0o755);
    this.env = { ...process.env, MIGRATE_LAB_PREFIX: this.prefix, MIGRATE_LAB_STATE: join(this.stateDir, 'lab') };
    // The tests expect the topology's mTLS mode (PERMISSIVE) unless a test sets one itself.
    delete this.env.MIGRATE_LAB_MTLS;
  }

  run(args: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(LAB_SH, args, { env: this.env, encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  file(): LabFile {
    return JSON.parse(readFileSync(join(this.stateDir, 'lab', 'pods.json'), 'utf8')) as LabFile;
  }

  pod(name: string): LabPod {
    const p = this.file().pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name} in the lab`);
    return p;
  }

  /** Runs a command inside a pod's network namespace (the test process stays in the root namespace). */
  inPod(pod: string, cmd: string[], timeoutMs = 30_000): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('nsenter', [`--net=/run/netns/${this.prefix}-${pod}`, ...cmd], { encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** curl from a pod: status code, body and headers. */
  curl(from: string, url: string, extra: string[] = []): { code: number; body: string } {
    const r = this.inPod(from, ['curl', '-sS', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', ...extra, url]);
    const i = r.stdout.lastIndexOf('\n');
    return { code: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
  }

  /** What of this lab exists on the machine: netns, cgroup dir, processes in its netns. */
  leftovers(): string[] {
    const out: string[] = [];
    const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')
      .map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${this.prefix}-`));
    out.push(...ns.map((n) => `netns ${n}`));
    const cg2 = spawnSync('findmnt', ['-n', '-t', 'cgroup2', '-o', 'TARGET'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    if (cg2 && existsSync(join(cg2, `migrate-${this.prefix}`))) out.push(`cgroup ${join(cg2, `migrate-${this.prefix}`)}`);
    if (existsSync(join(this.stateDir, 'lab'))) out.push(`state ${join(this.stateDir, 'lab')}`);
    return out;
  }
}
