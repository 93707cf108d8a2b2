// Probe overhead in the lab, the two halves bench/lab-overhead.sh runs around one long load run:
//   toggle   switch a running shadow-probe off and on (SIGHUP with a config without pods detaches it, with the
//            full config re-attaches it) in alternating segments until the deadline; one JSON line per segment
//            with its times on CLOCK_MONOTONIC (process.hrtime, the clock lab/loadgen.mjs --samples writes).
//            With --base-pid (A/B of two builds) a second loader is attached in the "off" segments instead.
//   analyze  pool the load generator's samples by segment, p50/p99 per variant, on/off ratios with a block-
//            bootstrap 95 % interval over segment pairs, verdicts against the targets, and the kernel's own
//            estimate (BPF run time per request); prints a report and writes a JSON summary. Several runs
//            (--samples/--segments repeated, one of each per run; .gz read as is) are pooled, and each run's
//            ratio is also shown as one draw of a between-run interval
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { betweenRuns, bootstrapRatios, poolBySegment, splitStats, statsPair, tailPairs, verdict, weightedQuantile, type Segment, type Variant } from './overhead-stats.js';

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
const die = (msg: string): never => { process.stderr.write(`lab-overhead: ${msg}\n`); process.exit(2); };
const num = (v: string | undefined, name: string): number => {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n)) die(`--${name} needs a number, got ${v ?? 'nothing'}`);
  return n;
};

interface SegmentRecord extends Segment {
  /** when the reload that started this segment was logged as done (the probe's state from then on) */
  switchedUs: number;
  /** how long that reload took */
  reloadMs: number;
  /** CPU time of the probe's loader inside [startUs, endUs]: its steady cost, without the reloads (absent before
   * 2026-11-22 or when /proc could not be read) */
  loaderCpuUs?: number;
}

/** CPU time of every thread of pid so far, µs (/proc/PID/task/TID/schedstat: ns on CPU first), or null. */
function threadCpuUs(pid: number): number | null {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1000;
  } catch {
    return null;
  }
}

interface Loader { pid: number; log: string; live: string }

