// The lab end to end on the real kernel: network namespaces, istio-init iptables, HAProxy sidecars as uid 1337,
// real requests. A private lab instance (own prefix and state dir) so a user's lab is never touched.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cluster.js';
import { Lab, labSkipReason } from '../support/lab.js';

const skip = labSkipReason();
const lab = new Lab('mlabt');

// Istio's default TEXT access log (reference/envoy-telemetry.md), one capture per field.
const ENVOY_TEXT = new RegExp('^\\[(?<start>\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z)\\] ' +
  '"(?<method>\\S+) (?<path>\\S+) (?<protocol>\\S+)" (?<code>\\d{1,3}) (?<flags>\\S+) (?<details>\\S+) (?<termination>\\S+) ' +
  '"(?<upstreamFailure>[^"]*)" (?<bytesReceived>\\d+) (?<bytesSent>\\d+) (?<duration>\\d+|-) (?<upstreamServiceTime>\\d+|-) ' +
  '"(?<xff>[^"]*)" "(?<userAgent>[^"]*)" "(?<requestId>[^"]*)" "(?<authority>[^"]*)" "(?<upstreamHost>[^"]*)" ' +
  '(?<upstreamCluster>\\S+) (?<upstreamLocal>\\S+) (?<downstreamLocal>\\S+) (?<downstreamRemote>\\S+) (?<sni>\\S+) (?<route>\\S+)$');

function accessLog(pod: string): Array<Record<string, string>> {
  const file = lab.pod(pod).sidecar?.accessLog;
  assert.ok(file, `${pod} has a sidecar`);
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const m = ENVOY_TEXT.exec(line);
    assert.ok(m?.groups, `access log line is not Envoy TEXT: ${line}`);
    return { ...m.groups, line };
  });
}

async function lastLogLine(pod: string, pred: (r: Record<string, string>) => boolean): Promise<Record<string, string>> {
  // HAProxy writes the line when the response is done; give it a moment.
  for (let i = 0; i < 50; i++) {
    const hit = accessLog(pod).reverse().find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no matching access log line in ${pod}`);
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

after(() => {
  if (!skip) lab.run(['down']);
  rmSync(lab.stateDir, { recursive: true, force: true });
});

test('the Envoy TEXT regex accepts the reference denial line', () => {
  const ref = '[2026-10-09T07:54:53.132Z] "GET /reviews/0 HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 0 - "-" "curl/8.11.1" "c21e3c5a-b3cb-4cf6-9d60-dcd9c47a8cda" "reviews:9080" "-" inbound|9080|| - 10.244.0.10:9080 10.244.0.11:37238 outbound_.9080_._.reviews.default.svc.cluster.local default';
  assert.equal(ENVOY_TEXT.exec(ref)?.groups?.details, 'rbac_access_denied_matched_policy[none]');
});

test('lab up brings up pods with sidecars, and a second up changes nothing', { skip }, () => {
  const r = lab.run(['up']);
  assert.equal(r.status, 0, r.stderr);
  const f = lab.file();
  assert.ok(f.pods.filter((p) => p.sidecar).length >= 3, 'at least three pods with a sidecar');
  assert.ok(f.pods.some((p) => p.name === 'client'));
  const pids = f.pods.map((p) => readFileSync(`${lab.stateDir}/lab/pods/${p.name}/app.pid`, 'utf8'));
  const again = lab.run(['up']);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(f.pods.map((p) => readFileSync(`${lab.stateDir}/lab/pods/${p.name}/app.pid`, 'utf8')), pids, 'no process restarted');
  const st = lab.run(['status', '--json']);
  assert.equal(st.status, 0, st.stderr);
  const status = JSON.parse(st.stdout) as { up: boolean; pods: Array<{ name: string; sidecar: boolean | null }> };
  assert.equal(status.up, true);
  for (const p of f.pods) {
    assert.ok(existsSync(p.cgroup), `cgroup ${p.cgroup}`);
    // The app and the sidecar share the pod's cgroup, so one cgroup hook sees both.
    const procs = readFileSync(`${p.cgroup}/cgroup.procs`, 'utf8').trim().split('\n');
    assert.equal(procs.length, p.sidecar ? 2 : 1, `${p.name} cgroup.procs: ${procs.join(',')}`);
  }
  const sidecarPid = readFileSync(`${lab.stateDir}/lab/pods/reviews/sidecar.pid`, 'utf8').trim();
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${sidecarPid}/status`, 'utf8'))?.[1];
  assert.equal(uid, '1337', 'the sidecar runs as uid 1337');
});

