// `migrate shadow --local` in a private lab instance: the real shadow-probe next to the real HAProxy sidecars
// (mTLS between sidecars, plaintext from the sidecar-less client), traffic from the lab's load generator, the Result of bin/migrate checked per scenario; the live metrics
// scraped by a real Prometheus (Debian package); the maximum rate without lost records; --resume after a
// SIGKILL. SKIPs with the reason where not root, the lab cannot run or the probe is unavailable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { Lab, labSkipReason } from '../support/lab.js';
import { probeSkipReason } from '../support/probe.js';
import { runCli } from '../support/cli.js';
import { packagePath } from '../../src/adapters/fs/package.js';
import type { ShadowResult } from '../../src/core/shadow/result.js';

const skip = labSkipReason() ?? probeSkipReason();
const lab = new Lab('mlabsh');
const work = mkdtempSync(join(tmpdir(), 'shadow-lab-'));
const planLab = join(work, 'plan-lab');
const PROM = '/usr/bin/prometheus';

before(async () => {
  if (skip) return;
  const up = lab.run(['up'], 180_000);
  assert.equal(up.status, 0, up.stderr);
  const tr = await runCli(['translate', '--snapshot', lab.file().snapshot, '-n', 'bookinfo', '--out', planLab]);
  assert.equal(tr.code, 0, tr.stderr);
});

after(() => {
  if (skip) return;
  lab.run(['down'], 120_000);
  rmSync(work, { recursive: true, force: true });
});

interface Live { child: ChildProcess; results: string; done: Promise<{ code: number; stdout: string; stderr: string }> }