async function toggle(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({ args: argv, options: {
    'probe-pid': { type: 'string' }, log: { type: 'string' }, live: { type: 'string' }, full: { type: 'string' },
    empty: { type: 'string' }, duration: { type: 'string' }, segment: { type: 'string', default: '2' },
    guard: { type: 'string', default: '0.3' }, warmup: { type: 'string', default: '1' }, out: { type: 'string' },
    'base-pid': { type: 'string' }, 'base-log': { type: 'string' }, 'base-live': { type: 'string' },
    'stats-every': { type: 'string', default: '0' }, 'stats-holder': { type: 'string' },
  } });
  const [log, live, full, empty, out] = [v.log, v.live, v.full, v.empty, v.out];
  if (!log || !live || !full || !empty || !out) return die('toggle needs --log --live --full --empty --out');
  const probe: Loader = { pid: num(v['probe-pid'], 'probe-pid'), log, live };
  // A/B mode: a second loader (the baseline build) is attached instead of nothing in the "off" segments.
  let base: Loader | null = null;
  if (v['base-pid'] !== undefined) {
    if (!v['base-log'] || !v['base-live']) return die('toggle --base-pid needs --base-log and --base-live');
    base = { pid: num(v['base-pid'], 'base-pid'), log: v['base-log'], live: v['base-live'] };
  }
  const deadline = nowUs() + num(v.duration, 'duration') * 1e6;
  const segUs = num(v.segment, 'segment') * 1e6;
  const guardUs = num(v.guard, 'guard') * 1e6;
  await sleep(num(v.warmup, 'warmup') * 1000);
  const reloads = (l: Loader): number => (readFileSync(l.log, 'utf8').match(/config reloaded/g) ?? []).length;
  const reload = async (l: Loader, config: string): Promise<number> => {
    const before = reloads(l);
    copyFileSync(config, l.live);
    process.kill(l.pid, 'SIGHUP');
    for (let i = 0; i < 500; i++) {
      if (reloads(l) > before) return nowUs();
      await sleep(10);
    }
    return die(`the probe (pid ${l.pid}) did not log "config reloaded" within 5 s after SIGHUP (see ${l.log})`);
  };
  // Detach first, then attach: the two builds never run on the same packets.
  const switchTo = async (variant: Variant): Promise<number> => {
    if (!base) return reload(probe, variant === 'on' ? full : empty);
    const [from, to] = variant === 'on' ? [base, probe] : [probe, base];
    await reload(from, empty);
    return reload(to, full);
  };
  // Stats pairs (overhead-stats.ts statsPair): BPF run-time stats on for that pair only, through a holder
  // process (bpf-prog-cost.py hold: BPF_ENABLE_STATS is refcounted and ends with the holder's stdin).
  const statsEvery = num(v['stats-every'], 'stats-every');
  if (statsEvery > 0 && !v['stats-holder']) return die('toggle --stats-every needs --stats-holder (bench/bpf-prog-cost.py)');
  if (statsEvery > 0 && readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() !== '0') {
    process.stderr.write('lab-overhead: WARNING: BPF stats are already on (another holder or the sysctl): the latency pairs include their cost\n');
  }
  let holder: ChildProcess | null = null;
  const statsOn = async (): Promise<void> => {
    const h = spawn('python3', [v['stats-holder']!, 'hold', '--until-eof'], { stdio: ['pipe', 'pipe', 'inherit'] });
    holder = h;
    let out = '';
    h.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    for (let i = 0; i < 500 && !out.includes('holding'); i++) {
      if (h.exitCode !== null) break;
      await sleep(10);
    }
    if (!out.includes('holding')) die(`the stats holder (${v['stats-holder']}) did not start (exit ${h.exitCode})`);
  };
  const statsOff = async (): Promise<void> => {
    const h = holder as ChildProcess | null;
    if (!h) return;
    holder = null;
    const exited = h.exitCode === null ? once(h, 'exit') : Promise.resolve();
    h.stdin!.end();
    await exited;
  };
  const segments: SegmentRecord[] = [];
  // Pairs in ABBA order (off-on, on-off, ...) so a steady drift favours neither variant.
  for (let pair = 0; ; pair++) {
    const order: Variant[] = pair % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    // A pair needs two reloads (~0.2 s each), two guards and two segments.
    if (nowUs() + 2 * (segUs + guardUs + 300_000) > deadline) break;
    const stats = statsPair(pair, statsEvery);
    if (stats) await statsOn();
    for (const variant of order) {
      const t0 = nowUs();
      const switchedUs = await switchTo(variant);
      const startUs = switchedUs + guardUs;
      await sleep((startUs - nowUs()) / 1000);
      const cpu0 = threadCpuUs(probe.pid);
      await sleep((startUs + segUs - nowUs()) / 1000);
      const cpu1 = threadCpuUs(probe.pid);
      const loaderCpuUs = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : undefined;
      segments.push({ pair, variant, startUs, endUs: nowUs(), switchedUs, reloadMs: (switchedUs - t0) / 1000, ...(loaderCpuUs === undefined ? {} : { loaderCpuUs }), ...(stats ? { stats } : {}) });
    }
    if (stats) await statsOff();
  }
  // Leave nothing attached: in A/B mode a baseline attached for the rest of the load would add program runs
  // without requests to its per-request figure.
  if (base) {
    await reload(probe, empty);
    await reload(base, empty);
  } else {
    await switchTo('off');
  }
  writeFileSync(out, segments.map((s) => JSON.stringify(s)).join('\n') + '\n');
  const nStats = segments.filter((s) => s.stats).length / 2;
  process.stderr.write(`lab-overhead: ${segments.length / 2} pairs of ${segUs / 1e6} s segments` +
    (statsEvery > 0 ? `, ${nStats} of them with BPF stats on (kernel estimate only)` : '') + '\n');
}

