// The real BPF programs and loader against the Cilium reference evaluator (real kernel, root): the random policy
// sets of test/support/random-policies.ts go through compilePlan, the config through the loader's own config code
// into the maps, and every request of the universe through the tc program with BPF_PROG_TEST_RUN
// (shadow-probe/build/verdicts: a SYN, the request, the response; the wire leg's verdict after the loader's
// userspace step). The unit differential checks the same sets on a model of the probe; this one checks the probe.
// The meshed path (mTLS on the wire, the request seen on the pod's loopback hop by the cgroup_skb program) goes further:
// the loader's JSON records of each request, with the sidecar's access log entries for it, through the shadow's join,
// whose verdict is the one `migrate shadow` reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { compilePlan } from '../../src/core/shadow/probe-config.js';
import { ShadowJoiner } from '../../src/core/shadow/join.js';
import { joinInputsOf } from '../../src/core/shadow/run.js';
import { parseEnvoyTextLine } from '../../src/core/shadow/envoy-text.js';
import { parseProbeLines } from '../../src/core/shadow/probe-lines.js';
import type { ProbeFlow, ProbeHttp, ProbeLine } from '../../src/core/shadow/types.js';
import { CiliumEvaluator } from '../../src/core/cilium/evaluator.js';
import { describeRequest } from '../../src/core/verify/request.js';
import { probeSkipReason } from '../support/probe.js';
import { REPO_ROOT } from '../support/cluster.js';
import { randomPolicySets, requestsTo, specsOf, UNIVERSE } from '../support/random-policies.js';
import { excused, goldenCases, goldenScenario } from '../support/golden-cases.js';
import type { KubeObject } from '../../src/core/model/k8s.js';
import type { ProbePodInput } from '../../src/core/shadow/probe-config.js';
import type { Request, Workload } from '../../src/core/verify/request.js';

const VERDICTS = join(REPO_ROOT, 'shadow-probe', 'build', 'verdicts');
/** The methods the kernel parses (shadow.bpf.c parse_method). */
const KNOWN_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS']);
const skip = probeSkipReason() ?? (existsSync(VERDICTS) ? undefined : `no ${VERDICTS}: run 'make probe-build'`);

