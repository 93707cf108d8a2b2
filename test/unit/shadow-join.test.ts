import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShadowJoiner } from '../../src/core/shadow/join.js';
import { buildShadowResult, DEFAULT_TOLERANCE } from '../../src/core/shadow/diff.js';
import { parseEnvoyTextLine } from '../../src/core/shadow/envoy-text.js';
import { renderShadowMarkdown, renderShadowText } from '../../src/render/shadow.js';
import type { JoinInputs } from '../../src/core/shadow/join.js';
import type { ProbeHttp, ProbeFlow, ProbeEdge } from '../../src/core/shadow/types.js';

const T0 = Date.UTC(2026, 10, 21, 6, 0, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function line(ms: number, method: string, path: string, status: number, details: string, client: string, upstreamLocal: string, id: string): string {
  const up = upstreamLocal === '-' ? '"-"' : '"127.0.0.1:9080"';
  return `[${iso(ms)}] "${method} ${path} HTTP/1.1" ${status} - ${details} - "-" 0 ${status === 403 ? 19 : 14} 1 1 "-" "t" "${id}" "reviews:9080" ${up} inbound|9080|| ${upstreamLocal} 10.0.0.13:9080 ${client} - default`;
}
function http(leg: 'wire' | 'app', startMs: number, latMs: number, client: string, server: string, method: string, path: string, status: number, verdict: ProbeHttp['verdict'], where: ProbeHttp['where'], rule: number): ProbeHttp {
  return { type: 'http', ts: (startMs + latMs) * 1e6, pod: 'reviews', leg, dir: 'ingress', client, server, method, path, status, latencyNs: latMs * 1e6, verdict, where, rule, remoteIdentity: leg === 'wire' ? 1004 : 0, flags: [] };
}
const flow = (sport: number, verdict: ProbeFlow['verdict'], rule: number): ProbeFlow => ({ type: 'flow', ts: T0 * 1e6, pod: 'reviews', dir: 'ingress', src: '10.0.0.20', sport, dst: '10.0.0.13', dport: 9080, proto: 'TCP', verdict, where: 'kernel', rule, remoteIdentity: 1004, flags: [] });

const inputs: JoinInputs = {
  namespace: 'bookinfo',
  pods: [
    { name: 'client', namespace: 'bookinfo', ip: '10.0.0.20', identity: 1004, sidecar: false },
    { name: 'reviews', namespace: 'bookinfo', ip: '10.0.0.13', identity: 1002, sidecar: true },
  ],
  rules: [
    { id: 101, policy: 'CiliumNetworkPolicy/bookinfo/istio-reviews', rule: 'ingress[0]', source: 'AuthorizationPolicy/bookinfo/reviews-viewer' },
    { id: 201, policy: 'CiliumNetworkPolicy/bookinfo/istio-reviews', rule: 'ingress[0].toPorts[0].rules.http[0]', source: 'AuthorizationPolicy/bookinfo/reviews-viewer' },
  ],
  l7: [{ pod: 'reviews', port: 9080, method: 'GET', pathPrefix: '/a', ruleId: 201 }],
  gaps: [{ code: 'TR_DENY_L7', object: 'AuthorizationPolicy/bookinfo/deny-admin', reason: 'DENY with paths' }],
};

function scenario(order: 'probe-first' | 'log-first') {
  const j = new ShadowJoiner(inputs, { windowMs: 500 });
  const c = '10.0.0.20:40000';
  const entries = [
    line(T0 + 10, 'GET', '/a?x=1', 200, 'via_upstream', c, '127.0.0.6:5000', 'id-a'),
    line(T0 + 20, 'GET', '/admin', 403, 'rbac_access_denied_matched_policy[ns[bookinfo]-policy[deny-admin]-rule[0]]', c, '-', 'id-admin'),
    line(T0 + 30, 'GET', '/b', 200, 'via_upstream', c, '127.0.0.6:5000', 'id-b'),
    line(T0 + 40, 'GET', '/lost', 200, 'via_upstream', '10.0.0.20:40100', '127.0.0.6:5001', 'id-lost'),
  ].map((l) => parseEnvoyTextLine(l, 'reviews')!);
  const probe = [
    flow(40000, 'allow', 101),
    http('wire', T0 + 10.2, 2, c, '10.0.0.13:9080', 'GET', '/a', 200, 'allow', 'kernel', 201),
    http('app', T0 + 10.6, 0.5, '127.0.0.6:5000', '127.0.0.1:9080', 'GET', '/a', 200, 'allow', 'kernel', 201),
    http('wire', T0 + 20.1, 0.3, c, '10.0.0.13:9080', 'GET', '/admin', 403, 'deny', 'kernel', 0),
    http('wire', T0 + 30.2, 3, c, '10.0.0.13:9080', 'GET', '/b', 200, 'deny', 'user', 0),
    http('app', T0 + 30.9, 1, '127.0.0.6:5000', '127.0.0.1:9080', 'GET', '/b', 200, 'deny', 'user', 0),
    http('wire', T0 + 3000, 1, '10.0.0.20:40200', '10.0.0.13:9080', 'GET', '/c', 200, 'allow', 'kernel', 201),
  ];
  if (order === 'probe-first') { probe.forEach((r) => j.addProbe(r)); entries.forEach((e) => j.addEntry(e)); }
  else { entries.forEach((e) => j.addEntry(e)); j.flush(T0 + 200); probe.forEach((r) => j.addProbe(r)); }
  return j;
}

test('join: matrix, classes, expected gap, rules on both sides, examples', () => {
  const j = scenario('probe-first');
  j.flush(Infinity);
  const r = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 5000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [] });
  // /admin: wire verdict says deny in the kernel... but that record is L7 "deny" only because the plan's
  // L7 allow-list has no /admin rule, so eBPF denies too: denyDeny.
  assert.deepEqual(r.matrix, { allowAllow: 1, allowDeny: 1, denyAllow: 0, denyDeny: 1, envoyOnly: 1, probeOnly: 1 });
  const wouldDeny = r.disagreements.find((d) => d.class === 'ebpf-would-deny')!;
  assert.equal(wouldDeny.edge, 'client -> reviews:9080');
  assert.equal(wouldDeny.ebpfRule, '(default deny L7)');
  assert.equal(wouldDeny.envoyRule, '(allowed)');
  assert.equal(wouldDeny.examples[0]!.path, '/b');
  assert.equal(wouldDeny.examples[0]!.where, 'user');
  assert.equal(wouldDeny.risk, 'outage');
  assert.equal(wouldDeny.expected, false);
  assert.equal(r.summary.outcome, 'disagreements');
  assert.equal(r.summary.exitCode, 10);
  const envoyOnly = r.disagreements.find((d) => d.class === 'unmatched-envoy-only')!;
  assert.equal(envoyOnly.examples[0]!.requestId, 'id-lost');
  assert.equal(r.disagreements.find((d) => d.class === 'unmatched-probe-only')!.examples[0]!.path, '/c');
  const e = r.edges.find((x) => x.edge === 'client -> reviews:9080')!;
  assert.equal(e.latency.wire.count, 4);
  assert.equal(e.latency.app.count, 2);
  assert.equal(e.latency.sidecarOverhead.p50, 1.5);
  assert.equal(e.latency.sidecarOverhead.max, 2);
  assert.equal(e.latency.projected.p50, 0.505);
  const ebpfRule = r.rules.find((x) => x.side === 'ebpf' && x.rule.includes('http[0]'))!;
  assert.equal(ebpfRule.source, 'AuthorizationPolicy/bookinfo/reviews-viewer');
  assert.equal(ebpfRule.matrix.allowAllow, 1);
  const envRule = r.rules.find((x) => x.side === 'envoy' && x.rule.includes('deny-admin'))!;
  assert.equal(envRule.matrix.denyDeny, 1);
});