test('the lab is also a Kubernetes snapshot that `migrate inventory` reads', { skip }, () => {
  const f = lab.file();
  const r = spawnSync(join(REPO_ROOT, 'bin', 'migrate'), ['inventory', '--snapshot', f.snapshot, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const inv = JSON.parse(r.stdout) as { summary: { pods: number; injectedPods: number; istioResources: Record<string, number> } };
  assert.equal(inv.summary.pods, lab.file().pods.length);
  assert.equal(inv.summary.injectedPods, lab.file().pods.filter((p) => p.sidecar).length);
  assert.equal(inv.summary.istioResources.AuthorizationPolicy, 3);
});

test('an allowed request passes the inbound sidecar and reaches the app from 127.0.0.6', { skip }, async () => {
  const reviews = lab.pod('reviews');
  const r = lab.curl('client', `http://${reviews.ip}:9080/whoami`);
  assert.equal(r.code, 200, r.body);
  const who = JSON.parse(r.body) as { pod: string; remote: string; headers: Record<string, string> };
  assert.equal(who.pod, 'reviews');
  assert.match(who.remote, /^127\.0\.0\.6:\d+$/);
  assert.match(who.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/, 'the sidecar adds x-request-id');
  const rec = await lastLogLine('reviews', (l) => l.path === '/whoami');
  assert.equal(rec.code, '200');
  assert.equal(rec.details, 'via_upstream');
  assert.equal(rec.upstreamCluster, 'inbound|9080||');
  assert.match(rec.upstreamLocal ?? '', /^127\.0\.0\.6:\d+$/);
  assert.equal(rec.downstreamLocal, `${reviews.ip}:9080`, 'original destination, not the redirect port');
  assert.match(rec.downstreamRemote ?? '', new RegExp(`^${lab.pod('client').ip.replace(/\./g, '\\.')}:\\d+$`));
  assert.equal(rec.requestId, who.headers['x-request-id']);
});

test('a request no ALLOW policy matches gets 403 "RBAC: access denied" and a [none] log line', { skip }, async () => {
  const ratings = lab.pod('ratings');
  const r = lab.curl('client', `http://${ratings.ip}:9080/ratings/0`);
  assert.equal(r.code, 403);
  assert.equal(r.body, 'RBAC: access denied');
  assert.equal(Buffer.byteLength(r.body), 19);
  const rec = await lastLogLine('ratings', (l) => l.path === '/ratings/0' && l.code === '403');
  assert.equal(rec.details, 'rbac_access_denied_matched_policy[none]');
  assert.equal(rec.bytesSent, '19');
  assert.equal(rec.upstreamHost, '-');
  assert.equal(rec.upstreamServiceTime, '-');
  assert.equal(rec.upstreamCluster, 'inbound|9080||');
  // The sidecar's Istio-style metrics count the denial on the destination side.
  const m = lab.curl('client', `http://${ratings.ip}:15020/stats/prometheus`);
  assert.equal(m.code, 200);
  const denied = m.body.split('\n').find((l) => l.startsWith('istio_requests_total{reporter="destination",source_workload="client",')
    && l.includes('destination_workload="ratings"') && l.includes('response_code="403"'));
  assert.ok(denied, `no 403 counter in:\n${m.body.slice(0, 2000)}`);
  assert.ok(Number(denied.split(' ').pop()) >= 1);
});

test('a DENY policy names itself in the log, and reviews -> ratings is allowed through both sidecars', { skip }, async () => {
  const reviews = lab.pod('reviews');
  const denied = lab.curl('client', `http://${reviews.ip}:9080/admin/flush`);
  assert.equal(denied.code, 403);
  const rec = await lastLogLine('reviews', (l) => l.path === '/admin/flush');
  assert.equal(rec.details, 'rbac_access_denied_matched_policy[ns[bookinfo]-policy[deny-admin]-rule[0]]');
  // reviews' app calls ratings: out through reviews' outbound sidecar (15001), in through ratings' (15006).
  const ok = lab.curl('client', `http://${reviews.ip}:9080/call/ratings/ratings/7`);
  assert.equal(ok.code, 200, ok.body);
  assert.equal(ok.body, 'ratings GET /ratings/7\n');
  const out = await lastLogLine('reviews', (l) => l.path === '/ratings/7');
  assert.equal(out.upstreamCluster, 'outbound|9080||ratings.bookinfo.svc.cluster.local');
  assert.equal(out.upstreamHost, `${lab.pod('ratings').ip}:9080`);
  const inb = await lastLogLine('ratings', (l) => l.path === '/ratings/7');
  assert.equal(inb.code, '200');
  assert.equal(inb.requestId, out.requestId, 'the request id crosses both sidecars');
});

test('sidecars talk mTLS with SPIFFE certificates from the lab CA; the hop to the app stays plaintext', { skip }, async () => {
  const certs = join(lab.stateDir, 'lab', 'certs');
  const ossl = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });
  const san = ossl(['x509', '-in', join(certs, 'reviews.pem'), '-noout', '-ext', 'subjectAltName']);
  assert.match(san.stdout, /URI:spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-reviews/);
  assert.match(ossl(['verify', '-CAfile', join(certs, 'ca.pem'), join(certs, 'reviews.pem')]).stdout, /: OK/);
  // reviews' app -> its outbound sidecar (plaintext) -> mTLS on eth0 -> ratings' inbound sidecar -> app.
  const r = lab.curl('client', `http://${lab.pod('reviews').ip}:9080/call/ratings/whoami`);
  assert.equal(r.code, 200, r.body);
  const who = JSON.parse(r.body) as { remote: string; headers: Record<string, string> };
  assert.match(who.remote, /^127\.0\.0\.6:\d+$/);
  // Envoy's x-forwarded-client-cert: the peer certificate's hash and URI SAN (so the identity is the certificate's).
  const reviewsDer = spawnSync('openssl', ['x509', '-in', join(certs, 'reviews.pem'), '-outform', 'DER']).stdout;
  const hash = createHash('sha256').update(reviewsDer).digest('hex');
  assert.equal(who.headers['x-forwarded-client-cert'],
    `By=spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings;Hash=${hash};Subject="";URI=spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews`);
  const inb = await lastLogLine('ratings', (l) => l.path === '/whoami');
  assert.equal(inb.code, '200');
  assert.equal(inb.sni, 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local', 'REQUESTED_SERVER_NAME is the SNI Istio clients send');
  assert.match(inb.downstreamRemote ?? '', new RegExp(`^${lab.pod('reviews').ip.replace(/\./g, '\\.')}:\\d+$`));
  // A plaintext caller has no SNI.
  assert.equal((await lastLogLine('ratings', (l) => l.path === '/ratings/0' && l.code === '403')).sni, '-');
  // The inbound listener speaks TLS on the pod's port and requires a client certificate from the lab CA ...
  const ratings = lab.pod('ratings');
  const url = `https://${ratings.ip}:9080/ratings/tls`;
  assert.notEqual(lab.inPod('client', ['curl', '-sk', '--max-time', '5', url]).status, 0, 'no client certificate: handshake refused');
  // ... and identity is the certificate, not the address: the client pod holding reviews' certificate is allowed.
  const asReviews = lab.curl('client', url, ['-k', '--cert', join(certs, 'reviews.pem')]);
  assert.equal(asReviews.code, 200, asReviews.body);
  // Istio's metrics on the destination side name both principals and mutual_tls.
  const m = lab.curl('client', `http://${ratings.ip}:15020/stats/prometheus`).body;
  assert.ok(m.split('\n').some((l) => l.startsWith('istio_requests_total{reporter="destination",source_workload="reviews",')
    && l.includes('source_principal="spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews"')
    && l.includes('destination_principal="spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings"')
    && l.includes('connection_security_policy="mutual_tls"')), m.slice(0, 2000));
});

test('a server certificate that does not name the SNI fails the client sidecar\'s check: 503 UF with the TLS reason', { skip }, async () => {
  // ratings' certificate names outbound_.9080_._.ratings...; a call to its port 9300 sends SNI
  // outbound_.9300_._.ratings..., which it does not name (a lab artifact: Envoy checks the SPIFFE ID instead).
  const ratings = lab.pod('ratings');
  const r = lab.curl('reviews', `http://${ratings.ip}:9300/tls-check`);
  assert.equal(r.code, 503);
  const out = await lastLogLine('reviews', (l) => l.path === '/tls-check');
  assert.equal(out.flags, 'UF');
  assert.match(out.upstreamFailure ?? '', /^TLS_error:\|[0-9A-F]{8}:SSL routines::certificate verify failed:TLS_error_end$/);
  assert.match(out.details ?? '', /^upstream_reset_before_response_started\{connection_failure\|TLS_error:\|[0-9A-F]{8}:SSL_routines::certificate_verify_failed:TLS_error_end\}$/);
  assert.equal(out.upstreamCluster, 'outbound|9300||ratings.bookinfo.svc.cluster.local');
});

test('a dead app gives 503 UF like Envoy, and up repairs the pod', { skip }, async () => {
  // reviews admits the plaintext client (only a DENY policy applies), so the request gets past RBAC.
  const reviews = lab.pod('reviews');
  const appPid = Number(readFileSync(`${lab.stateDir}/lab/pods/reviews/app.pid`, 'utf8'));
  process.kill(appPid, 'SIGKILL');
  for (let i = 0; i < 50 && isRunning(appPid); i++) await new Promise((r) => setTimeout(r, 20));
  const r = lab.curl('client', `http://${reviews.ip}:9080/reviews/9`);
  assert.equal(r.code, 503);
  assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  const rec = await lastLogLine('reviews', (l) => l.path === '/reviews/9');
  assert.equal(rec.flags, 'UF');
  assert.equal(rec.details, 'upstream_reset_before_response_started{connection_failure}');
  assert.equal(rec.upstreamFailure, '-', 'no TLS on the hop to the app');
  assert.ok(Number(rec.duration) < 500, `failed fast (${rec.duration} ms), no retries`);
  assert.notEqual(lab.run(['status']).status, 0, 'status reports the dead app');
  const up = lab.run(['up']);
  assert.equal(up.status, 0, up.stderr);
  assert.equal(lab.curl('client', `http://${reviews.ip}:9080/reviews/9`).code, 200);
});

test('latency and rate of real requests through the sidecar (fixed rate, no errors)', { skip }, () => {
  const r = lab.run(['load', '--target', 'productpage', '--path', '/', '--rate', '200', '--duration', '2']);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { requests: number; errors: number; statuses: Record<string, number>; rps: number; latencyMs: { p50: number; p99: number } };
  assert.equal(res.errors, 0);
  assert.ok(res.requests >= 350, `sent ${res.requests} of 400`);
  assert.equal(res.statuses['200'], res.requests);
  assert.ok(res.latencyMs.p50 > 0 && res.latencyMs.p99 >= res.latencyMs.p50);
  assert.ok(res.latencyMs.p99 < 500, `p99 ${res.latencyMs.p99} ms`);
});

test('STRICT (MIGRATE_LAB_MTLS): plaintext callers are refused and logged like Envoy, sidecars still talk mTLS', { skip, timeout: 120_000 }, () => {
  const strict = new Lab('mlabs');
  strict.env.MIGRATE_LAB_MTLS = 'STRICT';
  try {
    const up = strict.run(['up']);
    assert.equal(up.status, 0, up.stderr);
    const reviews = strict.pod('reviews');
    const plain = strict.curl('client', `http://${reviews.ip}:9080/reviews/1`);
    assert.equal(plain.code, 0, 'the plaintext connection is closed without an HTTP answer');
    assert.equal(strict.curl('productpage', `http://${reviews.ip}:9080/reviews/1`).code, 200, 'mTLS from a sidecar pod');
    const lines = readFileSync(reviews.sidecar!.accessLog, 'utf8').split('\n').filter(Boolean).map((l) => ENVOY_TEXT.exec(l)?.groups);
    assert.ok(lines.every(Boolean), 'every line is Envoy TEXT');
    const refused = lines.find((l) => l!.flags === 'NR')!;
    assert.equal(refused.details, 'filter_chain_not_found');
    assert.equal(refused.downstreamLocal, `${reviews.ip}:9080`);
    assert.match(refused.downstreamRemote ?? '', new RegExp(`^${strict.pod('client').ip.replace(/\./g, '\\.')}:\\d+$`));
    const snap = JSON.parse(readFileSync(join(strict.file().snapshot, 'lab.json'), 'utf8')) as { items: { kind: string; spec?: { mtls?: { mode: string } } }[] };
    assert.equal(snap.items.find((i) => i.kind === 'PeerAuthentication')?.spec?.mtls?.mode, 'STRICT');
  } finally {
    strict.run(['down']);
    rmSync(strict.stateDir, { recursive: true, force: true });
  }
  assert.deepEqual(strict.leftovers(), []);
});

test('lab down removes every netns, veth, cgroup, process and the state; a second down is fine', { skip }, () => {
  const f = lab.file();
  const pids = f.pods.flatMap((p) => ['app', ...(p.sidecar ? ['sidecar'] : [])]
    .map((k) => Number(readFileSync(`${lab.stateDir}/lab/pods/${p.name}/${k}.pid`, 'utf8'))));
  const r = lab.run(['down']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lab.leftovers(), []);
  // A killed process may stay a zombie until init reaps it: it holds no socket, netns or cgroup any more.
  for (const pid of pids) assert.ok(!isRunning(pid), `process ${pid} is gone`);
  assert.equal(lab.run(['down']).status, 0);
  assert.notEqual(lab.run(['status']).status, 0, 'status says down');
});

test('the CLI drives the same lab: migrate lab up|status|load|down --json', { skip, timeout: 120_000 }, () => {
  const cli = (args: string[]) => {
    const r = spawnSync(join(REPO_ROOT, 'bin', 'migrate'), ['lab', ...args, '--json'], { env: lab.env, encoding: 'utf8', timeout: 90_000 });
    return { status: r.status, json: JSON.parse(r.stdout || 'null') as Record<string, unknown>, stderr: r.stderr };
  };
  const up = cli(['up']);
  assert.equal(up.status, 0, up.stderr);
  assert.equal(up.json.up, true);
  assert.equal((up.json.lab as { pods: unknown[] }).pods.length, 5);
  const st = cli(['status']);
  assert.equal(st.status, 0, st.stderr);
  assert.equal((st.json.pods as Array<{ sidecar: boolean | null }>).filter((p) => p.sidecar === true).length, 4);
  // details admits the principals of productpage and sleep. The client pod runs as sleep but has no sidecar:
  // its plaintext requests carry no certificate, so no principal, and Istio (PERMISSIVE) denies them.
  const load = cli(['load', '--target', 'details', '--path', '/details/1', '--rate', '100', '--duration', '1']);
  assert.equal(load.status, 0, load.stderr);
  assert.deepEqual(load.json.statuses, { 403: load.json.requests });
  // From productpage the same requests leave through its sidecar over mTLS and are allowed.
  const mesh = cli(['load', '--from', 'productpage', '--target', 'details', '--path', '/details/1', '--rate', '100', '--duration', '1']);
  assert.equal(mesh.status, 0, mesh.stderr);
  assert.deepEqual(mesh.json.statuses, { 200: mesh.json.requests });
  const bad = cli(['load', '--target', 'nope', '--duration', '1']);
  assert.equal(bad.status, 2);
  assert.equal((bad.json.error as { code: string }).code, 'MIGRATE_LAB_NO_POD');
  const down = cli(['down']);
  assert.equal(down.status, 0, down.stderr);
  assert.deepEqual(lab.leftovers(), []);
  const after = cli(['status']);
  assert.equal(after.json.up, false);
});

test('labgen renders every supported policy field to a config HAProxy accepts, and rejects the rest by name', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'labgen-'));
  try {
    const topo = JSON.parse(readFileSync(join(REPO_ROOT, 'lab', 'topology.json'), 'utf8')) as { policies: unknown[] };
    topo.policies.push({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'wide', namespace: 'bookinfo' },
      spec: { selector: { matchLabels: { app: 'productpage' } }, action: 'ALLOW', rules: [
        { from: [{ source: { ipBlocks: ['10.233.0.0/28'] } }, { source: { namespaces: ['bookinfo'], principals: ['*/sa/sleep'] } }],
          to: [{ operation: { paths: ['/exact', '/pre*', '*.png', '*'], ports: ['9080'], methods: ['GET', 'POST'] } }, { operation: { methods: ['HEAD'] } }] },
        {} ] } });
    writeFileSync(join(dir, 'topo.json'), JSON.stringify(topo));
    const gen = spawnSync('python3', [join(REPO_ROOT, 'lab', 'labgen.py'), join(dir, 'topo.json'), join(dir, 'state'), '/sys/fs/cgroup/x', 'mlabg'], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const cfg = join(dir, 'state', 'pods', 'productpage', 'haproxy.cfg');
    const text = readFileSync(cfg, 'utf8');
    // lab.sh issues the certificates the config names; haproxy -c loads them, so give it a stand-in pair.
    const certs = join(dir, 'state', 'certs');
    mkdirSync(certs, { recursive: true });
    const ca = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=t', '-keyout', join(certs, 'k'), '-out', join(certs, 'ca.pem')], { encoding: 'utf8' });
    assert.equal(ca.status, 0, ca.stderr);
    writeFileSync(join(certs, 'productpage.pem'), readFileSync(join(certs, 'ca.pem'), 'utf8') + readFileSync(join(certs, 'k'), 'utf8'));
    assert.match(text, new RegExp(`bind abns@inbound-mtls accept-proxy ssl crt ${certs}/productpage.pem ca-file ${certs}/ca.pem verify required`));
    // Principals and namespaces match the peer certificate's identity, ipBlocks the source address.
    assert.match(text, /acl p3r0f0_ip src 10\.233\.0\.0\/28\n/);
    assert.match(text, /acl p3r0f1_pr var\(txn\.peer\) -m end \/sa\/sleep\n/);
    assert.match(text, /acl p3r0f1_ns var\(txn\.peer\) -m reg \^\[\^\/\]\+\/ns\/bookinfo\/sa\/\[\^\/\]\+\$\n/);
    assert.match(text, /set-var\(txn\.allowed\) bool\(1\) if p3r0f0_ip p3r0t0_m p3r0t0_p p3r0t0_port \|\| p3r0f0_ip p3r0t1_m \|\| p3r0f1_pr p3r0f1_ns p3r0t0_m p3r0t0_p p3r0t0_port \|\| p3r0f1_pr p3r0f1_ns p3r0t1_m\n/);
    assert.match(text, /acl p3r0t0_p path_end \.png/);
    const check = spawnSync('haproxy', ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    topo.policies.push({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'neg', namespace: 'bookinfo' },
      spec: { action: 'DENY', rules: [{ to: [{ operation: { notPaths: ['/x'] } }] }] } });
    writeFileSync(join(dir, 'topo.json'), JSON.stringify(topo));
    const bad = spawnSync('python3', [join(REPO_ROOT, 'lab', 'labgen.py'), join(dir, 'topo.json'), join(dir, 'state'), '/sys/fs/cgroup/x', 'mlabg'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /operation fields not supported by the lab: \['notPaths'\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
