// shadow-probe on the lab, on the real kernel: verdicts and both latency legs for real requests through the
// HAProxy sidecars, exact in-kernel aggregation at the lab's maximum rate, live config reload, and that a
// SIGKILLed loader neither disturbs traffic nor leaves anything attached (tcx/cgroup links die with it; the
// legacy clsact mode leaves filters, which --cleanup removes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, LAB_SH, labSkipReason } from '../support/lab.js';
import { Probe, PROBE_BIN, attachedLeftovers, memoryCgroup, memoryCgroupSkipReason, probeSkipReason, type Json } from '../support/probe.js';
import { startProbe } from '../../src/adapters/probe/runner.js';
import type { EdgeRecord, FlowRecord, HttpRecord, MetricsRecord } from '../../src/adapters/probe/records.js';

const skip = labSkipReason() ?? probeSkipReason();
const lab = new Lab('sprbt');
const podsJson = join(lab.stateDir, 'lab', 'pods.json');
let cfg: Json = {};

type Policy = { pod: string; identity: number; ruleId: number };
const identity = (name: string) => (cfg.pods as Array<{ name: string; identity: number }>).find((p) => p.name === name)!.identity;
const ruleFor = (pod: string, from: string) =>
  (cfg.policy as Policy[]).find((r) => r.pod === pod && r.identity === identity(from))?.ruleId;
const netnsAll = () => lab.file().pods.map((p) => p.netns);
const cgroupsAll = () => lab.file().pods.map((p) => p.cgroup);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

before(() => {
  if (skip) return;
  const r = lab.run(['up']);
  assert.equal(r.status, 0, r.stderr);
});

after(() => {
  // no global `--cleanup --force` here: it would cut off other probes on the machine; lab down removes the netns
  if (!skip) lab.run(['down']);
  rmSync(lab.stateDir, { recursive: true, force: true });
});

test('verdicts and both latency legs for real requests', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  await probe.start();
  try {
    for (let i = 0; i < 8; i++) assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080/reviews/${i}`).code, 200);
    assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080/admin/x`).code, 403, 'the sidecar denies /admin*');
    lab.curl('ratings', `http://${lab.pod('details').ip}:9080/details/1`);
    await probe.waitFor(() => probe.records('http').filter((h) => h.pod === 'reviews').length >= 17, 10_000, 'HTTP records');
  } finally {
    assert.equal(await probe.stop('SIGINT'), 0, probe.stderr);
  }
  const client = lab.pod('client').ip;
  const flows = probe.records('flow');
  const allowed = flows.find((f) => f.pod === 'reviews' && f.dir === 'ingress' && f.src === client && f.dport === 9080);
  assert.ok(allowed, 'flow record for client -> reviews');
  assert.equal(allowed.verdict, 'allow');
  assert.equal(allowed.rule, ruleFor('reviews', 'client'));
  assert.equal(allowed.remoteIdentity, identity('client'));
  assert.equal(allowed.where, 'kernel');
  const denied = flows.find((f) => f.pod === 'details' && f.dir === 'ingress' && f.src === lab.pod('ratings').ip);
  assert.ok(denied, 'flow record for ratings -> details');
  assert.equal(denied.verdict, 'deny', 'ratings is not among the callers of details');
  assert.equal(denied.rule, 0);

  const http = probe.records('http').filter((h) => h.pod === 'reviews' && String(h.path).startsWith('/reviews/'));
  const wire = http.filter((h) => h.leg === 'wire');
  const app = http.filter((h) => h.leg === 'app');
  assert.equal(wire.length, 8, 'one wire-leg record per request');
  assert.equal(app.length, 8, 'one app-leg record per request (sidecar -> app on loopback)');
  for (const h of [...wire, ...app]) {
    assert.equal(h.verdict, 'allow');
    assert.equal(h.where, 'kernel');
    assert.equal(h.rule, 201);
    assert.equal(h.status, 200);
    assert.ok(Number(h.latencyNs) > 0);
  }
  assert.ok(app.every((h) => h.client === '127.0.0.6:' + String(h.client).split(':')[1]), 'the app leg comes from 127.0.0.6');
  // the wire leg includes the sidecar: per request it is longer than the app leg it contains
  const byPath = new Map(app.map((h) => [h.path, Number(h.latencyNs)]));
  const overheads = wire.map((h) => Number(h.latencyNs) - (byPath.get(h.path) ?? NaN));
  assert.ok(overheads.every((o) => o > 0), `sidecar overhead per request (ns): ${overheads.join(', ')}`);
  // the loader pairs the legs itself
  assert.deepEqual(wire.map((h) => h.sidecarOverheadNs), overheads, 'sidecarOverheadNs = wire - app of the same request');
  assert.ok(median(overheads) < 50e6, 'overhead is plausible');

  const admin = probe.records('http').find((h) => h.pod === 'reviews' && h.path === '/admin/x' && h.leg === 'wire');
  assert.ok(admin, 'wire-leg record for /admin/x');
  assert.equal(admin.status, 403);
  assert.equal(admin.verdict, 'deny', 'no L7 rule allows /admin/x');
  assert.equal(admin.where, 'user', 'decided in userspace: the port has a regex rule');

  const metrics = probe.records('metrics').at(-1)!;
  const counters = metrics.counters as Record<string, number>;
  assert.equal(counters.parse_fail, 0);
  assert.ok((counters.http_requests ?? 0) >= 17);
});