test('join: order of arrival does not change the outcome (log first, incremental flush)', () => {
  const a = scenario('probe-first'); a.flush(Infinity);
  const b = scenario('log-first'); b.flush(T0 + 100); b.flush(Infinity);
  assert.deepEqual(b.matrix, a.matrix);
  assert.equal(b.pending(), 0);
});

test('join: an L7 DENY the eBPF plane cannot express is an expected ebpf-would-allow with its gap code', () => {
  const j = new ShadowJoiner({ ...inputs, l7: [] }, { windowMs: 500 });
  const c = '10.0.0.20:41000';
  j.addEntry(parseEnvoyTextLine(line(T0 + 5, 'GET', '/admin/x', 403, 'rbac_access_denied_matched_policy[ns[bookinfo]-policy[deny-admin]-rule[0]]', c, '-', 'id1'), 'reviews')!);
  j.addProbe(flow(41000, 'allow', 101));
  j.addProbe(http('wire', T0 + 5, 0.2, c, '10.0.0.13:9080', 'GET', '/admin/x', 403, 'none', 'none', 0));
  j.flush(Infinity);
  const r = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 1000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [] });
  assert.equal(r.matrix.denyAllow, 1);
  const d = r.disagreements[0]!;
  assert.equal(d.class, 'ebpf-would-allow');
  assert.equal(d.expected, true);
  assert.equal(d.gapCode, 'TR_DENY_L7');
  assert.equal(d.ebpfRule, 'CiliumNetworkPolicy/bookinfo/istio-reviews ingress[0]');
  assert.equal(r.summary.outcome, 'expected-disagreements-only');
  assert.equal(r.summary.exitCode, 11);
});