/** The harness, fed a line at a time and read in order. */
class Verdicts {
  private readonly proc = spawn(VERDICTS, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  private readonly out = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  private stderr = '';
  readonly dir = mkdtempSync(join(tmpdir(), 'probe-diff-'));

  constructor() { this.proc.stderr!.on('data', (d: Buffer) => { this.stderr += String(d); }); }

  send(lines: string[]): void { this.proc.stdin!.write(`${lines.join('\n')}\n`); }

  async answer(): Promise<string> {
    const r = await this.out.next();
    if (r.done) throw new Error(`verdicts exited: ${this.stderr}`);
    return r.value;
  }

  async close(): Promise<void> {
    this.proc.stdin!.end();
    await new Promise((r) => this.proc.on('close', r));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Compile, load into the harness, ask every request; the mismatches (at most `keep`) and the count compared. */
async function differ(v: Verdicts, label: string, policies: KubeObject[], pods: ProbePodInput[], requests: Request[], podOf: (w: Workload) => ProbePodInput, keep = 5) {
  const compiled = compilePlan(policies, pods);
  // a cgroup id makes each pod local (a pod named by IP alone is looked for on the node, and skipped when absent)
  const cfg = { ...compiled.config, pods: compiled.config.pods.map((p, i) => ({ ...p, cgroupId: 4_000_000 + i })) };
  const file = join(v.dir, 'config.json');
  writeFileSync(file, JSON.stringify(cfg));
  const evaluator = new CiliumEvaluator(policies);
  const asked: { line: string; want: string; what: string }[] = [];
  for (const req of requests) {
    const dst = podOf(req.destination);
    // plain TCP on a port with L7 rules: Cilium's proxy refuses it, the probe parses no HTTP there (known gap)
    if (req.protocol === 'TCP' && compiled.config.l7.some((r) => (!r.pod || r.pod === dst.name) && r.port === req.port)) continue;
    if (excused(compiled.unsupported, req)) continue;
    asked.push({ line: `req ${req.source.ip} ${dst.ip} ${req.port} ${req.protocol === 'HTTP' ? `${req.method} ${req.path}` : req.protocol}`, want: evaluator.decide(req), what: describeRequest(req) });
  }
  v.send([`config ${file}`, ...asked.map((a) => a.line)]);
  assert.equal(await v.answer(), 'ok', `${label}: config refused`);
  const diffs: string[] = [];
  let l7 = 0; let unparsed = 0; let udp = 0;
  for (const a of asked) {
    if (a.line.endsWith(' UDP')) udp++;
    const got = await v.answer();
    assert.ok(!got.startsWith('error'), `${label}: ${a.line}: ${got}`);
    // a method the kernel does not parse (lower case, or not one of the seven it knows): no HTTP record, so the
    // join decides such a request from the access log with the plan's rules (test/unit/shadow-join.test.ts)
    if (got.startsWith('unparsed')) {
      assert.ok(!KNOWN_METHODS.has(a.line.split(' ')[4]!), `${label}: ${a.line}: a known method left unparsed`);
      unparsed++;
      continue;
    }
    if (got.includes('http=') && !got.includes('http=none')) l7++;
    if (got.split(' ')[0] !== a.want && diffs.length < keep) diffs.push(`${a.what} (${a.line}): the probe says "${got}", Cilium ${a.want}`);
  }
  return { diffs, compared: asked.length - unparsed, l7, udp, config: cfg };
}

/** One access log line of the inbound sidecar (Istio's default TEXT format), as the lab's sidecars write it: allowed
 * (handed to the app over loopback, from the app leg's client address when the probe saw it) or denied by RBAC. */
function logLine(startMs: number, req: Request, flow: ProbeFlow, allowed: boolean, app: ProbeHttp | undefined): string {
  const details = allowed ? 'via_upstream' : 'rbac_access_denied_matched_policy[none]';
  const up = allowed ? `"127.0.0.1:${flow.dport}" inbound|${flow.dport}|| ${app?.client ?? '127.0.0.6:1'} ` : `"-" inbound|${flow.dport}|| - `;
  // the request's Host and User-Agent as the sidecar logs them ('-': not sent); the join checks host conditions on them
  return `[${new Date(startMs).toISOString()}] "${req.method} ${req.path} HTTP/1.1" ${allowed ? 200 : 403} - ${details} - "-" 0 19 1 1 "-" "${req.headers?.['user-agent'] ?? '-'}" "id" "${req.host ?? '-'}" ${up}${flow.dst}:${flow.dport} ${flow.src}:${flow.sport} - default`;
}

/**
 * The meshed path: each request through the harness's "mtls" (the loader's records), then through the join twice
 * on its connection, as the sidecar allowed it (the app leg's record decides L7, or the plan's rules with the peer
 * where that record could not tell) and as it denied it (no app leg: the plan's rules). Both must be Cilium's verdict.
 */
async function differMeshed(v: Verdicts, label: string, policies: KubeObject[], podsIn: ProbePodInput[], requests: Request[], podOf: (w: Workload) => ProbePodInput, keep = 5) {
  // every destination is a meshed pod here: the sidecar terminates mTLS and hands the request to the app on loopback
  const meshed = new Set(requests.map((r) => podOf(r.destination).name));
  const pods = podsIn.map((p) => (meshed.has(p.name) ? { ...p, sidecar: true } : p));
  const compiled = compilePlan(policies, pods);
  const cfg = { ...compiled.config, pods: compiled.config.pods.map((p, i) => ({ ...p, cgroupId: 4_000_000 + i })) };
  const file = join(v.dir, 'config.json');
  writeFileSync(file, JSON.stringify(cfg));
  v.send([`config ${file}`]);
  assert.equal(await v.answer(), 'ok', `${label}: config refused`);
  const joiner = new ShadowJoiner(joinInputsOf({ namespace: 'ns', pods: compiled.pods, rules: compiled.rules, l7: compiled.config.l7, gaps: [], selectedBy: compiled.selectedBy, probeConfig: compiled.config, nodes: compiled.nodes }));
  const evaluator = new CiliumEvaluator(policies);
  const diffs: string[] = [];
  const n = { compared: 0, app: 0, join: 0, noL7: 0, l4Deny: 0 };
  for (const req of requests) {
    if (req.protocol !== 'HTTP' || excused(compiled.unsupported, req, true)) continue;
    const dst = podOf(req.destination);
    v.send([`mtls ${req.source.ip} ${dst.ip} ${req.port} ${req.method} ${req.path}`]);
    const recs: ProbeLine[] = [];
    for (let l = await v.answer(); l !== 'end'; l = await v.answer()) {
      assert.ok(!l.startsWith('error'), `${label}: ${describeRequest(req)}: ${l}`);
      parseProbeLines(l, (r) => recs.push(r));
    }
    const flow = recs.find((r): r is ProbeFlow => r.type === 'flow');
    const app = recs.find((r): r is ProbeHttp => r.type === 'http');
    assert.ok(flow, `${label}: ${describeRequest(req)}: no flow record`);
    assert.ok(!app || app.leg === 'app', `${label}: an HTTP record on the TLS wire`);
    recs.forEach((r) => joiner.addProbe(r));
    const start = app ? (app.ts - app.latencyNs) / 1e6 - 0.2 : flow.ts / 1e6;
    for (const [i, allowed] of [true, false].entries()) joiner.addEntry(parseEnvoyTextLine(logLine(start + i * 0.5, req, flow, allowed, app), dst.name)!);
    const before = { ...joiner.matrix };
    joiner.flush(Infinity);
    const d = (k: keyof typeof before) => joiner.matrix[k] - before[k];
    assert.equal(d('allowAllow') + d('allowDeny') + d('denyAllow') + d('denyDeny'), 2, `${label}: ${describeRequest(req)}: the join did not match both entries (${JSON.stringify(recs)})`);
    const got = { sidecarAllowed: d('allowAllow') ? 'allow' : 'deny', sidecarDenied: d('denyAllow') ? 'allow' : 'deny' };
    const want = evaluator.decide(req);
    n.compared++;
    // who decided: L3/L4, the app leg in the kernel or the loader, the join with the peer (a record left undecided, or
    // none: a method the kernel does not parse), or nobody at L7 (no L7 rules on the port)
    if (flow.verdict !== 'allow') n.l4Deny++;
    else if (app?.verdict === 'allow' || app?.verdict === 'deny') n.app++;
    else if (!app || app.where !== 'none') n.join++;
    else n.noL7++;
    if ((got.sidecarAllowed !== want || got.sidecarDenied !== want) && diffs.length < keep) {
      diffs.push(`${describeRequest(req)}: the shadow says ${got.sidecarAllowed} (with the app leg) / ${got.sidecarDenied} (without), Cilium ${want}; records ${JSON.stringify(recs)}`);
    }
  }
  return { diffs, n, config: cfg };
}

test('the real programs and loader give Cilium\'s verdicts on random policy sets, UDP flows too (100; DIFF_SETS and DIFF_SEED pick others)', { skip }, async () => {
  const v = new Verdicts();
  let compared = 0; let l7 = 0; let udp = 0;
  try {
    for (const set of randomPolicySets(Number(process.env.DIFF_SEED ?? 0x5eed), Number(process.env.DIFF_SETS ?? 100))) {
      const requests = UNIVERSE.pods.flatMap((dst) => [...requestsTo(dst)]);
      const r = await differ(v, `set ${set.index}`, set.policies, UNIVERSE.pods, requests, (w) => UNIVERSE.pods.find((p) => p.name === w.id)!, 1);
      compared += r.compared; l7 += r.l7; udp += r.udp;
      assert.deepEqual(r.diffs, [], `set ${set.index}\n${specsOf(set)}\nprobe config: ${JSON.stringify({ policy: r.config.policy, l7: r.config.l7 })}`);
    }
  } finally {
    await v.close();
  }
  assert.ok(compared > 15_000 && l7 > 1000 && udp > 3000, `compared ${compared} requests, ${l7} with an L7 verdict, ${udp} UDP flows`);
});

test('the real programs and loader give Cilium\'s verdicts on every translate golden case', { skip }, async () => {
  const v = new Verdicts();
  let compared = 0;
  try {
    for (const c of goldenCases()) {
      const sc = goldenScenario(c, 20_000);
      if (!sc) continue;
      const r = await differ(v, c, sc.cilium, sc.pods, sc.requests, sc.podOf);
      compared += r.compared;
      assert.deepEqual(r.diffs, [], c);
    }
  } finally {
    await v.close();
  }
  assert.ok(compared > 5000, `compared ${compared}`);
});

test('on the meshed path (mTLS wire, cgroup_skb app leg, the loader\'s records through the join) the shadow gives Cilium\'s verdicts on random policy sets (100)', { skip }, async () => {
  const v = new Verdicts();
  const n = { compared: 0, app: 0, join: 0, noL7: 0, l4Deny: 0 };
  try {
    for (const set of randomPolicySets(Number(process.env.DIFF_SEED ?? 0x5eed), Number(process.env.DIFF_SETS ?? 100))) {
      const requests = UNIVERSE.pods.filter((p) => p.sidecar).flatMap((dst) => [...requestsTo(dst)]);
      const r = await differMeshed(v, `set ${set.index}`, set.policies, UNIVERSE.pods, requests, (w) => UNIVERSE.pods.find((p) => p.name === w.id)!, 1);
      for (const k of Object.keys(n) as (keyof typeof n)[]) n[k] += r.n[k];
      assert.deepEqual(r.diffs, [], `set ${set.index}\n${specsOf(set)}\nprobe config: ${JSON.stringify({ policy: r.config.policy, l7: r.config.l7 })}`);
    }
  } finally {
    await v.close();
  }
  console.log(`meshed path, random sets: ${JSON.stringify(n)}`);
  assert.ok(n.compared > 15_000 && n.app > 500 && n.join > 500 && n.l4Deny > 1000, JSON.stringify(n));
});

test('on the meshed path the shadow gives Cilium\'s verdicts on every translate golden case', { skip }, async () => {
  const v = new Verdicts();
  const n = { compared: 0, app: 0, join: 0, noL7: 0, l4Deny: 0 };
  try {
    for (const c of goldenCases()) {
      const sc = goldenScenario(c, 20_000);
      if (!sc) continue;
      const r = await differMeshed(v, c, sc.cilium, sc.pods, sc.requests, sc.podOf);
      for (const k of Object.keys(n) as (keyof typeof n)[]) n[k] += r.n[k];
      assert.deepEqual(r.diffs, [], c);
    }
  } finally {
    await v.close();
  }
  console.log(`meshed path, golden cases: ${JSON.stringify(n)}`);
  assert.ok(n.compared > 5000 && n.app > 10 && n.join > 200, JSON.stringify(n));
});