function readSamples(path: string): { written: Float64Array; latency: Float64Array } {
  const raw = readFileSync(path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8'); // the script gzips them
  const lines = text.split('\n').filter((l) => l.length > 0);
  const written = new Float64Array(lines.length);
  const latency = new Float64Array(lines.length);
  lines.forEach((l, k) => {
    const sp = l.indexOf(' ');
    written[k] = Number(l.slice(0, sp));
    latency[k] = Number(l.slice(sp + 1));
    if (!(sp > 0 && Number.isFinite(written[k]) && Number.isFinite(latency[k]))) die(`${path}:${k + 1}: expected "<written µs> <latency µs>", got "${l}"`);
  });
  return { written, latency };
}

function analyze(argv: string[]): void {
  const { values: v } = parseArgs({ args: argv, options: {
    samples: { type: 'string', multiple: true }, 'samples-b': { type: 'string', multiple: true }, segments: { type: 'string', multiple: true },
    label: { type: 'string', default: 'run' },
    bpf: { type: 'string' }, 'bpf-base': { type: 'string' }, 'loader-cpu-ms': { type: 'string' }, cores: { type: 'string', default: '2' }, 'stats-every': { type: 'string', default: '0' }, 'target-p50': { type: 'string', default: '0.02' }, 'target-p99': { type: 'string', default: '0.05' },
    resamples: { type: 'string', default: '2000' }, seed: { type: 'string', default: '1' }, out: { type: 'string' },
  } });
  if (!v.samples || !v.segments) return die('analyze needs --samples and --segments');
  // Several runs (each with its --samples, --segments and, concurrent design, --samples-b, in the same order) are
  // pooled: their pairs renumbered apart and their times shifted apart, so runs from different boots pool too.
  const nRuns = v.samples.length;
  if (v.segments.length !== nRuns) return die(`${nRuns} --samples but ${v.segments.length} --segments: give one of each per run`);
  if (v['samples-b'] && v['samples-b'].length !== nRuns) return die(`${nRuns} --samples but ${v['samples-b'].length} --samples-b`);
  if (nRuns > 1 && (v.bpf || v['bpf-base'] || v['loader-cpu-ms'])) return die('--bpf, --bpf-base and --loader-cpu-ms describe one run; analyze several runs without them');
  const runs = v.samples.map((file, i) => {
    // Concurrent design: --samples-b holds the twin arm, which the probe watches in the "off" segments.
    const a = readSamples(file);
    const b = v['samples-b'] ? readSamples(v['samples-b'][i]!) : null;
    const written = b ? Float64Array.from([...a.written, ...b.written]) : a.written;
    const latency = b ? Float64Array.from([...a.latency, ...b.latency]) : a.latency;
    const arm = b ? Uint8Array.from({ length: written.length }, (_, k) => (k < a.written.length ? 0 : 1)) : undefined;
    const segs = readFileSync(v.segments![i]!, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SegmentRecord);
    return { written, latency, arm, segs };
  });
  const concurrent = v['samples-b'] !== undefined;
  let written = runs[0]!.written, latency = runs[0]!.latency, arm = runs[0]!.arm, allSegs = runs[0]!.segs;
  if (nRuns > 1) {
    const w: number[] = [], l: number[] = [], am: number[] = [];
    allSegs = [];
    let pairBase = 0, timeBase = 0;
    for (const r of runs) {
      const t0 = r.written.reduce((m, x) => Math.min(m, x), r.segs.reduce((m, s) => Math.min(m, s.switchedUs), Infinity));
      const shift = timeBase - t0;
      let maxPair = 0, end = 0;
      for (const s of r.segs) {
        allSegs.push({ ...s, pair: s.pair + pairBase, startUs: s.startUs + shift, endUs: s.endUs + shift, switchedUs: s.switchedUs + shift });
        maxPair = Math.max(maxPair, s.pair);
        end = Math.max(end, s.endUs + shift);
      }
      r.written.forEach((x, k) => { w.push(x + shift); l.push(r.latency[k]!); am.push(r.arm?.[k] ?? 0); end = Math.max(end, x + shift); });
      pairBase += maxPair + 1;
      timeBase = end + 60e6;
    }
    written = Float64Array.from(w);
    latency = Float64Array.from(l);
    arm = concurrent ? Uint8Array.from(am) : undefined;
  }
  // The latency verdict comes from the pairs without BPF stats, the kernel estimate from those with them.
  const { latency: segs, kernel: statsSegs } = splitStats(allSegs);
  const statsPairs = allSegs.some((s) => s.stats === true) ? new Set(statsSegs.map((s) => s.pair)).size : 0;
  const pairs = new Set(segs.map((s) => s.pair)).size;
  if (pairs < 2) return die(`${v.segments}: ${pairs} segment pair(s); the run was too short for an interval (raise --duration or lower --segment)`);
  const pooled = poolBySegment(written, latency, segs, arm);
  const targets = { 0.5: num(v['target-p50'], 'target-p50'), 0.99: num(v['target-p99'], 'target-p99') };
  const est = bootstrapRatios(pooled, [0.5, 0.99], { resamples: num(v.resamples, 'resamples'), seed: num(v.seed, 'seed') });
  // Each run's own point ratios, when several are pooled (see betweenRuns).
  const perRun = nRuns < 2 ? null : runs.map((r) => {
    const x = poolBySegment(r.written, r.latency, splitStats(r.segs).latency, r.arm);
    const ones = new Float64Array(x.pairs).fill(1);
    return [0.5, 0.99].map((p) => weightedQuantile(x.on, ones, p)! / weightedQuantile(x.off, ones, p)!);
  });
  // In the concurrent design both variants run through every segment (one arm each).
  const segTimeS = (variant: Variant): number => segs.filter((s) => concurrent || s.variant === variant).reduce((t, s) => t + (s.endUs - s.startUs), 0) / 1e6;
  const rps = { off: pooled.off.latencyUs.length / segTimeS('off'), on: pooled.on.latencyUs.length / segTimeS('on') };
  const reloadMs = segs.map((s) => s.reloadMs).sort((a, b) => a - b);

  // The loader's steady cost: its CPU inside the segments (after each reload's guard), per request the probe
  // watched there. The whole-run figure below (loader-cpu-ms) also carries the bench's own reloads, two per pair,
  // which a deployed probe does not make.
  let loaderSteady: { usPerRequest: number; detachedUsPerS: number | null } | null = null;
  if (allSegs.length > 0 && allSegs.every((s) => s.loaderCpuUs !== undefined)) {
    const byStart = [...allSegs].sort((a, b) => a.startUs - b.startUs);
    const starts = byStart.map((s) => s.startUs);
    let watched = 0;
    for (let k = 0; k < written.length; k++) {
      const t = written[k]!;
      let lo = 0, hi = starts.length; // last segment starting at or before t
      while (lo < hi) { const mid = (lo + hi) >> 1; if (starts[mid]! <= t) lo = mid + 1; else hi = mid; }
      const s = byStart[lo - 1];
      if (!s || t >= s.endUs) continue;
      // segments design: watched in "on" segments; concurrent: arm A in "on", its twin (arm 1) in "off"
      if (concurrent ? (arm?.[k] === 1) === (s.variant === 'off') : s.variant === 'on') watched++;
    }
    const cpu = (variant: Variant | null): number => allSegs.filter((s) => variant === null || s.variant === variant).reduce((t, s) => t + s.loaderCpuUs!, 0);
    const offS = allSegs.filter((s) => s.variant === 'off').reduce((t, s) => t + (s.endUs - s.startUs), 0) / 1e6;
    loaderSteady = { usPerRequest: (concurrent ? cpu(null) : cpu('on')) / watched, detachedUsPerS: concurrent || offS === 0 ? null : cpu('off') / offS };
  }

  // Kernel estimate: the probe's BPF run time (counted only while it is attached and the stats are on: in the
  // stats pairs, or the whole run without them) per request sent then (from each such "on" reload to the end of
  // that segment), against the probe-off p50 (the latency view: what a request waits for when the CPUs are
  // free) and against the CPU time per request
  // (the saturation view: at the maximum rate every CPU-µs the probe takes is throughput lost). The loader's
  // own CPU (utime + stime over the run) is off the request path but shares the cores.
  let kernel: { runTimeNs: number; runCnt: number; requestsAttached: number; nsPerRequest: number; shareOfP50Off: number; ratioEstimate: number;
    cpuUsPerRequestOff: number; shareOfCpu: number; loaderUsPerRequest: number | null } | null = null;
  type BpfDiff = { run_time_ns: number; run_cnt: number };
  const attached = (variant: Variant, among: readonly SegmentRecord[] = statsSegs): number => {
    let n = 0;
    for (let k = 0; k < written.length; k++) {
      // the twin arm (concurrent design) is the one watched in the other variant's segments
      const want: Variant = arm?.[k] === 1 ? (variant === 'on' ? 'off' : 'on') : variant;
      if (among.some((s) => s.variant === want && written[k]! >= s.switchedUs && written[k]! < s.endUs)) n++;
    }
    return n;
  };
  // A/B mode (--bpf-base): the baseline build runs in the "off" segments; its BPF time per request sent then.
  let kernelBase: { runTimeNs: number; runCnt: number; requestsAttached: number; nsPerRequest: number } | null = null;
  // A run toggled with stats pairs (--stats-every N > 0) but too short to reach one has no kernel estimate: its BPF
  // counters never ran. Say so rather than print zero runs as if the stats had been on throughout.
  const noStatsPair = num(v['stats-every'], 'stats-every') > 0 && statsPairs === 0;
  if (v['bpf-base'] && !noStatsPair) {
    const bpf = JSON.parse(readFileSync(v['bpf-base'], 'utf8')) as BpfDiff;
    const n = attached('off');
    kernelBase = { runTimeNs: bpf.run_time_ns, runCnt: bpf.run_cnt, requestsAttached: n, nsPerRequest: Math.round(n > 0 ? bpf.run_time_ns / n : NaN) };
  }
  if (v.bpf && !noStatsPair) {
    const bpf = JSON.parse(readFileSync(v.bpf, 'utf8')) as BpfDiff;
    const n = attached('on');
    const ns = n > 0 ? bpf.run_time_ns / n : NaN;
    const share = ns / (est[0]!.off * 1000);
    // CPU capacity per request at the probe-off rate (concurrent design: both arms share the machine)
    const cpuUs = num(v.cores, 'cores') * 1e6 / (concurrent ? rps.off + rps.on : rps.off);
    const loaderMs = v['loader-cpu-ms'] === undefined ? null : num(v['loader-cpu-ms'], 'loader-cpu-ms');
    kernel = { runTimeNs: bpf.run_time_ns, runCnt: bpf.run_cnt, requestsAttached: n, nsPerRequest: Math.round(ns), shareOfP50Off: share, ratioEstimate: 1 + share,
      cpuUsPerRequestOff: cpuUs, shareOfCpu: ns / 1000 / cpuUs, loaderUsPerRequest: loaderMs === null ? null : loaderMs * 1000 / attached('on', allSegs) };
  }

  const r3 = (x: number): string => x.toFixed(3);
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  const ab = kernelBase !== null;
  const design = concurrent ? ' [concurrent: two twin arms at once, the probe on one of them per segment; on = the watched arm, off = its twin]' : '';
  const lines = [`${v.label}${design}${ab ? ' [A/B: off = the baseline build attached, on = the candidate; the targets do not apply]' : ''}: ${pairs} pairs, ${segs.length} segments; samples off ${pooled.off.latencyUs.length}, on ${pooled.on.latencyUs.length} ` +
    `(of ${written.length}); reload ${r3(reloadMs[Math.floor(reloadMs.length / 2)]! / 1000)} s median` +
    (statsPairs > 0 ? `; BPF stats on only in ${statsPairs} further pairs (kernel lines)`
      : noStatsPair ? `; no pair had BPF stats on (one in ${v['stats-every']}): no kernel lines` : '; BPF stats on for the whole run')];
  const results = est.map((e) => {
    const t = targets[e.p as 0.5 | 0.99];
    const vd = verdict(e, t);
    const name = e.p === 0.5 ? 'p50' : 'p99';
    lines.push(`  ${name}: off ${r3(e.off / 1000)} ms, on ${r3(e.on / 1000)} ms, on/off x${r3(e.ratio)} 95% CI [${r3(e.lo)}..${r3(e.hi)}] ` +
      `(half-width ${pct((e.hi - e.lo) / 2)})` + (ab ? '' : `; target <= x${r3(1 + t)}: ${vd.toUpperCase()}`));
    // Half of the samples at or above this quantile sit in how few pairs? Few = a few bursts decide it.
    const tail = { off: tailPairs(pooled.off, e.off), on: tailPairs(pooled.on, e.on) };
    const fragile = e.p > 0.5 && Math.min(tail.off, tail.on) < Math.max(5, pairs / 8);
    if (fragile) {
      lines.push(`    FRAGILE: half of the ${name} tail sits in ${tail.off} (off) / ${tail.on} (on) of ${pairs} pairs: bursts from ` +
        `elsewhere on the machine decide it; read this verdict as undecided and re-run on a quiet machine`);
    }
    let between: ReturnType<typeof betweenRuns> & { ratios: number[]; verdict: string } | null = null;
    if (perRun) {
      const ratios = perRun.map((r) => r[e.p === 0.5 ? 0 : 1]!);
      const br = betweenRuns(ratios);
      between = { ...br, ratios, verdict: verdict(br, t) };
      lines.push(`    runs: ${ratios.map((r) => `x${r3(r)}`).join(', ')}; each run as one draw: mean x${r3(br.mean)}, 95% t interval ` +
        `[${r3(br.lo)}..${r3(br.hi)}]` + (ab ? '' : `: ${between.verdict.toUpperCase()}`) + ' (the bootstrap above covers only the noise inside the runs)');
    }
    return { quantile: name, offMs: e.off / 1000, onMs: e.on / 1000, ratio: e.ratio, ci95: [e.lo, e.hi], target: 1 + t, verdict: vd,
      tailPairs: tail, fragile, resamples: e.resamples, ...(between ? { betweenRuns: between } : {}) };
  });
  lines.push(`  req/s (answered inside the segments): off ${rps.off.toFixed(1)}, on ${rps.on.toFixed(1)}, on/off x${r3(rps.on / rps.off)}`);
  if (kernel) {
    lines.push(`  kernel: BPF ${(kernel.nsPerRequest / 1000).toFixed(1)} µs/request (${kernel.runCnt} program runs over ${kernel.requestsAttached} requests attached), ` +
      `${pct(kernel.shareOfP50Off)} of p50 off: on/off p50 estimate x${r3(kernel.ratioEstimate)} (programs' own run time only); ` +
      `${pct(kernel.shareOfCpu)} of the ${kernel.cpuUsPerRequestOff.toFixed(0)} CPU-µs per request at the off rate` +
      (kernel.loaderUsPerRequest === null ? '' : `; loader over the whole run, the bench's reloads included, ${kernel.loaderUsPerRequest.toFixed(1)} CPU-µs/request`));
  }
  if (loaderSteady) {
    lines.push(`  loader inside the segments (reloads excluded): ${loaderSteady.usPerRequest.toFixed(2)} CPU-µs per watched request` +
      (loaderSteady.detachedUsPerS === null ? '' : `; detached, ${(loaderSteady.detachedUsPerS / 1000).toFixed(2)} CPU-ms/s`));
  }
  if (kernelBase && kernel) {
    lines.push(`  kernel, baseline build: BPF ${(kernelBase.nsPerRequest / 1000).toFixed(1)} µs/request (${kernelBase.runCnt} program runs over ` +
      `${kernelBase.requestsAttached} requests attached); candidate/baseline x${r3(kernel.nsPerRequest / kernelBase.nsPerRequest)} per request, ` +
      // per run: free of the program runs around the switches, which the per-request figures count but not their requests
      `x${r3((kernel.runTimeNs / kernel.runCnt) / (kernelBase.runTimeNs / kernelBase.runCnt))} per program run`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (v.out) {
    writeFileSync(v.out, JSON.stringify({ label: v.label, design: concurrent ? 'concurrent' : 'segments', pairs, statsPairs, segments: segs.length, samples: { total: written.length, off: pooled.off.latencyUs.length, on: pooled.on.latencyUs.length },
      reloadMsMedian: reloadMs[Math.floor(reloadMs.length / 2)], rps, results, kernel, kernelBase, loaderSteady }, null, 1) + '\n');
  }
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'toggle') await toggle(rest);
else if (cmd === 'analyze') analyze(rest);
else die('usage: lab-overhead.js toggle|analyze ... (see bench/lab-overhead.sh)');
