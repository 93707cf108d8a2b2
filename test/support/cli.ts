// Runs the built CLI (bin/migrate) as a user would, capturing exit code, stdout and stderr. Asynchronous, so
// an in-process fake server can answer it.
import { spawn } from 'node:child_process';
import { packagePath } from '../../src/adapters/fs/package.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(packagePath('bin', 'migrate'), args, { cwd: cwd ?? packagePath(), env: { ...process.env, MIGRATE_NO_PROGRESS: '1', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}
