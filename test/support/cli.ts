// The command tests' view of a CLI run: exit code, stdout, stderr (over the shared runner in migrate-cli.ts).
import { runMigrate } from './migrate-cli.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const r = await runMigrate(args, { env, timeoutMs: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