test('raw records from the kernel decode through the TypeScript ABI decoder', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  const prom = join(probe.stateDir, 'metrics.prom');
  const session = await startProbe({
    bin: PROBE_BIN, configPath: probe.configPath, stateDir: join(probe.stateDir, 'run'), args: ['--metrics-file', prom],
  });
  const reviews = lab.pod('reviews');
  try {
    for (let i = 0; i < 3; i++) assert.equal(lab.curl('client', `http://${reviews.ip}:9080/reviews/raw${i}`).code, 200);
    await probe.waitFor(() => session.records.filter((r) => r.type === 'http').length >= 6, 10_000, 'raw HTTP records');
  } finally {
    assert.equal(await session.stop('SIGINT'), 0, session.stderr());
  }
  const http = session.records.filter((r): r is HttpRecord => r.type === 'http' && r.path.startsWith('/reviews/raw'));
  const reviewsEp = (cfg.pods as Json[]).findIndex((p) => p.name === 'reviews') + 1;
  const wire = http.filter((h) => h.leg === 'wire' && h.ep === reviewsEp);
  assert.deepEqual(wire.map((h) => h.path).sort(), ['/reviews/raw0', '/reviews/raw1', '/reviews/raw2']);
  for (const h of wire) {
    assert.equal(h.server, reviews.ip);
    assert.equal(h.serverPort, 9080);
    assert.equal(h.client, lab.pod('client').ip);
    assert.equal(h.method, 'GET');
    assert.equal(h.status, 200);
    assert.equal(h.verdict, 'allow');
    assert.equal(h.where, 'kernel');
    assert.equal(h.ruleId, 201);
    assert.equal(h.remoteIdentity, identity('client'));
    assert.ok(h.latencyNs > 0n && h.latencyNs < 5_000_000_000n);
  }
  assert.ok(http.some((h) => h.leg === 'app' && h.client === '127.0.0.6' && h.cgroupId > 0n), 'app-leg records with the pod cgroup');
  const flow = session.records.find((r): r is FlowRecord => r.type === 'flow' && r.ep === reviewsEp && r.dir === 'ingress' && r.dport === 9080);
  assert.ok(flow && flow.verdict === 'allow' && flow.ruleId === ruleFor('reviews', 'client'));
  const edge = session.records.filter((r): r is EdgeRecord => r.type === 'edge' && r.leg === 'wire' && r.port === 9080 && r.dir === 'ingress' && r.remoteIdentity === identity('client')).at(-1);
  assert.equal(edge?.requests, 3);
  assert.equal(edge?.status[2], 3);
  assert.equal(edge?.latencyBuckets.reduce((a, b) => a + b, 0), 3);
  const metrics = session.records.filter((r): r is MetricsRecord => r.type === 'metrics').at(-1);
  assert.ok(metrics && metrics.counters.http_requests >= 6 && metrics.recordsOut > 0);
  // the same aggregates as the probe's own Prometheus metrics
  const text = readFileSync(prom, 'utf8');
  const lbl = `pod="reviews",direction="ingress",leg="wire",remote_identity="${identity('client')}",port="9080"`;
  assert.match(text, new RegExp(`^shadow_probe_edge_requests_total\\{${lbl},status_class="2xx"\\} 3$`, 'm'));
  assert.match(text, new RegExp(`^shadow_probe_edge_l7_verdicts_total\\{${lbl},verdict="allow"\\} 3$`, 'm'));
  assert.match(text, new RegExp(`^shadow_probe_edge_latency_seconds_count\\{${lbl}\\} 3$`, 'm'));
  assert.match(text, /^shadow_probe_ringbuf_full_total 0$/m);
});

test('outbound app leg names the real server (from the app socket), not the sidecar port', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  await probe.start();
  const pp = lab.pod('productpage');
  try {
    assert.equal(lab.curl('client', `http://${pp.ip}:9080/productpage`).code, 200, 'productpage fans out to details and reviews');
    await probe.waitFor(() => probe.records('http').filter((h) => h.pod === 'productpage' && h.leg === 'app' && h.dir === 'egress').length >= 2, 10_000, 'outbound app-leg records');
  } finally {
    assert.equal(await probe.stop('SIGINT'), 0, probe.stderr);
  }
  const out = probe.records('http').filter((h) => h.pod === 'productpage' && h.leg === 'app' && h.dir === 'egress');
  const servers = out.map((h) => `${h.server}|${h.remoteIdentity}`).sort();
  assert.deepEqual(servers, [
    `${lab.pod('details').ip}:9080|${identity('details')}`,
    `${lab.pod('reviews').ip}:9080|${identity('reviews')}`,
  ].sort(), 'the app asked for details and reviews on 9080; the sidecar listens on 15001');
  assert.ok(out.every((h) => h.status === 200 && Number(h.latencyNs) > 0));
  // the same calls on the wire leave the sidecar as mTLS (sidecar to sidecar, like Istio): eth0 sees the
  // connections (flow records, taken at the SYN) and TLS records instead of HTTP: the kernel marks the flows
  // SHADOW_F_TLS and counts them (the tls counter), and parses no HTTP there
  const wire = probe.records('http').filter((h) => h.pod === 'productpage' && h.leg === 'wire' && h.dir === 'egress');
  assert.equal(wire.length, 0, JSON.stringify(wire));
  const flows = probe.records('flow').filter((f) => f.pod === 'productpage' && f.dir === 'egress' && f.dport === 9080);
  assert.deepEqual([...new Set(flows.map((f) => f.dst))].sort(), [lab.pod('details').ip, lab.pod('reviews').ip].sort());
  const tls = Math.max(...probe.records('metrics').map((m) => Number((m.counters as Record<string, number>).tls)));
  // each connection is counted once per end that watches it: productpage's egress, details' and reviews' ingress
  assert.ok(tls >= 4, `tls counter ${tls}`);
});

