// Live scale bench (make bench-live): a real kube-apiserver + etcd on loopback with KWOK faking 1,000 nodes,
// 50,000 sidecar-injected pods bound to them (KWOK drives them to Running) and 2,000 Istio resources; then
// `migrate inventory --json` against it and, as the baseline in the same run on the same apiserver, a raw
// client-node list of the same object types (bench/raw-list.ts). Prints wall time, peak RSS and the ratios.
//   node dist/bench/inventory-live.js [--runs 3] [--keep] [--small]
// --small: 50 nodes / 2,000 pods / 200 Istio resources, to check the bench itself quickly.
// Results: bench/out/inventory-live.json; the numbers are recorded by hand in bench/RESULTS.md.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import { KubeHttpError, KubeRest, type KubeObject } from '../test/cluster/kube-rest.js';
import { forCreate } from '../test/cluster/seed.js';
import { REPO_ROOT } from '../test/support/cluster.js';
import { DEFAULT_FLEET, fleetNamespaceObjects, fleetNamespaces, fleetNodes, type FleetSize } from './fleet.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
    small: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '48' },
  },
});
const SIZE: FleetSize = values.small
  ? { nodes: 50, namespaces: 5, deploymentsPerNamespace: 20, replicas: 20, istioPerNamespace: 40 }
  : DEFAULT_FLEET;
const STATE = join(REPO_ROOT, '.state', 'cluster-bench');
const OUT = join(REPO_ROOT, 'bench', 'out');
const env = { ...process.env, MIGRATE_CLUSTER_STATE: STATE };
const log = (s: string): void => console.error(`[bench-live ${new Date().toISOString().slice(11, 19)}] ${s}`);