test('join: TLS on the wire: L3/L4 from the flow, L7 re-evaluated from the log when the probe saw no plaintext', () => {
  const j = new ShadowJoiner(inputs, { windowMs: 500 });
  const c = '10.0.0.20:42000';
  j.addProbe({ ...flow(42000, 'allow', 101), flags: ['tls'] });
  // Envoy denied /z locally: no app leg, no plaintext anywhere; the plan's L7 allow-list (GET /a*) denies it.
  j.addEntry(parseEnvoyTextLine(line(T0 + 5, 'GET', '/z', 403, 'rbac_access_denied_matched_policy[none]', c, '-', 'id1'), 'reviews')!);
  // /a went through: the app leg saw it in plaintext and allowed it by rule 201.
  j.addEntry(parseEnvoyTextLine(line(T0 + 9, 'GET', '/a', 200, 'via_upstream', c, '127.0.0.6:6000', 'id2'), 'reviews')!);
  j.addProbe(http('app', T0 + 9.5, 0.4, '127.0.0.6:6000', '127.0.0.1:9080', 'GET', '/a', 200, 'allow', 'kernel', 201));
  j.flush(Infinity);
  const r = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 1000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.5, parse: [] });
  assert.deepEqual(r.matrix, { allowAllow: 1, allowDeny: 0, denyAllow: 0, denyDeny: 1, envoyOnly: 0, probeOnly: 0 });
  const edge = r.edges[0]!;
  assert.equal(edge.latency.wire.count, 0);
  assert.equal(edge.latency.app.count, 1);
  assert.equal(r.summary.outcome, 'agreement');
});

