// Run the real CLI (bin/migrate) as a user would, for integration tests: exit code, stdout, stderr, and the JSON
// it printed when --json was given.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATE_BIN, REPO_ROOT } from './cluster.js';

export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runMigrate(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(MIGRATE_BIN, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, MIGRATE_NO_PROGRESS: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** The JSON document a --json run printed (the Result, or { error }). */
export function jsonOf<T = unknown>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`expected JSON on stdout (exit ${run.status}); stdout: ${run.stdout.slice(0, 500)}; stderr: ${run.stderr.slice(-1500)}`);
  }
}

/** fixtures/<case>/snapshot directories, sorted. */
export function fixtureSnapshots(): { name: string; path: string }[] {
  const root = join(REPO_ROOT, 'fixtures');
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'snapshot')))
    .map((d) => ({ name: d.name, path: join(root, d.name, 'snapshot') }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