test('L7 rules scoped to a peer: the loader decides the wire leg by its peer, and the app leg, which has none, only where every peer would agree', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  // reviews keeps its rules for any peer (GET /reviews*, health) and gets one for client and one for productpage
  (cfg.l7 as Json[]).push(
    { pod: 'reviews', port: 9080, identity: identity('client'), method: 'GET', pathPrefix: '/mine', ruleId: 301 },
    { pod: 'reviews', port: 9080, identity: identity('productpage'), method: 'GET', pathPrefix: '/theirs', ruleId: 302 },
  );
  probe.setConfig(cfg);
  await probe.start();
  const paths = ['/mine/1', '/theirs/1', '/nope', '/reviews/1'];
  try {
    // the reviews sidecar lets everything but /admin* through, so each request has both legs
    for (const path of paths) assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080${path}`).code === 403, false, path);
    // productpage calls reviews over mTLS: no plaintext on the wire, the app leg only
    assert.equal(lab.curl('client', `http://${lab.pod('productpage').ip}:9080/productpage`).code, 200);
    await probe.waitFor(() => probe.records('http').filter((h) => h.pod === 'reviews' && h.dir === 'ingress').length >= 9, 10_000, 'reviews HTTP records');
  } finally {
    assert.equal(await probe.stop('SIGINT'), 0, probe.stderr);
  }
  const recs = probe.records('http').filter((h) => h.pod === 'reviews' && h.dir === 'ingress');
  const c = lab.pod('client').ip;
  const got = (leg: string, path: string) => recs.filter((h) => h.leg === leg && h.path === path)
    .map((h) => [h.verdict, h.where, h.rule, ((h.flags as string[] | undefined) ?? []).includes('peer')]);
  // the wire leg knows the peer: only client's own rules and the rules for any peer apply (before, every peer's
  // rule applied in the kernel, so /theirs/1 was allowed for client)
  assert.deepEqual(got('wire', '/mine/1'), [['allow', 'user', 301, false]]);
  assert.deepEqual(got('wire', '/theirs/1'), [['deny', 'user', 0, false]]);
  assert.deepEqual(got('wire', '/nope'), [['deny', 'user', 0, false]]);
  assert.deepEqual(got('wire', '/reviews/1'), [['allow', 'user', 201, false]]);
  // the app leg (127.0.0.6): a rule for any peer allows, no peer's rule denies, one peer's rule leaves it to the peer
  assert.deepEqual(got('app', '/mine/1'), [['none', 'user', 0, true]]);
  assert.deepEqual(got('app', '/theirs/1'), [['none', 'user', 0, true]]);
  assert.deepEqual(got('app', '/nope'), [['deny', 'user', 0, false]]);
  assert.deepEqual(got('app', '/reviews/1'), [['allow', 'user', 201, false]]);
  const fromProductpage = recs.filter((h) => h.leg === 'app' && !paths.includes(String(h.path)));
  assert.ok(fromProductpage.length >= 1 && fromProductpage.every((h) => h.verdict === 'allow' && h.rule === 201), JSON.stringify(fromProductpage));
  assert.equal(recs.filter((h) => h.leg === 'wire' && !String(h.client).startsWith(`${c}:`)).length, 0, 'mTLS: no plaintext from productpage');
});

