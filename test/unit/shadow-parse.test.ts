import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEnvoyText, parseEnvoyTextLine, parseStartTime } from '../../src/core/shadow/envoy-text.js';
import { parseEnvoyJson, detectFormat } from '../../src/core/shadow/envoy-json.js';
import { envoyVerdict, envoyPolicyObject } from '../../src/core/shadow/join.js';
import type { AccessLogEntry } from '../../src/core/shadow/types.js';

// The example of reference/envoy-telemetry.md, verbatim.
const RBAC_DENY = '[2026-10-09T07:54:53.132Z] "GET /reviews/0 HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 0 - "-" "curl/8.11.1" "c21e3c5a-b3cb-4cf6-9d60-dcd9c47a8cda" "reviews:9080" "-" inbound|9080|| - 10.244.0.10:9080 10.244.0.11:37238 outbound_.9080_._.reviews.default.svc.cluster.local default';
const LAB_OK = '[2026-11-21T06:06:43.707Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 14 1 1 "-" "lab-loadgen" "65a32e63-8f66-494a-822a-0215f7da626f" "10.233.0.13:9080" "127.0.0.1:9080" inbound|9080|| 127.0.0.6:42054 10.233.0.13:9080 10.233.0.20:59896 - default';

test('TEXT: the reference RBAC denial parses field by field', () => {
  const e = parseEnvoyTextLine(RBAC_DENY, 'reviews');
  assert.ok(e);
  assert.equal(e.startMs, Date.UTC(2026, 9, 9, 7, 54, 53, 132));
  assert.deepEqual([e.method, e.path, e.protocol, e.status, e.flags], ['GET', '/reviews/0', 'HTTP/1.1', 403, '-']);
  assert.equal(e.details, 'rbac_access_denied_matched_policy[none]');
  assert.deepEqual([e.bytesReceived, e.bytesSent, e.durationMs], [0, 19, 0]);
  assert.ok(Number.isNaN(e.upstreamMs));
  assert.equal(e.requestId, 'c21e3c5a-b3cb-4cf6-9d60-dcd9c47a8cda');
  assert.equal(e.authority, 'reviews:9080');
  assert.equal(e.upstreamHost, '-');
  assert.equal(e.upstreamCluster, 'inbound|9080||');
  assert.equal(e.upstreamLocal, '-');
  assert.equal(e.downstreamLocal, '10.244.0.10:9080');
  assert.equal(e.downstreamRemote, '10.244.0.11:37238');
  assert.equal(e.sni, 'outbound_.9080_._.reviews.default.svc.cluster.local');
  assert.equal(e.route, 'default');
  assert.deepEqual(envoyVerdict(e), { verdict: 'deny', rule: 'none' });
});

test('TEXT: a user agent with spaces and quotes inside, a lab line, a DENY policy id', () => {
  const ua = LAB_OK.replace('"lab-loadgen"', '"Mozilla/5.0 (X11; "Linux") x"');
  const e = parseEnvoyTextLine(ua, 'reviews')!;
  assert.equal(e.requestId, '65a32e63-8f66-494a-822a-0215f7da626f');
  assert.equal(e.upstreamLocal, '127.0.0.6:42054');
  assert.equal(e.upstreamMs, 1);
  const d = parseEnvoyTextLine(RBAC_DENY.replace('[none]', '[ns[foo]-policy[deny-admin]-rule[0]]'), 'x')!;
  const v = envoyVerdict(d);
  assert.deepEqual(v, { verdict: 'deny', rule: 'ns[foo]-policy[deny-admin]-rule[0]' });
  assert.equal(envoyPolicyObject(v.rule), 'AuthorizationPolicy/foo/deny-admin');
  assert.deepEqual(envoyVerdict(parseEnvoyTextLine(LAB_OK, 'r')!), { verdict: 'allow', rule: '(allowed)' });
});

test('TEXT: TCP denial in CONNECTION_TERMINATION_DETAILS', () => {
  const tcp = '[2026-10-09T07:54:53.132Z] "- - -" 0 - - rbac_access_denied_matched_policy[ns[db]-policy[tcp-deny]-rule[1]] "-" 0 0 1 - "-" "-" "-" "-" "-" inbound|5432|| - 10.244.0.10:5432 10.244.0.11:40000 - -';
  const e = parseEnvoyTextLine(tcp, 'db')!;
  assert.equal(e.status, 0);
  assert.deepEqual(envoyVerdict(e), { verdict: 'deny', rule: 'ns[db]-policy[tcp-deny]-rule[1]' });
});

test('TEXT: malformed lines are counted with reasons, good ones still parse; CRLF and blank lines', () => {
  const text = [LAB_OK, 'garbage', '', RBAC_DENY.slice(0, 60), '[2026-13-99T99:99:99.999Z] "GET / HTTP/1.1" 200', LAB_OK + '\r'].join('\n');
  const got: AccessLogEntry[] = [];
  const s = parseEnvoyText(text, 'p', (e) => got.push(e));
  assert.equal(s.lines, 5);
  assert.equal(s.parsed, 2);
  assert.equal(s.failed, 3);
  assert.equal(got[1]!.route, 'default');
  assert.deepEqual(s.failures.map((f) => f.line), [2, 4, 5]);
  assert.match(s.failures[0]!.reason, /START_TIME/);
});

test('START_TIME: cached hour prefix agrees with Date.parse across hours and days', () => {
  for (const t of ['2026-11-21T06:06:43.707Z', '2026-11-21T07:00:00.000Z', '2026-12-31T23:59:59.999Z', '2026-11-21T06:59:01.001Z']) {
    assert.equal(parseStartTime(t), Date.parse(t), t);
  }
  assert.equal(parseStartTime('2026-11-21T06:06:43Z'), Date.parse('2026-11-21T06:06:43Z'));
});

test('JSON format: keys of the reference, nulls and strings, detection', () => {
  const line = JSON.stringify({ start_time: '2026-10-09T07:54:53.132Z', method: 'POST', path: '/a?b=1', protocol: 'HTTP/1.1', response_code: 403, response_flags: '-', response_code_details: 'rbac_access_denied_matched_policy[none]', connection_termination_details: null, bytes_received: '10', bytes_sent: 19, duration: 2, upstream_service_time: null, request_id: 'r1', authority: 'a:80', upstream_host: null, upstream_cluster: 'inbound|80||', upstream_local_address: null, downstream_local_address: '10.0.0.1:80', downstream_remote_address: '10.0.0.2:5000', requested_server_name: null, route_name: 'default' });
  const got: AccessLogEntry[] = [];
  const s = parseEnvoyJson(`${line}\n{"start_time":"x"}\nnot json\n`, 'a', (e) => got.push(e));
  assert.equal(s.parsed, 1);
  assert.equal(s.failed, 2);
  assert.equal(got[0]!.bytesReceived, 10);
  assert.equal(got[0]!.upstreamHost, '-');
  assert.equal(envoyVerdict(got[0]!).verdict, 'deny');
  assert.equal(detectFormat(`\n${line}`), 'json');
  assert.equal(detectFormat(LAB_OK), 'text');
});