async function startShadow(name: string, plan: string, extra: string[] = []): Promise<Live> {
  const results = join(work, `run-${name}`);
  const child = spawn(packagePath('bin', 'migrate'), ['shadow', '-n', 'bookinfo', '--local', '--duration', '120s', '--plan', plan, '--results', results, '--lab-state', join(lab.stateDir, 'lab'), '--json', ...extra], { cwd: packagePath(), env: { ...process.env, MIGRATE_NO_PROGRESS: '1' } });
  let stdout = ''; let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((res) => child.on('close', (code) => res({ code: code ?? -1, stdout, stderr })));
  const t0 = Date.now();
  while (!existsSync(join(results, 'cursor.json'))) {
    if (child.exitCode !== null) throw new Error(`shadow exited early: ${stderr}`);
    if (Date.now() - t0 > 90_000) throw new Error(`shadow did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, results, done };
}

function load(target: string, path: string, rate = 20, duration = 2, from?: string): Record<string, unknown> {
  const r = lab.run(['load', '--target', target, '--path', path, '--rate', String(rate), '--duration', String(duration), ...(from ? ['--from', from] : [])], 120_000);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function stop(l: Live): Promise<{ code: number; result: ShadowResult }> {
  await new Promise((r) => setTimeout(r, 2500)); // the join window settles
  l.child.kill('SIGINT');
  const d = await l.done;
  return { code: d.code, result: JSON.parse(d.stdout) as ShadowResult };
}

test('lossless: full agreement on live traffic, both legs measured; Prometheus scrapes the live metrics', { skip }, async (t) => {
  const port = 19470 + Math.floor(Math.random() * 100);
  const l = await startShadow('lossless', planLab, ['--metrics-addr', `127.0.0.1:${port}`]);
  let prom: ChildProcess | undefined;
  const promSkip = existsSync(PROM) ? undefined : `no ${PROM}: run 'make shadow-deps' (Debian prometheus)`;
  const promPort = port + 200;
  if (!promSkip) {
    const dir = join(work, 'prom');
    writeFileSync(join(work, 'prometheus.yml'), yaml.dump({ global: { scrape_interval: '1s' }, scrape_configs: [{ job_name: 'migrate-shadow', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }] }));
    prom = spawn(PROM, [`--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${dir}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  }
  try {
    load('reviews', '/reviews/1');
    load('ratings', '/ratings/1');
    load('productpage', '/productpage');
    if (prom) {
      // Wait for a scrape that saw the agreed requests.
      let value = 0; let upOk = false;
      const t0 = Date.now();
      while (Date.now() - t0 < 30_000 && !(value > 0 && upOk)) {
        await new Promise((r) => setTimeout(r, 1000));
        try {
          const q = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent('migrate_shadow_requests_total{agreement="agree"}')}`)).json() as { data: { result: { value: [number, string] }[] } };
          value = Number(q.data.result[0]?.value[1] ?? 0);
          const u = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent('up{job="migrate-shadow"}')}`)).json() as { data: { result: { value: [number, string] }[] } };
          upOk = u.data.result[0]?.value[1] === '1';
        } catch { /* Prometheus still starting */ }
      }
      assert.ok(upOk, 'Prometheus reports the target up');
      assert.ok(value > 0, `Prometheus saw migrate_shadow_requests_total{agreement="agree"} = ${value}`);
      const h = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent('sum by (leg) (migrate_shadow_request_duration_seconds_count)')}`)).json() as { data: { result: { metric: { leg: string } }[] } };
      assert.deepEqual(h.data.result.map((x) => x.metric.leg).sort(), ['app', 'overhead', 'wire']);
    } else t.diagnostic(`Prometheus scrape SKIPPED: ${promSkip}`);
  } finally {
    prom?.kill('SIGTERM');
  }
  const { code, result } = await stop(l);
  assert.equal(code, 0, JSON.stringify(result.disagreements.slice(0, 3)));
  assert.equal(result.summary.outcome, 'agreement');
  assert.ok(result.summary.matched >= 100, `matched ${result.summary.matched}`);
  assert.equal(result.matrix.allowDeny + result.matrix.denyAllow, 0);
  assert.equal(result.matrix.envoyOnly, 0);
  assert.ok(result.edges.find((e) => e.edge === 'client -> ratings:9080')!.matrix.denyDeny >= 40);
  const rv = result.edges.find((e) => e.edge === 'client -> reviews:9080')!;
  assert.ok(rv.latency.wire.count >= 40 && rv.latency.app.count >= 40);
  assert.ok(rv.latency.sidecarOverhead.p50! > 0, 'the sidecar adds latency on the wire leg');
  assert.ok(existsSync(join(l.results, 'result.json')) && existsSync(join(l.results, 'report.md')));
  // The sidecars' RBAC filter counters (scraped at start and end) saw exactly what their logs show.
  const rbac = result.telemetry.rbac ?? [];
  const ratings = rbac.find((x) => x.pod === 'ratings' && x.port === 9080);
  assert.ok(ratings && ratings.metrics.denied >= 40, JSON.stringify(rbac));
  assert.ok(rbac.every((x) => x.ok), JSON.stringify(rbac));
});

test('wrong translation: the diff finds the wider rule and names it', { skip }, async () => {
  const plan = join(work, 'plan-wrong');
  cpSync(planLab, plan, { recursive: true });
  const f = join(plan, 'bookinfo', 'ciliumnetworkpolicy-istio-ratings-viewer.yaml');
  const cnp = yaml.load(readFileSync(f, 'utf8')) as { spec: { ingress: { fromEndpoints: unknown[] }[] } };
  cnp.spec.ingress[0]!.fromEndpoints.push({ matchLabels: { 'k8s:io.cilium.k8s.policy.serviceaccount': 'sleep', 'k8s:io.kubernetes.pod.namespace': 'bookinfo' } });
  writeFileSync(f, yaml.dump(cnp));
  const l = await startShadow('wrong', plan);
  load('ratings', '/ratings/1');
  load('ratings', '/ratings/2', 20, 2, 'reviews');
  const { code, result } = await stop(l);
  assert.equal(code, 10);
  const d = result.disagreements.find((x) => x.class === 'ebpf-would-allow')!;
  assert.equal(d.edge, 'client -> ratings:9080');
  assert.equal(d.envoyRule, 'none');
  assert.match(d.ebpfRule, /^CiliumNetworkPolicy\/bookinfo\/istio-ratings-viewer ingress\[0\]/);
  assert.equal(d.expected, false);
  assert.ok(d.count >= 40);
  assert.ok(result.edges.find((e) => e.edge === 'reviews -> ratings:9080')!.matrix.allowAllow >= 40);
});

test('L7 DENY gap: reported as an expected disagreement with its gap code', { skip }, async () => {
  const l = await startShadow('gap', planLab);
  load('reviews', '/reviews/1');
  load('reviews', '/admin/users');
  const { code, result } = await stop(l);
  assert.equal(code, 11);
  const d = result.disagreements.find((x) => x.class === 'ebpf-would-allow')!;
  assert.equal(d.gapCode, 'TR_DENY_L7');
  assert.equal(d.envoyRule, 'ns[bookinfo]-policy[deny-admin]-rule[0]');
  assert.ok(d.count >= 40);
});

test('traffic no sidecar handles (UDP, a port the sidecar does not intercept, a pod without one) is judged against allowed; live metrics count it', { skip }, async () => {
  const port = 19690 + Math.floor(Math.random() * 100);
  const l = await startShadow('bypass', planLab, ['--metrics-addr', `127.0.0.1:${port}`]);
  const ratings = lab.pod('ratings');
  const client = lab.pod('client');
  // UDP: Istio's redirect takes TCP only, so nothing polices these today. Five sockets, five flows.
  const udp = lab.inPod('client', ['python3', '-c', `import socket\nfor i in range(5):\n  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("${ratings.ip}", 5353)); s.close()`]);
  assert.equal(udp.status, 0, udp.stderr);
  // The port ratings' sidecar leaves alone (excludeInboundPorts): the app answers, no RBAC in the way.
  for (let i = 0; i < 5; i++) assert.equal(lab.curl('client', `http://${ratings.ip}:${ratings.bypassPort}/ratings/1`).code, 200);
  // A pod without a sidecar (client), which no translated policy selects: flows allowed, nothing to report.
  for (let i = 0; i < 3; i++) assert.equal(lab.curl('reviews', `http://${client.ip}:${client.appPort}/`).code, 200);
  // The node itself (a kubelet probe) to the port ratings' sidecar leaves alone: Cilium's allow-localhost admits it.
  const node = lab.file().node.netns;
  for (let i = 0; i < 2; i++) {
    const r = spawnSync('nsenter', [`--net=/run/netns/${node}`, 'curl', '-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${ratings.ip}:${ratings.bypassPort}/ratings/1`], { encoding: 'utf8' });
    assert.equal(r.stdout, '200', r.stderr);
  }
  load('reviews', '/reviews/1', 20, 1);
  // The live metrics, scraped while the run goes on: the kernel's edge aggregates arrive once a second.
  const scrape = async (series: string) => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((x) => x.startsWith(series));
    return line === undefined ? -1 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const udpDenied = 'migrate_shadow_no_sidecar_would_deny_total{unit="flows",reason="not_tcp"}';
  const portDenied = 'migrate_shadow_no_sidecar_would_deny_total{unit="flows",reason="not_intercepted"}';
  let live = [-1, -1];
  for (const t0 = Date.now(); Date.now() - t0 < 15_000 && !(live[0] === 5 && live[1] === 5); await new Promise((r) => setTimeout(r, 500))) live = [await scrape(udpDenied), await scrape(portDenied)];
  assert.deepEqual(live, [5, 5], 'live: 5 UDP flows and 5 flows to the port the sidecar leaves alone would be denied');
  assert.ok(await scrape('migrate_shadow_no_sidecar_total{unit="flows",reason="not_intercepted"}') >= 7, 'seen: the client\'s 5 and the node\'s 2');
  const { code, result } = await stop(l);
  const edge = (name: string) => {
    const e = result.bypass.edges.find((x) => x.edge === name);
    assert.ok(e, `bypass edge ${name} missing; have ${JSON.stringify(result.bypass.edges)}`);
    return e;
  };
  // ratings admits only reviews' identity: the sidecar-less client's UDP and bypass-port flows break at cutover.
  const u = edge('client -> ratings:5353/udp');
  assert.deepEqual([u.reason, u.flows, u.flowsDenied], ['not-tcp', 5, 5]);
  const b = edge(`client -> ratings:${ratings.bypassPort}`);
  assert.deepEqual([b.reason, b.flows, b.flowsDenied], ['not-intercepted', 5, 5]);
  const c = edge(`reviews -> client:${client.appPort}`);
  assert.deepEqual([c.reason, c.flowsDenied, c.requestsDenied], ['no-sidecar', 0, 0]);
  assert.ok(c.flows >= 3 && c.requests >= 3, JSON.stringify(c));
  const h = edge(`node:lab -> ratings:${ratings.bypassPort}`);
  assert.deepEqual([h.flows, h.flowsDenied, h.requests, h.requestsDenied], [2, 0, 2, 0]);
  assert.equal(result.bypass.flowSource, 'edge-aggregate');
  assert.equal(result.summary.bypassWouldDeny, 10);
  assert.equal(code, 10, 'outage risks no sidecar saw are disagreements');
  const d = result.disagreements.find((x) => x.edge === 'client -> ratings:5353/udp')!;
  assert.equal(d.risk, 'outage');
  assert.match(d.ebpfRule, /^\(default deny L3\/L4: no rule of CiliumNetworkPolicy\/bookinfo\/istio-ratings-viewer matched\)$/);
  assert.ok(d.examples.length > 0 && d.examples.every((e) => e.server === `${ratings.ip}:5353`));
  // What the sidecars did see still agrees, and the bypass port is no coverage gap.
  assert.equal(result.matrix.allowDeny + result.matrix.denyAllow, 0);
  assert.ok(result.summary.matched >= 15);
  assert.deepEqual(result.coverage.probeOnly, []);
});