test('attached to the host-side veths instead of eth0: the same verdicts and wire latency', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  cfg.pods = lab.file().pods.map((p, i) => ({
    name: p.name, hostNetns: p.hostNetns, hostIfname: p.hostIfname, ip: p.ip,
    identity: (cfg.pods as Array<{ identity: number }>)[i]!.identity,
  }));
  probe.setConfig(cfg);
  await probe.start();
  try {
    // a host-side veth carries the stubs, hooks swapped (its ingress is the traffic out of the pod); not the body,
    // which takes the direction from the hook and would read a hairpin packet's way back wrong there
    const ids = probe.progIds();
    const reviews = lab.pod('reviews');
    const q = spawnSync(join(PROBE_BIN, '..', 'tcx_query'), [`/run/netns/${reviews.hostNetns}`, reviews.hostIfname], { encoding: 'utf8' });
    assert.equal(q.status, 0, `tcx_query: ${q.stderr}`);
    const tcx = JSON.parse(q.stdout) as { ingress: number[]; egress: number[] };
    const progName = (id: number) => (JSON.parse(spawnSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8' }).stdout) as { name: string }).name;
    const ours = (w: 'ingress' | 'egress') => tcx[w].filter((id) => ids.includes(id)).map(progName);
    assert.deepEqual([ours('ingress'), ours('egress')], [['shadow_tc_from_pod'], ['shadow_tc_to_pod']], 'host-side veth programs');
    for (let i = 0; i < 3; i++) assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080/reviews/veth${i}`).code, 200);
    lab.curl('ratings', `http://${lab.pod('details').ip}:9080/details/1`);
    await probe.waitFor(() => probe.records('http').filter((h) => h.pod === 'reviews' && String(h.path).startsWith('/reviews/veth')).length >= 3, 10_000, 'wire records');
  } finally {
    assert.equal(await probe.stop('SIGINT'), 0, probe.stderr);
  }
  assert.match(probe.stderr, /attached pod reviews \(tc lab-reviews tcx\)/);
  const flows = probe.records('flow');
  const allowed = flows.find((f) => f.pod === 'reviews' && f.dir === 'ingress' && f.src === lab.pod('client').ip);
  assert.equal(allowed?.verdict, 'allow');
  assert.equal(allowed?.rule, ruleFor('reviews', 'client'));
  const denied = flows.find((f) => f.pod === 'details' && f.dir === 'ingress' && f.src === lab.pod('ratings').ip);
  assert.equal(denied?.verdict, 'deny');
  const wire = probe.records('http').filter((h) => h.pod === 'reviews' && String(h.path).startsWith('/reviews/veth'));
  assert.ok(wire.every((h) => h.leg === 'wire' && h.status === 200 && h.verdict === 'allow' && Number(h.latencyNs) > 0));
  assert.equal(probe.records('http').filter((h) => h.leg === 'app').length, 0, 'no cgroups configured: no app leg');
});

test('aggregated telemetry is exact at the lab maximum rate', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  // few per-request records, so the ring buffer is not what limits us: the aggregates must still count all
  cfg.settings = { rate: 200, burst: 100, intervalMs: 1000 };
  probe.setConfig(cfg);
  await probe.start();
  const r = lab.run(['load', '--target', 'reviews', '--rate', '0', '--duration', '3', '--path', '/reviews/1'], 120_000);
  assert.equal(r.status, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(await probe.stop('SIGINT'), 0, probe.stderr);
  const load = JSON.parse(r.stdout.trim().split('\n').pop()!) as { requests: number; errors: number; statuses: Record<string, number>; rps: number };
  const answered = Object.values(load.statuses).reduce((a, b) => a + b, 0);
  assert.ok(answered > 100, `load answered ${answered}`);
  const edges = (leg: string) => probe.edges().filter((e) => e.pod === 'reviews' && e.dir === 'ingress' && e.leg === leg && e.port === 9080);
  const edge = (leg: string) => edges(leg).find((e) => Number(e.requests) > 0);
  const dump = JSON.stringify(probe.edges().filter((e) => e.pod === 'reviews').map((e) => [e.dir, e.leg, e.remoteIdentity, e.port, e.flows, e.requests, e.connsClosed]));
  // nothing lost: every answered request is counted; at most one per connection more (answered after the
  // generator's deadline, so not in its count)
  const conns = 8;
  for (const leg of ['wire', 'app']) {
    const counted = edges(leg).reduce((a, e) => a + Number(e.requests), 0);
    assert.ok(counted >= answered && counted <= answered + conns, `${leg}-leg aggregate ${counted} vs ${answered} answered (${load.rps} rps); reviews edges ${dump}`);
  }
  const st = edge('wire')!.status as Record<string, number>;
  assert.ok((st['2xx'] ?? 0) >= (load.statuses['200'] ?? 0));
  const counters = probe.records('metrics').at(-1)!.counters as Record<string, number>;
  assert.ok((counters.ratelimited ?? 0) > 0, 'per-request records were rate-limited (and counted)');
  assert.equal(counters.inflight_evicted, 0);
});

test('config reload while running, by SIGHUP and by a file renamed into place with the same mtime: new flows get the new verdict', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  await probe.start();
  const ids = probe.progIds();
  try {
    const reviews = lab.pod('reviews').ip;
    lab.curl('client', `http://${reviews}:9080/reviews/1`);
    await probe.waitFor(() => probe.records('flow').some((f) => f.pod === 'reviews' && f.verdict === 'allow'), 5000, 'allow flow');
    // drop the rule that lets the client call reviews
    const rule = ruleFor('reviews', 'client');
    const dropped = (cfg.policy as Policy[]).filter((p) => p.ruleId === rule);
    cfg.policy = (cfg.policy as Policy[]).filter((p) => p.ruleId !== rule);
    probe.setConfig(cfg);
    probe.proc!.kill('SIGHUP');
    await probe.waitFor(() => /config reloaded/.test(probe.stderr), 5000, 'reload');
    lab.curl('client', `http://${reviews}:9080/reviews/2`);
    await probe.waitFor(() => probe.records('flow').some((f) => f.pod === 'reviews' && f.src === lab.pod('client').ip && f.verdict === 'deny'), 5000, 'deny flow after reload');
    // without a signal: the loader looks at the file every second. A file renamed into place with the same mtime
    // (mv or rsync -t of a file made earlier) is a new file all the same: another inode.
    const reloads = () => probe.stderr.match(/config reloaded/g)?.length ?? 0;
    const past = new Date('2026-01-01T00:00:00Z');
    utimesSync(probe.configPath, past, past);
    await probe.waitFor(() => reloads() === 2, 5000, 'the reload an mtime change makes');
    const next = `${probe.configPath}.next`;
    writeFileSync(next, JSON.stringify({ ...cfg, policy: [...(cfg.policy as Policy[]), ...dropped] }, null, 1));
    utimesSync(next, past, past);
    renameSync(next, probe.configPath);
    await probe.waitFor(() => reloads() === 3, 5000, 'the reload of a file renamed into place with the same mtime');
    const n = probe.records('flow').length;
    lab.curl('client', `http://${reviews}:9080/reviews/3`);
    await probe.waitFor(() => probe.records('flow').slice(n).some((f) => f.pod === 'reviews' && f.src === lab.pod('client').ip && f.verdict === 'allow'), 5000, 'allow flow after the rename');
  } finally {
    assert.equal(await probe.stop('SIGTERM'), 0, probe.stderr);
  }
  assert.deepEqual(await attachedLeftovers(ids, netnsAll(), cgroupsAll()), [], 'a clean stop leaves nothing attached');
});

