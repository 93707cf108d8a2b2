// Inventory benchmark on a generated snapshot (1,000 nodes, 50,000 pods, 2,000 Istio resources).
// Prints wall time, CPU time and peak RSS of `migrate inventory --json` (the real CLI, in a child process) and,
// as the baseline in the same run, of a bare read + JSON.parse of the same files. Target: < 10 s, < 1 GiB.
// Usage: node dist/bench/inventory.js [--runs N] [--regen]
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { writeScaleSnapshot } from './gen-snapshot.js';
import { packagePath } from '../src/adapters/fs/package.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 3;
const dir = packagePath('bench', 'out', 'scale');

if (args.includes('--regen') || !existsSync(join(dir, 'pods.json'))) {
  const t0 = performance.now();
  await writeScaleSnapshot(dir, { pods: 50_000, nodes: 1_000, istio: 2_000, namespaces: 100, podsPerWorkload: 20 });
  console.log(`generated ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

interface Sample { wall: number; user: number; sys: number; rssMiB: number }

function timed(cmd: string, argv: string[]): Sample {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 30, env: { ...process.env, MIGRATE_NO_PROGRESS: '1' } });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(-500)}`);
  const [wall, user, sys, rss] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wall: wall!, user: user!, sys: sys!, rssMiB: rss! / 1024 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const node = process.execPath;
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => join(dir, f));
const baselineJs = `const fs=require('fs');let n=0;for(const f of ${JSON.stringify(files)}){n+=JSON.parse(fs.readFileSync(f,'utf8')).items.length}console.log(n)`;

const inv: Sample[] = [];
const base: Sample[] = [];
for (let i = 0; i < runs; i++) {
  base.push(timed(node, ['-e', baselineJs]));
  inv.push(timed(packagePath('bin', 'migrate'), ['inventory', '--snapshot', dir, '--json']));
}
const summary = JSON.parse(execFileSync(packagePath('bin', 'migrate'), ['inventory', '--snapshot', dir, '--json'], { maxBuffer: 1 << 30, encoding: 'utf8' })).summary;
const row = (name: string, s: Sample[]) => `${name.padEnd(34)} ${median(s.map((x) => x.wall)).toFixed(2).padStart(7)} s ${median(s.map((x) => x.user + x.sys)).toFixed(2).padStart(7)} s ${median(s.map((x) => x.rssMiB)).toFixed(0).padStart(7)} MiB`;
console.log(`snapshot: ${summary.pods} pods, ${Object.keys(summary.nodesByReadiness).reduce((a: number, k: string) => a + summary.nodesByReadiness[k], 0)} nodes, ${Object.values(summary.istioResources as Record<string, number>).reduce((a, b) => a + b, 0)} Istio resources, ${summary.workloads} workloads`);
console.log(`runs: ${runs} (medians); load average at end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${execFileSync('nproc').toString().trim()} cores`);
console.log(`${''.padEnd(34)} ${'wall'.padStart(9)} ${'cpu'.padStart(9)} ${'peak RSS'.padStart(11)}`);
console.log(row('baseline: read + JSON.parse', base));
console.log(row('migrate inventory --json', inv));
console.log(`ratio inventory/baseline: wall ${(median(inv.map((x) => x.wall)) / median(base.map((x) => x.wall))).toFixed(2)}x, cpu ${(median(inv.map((x) => x.user + x.sys)) / median(base.map((x) => x.user + x.sys))).toFixed(2)}x, RSS ${(median(inv.map((x) => x.rssMiB)) / median(base.map((x) => x.rssMiB))).toFixed(2)}x`);
const ok = median(inv.map((x) => x.wall)) < 10 && median(inv.map((x) => x.rssMiB)) < 1024;
console.log(`target (< 10 s wall, < 1 GiB): ${ok ? 'met' : 'NOT met'}`);