test('parity: in-kernel edge aggregates vs Envoy counts, with restarts carried over', () => {
  const j = new ShadowJoiner(inputs, { windowMs: 500 });
  const edge = (ts: number, requests: number, s2: number, s4: number): ProbeEdge => ({ type: 'edge', ts, pod: 'reviews', dir: 'ingress', leg: 'wire', remoteIdentity: 1004, port: 9080, proto: 'TCP', flows: 1, requests, flowVerdicts: { none: 0, allow: 1, deny: 0, audit: 0 }, l7Verdicts: { none: requests, allow: 0, deny: 0, audit: 0 }, status: { '2xx': s2, '4xx': s4 }, bytesSent: 1000, bytesReceived: 500, latencySumNs: 0 });
  j.addProbe(edge(1, 50, 45, 5));
  j.addProbe(edge(2, 60, 54, 6));
  j.addProbe(edge(3, 40, 40, 0)); // probe restarted: 60 + 40
  for (let i = 0; i < 100; i++) {
    const st = i < 94 ? 200 : 403;
    j.addEntry(parseEnvoyTextLine(line(T0 + i, 'GET', '/a', st, st === 403 ? 'rbac_access_denied_matched_policy[none]' : 'via_upstream', `10.0.0.20:${50000 + i}`, '-', `r${i}`), 'reviews')!);
  }
  j.flush(Infinity);
  const r = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 1000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 1, parse: [] });
  const p = r.edges[0]!.parity;
  assert.equal(p.probeSource, 'edge-aggregate');
  assert.deepEqual([p.requests.envoy, p.requests.probe, p.requests.ok], [100, 100, true]);
  assert.deepEqual([p.status['2xx']!.envoy, p.status['2xx']!.probe], [94, 94]);
  assert.equal(p.status['4xx']!.ok, true);
  assert.equal(p.bytes.ok, true);
  assert.equal(r.summary.unmatchedEnvoyOnly, 100);
});

test('Envoy RBAC counters vs the access log: complete log is ok, a sampled log is flagged; dry-run kept', async () => {
  const { renderShadowText, renderShadowMarkdown } = await import('../../src/render/shadow.js');
  const j = scenario('probe-first');
  j.flush(Infinity);
  const base = { namespace: 'bookinfo', mode: 'replay' as const, startedAtMs: T0, endedAtMs: T0 + 5000, tolerance: { relative: 0.01, absolute: 0 }, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [] };
  // The log of reviews:9080 holds 3 allowed entries (/a, /b, /lost) and 1 RBAC denial (/admin).
  const complete = buildShadowResult(j, { ...base, rbac: new Map([['reviews', new Map([[9080, { allowed: 3, denied: 1, dryRun: {} }]])]]) });
  assert.deepEqual(complete.telemetry.rbac, [{ pod: 'reviews', port: 9080, metrics: { allowed: 3, denied: 1 }, log: { allowed: 3, denied: 1 }, ok: true }]);
  assert.match(renderShadowText(complete), /Envoy RBAC counters: 4 decisions on 1 sidecar port\(s\), 4 in the access logs \(every decision logged\)/);
  const sampled = buildShadowResult(j, { ...base, rbac: new Map([['reviews', new Map([[9080, { allowed: 300, denied: 1, dryRun: { 'deny:denied': 5 } }]])]]) });
  const row = sampled.telemetry.rbac![0]!;
  assert.equal(row.ok, false);
  assert.deepEqual(row.dryRun, { 'deny:denied': 5 });
  assert.match(renderShadowText(sampled), /LOG INCOMPLETE .*reviews:9080 counters 300 allowed\/1 denied vs log 3\/1/);
  assert.match(renderShadowMarkdown(sampled), /\| reviews \| 9080 \| 300 \| 1 \| 3 \| 1 \| deny:denied 5 \| NO \|/);
  // Not scraped: no rbac section at all (replays of runs without metrics stay as they were).
  assert.equal(buildShadowResult(j, base).telemetry.rbac, undefined);
});