test('table sizes from the config: the CT and in-flight tables as set, verdicts on them, and a reload that changes them waits for the next start', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  const settings = cfg.settings as Json;
  // a bad size is refused at start, naming the setting
  probe.setConfig({ ...cfg, settings: { ...settings, ctFlows: 50000 } });
  const bad = spawnSync(PROBE_BIN, ['--config', probe.configPath, '--state-dir', join(probe.stateDir, 'bad')], { encoding: 'utf8' });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /settings\.ctFlows must be a power of two from 8192 to 1048576/);
  cfg = { ...cfg, settings: { ...settings, ctFlows: 16384, inflightSlots: 16384 } };
  probe.setConfig(cfg);
  // --check with the config loads the programs with its sizes (what the probe will allocate)
  const check = spawnSync(PROBE_BIN, ['--check', '--config', probe.configPath], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout);
  assert.match(check.stdout, /load shadow programs \(verifier\)\s+yes\s+4 programs accepted; CT 16384 flows \(4 MiB\), in-flight 16384 slots \(3 MiB\)/);
  await probe.start();
  try {
    assert.match(probe.stderr, /CT 16384 flows, in-flight 16384 slots/);
    assert.equal(probe.mapInfo('shadow_ct')?.max_entries, 16384 / 8, 'CT sets of 8 ways');
    assert.equal(probe.mapInfo('shadow_inflight')?.max_entries, 16384);
    const reviews = lab.pod('reviews').ip;
    for (let i = 0; i < 4; i++) assert.equal(lab.curl('client', `http://${reviews}:9080/reviews/${i}`).code, 200);
    await probe.waitFor(() => probe.records('http').filter((h) => h.pod === 'reviews' && h.leg === 'app').length >= 4 &&
      probe.records('flow').some((f) => f.pod === 'reviews' && f.verdict === 'allow'), 10_000, 'flows and app-leg requests on the small tables');
    probe.setConfig({ ...cfg, settings: { ...(cfg.settings as Json), ctFlows: 32768, rate: 50 } });
    probe.proc!.kill('SIGHUP');
    await probe.waitFor(() => /config reloaded/.test(probe.stderr), 5000, 'reload');
    assert.match(probe.stderr, /settings rate, ctFlows changed: they take effect at the next start/);
    assert.equal(probe.mapInfo('shadow_ct')?.max_entries, 16384 / 8, 'the running CT keeps its size');
  } finally {
    assert.equal(await probe.stop('SIGTERM'), 0, probe.stderr);
  }
});