function versions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(REPO_ROOT, 'test', 'cluster', 'versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(\S+)/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

interface Timed {
  wallMs: number;
  maxRssKb: number;
  cpuMs: number;
  exit: number;
  stdoutBytes: number;
  stdout: string;
  stderr: string;
}

/** Run a command under GNU time for its peak RSS; wall time from our own clock. */
function timed(cmd: string, args: string[], stdoutFile: string): Timed {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', `${stdoutFile}.time`, cmd, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 2 * 1024 * 1024 * 1024,
  });
  const wallMs = performance.now() - t0;
  writeFileSync(stdoutFile, r.stdout ?? '');
  const [rss, user, sys] = (readFileSync(`${stdoutFile}.time`, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { wallMs, maxRssKb: rss ?? NaN, cpuMs: ((user ?? NaN) + (sys ?? NaN)) * 1000, exit: r.status ?? -1, stdoutBytes: statSync(stdoutFile).size, stdout: r.stdout, stderr: r.stderr };
}

async function createAll(rest: KubeRest, objs: KubeObject[], what: string, concurrency: number): Promise<void> {
  const q = new PQueue({ concurrency });
  const t0 = Date.now();
  let done = 0;
  let next = 5000;
  const statusQueue: KubeObject[] = [];
  for (const o of objs) {
    q.add(async () => {
      try {
        await rest.create(forCreate(o));
      } catch (e) {
        if (!(e instanceof KubeHttpError) || e.status !== 409) throw e;
      }
      if (o.status && o.kind !== 'Pod') statusQueue.push(o);
      if (++done >= next) {
        next += 5000;
        log(`${what}: ${done}/${objs.length} created (${Math.round((done * 1000) / (Date.now() - t0))}/s)`);
      }
    });
  }
  await q.onIdle();
  for (const o of statusQueue) q.add(() => rest.mergePatch(forCreate(o), { status: o.status }, 'status'));
  await q.onIdle();
  log(`${what}: ${objs.length} created in ${((Date.now() - t0) / 1000).toFixed(1)} s (${Math.round((objs.length * 1000) / (Date.now() - t0))}/s)`);
}

/**
 * KWOK's node-initialize stage writes its own nodeInfo (kernelVersion "kwok-0.7.0") when it first sees a node,
 * racing our status patch. Wait until KWOK has initialised every node (Ready), then write the fleet's nodeInfo
 * again; KWOK's later heartbeats only touch conditions, so it stays.
 */
async function settleNodeInfo(rest: KubeRest, nodes: KubeObject[], concurrency: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const list = await rest.request<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>('GET', '/api/v1/nodes');
    const ready = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    if (ready >= nodes.length || Date.now() - t0 > 5 * 60_000) {
      log(`kwok: ${ready}/${nodes.length} nodes Ready after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      break;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  const q = new PQueue({ concurrency });
  for (const n of nodes) {
    const info = (n.status as { nodeInfo: unknown }).nodeInfo;
    q.add(() => rest.mergePatch(forCreate(n), { status: { nodeInfo: info } }, 'status'));
  }
  await q.onIdle();
}

/** Pods not yet Running, counted server-side (field selector) so that polling does not list 50,000 pods. */
async function countNotRunning(rest: KubeRest): Promise<number> {
  let n = 0;
  let cont = '';
  do {
    const page = await rest.request<{ items: unknown[]; metadata: { continue?: string } }>(
      'GET',
      `/api/v1/pods?fieldSelector=${encodeURIComponent('status.phase!=Running')}&limit=5000${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
    );
    n += page.items.length;
    cont = page.metadata.continue ?? '';
  } while (cont);
  return n;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const v = versions();
  const cacheBin = join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'), 'migrate', 'bin');
  const kwokBin = join(cacheBin, `kwok-${v.KWOK_VERSION}`);
  statSync(kwokBin); // fails with ENOENT naming the binary: run `make cluster-tools-kwok`

  log(`starting a scale cluster in ${STATE} (request limits lifted)`);
  spawnSync(join(REPO_ROOT, 'test', 'cluster', 'down.sh'), ['--quiet'], { env, stdio: 'inherit' });
  const up = spawnSync(join(REPO_ROOT, 'test', 'cluster', 'up.sh'), ['--scale', '--stop-with', String(process.pid)], { env, stdio: 'inherit' });
  if (up.status !== 0) throw new Error(`up.sh --scale failed (exit ${up.status})`);
  const cluster = JSON.parse(readFileSync(join(STATE, 'cluster.json'), 'utf8')) as { server: string; adminKubeconfig: string; apiserverPid: number; etcdPid: number };

  try {
    const kwok = spawn(
      kwokBin,
      [
        `--kubeconfig=${cluster.adminKubeconfig}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        '--cidr=10.0.0.1/16',
        '--node-ip=10.0.0.1',
      ],
      { detached: true, stdio: ['ignore', 'ignore', 'ignore'], env },
    );
    appendFileSync(join(STATE, 'cluster.env'), `KWOK_PID=${kwok.pid}\n`);
    kwok.unref();
    log(`kwok ${v.KWOK_VERSION} started (pid ${kwok.pid})`);

    const concurrency = Number(values.concurrency);
    const rest = await KubeRest.fromKubeconfig(cluster.adminKubeconfig, concurrency);
    await rest.discover();
    const seedT0 = Date.now();
    const nodes = fleetNodes(SIZE);
    const namespaces = fleetNamespaces(SIZE);
    const perNs = namespaces.map((_, n) => fleetNamespaceObjects(SIZE, n));
    const pods = perNs.flatMap((x) => x.pods);
    const others = perNs.flatMap((x) => x.others);
    const istio = others.filter((o) => o.apiVersion.includes('istio.io')).length;
    log(`fleet: ${nodes.length} nodes, ${namespaces.length} namespaces, ${pods.length} pods, ${others.length - istio} other workload objects, ${istio} Istio resources`);
    await createAll(rest, [...namespaces, ...nodes], 'namespaces+nodes', concurrency);
    await settleNodeInfo(rest, nodes, concurrency);
    await createAll(rest, others, 'deployments/replicasets/services/istio', concurrency);
    await createAll(rest, pods, 'pods', concurrency);
    const createdMs = Date.now() - seedT0;

    // KWOK drives the bound pods to Running; wait for it (bounded), so the inventory sees a settled fleet.
    const waitT0 = Date.now();
    let pending = await countNotRunning(rest);
    while (pending > 0 && Date.now() - waitT0 < 20 * 60_000) {
      log(`kwok: ${pods.length - pending}/${pods.length} pods Running`);
      await new Promise((r) => setTimeout(r, 15_000));
      pending = await countNotRunning(rest);
    }
    const state = { total: pods.length, running: pods.length - pending, waitMs: Date.now() - waitT0 };
    log(`kwok: ${state.running}/${state.total} pods Running after ${(state.waitMs / 1000).toFixed(0)} s`);
    rest.close();

    const runs = Number(values.runs);
    const inv: Timed[] = [];
    const raw: Timed[] = [];
    let rawCount = 0;
    for (let i = 0; i < runs; i++) {
      const r = timed(join(REPO_ROOT, 'bin', 'migrate'), ['inventory', '--kubeconfig', cluster.adminKubeconfig, '--json'], join(OUT, 'inventory-live.out.json'));
      if (r.exit !== 0) throw new Error(`migrate inventory exited ${r.exit}: ${r.stderr.slice(-2000)}`);
      log(`run ${i + 1}: migrate inventory --json: ${(r.wallMs / 1000).toFixed(2)} s (cpu ${(r.cpuMs / 1000).toFixed(2)} s), peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MiB, ${(r.stdoutBytes / 1e6).toFixed(1)} MB of JSON`);
      inv.push(r);
      const b = timed(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'raw-list.js'), '--kubeconfig', cluster.adminKubeconfig], join(OUT, 'raw-list.out.json'));
      if (b.exit !== 0) throw new Error(`raw-list exited ${b.exit}: ${b.stderr.slice(-2000)}`);
      rawCount = (JSON.parse(b.stdout) as { objects: number }).objects;
      log(`run ${i + 1}: raw client-node list (${rawCount} objects): ${(b.wallMs / 1000).toFixed(2)} s (cpu ${(b.cpuMs / 1000).toFixed(2)} s), peak RSS ${(b.maxRssKb / 1024).toFixed(0)} MiB`);
      raw.push(b);
    }
    const summary = (() => {
      try {
        return (JSON.parse(inv[inv.length - 1]!.stdout) as { summary?: unknown }).summary;
      } catch {
        return undefined;
      }
    })();
    const result = {
      date: new Date().toISOString(),
      versions: v,
      machine: { cores: (await import('node:os')).cpus().length, memGiB: Math.round((await import('node:os')).totalmem() / 2 ** 30) },
      fleet: { ...SIZE, pods: pods.length, nodes: nodes.length, istio, otherObjects: others.length - istio },
      seed: { createMs: createdMs, podsPerSec: Math.round((pods.length * 1000) / createdMs), kwokRunning: state },
      loadavg: (await import('node:os')).loadavg(),
      inventory: { wallMs: inv.map((r) => Math.round(r.wallMs)), cpuMs: inv.map((r) => Math.round(r.cpuMs)), maxRssKb: inv.map((r) => r.maxRssKb), jsonBytes: inv[0]!.stdoutBytes, summary },
      rawList: { objects: rawCount, wallMs: raw.map((r) => Math.round(r.wallMs)), cpuMs: raw.map((r) => Math.round(r.cpuMs)), maxRssKb: raw.map((r) => r.maxRssKb) },
      ratio: {
        wall: +(median(inv.map((r) => r.wallMs)) / median(raw.map((r) => r.wallMs))).toFixed(2),
        cpu: +(median(inv.map((r) => r.cpuMs)) / median(raw.map((r) => r.cpuMs))).toFixed(2),
        rss: +(median(inv.map((r) => r.maxRssKb)) / median(raw.map((r) => r.maxRssKb))).toFixed(2),
      },
    };
    writeFileSync(join(OUT, 'inventory-live.json'), JSON.stringify(result, null, 2) + '\n');
    const f = (ms: number): string => (ms / 1000).toFixed(2);
    console.log(`\nlive inventory bench (${pods.length} pods, ${nodes.length} nodes, ${istio} Istio resources; median of ${runs})`);
    console.log(`| | wall s | CPU s | peak RSS MiB |`);
    console.log(`|---|---|---|---|`);
    console.log(`| migrate inventory --json | ${f(median(inv.map((r) => r.wallMs)))} | ${f(median(inv.map((r) => r.cpuMs)))} | ${(median(inv.map((r) => r.maxRssKb)) / 1024).toFixed(0)} |`);
    console.log(`| raw client-node list (${rawCount} objects) | ${f(median(raw.map((r) => r.wallMs)))} | ${f(median(raw.map((r) => r.cpuMs)))} | ${(median(raw.map((r) => r.maxRssKb)) / 1024).toFixed(0)} |`);
    console.log(`| ratio | ${result.ratio.wall}x | ${result.ratio.cpu}x | ${result.ratio.rss}x |`);
    console.log(`load average: ${result.loadavg.map((x) => x.toFixed(1)).join(' ')}`);
    console.log(`seed: ${(createdMs / 1000).toFixed(0)} s to create (${result.seed.podsPerSec} pods/s); results in bench/out/inventory-live.json`);
  } finally {
    if (!values.keep) spawnSync(join(REPO_ROOT, 'test', 'cluster', 'down.sh'), [], { env, stdio: 'inherit' });
    else log(`cluster kept running: MIGRATE_CLUSTER_STATE=${STATE} test/cluster/down.sh stops it`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