test('parity: kernel bytes are compared only once every connection of the edge has closed (sock_ops counts at close)', () => {
  const run = (flows: number, connsClosed: number | undefined) => {
    const j = new ShadowJoiner(inputs, { windowMs: 500 });
    j.addProbe({ type: 'edge', ts: 1, pod: 'reviews', dir: 'ingress', leg: 'wire', remoteIdentity: 1004, port: 9080, proto: 'TCP', flows, requests: 10, flowVerdicts: { none: 0, allow: flows, deny: 0, audit: 0 }, status: { '2xx': 10 }, bytesSent: 60, bytesReceived: 40, latencySumNs: 0, ...(connsClosed === undefined ? {} : { connsClosed }) });
    for (let i = 0; i < 10; i++) j.addEntry(parseEnvoyTextLine(line(T0 + i, 'GET', '/a', 200, 'via_upstream', `10.0.0.20:${50000 + i}`, '-', `r${i}`), 'reviews')!);
    j.flush(Infinity);
    return buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 1000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 1, parse: [] }).edges[0]!.parity.bytes;
  };
  // 10 entries of 14 body bytes = 140 > the kernel's 100 bytes of the one connection that closed
  const open = run(3, 1);
  assert.deepEqual([open.envoy, open.probe, open.ok], [140, 100, true]);
  assert.match(open.note!, /not compared: 2 of 3 connections still open/);
  const closed = run(3, 3);
  assert.deepEqual([closed.probe, closed.ok], [100, false]);
  // older recordings without the close count: compared as before
  assert.equal(run(3, undefined).ok, false);
});

test('result: lost counts the kernel\'s losses and the records the loader dropped for a slow stdout reader', () => {
  const j = new ShadowJoiner(inputs, { windowMs: 500 });
  j.addProbe({ type: 'metrics', ts: T0, counters: { ringbuf_full: 2, ratelimited: 3, ct_full: 0, packets: 100 }, recordsOut: 40, recordsDropped: 5 });
  j.addProbe({ type: 'metrics', ts: T0 + 10, counters: { ringbuf_full: 2, ratelimited: 4, ct_full: 1, packets: 200 }, recordsOut: 50, recordsDropped: 7 });
  j.flush(Infinity);
  const r = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 1000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [] });
  assert.equal(r.probe.lost, 2 + 4 + 1 + 7, 'the last metrics line: kernel counters plus recordsDropped');
  assert.equal(r.probe.recordsOut, 50);
});