// REAL memory cgroup, real kernel: without the check before the load, this limit got the loader OOM-killed
// (exit 137, no message) or refused a map with a bare ENOMEM, depending on which allocation crossed it first.
test('a memory limit too small for the maps: refused before the load with the figure to set; at that figure it runs on real traffic, with the maps the estimate named; a reload past the limit is refused the same way', { skip: skip ?? memoryCgroupSkipReason() }, async () => {
  const mc = memoryCgroup();
  const probe = new Probe();
  try {
    cfg = probe.writeConfig(podsJson);
    mc.setLimit(40 * 2 ** 20);
    const inCg = (args: string[]) => spawnSync('sh', ['-c', 'echo $$ > "$0" && exec "$@"', mc.procs, PROBE_BIN, ...args], { encoding: 'utf8' });
    const bad = inCg(['--config', probe.configPath, '--state-dir', join(probe.stateDir, 'bad')]);
    assert.equal(bad.signal, null, `killed by ${bad.signal}: ${bad.stderr}`);
    assert.equal(bad.status, 2, bad.stderr);
    const m = /failed to start: the load needs ~(\d+) MiB: maps ([\d.]+) MiB \(CT 16\.0, in-flight 12\.0, per-CPU edges [\d.]+ over \d+ CPUs.*the memory cgroup (\S+) allows 40 MiB.*Raise the container's memory limit to at least (\d+) MiB/.exec(bad.stderr);
    assert.ok(m, bad.stderr);
    assert.ok(m[3]!.endsWith(`migrate-memtest-${process.pid}`), `the limiting cgroup named: ${m[3]}`);
    // a config whose parse alone is past the limit is refused before the parse, naming the file; without that check
    // the kernel OOM-killed the loader in the middle of it. 10,000 L7 regexes: glibc compiles each into ~4.5 KiB, which
    // the estimate counts (before the streamed parse it counted only JSON tokens, and this config got the loader
    // killed). 150,000 identities were the case here before: read element by element they take ~5 MiB, not 60.
    const huge = join(probe.stateDir, 'huge.json');
    writeFileSync(huge, JSON.stringify({ ...cfg, l7: Array.from({ length: 10_000 }, (_, i) => ({ port: 9080, pathRegex: `/api/v[0-9]+/items/${i}/.*` })) }));
    for (const args of [['--config', huge, '--state-dir', join(probe.stateDir, 'huge')], ['--check', '--config', huge]]) {
      const r = inCg(args);
      assert.equal(r.signal, null, `${args[0]}: killed by ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, 2, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout + r.stderr, new RegExp(`${huge.replace(/[.]/g, '\\.')}: parsing it needs ~\\d+\\.\\d MiB.*allows 40 MiB.*Raise the container's memory limit to at least \\d+ MiB`));
    }
    assert.equal(mc.oomKills(), 0, 'nothing was OOM-killed by the huge config');
    // --check says the same in a row of its own and does not try the load (which could get it killed)
    const check = inCg(['--check', '--config', probe.configPath]);
    assert.equal(check.signal, null, check.stdout);
    assert.equal(check.status, 1, check.stdout);
    assert.match(check.stdout, /memory for the load \(memory cgroup\)\s+no\s+needs ~\d+ MiB/);
    assert.match(check.stdout, /load shadow programs \(verifier\)\s+no\s+not tried: the memory limit cannot hold it/);
    assert.equal(mc.oomKills(), 0, 'nothing was OOM-killed');
    // at the figure it named, the probe loads and serves real requests within the limit
    mc.setLimit(Number(m[4]) * 2 ** 20);
    await probe.start([], mc.procs);
    try {
      const loaded = Number(/maps ([\d.]+) MiB/.exec(probe.stderr)?.[1]);
      assert.ok(Math.abs(loaded - Number(m[2])) <= 0.2, `maps ${loaded} MiB loaded against ${m[2]} estimated`);
      const reviews = lab.pod('reviews').ip;
      for (let i = 0; i < 4; i++) assert.equal(lab.curl('client', `http://${reviews}:9080/reviews/${i}`).code, 200);
      await probe.waitFor(() => probe.records('http').filter((h) => h.pod === 'reviews' && h.leg === 'app').length >= 4, 10_000, 'app-leg requests under the limit');
      // A reload past the limit is refused before it allocates, with the figure to set, and the probe goes on with the
      // running config. Without the checks the loader was OOM-killed halfway (SIGKILL, no word). Two checks:
      // - before the parse: 1,000 L7 regexes take ~4.5 MiB compiled;
      // - before the first write: 200 rules over ports 1-65535 for every pod are small to parse but expand into
      //   16,000 trie entries (~2.4 MiB) and their translation.
      mc.setLimit(mc.usage() + 3 * 2 ** 20);
      const reload = async (next: Json, want: RegExp): Promise<RegExpExecArray> => {
        const from = probe.stderr.length;
        probe.setConfig(next);
        probe.proc!.kill('SIGHUP');
        await probe.waitFor(() => /failed to reload config|config reloaded/.test(probe.stderr.slice(from)) || probe.proc!.exitCode !== null || probe.proc!.signalCode !== null, 20_000, 'the reload');
        const r = want.exec(probe.stderr.slice(from));
        assert.ok(r, `want ${want}; stderr: ${probe.stderr.slice(from, from + 1500)}; exit ${probe.proc!.exitCode} ${probe.proc!.signalCode}`);
        return r;
      };
      const regexes = Array.from({ length: 1_000 }, (_, i) => ({ port: 9080, pathRegex: `/api/v[0-9]+/items/${i}/.*` }));
      const manyRegexes = { ...cfg, l7: [...((cfg.l7 as Json[] | undefined) ?? []), ...regexes] };
      const parse = await reload(manyRegexes, /failed to reload config: parsing it needs ~([\d.]+) MiB.*Raise the container's memory limit to at least (\d+) MiB.*\(keeping the running one\)/);
      assert.ok(Number(parse[1]) >= 4.5, `the parse's need: ${parse[1]} MiB (glibc takes ~4.5 MiB for these regexes)`);
      const rules = Array.from({ length: 200 }, (_, i) => ({ identity: 60_000 + i, direction: 'ingress', protocol: 'TCP', port: 1, endPort: 65535, action: 'allow', ruleId: 9000 + i }));
      const manyEntries = { ...cfg, policy: [...((cfg.policy as Json[] | undefined) ?? []), ...rules] };
      const pods = (cfg.pods as Json[]).length;
      const sw = await reload(manyEntries, /failed to reload config: it adds (\d+) trie entries.*Raise the container's memory limit to at least (\d+) MiB.*\(keeping the running one\)/);
      assert.equal(Number(sw[1]), 200 * 16 * pods, `entries added: ${sw[1]} (200 rules x 16 port prefixes x ${pods} pods)`);
      assert.equal(probe.proc!.exitCode, null, 'the probe still runs');
      const before = probe.records('http').length;
      assert.equal(lab.curl('client', `http://${reviews}:9080/reviews/7`).code, 200);
      await probe.waitFor(() => probe.records('http').slice(before).some((h) => h.pod === 'reviews' && h.path === '/reviews/7'), 10_000, 'records after the refused reloads');
      // at the figure it named, the same reload goes through
      mc.setLimit(Number(sw[2]) * 2 ** 20);
      await reload(manyEntries, /config reloaded: \d+ pods, \d+ identities, (\d+) policy rules/);
    } finally {
      assert.equal(await probe.stop('SIGTERM'), 0, probe.stderr);
    }
    assert.equal(mc.oomKills(), 0, 'nothing was OOM-killed');
  } finally {
    mc.remove();
  }
});

// REAL memory cgroup: its usage file counts page cache, which the kernel reclaims before it fails a charge. A probe
// container that had read or written files (its logs, a big config) must not be refused for it.
test('inactive page cache in the probe\'s memory cgroup is not counted against the load: at the working set plus the need, it loads and runs', { skip: skip ?? memoryCgroupSkipReason() }, async () => {
  const mc = memoryCgroup();
  const probe = new Probe();
  // on disk, not tmpfs: tmpfs pages are swap-backed and never on the file LRU
  const file = join('/var/tmp', `migrate-pagecache-${process.pid}.bin`);
  try {
    cfg = probe.writeConfig(podsJson);
    const need = Number(/needs ~(\d+) MiB/.exec(spawnSync(PROBE_BIN, ['--check', '--config', probe.configPath], { encoding: 'utf8' }).stdout)?.[1]);
    assert.ok(need > 40, `the load's need: ${need} MiB`);
    // 128 MiB written from inside the cgroup and synced: clean pages charged to it, on its inactive file list
    const dd = spawnSync('sh', ['-c', 'echo $$ > "$0" && exec dd if=/dev/zero of="$1" bs=1M count=128 conv=fsync status=none', mc.procs, file]);
    assert.equal(dd.status, 0, String(dd.stderr));
    const cache = mc.raw() - mc.usage();
    assert.ok(cache >= 100 * 2 ** 20, `inactive page cache in the cgroup: ${(cache / 2 ** 20).toFixed(1)} MiB`);
    // room for the need over the working set, but not over the usage file's figure
    const limit = mc.usage() + (need + 8) * 2 ** 20;
    assert.ok(mc.raw() + need * 2 ** 20 > limit, 'counting the cache, the load would not fit');
    mc.setLimit(limit);
    await probe.start([], mc.procs);
    try {
      assert.match(probe.stderr, /memory: the load needs ~\d+ MiB: .*free under the memory limit of \S+ \(not counting [\d.]+ MiB of inactive page cache\)/);
      const reviews = lab.pod('reviews').ip;
      for (let i = 0; i < 4; i++) assert.equal(lab.curl('client', `http://${reviews}:9080/reviews/${i}`).code, 200);
      await probe.waitFor(() => probe.records('http').filter((h) => h.pod === 'reviews' && h.leg === 'app').length >= 4, 10_000, 'app-leg requests');
    } finally {
      assert.equal(await probe.stop('SIGTERM'), 0, probe.stderr);
    }
    assert.equal(mc.oomKills(), 0, 'nothing was OOM-killed: the kernel reclaimed the cache for the maps');
  } finally {
    rmSync(file, { force: true });
    mc.remove();
  }
});

// REAL pipe and lab traffic: a reader that stops reading the probe's stdout (migrate shadow busy, a paused pipe).
// Before, the loader blocked in its write: no dumps, no metrics file, no reloads, until the reader came back.
test('a stdout reader that stops reading does not stop the loader: the metrics file and reloads go on, whole records are dropped and counted, and the stream stays valid JSON', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  const prom = join(probe.stateDir, 'metrics.prom');
  await probe.start(['--metrics-file', prom, '--out-buffer', '64']);
  try {
    const dropped = () => Number(/^shadow_probe_records_dropped_total (\d+)$/m.exec(existsSync(prom) ? readFileSync(prom, 'utf8') : '')?.[1] ?? -1);
    await probe.waitFor(() => dropped() === 0, 5000, 'the first metrics file');
    probe.proc!.stdout!.pause();
    const load = spawn(LAB_SH, ['load', '--target', 'reviews', '--rate', '300', '--duration', '5'], { env: lab.env, stdio: 'ignore' });
    let atResume = -1;
    try {
      // the pipe and the 64 KiB buffer fill within a second; the loop goes on: the metrics file is rewritten
      // every interval (1 s) and counts what was dropped
      await probe.waitFor(() => dropped() > 0, 6000, 'records dropped, counted in the metrics file while the reader is stopped');
      const stamp = statSync(prom).mtimeMs;
      await probe.waitFor(() => statSync(prom).mtimeMs > stamp, 3000, 'the metrics file rewritten while the reader is stopped');
      // and a reload is read and applied
      probe.setConfig({ ...cfg, settings: { ...(cfg.settings as Json), intervalMs: 500 } });
      probe.proc!.kill('SIGHUP');
      await probe.waitFor(() => /config reloaded/.test(probe.stderr), 3000, 'a reload while the reader is stopped');
    } finally {
      if (load.exitCode === null && load.signalCode === null) await new Promise((r) => load.once('exit', r));
      atResume = dropped();
      probe.proc!.stdout!.resume(); // also on failure: a paused stdout never closes, and the stop would wait for it
    }
    // what was kept arrives whole (every line parses, or the reader throws), then metrics that count the drops
    await probe.waitFor(() => probe.records('metrics').some((m) => Number(m.recordsDropped) >= atResume), 5000, 'a metrics record counting the drops');
    assert.ok(probe.records('http').length > 0, 'records kept before the buffer filled arrive');
  } finally {
    assert.equal(await probe.stop('SIGTERM'), 0, probe.stderr);
  }
});

// /proc/PID/stat field 41: the scheduling policy (0 SCHED_OTHER, 3 SCHED_BATCH); the command name may hold spaces
const schedPolicy = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[41 - 3]);

test('the loader runs under SCHED_BATCH (it never preempts the workload to drain records) unless --sched normal', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  for (const [args, want] of [[[], 3], [['--sched', 'normal'], 0]] as const) {
    await probe.start([...args]);
    try {
      assert.equal(schedPolicy(probe.proc!.pid!), want, `policy with ${JSON.stringify(args)}; stderr: ${probe.stderr}`);
      assert.match(probe.stderr, want === 3 ? /sched batch/ : /sched normal/);
    } finally {
      assert.equal(await probe.stop('SIGTERM'), 0, probe.stderr);
    }
  }
  const bad = spawnSync(PROBE_BIN, ['--config', probe.configPath, '--sched', 'idle'], { encoding: 'utf8' });
  assert.equal(bad.status, 2, 'an unknown policy is refused');
  assert.match(bad.stderr, /--sched: idle is not batch or normal/);
});

test('each pod cgroup\'s endpoint is in its cgroup storage, rewritten when a reload renumbers the endpoints', { skip }, async () => {
  // shadow_cg_egress reads its endpoint from the attachment's cgroup storage (struct shadow_cg_state: one line instead
  // of a cgroup id and a hash lookup); endpoint numbers follow the config's pod order, so a reordered config must
  // rewrite them all.
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  await probe.start();
  const byStorage = (): Map<string, number> =>
    new Map(probe.mapDump('shadow_cg_ep').map((e) => [String(e.key.cgroup_inode_id), Number((e.value.ep as Json).ep)]));
  // the sidecar-less client gets no cgroup_skb program, hence no storage: compare the sidecar pods' cgroups only
  const appLeg = new Set(lab.file().pods.filter((p) => p.sidecar).map((p) => String(statSync(p.cgroup).ino)));
  const byMap = (): Map<string, number> =>
    new Map(probe.mapDump('shadow_cgroups').filter((e) => appLeg.has(String(e.key))).map((e) => [String(e.key), Number(e.value.ep)]));
  try {
    const first = byStorage();
    assert.equal(first.size, appLeg.size, `one storage per sidecar pod's cgroup: ${JSON.stringify([...first])}`);
    assert.equal(appLeg.size, lab.file().pods.length - 1, 'all pods but the client have a sidecar');
    assert.deepEqual(first, byMap(), 'storage endpoints = the config\'s cgroup map');
    assert.ok([...first.values()].every((ep) => ep > 0), 'every storage written');
    cfg.pods = [...(cfg.pods as Json[])].reverse();
    probe.setConfig(cfg);
    probe.proc!.kill('SIGHUP');
    await probe.waitFor(() => /config reloaded/.test(probe.stderr), 5000, 'reload');
    const second = byStorage();
    assert.deepEqual(second, byMap(), 'after the reload: storage endpoints = the renumbered cgroup map');
    assert.ok([...second].some(([cg, ep]) => first.get(cg) !== ep), 'the reload renumbered some endpoint');
    // and the app leg is attributed by it: a request to reviews shows up on reviews' app leg
    const n = probe.records('http').length;
    assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080/reviews/9`).code, 200);
    await probe.waitFor(() => probe.records('http').slice(n).some((h) => h.pod === 'reviews' && h.leg === 'app' && h.path === '/reviews/9'), 5000, 'app-leg record after the reload');
  } finally {
    assert.equal(await probe.stop('SIGTERM'), 0, probe.stderr);
  }
});

test('the loader\'s CT GC frees closed flows through the mmaped table, and nothing was evicted', { skip }, async () => {
  // The CT is a set-associative array; the loader sweeps part of it per dump (a full sweep about every 8 s) and
  // frees entries idle past their timeout (closing TCP: 10 s) with a compare-and-swap. curl closes its connection,
  // so each request's flows (client egress, reviews ingress) are closing: counted, then freed within ~20 s.
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  await probe.start();
  type M = { ctEntries: number; ctGcDeleted: number; ctEvicted: number; counters: Record<string, number> };
  const metrics = (): M[] => probe.records('metrics') as unknown as M[];
  try {
    for (let i = 0; i < 4; i++) assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080/reviews/gc${i}`).code, 200);
    const created = (): number => metrics().at(-1)?.counters.ct_created ?? 0;
    await probe.waitFor(() => created() >= 8, 5000, 'CT entries for 4 connections seen from both ends');
    await probe.waitFor(() => metrics().some((m) => m.ctEntries >= 8), 12_000, 'a sweep that counts the live entries');
    const peak = Math.max(...metrics().map((m) => m.ctEntries));
    await probe.waitFor(() => (metrics().at(-1)?.ctGcDeleted ?? 0) >= 8, 35_000, 'the GC to free the closed flows');
    const last = metrics().at(-1)!;
    // other flows may stay (the sidecar keeps pooled connections to its app's backends alive): live entries fall, and
    // never exceed what was created and not freed
    assert.ok(last.ctEntries < peak, `live entries after the GC: ${last.ctEntries}, peak ${peak}`);
    assert.ok(last.ctEntries <= (last.counters.ct_created ?? 0) - last.ctGcDeleted,
      `live ${last.ctEntries} > created ${last.counters.ct_created} - freed ${last.ctGcDeleted}`);
    assert.equal(last.ctEvicted, 0, 'no flow pushed out of a full set');
    assert.equal(last.counters.ct_full, 0);
  } finally {
    assert.equal(await probe.stop('SIGTERM'), 0, probe.stderr);
  }
});

