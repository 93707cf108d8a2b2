// The inventory command end to end through bin/migrate: --json is the documented Result, --output writes
// Markdown or JSON, the default is a readable summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { runCli } from '../support/cli.js';
import { packagePath } from '../../src/adapters/fs/package.js';

const validate = new Ajv2020({ strict: false }).compile(JSON.parse(readFileSync(packagePath('schema', 'inventory-result.schema.json'), 'utf8')));

test('--json prints a Result that satisfies the checked-in schema', async () => {
  const r = await runCli(['inventory', '--snapshot', 'fixtures/bookinfo/snapshot', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { summary: { injectedPods: number } };
  assert.ok(validate(result), JSON.stringify(validate.errors?.slice(0, 3)));
  assert.equal(result.summary.injectedPods, 6);
});

test('the default output is a summary table with classes, tax and findings', async () => {
  const r = await runCli(['inventory', '--snapshot', 'fixtures/online-shop/snapshot']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /workloads by class: l4-only 3, needs-waypoint 10, blocked 0, no-sidecar 4/);
  assert.match(r.stdout, /shop\s+Deployment\/paymentservice\s+1\s+1\s+needs-waypoint\s+.*JWT_AUTHZ/);
  assert.match(r.stdout, /\(total\)\s+18\s+2860m\s+2\.5Gi/);
  assert.match(r.stdout, /Warning \[MIG_ENVOYFILTER_REVIEW\] \(EnvoyFilter shop\/checkout-lua\)/);
});

test('--output writes Markdown or JSON atomically; an unknown extension is a user error', async () => {
  const d = mkdtempSync(join(tmpdir(), 'migrate-out-'));
  const md = join(d, 'inv.md');
  assert.equal((await runCli(['inventory', '--snapshot', 'fixtures/mixed-kernel-fleet/snapshot', '--output', md])).code, 0);
  const text = readFileSync(md, 'utf8');
  assert.match(text, /^# Inventory/);
  assert.match(text, /\| legacy \| Deployment\/mainframe-bridge \| 3 \| 3 \| blocked \|/);
  assert.match(text, /`NODES_BLOCKED`/);
  const js = join(d, 'inv.json');
  assert.equal((await runCli(['inventory', '--snapshot', 'fixtures/mixed-kernel-fleet/snapshot', '--output', js, '--json'])).code, 0);
  assert.equal(JSON.parse(readFileSync(js, 'utf8')).summary.nodesByReadiness.blocked, 11);
  const bad = await runCli(['inventory', '--snapshot', 'fixtures/bookinfo/snapshot', '--output', join(d, 'inv.txt')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /MIGRATE_BAD_FLAG/);
});

test('agent cost flags change the projection and reject non-quantities', async () => {
  const r = JSON.parse((await runCli(['inventory', '--snapshot', 'fixtures/bookinfo/snapshot', '--json', '--agent-cpu', '50m', '--agent-memory', '100Mi'])).stdout);
  assert.deepEqual(r.sidecarTax.projectedSaving, { cpuRequestMillicores: 600 - 3 * 50, memoryRequestBytes: (768 - 300) * 1024 * 1024 });
  const bad = await runCli(['inventory', '--snapshot', 'fixtures/bookinfo/snapshot', '--agent-cpu', 'lots']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--agent-cpu "lots" is not a Kubernetes quantity/);
});