test('join: an app-leg record the probe left to the peer (flag "peer") is decided with the peer of the access log', () => {
  // reviews serves GET /a to client (1004) only, POST /p to details (1005) only: the rules name their peers
  const per: JoinInputs = {
    ...inputs,
    pods: [...inputs.pods, { name: 'details', namespace: 'bookinfo', ip: '10.0.0.15', identity: 1005, sidecar: true }],
    rules: [...inputs.rules, { id: 202, policy: 'CiliumNetworkPolicy/bookinfo/istio-reviews', rule: 'ingress[1].toPorts[0].rules.http[0]' }],
    l7: [{ pod: 'reviews', port: 9080, method: 'GET', pathPrefix: '/a', ruleId: 201, identity: 1004 }, { pod: 'reviews', port: 9080, method: 'POST', pathExact: '/p', ruleId: 202, identity: 1005 }],
    identities: [{ cidr: '192.168.0.0/16', identity: 16777217 }],
  };
  const j = new ShadowJoiner(per, { windowMs: 500 });
  const undecided = (startMs: number, method: string, path: string): ProbeHttp => ({ ...http('app', startMs, 0.5, '127.0.0.6:5000', '127.0.0.1:9080', method, path, 200, 'none', 'user', 0), flags: ['peer'] });
  // mTLS on the wire: the probe has the flow and the app leg only
  const entries = [
    line(T0 + 10, 'GET', '/a', 200, 'via_upstream', '10.0.0.20:40000', '127.0.0.6:5000', 'client-a'),
    line(T0 + 20, 'GET', '/a', 403, 'rbac_access_denied_matched_policy[none]', '10.0.0.15:41000', '-', 'details-a'),
    line(T0 + 30, 'POST', '/p', 200, 'via_upstream', '10.0.0.15:41000', '127.0.0.6:5000', 'details-p'),
  ].map((l) => parseEnvoyTextLine(l, 'reviews')!);
  for (const r of [flow(40000, 'allow', 101), { ...flow(41000, 'allow', 101), src: '10.0.0.15', remoteIdentity: 1005 }, undecided(T0 + 10.3, 'GET', '/a'), undecided(T0 + 30.3, 'POST', '/p')]) j.addProbe(r);
  for (const e of entries) j.addEntry(e);
  j.flush(Infinity);
  const r = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 5000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [] });
  // before: any peer's rule allowed details' GET /a (denyAllow), and a "none" verdict counted as allow
  assert.deepEqual(r.matrix, { allowAllow: 2, allowDeny: 0, denyAllow: 0, denyDeny: 1, envoyOnly: 0, probeOnly: 0 });
  assert.equal(j.peerIdentity('10.0.0.15'), 1005);
  assert.equal(j.peerIdentity('192.168.3.4'), 16777217, 'a CIDR identity by the longest prefix');
  assert.equal(j.peerIdentity('8.8.8.8'), 2, 'world');
  // on a pod no default-deny policy selects, a peer the rules do not name has no L7 verdict (it passes)
  const open = new ShadowJoiner({ ...per, selectedBy: {} }, { windowMs: 500 });
  open.addProbe(flow(40000, 'allow', 101));
  open.addEntry(parseEnvoyTextLine(line(T0 + 10, 'GET', '/x', 200, 'via_upstream', '10.0.0.20:40000', '127.0.0.6:5000', 'c-x'), 'reviews')!);
  open.flush(Infinity);
  assert.deepEqual(open.matrix, { allowAllow: 0, allowDeny: 1, denyAllow: 0, denyDeny: 0, envoyOnly: 0, probeOnly: 0 }, 'client is named: its GET /x answers to its rules');
  const stranger = new ShadowJoiner({ ...per, selectedBy: {} }, { windowMs: 500 });
  stranger.addProbe({ ...flow(42000, 'allow', 0), src: '10.0.0.99', remoteIdentity: 2 });
  stranger.addEntry(parseEnvoyTextLine(line(T0 + 10, 'GET', '/x', 200, 'via_upstream', '10.0.0.99:42000', '127.0.0.6:5000', 's-x'), 'reviews')!);
  stranger.flush(Infinity);
  assert.deepEqual(stranger.matrix, { allowAllow: 1, allowDeny: 0, denyAllow: 0, denyDeny: 0, envoyOnly: 0, probeOnly: 0 }, 'a peer no rule names passes');
});

test('what the plan holds that the probe does not check is in the Result and both reports', () => {
  const j = scenario('probe-first');
  j.flush(Infinity);
  const notShadowed = ['CiliumNetworkPolicy/bookinfo/x ingress[0].toPorts[0]: named port http is not resolved; that port is not shadowed'];
  const r = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 5000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [], notShadowed });
  assert.deepEqual(r.notShadowed, notShadowed);
  assert.match(renderShadowText(r), /not shadowed \(1\): CiliumNetworkPolicy\/bookinfo\/x .*named port http/);
  assert.match(renderShadowMarkdown(r), /## Not shadowed\n\n.*\n\n- CiliumNetworkPolicy\/bookinfo\/x/);
  const none = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 5000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [] });
  assert.deepEqual(none.notShadowed, []);
  assert.doesNotMatch(renderShadowMarkdown(none), /## Not shadowed/);
});