test('TLS on the wire (L3/L4 from eth0, L7 from the plaintext hop)', { skip }, async () => {
  // Mesh callers: the load leaves productpage's or reviews' outbound sidecar as mTLS (the lab's default,
  // PERMISSIVE like Istio's), so eth0 carries TLS; the inbound sidecar talks plaintext to its app over loopback.
  const l = await startShadow('tls', planLab);
  load('reviews', '/reviews/1', 20, 2, 'productpage');
  load('ratings', '/ratings/1', 20, 2, 'productpage');
  load('ratings', '/ratings/2', 20, 2, 'reviews');
  load('details', '/details/1', 20, 2, 'productpage');
  const { code, result } = await stop(l);
  const edge = (name: string) => {
    const e = result.edges.find((x) => x.edge === name);
    assert.ok(e, `edge ${name} missing; have ${result.edges.map((x) => x.edge).join(', ')}`);
    return e;
  };
  assert.equal(code, 0, JSON.stringify(result.disagreements.slice(0, 3)));
  assert.equal(result.summary.outcome, 'agreement');
  assert.ok(result.summary.matched >= 150, `matched ${result.summary.matched}`);
  assert.equal(result.matrix.allowDeny + result.matrix.denyAllow + result.matrix.envoyOnly, 0);
  // The kernel saw TLS on eth0 (SHADOW_F_TLS) and parsed no HTTP there: no wire-leg request records.
  assert.ok(result.probe.counters.tls! > 0, JSON.stringify(result.probe.counters));
  assert.equal(result.summary.probeRequests, 0, 'no HTTP parsed on the wire');
  for (const name of ['productpage -> reviews:9080', 'reviews -> ratings:9080', 'productpage -> details:9080']) {
    const e = edge(name);
    assert.ok(e.matrix.allowAllow >= 40, `${name}: ${JSON.stringify(e.matrix)}`);
    assert.equal(e.latency.wire.count, 0, `${name}: no wire leg under TLS`);
    assert.ok(e.latency.app.count >= 40, `${name}: app leg from the plaintext hop (${e.latency.app.count})`);
    assert.ok(e.latency.app.p50! > 0);
    // Parity under TLS: the forwarded requests against the kernel's app-leg records, not the (empty) wire counters.
    assert.ok(e.parity.ok, `${name} parity: ${JSON.stringify(e.parity)}`);
    assert.match(e.parity.requests.note ?? '', /^TLS on the wire/);
  }
  // L3/L4 from eth0: ratings admits only reviews' identity, so productpage is denied in the kernel.
  assert.ok(edge('productpage -> ratings:9080').matrix.denyDeny >= 40);
  // L7 from the plaintext hop: the allowed requests were decided by the plan's HTTP rules (GET), seen on loopback.
  const ebpf = (rule: string) => result.rules.find((r) => r.side === 'ebpf' && r.rule.startsWith(rule));
  assert.ok(ebpf('CiliumNetworkPolicy/bookinfo/istio-ratings-viewer ingress[0].toPorts[0].rules.http[0]')!.matrix.allowAllow >= 40);
  assert.ok(ebpf('CiliumNetworkPolicy/bookinfo/istio-details-viewer ingress[0].toPorts[0].rules.http[0]')!.matrix.allowAllow >= 40);
});

