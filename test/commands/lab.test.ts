// `migrate lab` workflows over an in-memory LabRunner: root check, flag checks, status handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MigrateError } from '../../src/core/errors.js';
import type { LabFile, LabLoadRequest, LabLoadResult, LabStatusResult } from '../../src/core/model/lab.js';
import type { LabRunner } from '../../src/ports/lab.js';
import { runLabDown, runLabLoad, runLabStatus, runLabUp } from '../../src/workflows/lab.js';

class FakeLab implements LabRunner {
  calls: string[] = [];
  loads: LabLoadRequest[] = [];
  constructor(public root = true, public state: LabStatusResult = {
    up: true, podsFile: '/x/pods.json',
    pods: [{ name: 'reviews', ip: '10.233.0.13', netns: true, veth: true, cgroup: true, app: true, sidecar: true }],
  }) {}
  isRoot(): boolean { return this.root; }
  async up(): Promise<LabFile> { this.calls.push('up'); return { prefix: 'mlab', pods: [] } as unknown as LabFile; }
  async status(): Promise<LabStatusResult> { this.calls.push('status'); return this.state; }
  async load(req: LabLoadRequest): Promise<LabLoadResult> {
    this.calls.push('load'); this.loads.push(req);
    return { url: 'u', mode: 'fixed', requests: 1, errors: 0, rps: 1, latencyMs: { p50: 1, p90: 1, p99: 1, max: 1 } };
  }
  async down() { this.calls.push('down'); return { down: true as const }; }
}

const load: LabLoadRequest = { rate: 100, durationSeconds: 2, connections: 4, path: '/', bypass: false, tool: 'loadgen' };

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; return 'ok'; } catch (e) { assert.ok(e instanceof MigrateError, String(e)); return e.code; }
}

test('every lab verb refuses without root, before touching the machine', async () => {
  const lab = new FakeLab(false);
  for (const p of [runLabUp(lab), runLabStatus(lab), runLabLoad(lab, load), runLabDown(lab)]) {
    assert.equal(await code(p), 'MIGRATE_LAB_NEEDS_ROOT');
  }
  assert.deepEqual(lab.calls, []);
  const e = await runLabUp(lab).catch((x: MigrateError) => x);
  assert.equal((e as MigrateError).exitCode, 2);
  assert.match((e as MigrateError).next ?? '', /sudo migrate lab up/);
});

test('up returns the lab file with its status, and fails when a pod is missing', async () => {
  const ok = await runLabUp(new FakeLab());
  assert.equal(ok.up, true);
  assert.equal(ok.lab.prefix, 'mlab');
  const degraded = new FakeLab(true, { up: false, podsFile: 'p', pods: [{ name: 'ratings', ip: 'i', netns: true, veth: true, cgroup: true, app: true, sidecar: false }] });
  const e = await runLabUp(degraded).catch((x: MigrateError) => x);
  assert.equal((e as MigrateError).code, 'MIGRATE_LAB_DEGRADED');
  assert.match((e as MigrateError).message, /ratings/);
});

test('load checks its flags, that the lab is up and that the target exists', async () => {
  assert.equal(await code(runLabLoad(new FakeLab(), { ...load, durationSeconds: 0 })), 'MIGRATE_BAD_FLAG');
  assert.equal(await code(runLabLoad(new FakeLab(), { ...load, tool: 'wrk' })), 'MIGRATE_BAD_FLAG');
  assert.equal(await code(runLabLoad(new FakeLab(true, { up: false, podsFile: 'p', pods: [] }), load)), 'MIGRATE_LAB_DOWN');
  assert.equal(await code(runLabLoad(new FakeLab(), { ...load, target: 'nope' })), 'MIGRATE_LAB_NO_POD');
  assert.equal(await code(runLabLoad(new FakeLab(), { ...load, target: 'reviews', from: 'nope' })), 'MIGRATE_LAB_NO_POD');
  const lab = new FakeLab();
  const r = await runLabLoad(lab, { ...load, target: 'reviews', bypass: true });
  assert.equal(r.requests, 1);
  assert.equal(lab.loads[0]?.bypass, true);
  assert.equal(lab.loads[0]?.target, 'reviews');
});