test('join: a rule\'s host and header conditions, which the probe does not see, are checked on the access log entry', () => {
  // the probe matched each request on method and path alone (kernel "allow" by the first such rule)
  const P = 'CiliumNetworkPolicy/bookinfo/istio-reviews';
  const cond: JoinInputs = {
    ...inputs,
    rules: [
      ...inputs.rules,
      { id: 211, policy: P, rule: 'ingress[0].toPorts[0].rules.http[1]', source: 'AuthorizationPolicy/bookinfo/hosts', when: { host: '(?i)reviews\\.example' } },
      { id: 212, policy: P, rule: 'ingress[0].toPorts[0].rules.http[2]', source: 'AuthorizationPolicy/bookinfo/open' },
      { id: 213, policy: P, rule: 'ingress[0].toPorts[0].rules.http[3]', source: 'AuthorizationPolicy/bookinfo/token', when: { headerMatches: [{ name: 'x-token', value: 'a' }] } },
      { id: 214, policy: P, rule: 'ingress[0].toPorts[0].rules.http[4]', source: 'AuthorizationPolicy/bookinfo/ua', when: { headerMatches: [{ name: 'user-agent', value: 'probe/1' }] } },
    ],
    l7: [
      { pod: 'reviews', port: 9080, method: 'GET', pathPrefix: '/h', ruleId: 211 },
      { pod: 'reviews', port: 9080, method: 'GET', pathPrefix: '/h/open', ruleId: 212 },
      { pod: 'reviews', port: 9080, method: 'POST', pathExact: '/w', ruleId: 213 },
      { pod: 'reviews', port: 9080, method: 'GET', pathExact: '/ua', ruleId: 214 },
    ],
    selectedBy: { reviews: [P] },
  };
  const logged = (ms: number, method: string, path: string, allowed: boolean, host: string, ua: string, id: string) =>
    line(ms, method, path, allowed ? 200 : 403, allowed ? 'via_upstream' : 'rbac_access_denied_matched_policy[none]', '10.0.0.20:40000', allowed ? '127.0.0.6:5000' : '-', id)
      .replace('"t" ', `"${ua}" `).replace('"reviews:9080"', `"${host}"`);
  const cases: [string, string, boolean, string, string, number][] = [
    // method, path, sidecar allowed, Host, User-Agent, probe's rule
    ['GET', '/h/1', true, 'Reviews.EXAMPLE', 'c', 211], // host holds (case-insensitive): allowAllow
    ['GET', '/h/2', false, 'reviews:9080', 'c', 211], // host fails, no other rule: eBPF denies too (was a false would-allow)
    ['GET', '/h/3', true, 'other', 'c', 211], // the sidecar allowed a host the plan does not: a real would-deny
    ['GET', '/h/open', false, 'other', 'c', 211], // the probe named 211, whose host fails; 212 allows: would-allow by 212
    ['POST', '/w', false, 'reviews:9080', 'c', 213], // x-token is not in the log: allowed as if it held, expected
    ['GET', '/ua', true, 'x', 'probe/1', 214], // user-agent is in the log and holds
    ['GET', '/ua', false, 'x', 'curl/8', 214], // and here it does not
    ['GET', '/ua', false, 'x', '-', 214], // none sent: a condition on its value fails
  ];
  const j = new ShadowJoiner(cond, { windowMs: 500 });
  j.addProbe(flow(40000, 'allow', 101));
  cases.forEach(([m, p, allowed, host, ua, rule], i) => {
    const t = T0 + 10 + i * 10;
    j.addProbe(http('wire', t + 0.2, 1, '10.0.0.20:40000', '10.0.0.13:9080', m, p, allowed ? 200 : 403, 'allow', 'kernel', rule));
    j.addEntry(parseEnvoyTextLine(logged(t, m, p, allowed, host, ua, `id-${i}`), 'reviews')!);
  });
  j.flush(Infinity);
  const r = buildShadowResult(j, { namespace: 'bookinfo', mode: 'replay', startedAtMs: T0, endedAtMs: T0 + 5000, tolerance: DEFAULT_TOLERANCE, ebpfCostUs: 5, unmatchedTolerance: 0.01, parse: [] });
  assert.deepEqual(r.matrix, { allowAllow: 2, allowDeny: 1, denyAllow: 2, denyDeny: 3, envoyOnly: 0, probeOnly: 0 });
  const byPath = (cls: string, path: string) => r.disagreements.find((d) => d.class === cls && d.examples.some((x) => x.path === path));
  const deny = byPath('ebpf-would-deny', '/h/3')!;
  assert.equal(deny.ebpfRule, `(default deny L7: no rule of ${P} matched)`);
  assert.equal(deny.expected, false);
  assert.equal(deny.examples[0]!.where, 'log');
  const open = byPath('ebpf-would-allow', '/h/open')!;
  assert.equal(open.ebpfRule, `${P} ingress[0].toPorts[0].rules.http[2]`, 'the rule whose conditions hold decides, not the one the probe named');
  assert.equal(open.expected, false);
  const token = byPath('ebpf-would-allow', '/w')!;
  assert.equal(token.ebpfRule, `${P} ingress[0].toPorts[0].rules.http[3] (if its x-token condition holds)`);
  assert.equal(token.expected, true);
  assert.equal(token.gapCode, 'SHADOW_HEADER_NOT_LOGGED');
  assert.equal(token.gapObject, 'AuthorizationPolicy/bookinfo/token');
  assert.equal(r.disagreements.length, 3);
  // without the conditions (the probe's view alone) /h/2, /ua (curl) and /ua (none) would be false would-allows
  const blind = new ShadowJoiner({ ...cond, rules: cond.rules.map(({ when: _w, ...x }) => x) }, { windowMs: 500 });
  blind.addProbe(flow(40000, 'allow', 101));
  cases.forEach(([m, p, allowed, host, ua, rule], i) => {
    const t = T0 + 10 + i * 10;
    blind.addProbe(http('wire', t + 0.2, 1, '10.0.0.20:40000', '10.0.0.13:9080', m, p, allowed ? 200 : 403, 'allow', 'kernel', rule));
    blind.addEntry(parseEnvoyTextLine(logged(t, m, p, allowed, host, ua, `id-${i}`), 'reviews')!);
  });
  blind.flush(Infinity);
  assert.deepEqual(blind.matrix, { allowAllow: 3, allowDeny: 0, denyAllow: 5, denyDeny: 0, envoyOnly: 0, probeOnly: 0 });
});

