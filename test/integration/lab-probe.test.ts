// Part 8 of issue 5 in the lab: the shadow probe's loader killed with SIGKILL under load leaves traffic
// unaffected (the probe only observes), and `shadow-probe --cleanup` then leaves nothing attached to the lab's
// interfaces and cgroups. Real kernel, real sidecars; a private lab instance.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cluster.js';
import { Lab, LAB_SH, labSkipReason } from '../support/lab.js';

const PROBE = join(REPO_ROOT, 'shadow-probe', 'build', 'shadow-probe');
const PROBE_CONFIG_PY = join(REPO_ROOT, 'shadow-probe', 'tests', 'lab', 'lab-config.py');

function skipReason(): string | undefined {
  const lab = labSkipReason();
  if (lab) return lab;
  if (!existsSync(PROBE)) return `shadow-probe is not built (${PROBE}): run 'make probe-build'`;
  const check = spawnSync(PROBE, ['--check'], { encoding: 'utf8', timeout: 30_000 });
  if (check.status !== 0) return `eBPF unavailable: shadow-probe --check: ${(check.stderr || check.stdout).trim().split('\n').pop()}`;
  return undefined;
}

const skip = skipReason();
const lab = new Lab('mlabk');
const probeState = mkdtempSync(join(tmpdir(), `${lab.prefix}-probe-`));

after(() => {
  if (!skip) {
    spawnSync(PROBE, ['--cleanup', '--force', '--state-dir', probeState], { timeout: 30_000 });
    lab.run(['down']);
  }
  rmSync(probeState, { recursive: true, force: true });
  rmSync(lab.stateDir, { recursive: true, force: true });
});

/** BPF programs attached to the lab: legacy tc filters on each pod's eth0, and each pod cgroup's programs.
 * (tcx links are not listed: bpftool 7.1 cannot tie a tcx link to an interface. They are owned by the loader's
 * file descriptors, so the kernel releases them when it dies unless they were pinned.) */
function attachments(): string[] {
  const out: string[] = [];
  for (const p of lab.file().pods) {
    for (const dir of ['ingress', 'egress']) {
      const tc = lab.inPod(p.name, ['tc', 'filter', 'show', 'dev', p.ifname, dir]);
      if (tc.stdout.trim()) out.push(`${p.name} tc ${dir}: ${tc.stdout.trim()}`);
    }
    const cg = spawnSync('bpftool', ['-j', 'cgroup', 'show', p.cgroup], { encoding: 'utf8' });
    const progs = JSON.parse(cg.stdout.trim() || '[]') as unknown[];
    if (progs.length) out.push(`${p.name} cgroup: ${JSON.stringify(progs)}`);
  }
  return out;
}

for (const mode of ['tcx', 'tc-legacy'] as const) test(`SIGKILL of the probe loader (${mode}) under load: no request fails, and --cleanup leaves nothing attached`, { skip, timeout: 120_000 }, async (t) => {
  const up = lab.run(['up']);
  assert.equal(up.status, 0, up.stderr);
  assert.deepEqual(attachments(), [], 'nothing attached before the probe');

  const podsFile = join(lab.stateDir, 'lab', 'pods.json');
  let config = podsFile;
  if (existsSync(PROBE_CONFIG_PY)) {
    config = join(probeState, 'config.json');
    const gen = spawnSync('python3', [PROBE_CONFIG_PY, podsFile], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    writeFileSync(config, gen.stdout);
  }
  const probe = spawn(PROBE, ['--config', config, '--state-dir', probeState, ...(mode === 'tc-legacy' ? ['--tc-legacy'] : [])],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  // a failed assertion before the planned SIGKILL must not leave the loader running (the run would never end)
  t.after(() => { if (probe.exitCode === null && probe.signalCode === null) probe.kill('SIGKILL'); });
  let probeErr = '';
  probe.stderr.setEncoding('utf8').on('data', (c: string) => { probeErr += c; });
  for (let i = 0; i < 300 && !/running:/.test(probeErr); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(probeErr, /running:/, `the probe did not start:\n${probeErr}`);
  assert.notDeepEqual(attachments(), [], 'the probe attached to the lab');
  // The app leg's program only where there is an app leg: sidecar pods get it, the sidecar-less client only sock_ops.
  for (const p of lab.file().pods) {
    const cg = spawnSync('bpftool', ['-j', 'cgroup', 'show', p.cgroup], { encoding: 'utf8' });
    const types = (JSON.parse(cg.stdout.trim() || '[]') as { attach_type: string }[]).map((x) => x.attach_type).sort();
    assert.deepEqual(types, p.sidecar ? ['cgroup_inet_egress', 'cgroup_sock_ops'] : ['cgroup_sock_ops'], `${p.name}'s cgroup programs`);
  }
  assert.match(probeErr, /attached pod client \(tc .*, cgroup \S+ without cgroup_skb: no sidecar\)/);

  // 300 req/s for 4 s through reviews' sidecar; the loader dies 1.5 s in.
  const load = spawn(LAB_SH, ['load', '--target', 'reviews', '--rate', '300', '--duration', '4'], { env: lab.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let loadOut = '';
  let loadErr = '';
  load.stdout.setEncoding('utf8').on('data', (c: string) => { loadOut += c; });
  load.stderr.setEncoding('utf8').on('data', (c: string) => { loadErr += c; });
  await new Promise((r) => setTimeout(r, 1500));
  probe.kill('SIGKILL');
  const killed = await new Promise<NodeJS.Signals | null>((r) => probe.on('exit', (_c, s) => r(s)));
  assert.equal(killed, 'SIGKILL');
  const code = await new Promise<number | null>((r) => load.on('close', r));
  assert.equal(code, 0, loadErr);
  const res = JSON.parse(loadOut) as { requests: number; errors: number; statuses: Record<string, number>; latencyMs: { p99: number } };
  assert.equal(res.errors, 0, `requests failed: ${loadOut}`);
  assert.ok(res.requests >= 1100, `only ${res.requests} of 1200 requests completed`);
  assert.equal(res.statuses['200'], res.requests);

  // Traffic still flows after the kill, whatever the dead loader left attached.
  assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080/after-kill`).code, 200);
  if (mode === 'tc-legacy') {
    // Netlink tc filters outlive their loader: this is what --cleanup is for.
    assert.ok(attachments().some((a) => / tc /.test(a)), 'legacy tc filters survive the SIGKILL');
  }
  const clean = spawnSync(PROBE, ['--cleanup', '--state-dir', probeState], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(clean.status, 0, clean.stderr);
  assert.deepEqual(attachments(), [], 'nothing attached after --cleanup');
  assert.equal(lab.curl('client', `http://${lab.pod('reviews').ip}:9080/after-cleanup`).code, 200);

  const down = lab.run(['down']);
  assert.equal(down.status, 0, down.stderr);
  assert.deepEqual(lab.leftovers(), []);
});