test('SIGKILL under load: traffic unaffected, nothing left attached, cleanup finds nothing', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  await probe.start();
  const ids = probe.progIds();
  assert.ok(ids.length >= 4, `program ids of the probe: ${ids.join(',')}`);
  assert.notDeepEqual(await attachedLeftovers(ids, netnsAll(), cgroupsAll(), 0), [], 'attached while running');
  const load = spawn(LAB_SH, ['load', '--target', 'reviews', '--rate', '300', '--duration', '4', '--path', '/reviews/1'], { env: lab.env });
  let out = '';
  load.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const done = new Promise<number | null>((res) => load.once('close', res));
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(await probe.stop('SIGKILL'), 'SIGKILL');
  assert.equal(await done, 0);
  const r = JSON.parse(out.trim().split('\n').pop()!) as { requests: number; errors: number; statuses: Record<string, number> };
  assert.equal(r.errors, 0, 'no request failed while the probe was killed');
  assert.equal(r.statuses['200'], r.requests, 'every request answered 200');
  assert.deepEqual(await attachedLeftovers(ids, netnsAll(), cgroupsAll()), [], 'tcx and cgroup links die with the loader');
  const c = spawnSync(PROBE_BIN, ['--cleanup', '--state-dir', join(probe.stateDir, 'run')], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  assert.deepEqual(JSON.parse(c.stdout), { type: 'cleanup', links: 0, tcFilters: 0, pins: 0 });
});