test('maximum rate: no lost probe records, every log line and every probe record accounted for', { skip }, async (t) => {
  const src = lab.pod('reviews').sidecar!.accessLog;
  const lines = () => readFileSync(src, 'utf8').split('\n').length - 1;
  const l = await startShadow('max', planLab);
  const before = lines();
  const ld = load('reviews', '/reviews/1', 0, 5);
  await new Promise((r) => setTimeout(r, 2000));
  const written = lines() - before;
  const { code, result } = await stop(l);
  const numbers = { loadRps: ld.rps, requests: ld.requests, sidecarLinesWritten: written, envoy: result.summary.envoyRequests, probe: result.summary.probeRequests, matched: result.summary.matched, envoyOnly: result.matrix.envoyOnly, probeOnly: result.matrix.probeOnly, lost: result.probe.lost, ringbufFull: result.probe.counters.ringbuf_full, ratelimited: result.probe.counters.ratelimited };
  t.diagnostic(`max rate: ${JSON.stringify(numbers)}`);
  assert.equal(result.probe.lost, 0, JSON.stringify(result.probe.counters));
  // The probe saw every request the load generator completed; every line the sidecar wrote was read and joined.
  assert.equal(result.summary.probeRequests, ld.requests);
  assert.equal(result.summary.envoyRequests, written);
  assert.equal(result.matrix.envoyOnly, 0);
  // Requests without a sidecar line are the sidecar's own misses (it logged fewer lines than it served).
  assert.equal(result.matrix.probeOnly, (ld.requests as number) - written);
  assert.equal(result.matrix.allowDeny + result.matrix.denyAllow, 0);
  assert.ok(code === 0 || code === 12, `exit ${code}`);
});

