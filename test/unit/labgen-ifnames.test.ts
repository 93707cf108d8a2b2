// lab/labgen.py names each pod's host-side veth; Linux allows 15 characters. Runs the real script on the real
// twin topology (no lab, no root needed): before, "lab-productpage-b" was cut to "lab-productpage", the name of
// productpage's veth, so lab.sh found that one and productpage-b came up without an eth0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cluster.js';

function labgen(topo: unknown): { status: number | null; stderr: string; pods: { name: string; hostIfname: string }[] } {
  const dir = mkdtempSync(join(tmpdir(), 'labgen-if-'));
  try {
    writeFileSync(join(dir, 'topo.json'), JSON.stringify(topo));
    const r = spawnSync('python3', [join(REPO_ROOT, 'lab', 'labgen.py'), join(dir, 'topo.json'), join(dir, 'state'), '/sys/fs/cgroup/x', 'mlabt'],
      { encoding: 'utf8' });
    const pods = r.status === 0 ? (JSON.parse(readFileSync(join(dir, 'state', 'pods.json'), 'utf8')) as { pods: { name: string; hostIfname: string }[] }).pods : [];
    return { status: r.status, stderr: r.stderr, pods };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('labgen: every pod of the twin lab gets its own host interface name of at most 15 characters', () => {
  const topo = JSON.parse(readFileSync(join(REPO_ROOT, 'bench', 'lab-twin-topology.json'), 'utf8')) as unknown;
  const r = labgen(topo);
  assert.equal(r.status, 0, r.stderr);
  const names = r.pods.map((p) => p.hostIfname);
  assert.equal(new Set(names).size, names.length, `shared: ${names.join(', ')}`);
  for (const n of names) assert.ok(n.length <= 15, `${n} is longer than Linux's 15 characters`);
  // names that fit stay as they were (the lab tests and users' scripts read them)
  assert.equal(r.pods.find((p) => p.name === 'productpage')!.hostIfname, 'lab-productpage');
  assert.equal(r.pods.find((p) => p.name === 'reviews-b')!.hostIfname, 'lab-reviews-b');
});

test('labgen: two pods that would still share a host interface are refused by name', () => {
  const topo = JSON.parse(readFileSync(join(REPO_ROOT, 'bench', 'lab-twin-topology.json'), 'utf8')) as { pods: Record<string, unknown>[] };
  const first = labgen(topo).pods.find((p) => p.name === 'productpage-b')!.hostIfname; // a cut name plus a hash
  // a pod whose own name is exactly that cut name plus hash
  topo.pods.push({ ...topo.pods[0], name: first.slice('lab-'.length), ip: '10.233.0.40' });
  const r = labgen(topo);
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`pods '(productpage-b|${first.slice(4)})' and '(productpage-b|${first.slice(4)})' would share the host interface '${first}': rename one`));
});
