// The one way test code gets a real control plane: getTestCluster() returns the running loopback cluster
// (etcd + kube-apiserver, Istio and Cilium CRDs, admin and read-only kubeconfigs), starting it through
// test/cluster/up.sh if it is not up. up.sh is idempotent and holds a lock, so the many processes of
// `node --test` (one per file) share one cluster per test run. A cluster started here stops when the test runner
// (this process's parent) exits; under `make test` the cluster-test-up target has already started it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TestCluster {
  server: string;
  adminKubeconfig: string;
  readonlyKubeconfig: string;
  stateDir: string;
  etcdUrl: string;
  apiserverPid: number;
  etcdPid: number;
  kubeVersion: string;
}

/** The repository root, from dist/test/support/cluster.js or test/support/cluster.ts. */
export const REPO_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('cannot find the repository root');
    d = up;
  }
  return d;
})();

export function clusterStateDir(): string {
  return process.env.MIGRATE_CLUSTER_STATE ?? join(REPO_ROOT, '.state', 'cluster');
}

let cached: TestCluster | undefined;

/** The shared cluster of this test run (see the file comment). */
export function getTestCluster(): TestCluster {
  if (cached && isAlive(cached.apiserverPid)) return cached;
  cached = startCluster(clusterStateDir(), process.ppid);
  return cached;
}

/**
 * Start (or reuse) the cluster whose state lives in stateDir; it stops when process stopWith exits. Tests that
 * break their cluster on purpose (kill the apiserver) use a stateDir of their own and stopCluster() it.
 */
export function startCluster(stateDir: string, stopWith: number = process.pid): TestCluster {
  const up = spawnSync(join(REPO_ROOT, 'test', 'cluster', 'up.sh'), ['--stop-with', String(stopWith)], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, MIGRATE_CLUSTER_STATE: stateDir },
    timeout: 60 * 60 * 1000, // a cold first build of kube-apiserver is part of this on a fresh machine
  });
  if (up.status !== 0) {
    throw new Error(`test/cluster/up.sh failed (exit ${up.status ?? up.signal}):\n${up.stdout}\n${up.stderr}`);
  }
  return JSON.parse(readFileSync(join(stateDir, 'cluster.json'), 'utf8')) as TestCluster;
}

export function stopCluster(stateDir: string): void {
  spawnSync(join(REPO_ROOT, 'test', 'cluster', 'down.sh'), ['--quiet'], {
    cwd: REPO_ROOT,
    env: { ...process.env, MIGRATE_CLUSTER_STATE: stateDir },
    stdio: 'ignore',
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Path of the CLI entry, for spawning `migrate` as a user would. */
export const MIGRATE_BIN = resolve(REPO_ROOT, 'bin', 'migrate');