test('legacy clsact filters survive a SIGKILL and --cleanup removes them', { skip }, async () => {
  const probe = new Probe();
  cfg = probe.writeConfig(podsJson);
  const pinDir = `/sys/fs/bpf/shadow-probe-test-${process.pid}`;
  await probe.start(['--tc-legacy', `--pin=${pinDir}`]);
  const ids = probe.progIds();
  // listed while the probe runs, asserted at the end: a failure must not leave the probe or its filters behind
  const pinned = spawnSync('ls', [pinDir], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  assert.equal(await probe.stop('SIGKILL'), 'SIGKILL');
  const left = await attachedLeftovers(ids, netnsAll(), cgroupsAll(), 0);
  assert.equal(left.filter((l) => l.startsWith('tc filter')).length, lab.file().pods.length, `left behind: ${left.join('; ')}`);
  const c = spawnSync(PROBE_BIN, ['--cleanup', '--state-dir', join(probe.stateDir, 'run')], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  const res = JSON.parse(c.stdout) as { tcFilters: number; pins: number };
  assert.equal(res.tcFilters, 2 * lab.file().pods.length, 'ingress and egress filter per pod');
  assert.ok(res.pins > 0, 'pinned maps removed');
  assert.deepEqual(await attachedLeftovers(ids, netnsAll(), cgroupsAll()), []);
  assert.equal(spawnSync('ls', [pinDir]).status !== 0, true, 'pin directory gone');
  assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080/reviews/1`).code, 200);
  for (const m of ['shadow_ct', 'shadow_edges', 'shadow_l7_hdr', 'shadow_l7_sets']) {
    assert.ok(pinned.includes(m), `map ${m} pinned (got ${pinned.join(', ')})`);
  }
});