test('join: host and user-agent come from both log formats; an entry that does not say leaves a condition unseen', async () => {
  const { compileConditions, checkConditions } = await import('../../src/core/shadow/http-conditions.js');
  const { entryFromJson } = await import('../../src/core/shadow/envoy-json.js');
  const text = parseEnvoyTextLine(line(T0, 'GET', '/a', 200, 'via_upstream', '10.0.0.20:40000', '127.0.0.6:5000', 'i').replace('"t" ', '"probe/1" '), 'reviews')!;
  assert.equal(text.userAgent, 'probe/1');
  assert.equal(text.authority, 'reviews:9080');
  const json = entryFromJson({ start_time: iso(T0), method: 'GET', path: '/a', protocol: 'HTTP/1.1', response_code: 200, authority: 'reviews:9080', user_agent: null, upstream_cluster: 'inbound|9080||' }, 'reviews');
  assert.ok(typeof json === 'object');
  assert.equal(json.userAgent, '-', 'JSON null: none sent');
  const ua = compileConditions({ headers: ['User-Agent'] });
  assert.deepEqual(checkConditions(ua, text), [], 'holds');
  assert.equal(checkConditions(ua, json), null, 'fails');
  const { userAgent: _u, ...older } = text;
  assert.deepEqual(checkConditions(ua, older), ['user-agent'], 'an entry without the field does not say');
  const host = compileConditions({ host: 'reviews(:9080)?' });
  assert.deepEqual(checkConditions(host, text), []);
  assert.equal(checkConditions(host, { ...text, authority: 'reviews.other' }), null);
  assert.equal(checkConditions(host, { ...text, authority: '-' }), null, 'no Host: the regex meets the empty value');
  assert.deepEqual(checkConditions(host, { method: 'GET', path: '/a' }), ['host'], 'a probe record: the host is not known');
  const both = compileConditions({ host: 'reviews(:9080)?', headers: ['x-b'], headerMatches: [{ name: 'X-A', value: '1' }] });
  assert.deepEqual(both.unseen, ['x-a', 'x-b']);
  assert.deepEqual(checkConditions(both, text), ['x-a', 'x-b']);
  assert.equal(checkConditions(both, { ...text, authority: 'nope' }), null, 'a condition the log shows failing decides');
});
