// `migrate inventory` against a real kube-apiserver (test/cluster): for every fixture, the live inventory of the
// seeded cluster equals the inventory of the snapshot itself; `migrate snapshot` of the seeded cluster reads back
// to the same inventory; and the read-only user gets the tool's RBAC error, not a partial result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InventoryResult } from '../../src/core/model/inventory.js';
import { KubeRest } from '../cluster/kube-rest.js';
import { READONLY_DENIED_RESOURCE } from '../cluster/rbac.js';
import { loadSnapshot, seedObjects, wipe } from '../cluster/seed.js';
import { getTestCluster } from '../support/cluster.js';
import { normalizeLive, normalizeSnapshot } from '../support/inventory-compare.js';
import { fixtureSnapshots, jsonOf, runMigrate } from '../support/migrate-cli.js';

interface ErrorJson {
  error: { code: string; class: string; exitCode: number; message: string; object?: string; next?: string };
}

/** Wipe the cluster and seed a fixture; returns the repairs the seeder had to make (see seed.ts `repair`). */
async function seedFixture(kubeconfig: string, path: string, repair = false): Promise<string[]> {
  const rest = await KubeRest.fromKubeconfig(kubeconfig);
  try {
    await wipe(rest);
    return (await seedObjects(rest, loadSnapshot(path), { repair })).repairs;
  } finally {
    rest.close();
  }
}

async function inventory(args: string[]): Promise<InventoryResult> {
  const run = await runMigrate(['inventory', '--json', ...args]);
  assert.equal(run.status, 0, `migrate inventory ${args.join(' ')} exited ${run.status}: ${run.stdout.slice(0, 800)} ${run.stderr.slice(-1500)}`);
  return jsonOf<InventoryResult>(run);
}

const fixtures = fixtureSnapshots();

test('there are fixture snapshots to compare', () => {
  assert.ok(fixtures.length > 0);
});

for (const fx of fixtures) {
  test(`fixture ${fx.name} is accepted by the real apiserver as it is (no seed repairs)`, async () => {
    const cluster = getTestCluster();
    assert.deepEqual(await seedFixture(cluster.adminKubeconfig, fx.path, false), []);
  });

  test(`live inventory equals snapshot inventory: ${fx.name}`, async (t) => {
    const cluster = getTestCluster();
    const repairs = await seedFixture(cluster.adminKubeconfig, fx.path);
    for (const r of repairs) t.diagnostic(`seed repair: ${r}`);
    const snap = await inventory(['--snapshot', fx.path]);
    const live = await inventory(['--kubeconfig', cluster.adminKubeconfig]);
    assert.match(live.summary.source, /^cluster https:\/\/127\.0\.0\.1:/);
    assert.ok(snap.summary.pods > 0 || snap.nodes.length > 0, `fixture ${fx.name} has neither pods nor nodes: nothing is compared`);
    assert.deepEqual(normalizeLive(live, snap), normalizeSnapshot(snap));
  });
}

test('round trip: seed a fixture, `migrate snapshot --out`, and the snapshot inventories the same', async () => {
  const fx = fixtures.find((f) => f.name === 'online-shop') ?? fixtures[0];
  assert.ok(fx, 'fixtures/online-shop/snapshot exists');
  const cluster = getTestCluster();
  await seedFixture(cluster.adminKubeconfig, fx.path);
  const dir = mkdtempSync(join(tmpdir(), 'migrate-roundtrip-'));
  try {
    const out = join(dir, 'snap');
    const run = await runMigrate(['snapshot', '--kubeconfig', cluster.adminKubeconfig, '--out', out]);
    assert.equal(run.status, 0, `migrate snapshot exited ${run.status}: ${run.stderr.slice(-1500)}`);
    const fromLive = await inventory(['--kubeconfig', cluster.adminKubeconfig]);
    const fromSnap = await inventory(['--snapshot', out]);
    // The written snapshot holds exactly what the live cluster has (apiserver-made objects included).
    assert.deepEqual(normalizeLive(fromLive, fromSnap), normalizeSnapshot(fromSnap));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`the read-only user, denied ${READONLY_DENIED_RESOURCE}, gets MIGRATE_RBAC_FORBIDDEN and no result`, async () => {
  const cluster = getTestCluster();
  const dir = mkdtempSync(join(tmpdir(), 'migrate-rbac-'));
  try {
    const report = join(dir, 'inventory.md');
    const run = await runMigrate(['inventory', '--json', '--kubeconfig', cluster.readonlyKubeconfig, '--output', report]);
    assert.equal(run.status, 3, `expected the cluster-error exit code 3, got ${run.status}: ${run.stdout.slice(0, 500)}`);
    const body = jsonOf<ErrorJson>(run);
    assert.equal(body.error.code, 'MIGRATE_RBAC_FORBIDDEN');
    assert.match(body.error.message, /migrate-readonly/);
    assert.match(`${body.error.object} ${body.error.message}`, new RegExp(READONLY_DENIED_RESOURCE));
    assert.ok(body.error.next, 'the error names a next step');
    assert.equal((body as unknown as { summary?: unknown }).summary, undefined, 'no partial result');
    assert.equal(existsSync(report), false, 'no report file on failure');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with -n the read-only user still gets MIGRATE_RBAC_FORBIDDEN (nodes are read for kernel readiness)', async () => {
  // The inventory reads nodes (kernel readiness) even with -n, so the denial is reported the same way.
  const cluster = getTestCluster();
  const run = await runMigrate(['inventory', '--json', '--kubeconfig', cluster.readonlyKubeconfig, '-n', 'default']);
  assert.equal(run.status, 3);
  assert.equal(jsonOf<ErrorJson>(run).error.code, 'MIGRATE_RBAC_FORBIDDEN');
});