test('SIGKILL mid-run loses at most the last tick; --resume continues the same run', { skip }, async () => {
  const l = await startShadow('resume', planLab);
  load('reviews', '/reviews/1', 20, 2);
  await new Promise((r) => setTimeout(r, 1500));
  l.child.kill('SIGKILL');
  await l.done;
  // The probe child of the killed CLI is orphaned: stop it (its links detach when it exits).
  const pid = Number(readFileSync(join(l.results, 'probe.pid'), 'utf8'));
  try { process.kill(pid, 'SIGINT'); } catch { /* already gone: its stdout pipe broke */ }
  for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 200));
  const before = readFileSync(join(l.results, 'probe.jsonl'), 'utf8').split('\n').length;
  const again = spawn(packagePath('bin', 'migrate'), ['shadow', '-n', 'bookinfo', '--local', '--duration', '120s', '--plan', planLab, '--results', l.results, '--resume', '--lab-state', join(lab.stateDir, 'lab'), '--json'], { cwd: packagePath(), env: { ...process.env, MIGRATE_NO_PROGRESS: '1' } });
  let stdout = '';
  again.stdout!.on('data', (d) => (stdout += d));
  const done = new Promise<number>((res) => again.on('close', (c) => res(c ?? -1)));
  const t0 = Date.now();
  while (readFileSync(join(l.results, 'cursor.json'), 'utf8') === '' || Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 200));
  load('reviews', '/reviews/2', 20, 2);
  await new Promise((r) => setTimeout(r, 2500));
  again.kill('SIGINT');
  // 0 (agreement) or 12 (agreement, but the kill left a few requests seen on one side only): both are honest.
  const code = await done;
  assert.ok(code === 0 || code === 12, `exit ${code}`);
  const result = JSON.parse(stdout) as ShadowResult;
  assert.ok(readFileSync(join(l.results, 'probe.jsonl'), 'utf8').split('\n').length > before);
  // Both loads of 40 requests are in the one result: the first run's from disk, the second's live.
  assert.ok(result.summary.matched >= 75, `matched ${result.summary.matched}`);
  assert.equal(result.matrix.allowDeny + result.matrix.denyAllow, 0);
});
