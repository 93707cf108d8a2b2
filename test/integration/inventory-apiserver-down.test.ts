// The apiserver dies while `migrate inventory` is listing: the tool must say so clearly (MIGRATE_CLUSTER_UNREACHABLE,
// the cluster-error exit code, a next step) and leave no partial --output file. This test runs its own cluster
// (it kills that apiserver with SIGKILL), seeded with enough pods that listing takes a while, behind a slow TCP
// proxy so that the kill lands mid-run rather than before or after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetNamespaceObjects, fleetNamespaces, fleetNodes, type FleetSize } from '../../bench/fleet.js';
import { KubeRest } from '../cluster/kube-rest.js';
import { seedObjects } from '../cluster/seed.js';
import { REPO_ROOT, startCluster, stopCluster } from '../support/cluster.js';
import { jsonOf, runMigrate } from '../support/migrate-cli.js';
import { startSlowProxy } from '../support/slow-proxy.js';

// 1,000 pods (~3 MB of list responses): the kill at 256 KB lands well inside the pod list.
const SIZE: FleetSize = { nodes: 20, namespaces: 2, deploymentsPerNamespace: 25, replicas: 20, istioPerNamespace: 10 };

test('apiserver killed mid-inventory: MIGRATE_CLUSTER_UNREACHABLE, exit 3, no partial report', { timeout: 300_000 }, async (t) => {
  const state = join(REPO_ROOT, '.state', 'cluster-kill');
  const dir = mkdtempSync(join(tmpdir(), 'migrate-kill-'));
  try {
    const cluster = startCluster(state);
    const rest = await KubeRest.fromKubeconfig(cluster.adminKubeconfig);
    try {
      const perNs = fleetNamespaces(SIZE).map((_, n) => fleetNamespaceObjects(SIZE, n));
      await seedObjects(rest, [...fleetNamespaces(SIZE), ...fleetNodes(SIZE), ...perNs.flatMap((x) => [...x.others, ...x.pods])]);
    } finally {
      rest.close();
    }

    let killedAtBytes = 0;
    const apiPort = Number(new URL(cluster.server).port);
    const proxy = await startSlowProxy(apiPort, {
      delayMsPerChunk: 15,
      onBytes: (total) => {
        // ~2,000 pods are several MB: 256 KB in, the tool is listing.
        if (!killedAtBytes && total > 256 * 1024) {
          killedAtBytes = total;
          process.kill(cluster.apiserverPid, 'SIGKILL');
          void proxy.close();
        }
      },
    });
    const kubeconfig = join(dir, 'proxied.kubeconfig');
    writeFileSync(kubeconfig, readFileSync(cluster.adminKubeconfig, 'utf8').replace(cluster.server, `https://127.0.0.1:${proxy.port}`));
    const outDir = join(dir, 'out');
    mkdirSync(outDir);
    const report = join(outDir, 'inventory.md');

    const run = await runMigrate(['inventory', '--json', '--kubeconfig', kubeconfig, '--output', report], { timeoutMs: 180_000 });
    await proxy.close();
    t.diagnostic(`apiserver killed after ${killedAtBytes} bytes; the tool exited ${run.status} after ${run.ms} ms`);

    assert.ok(killedAtBytes > 0, `the apiserver was never killed: the tool finished after ${proxy.serverBytes()} bytes (exit ${run.status})`);
    assert.equal(run.status, 3, `expected exit 3 (cluster error), got ${run.status}: ${run.stdout.slice(0, 500)} ${run.stderr.slice(-800)}`);
    const body = jsonOf<{ error: { code: string; message: string; next?: string } }>(run);
    assert.equal(body.error.code, 'MIGRATE_CLUSTER_UNREACHABLE', body.error.message);
    assert.match(body.error.message, new RegExp(`127\\.0\\.0\\.1:${proxy.port}`));
    assert.ok(body.error.next, 'the error names a next step');
    assert.deepEqual(readdirSync(outDir), [], 'no report and no temporary file is left in the output directory');
  } finally {
    stopCluster(state);
    rmSync(dir, { recursive: true, force: true });
  }
});
