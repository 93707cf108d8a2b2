// The probe config lab-config.py derives from a lab's pods.json, for the twin lab of the concurrent overhead
// benchmark (bench/lab-twin-topology.json): both arms must see the same policy, or the on/off ratio would
// compare two policies instead of watched against unwatched. Runs the real script on pods built from the
// real topology files (no lab needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cluster.js';

interface Rule { pod: string; identity?: number; port: number; ruleId: number; method?: string; pathPrefix?: string; pathRegex?: string }
interface Cfg { pods: { name: string; identity: number }[]; policy: Rule[]; l7: Rule[] }

function configFor(topologyFile: string): Cfg {
  const topo = JSON.parse(readFileSync(join(REPO_ROOT, topologyFile), 'utf8')) as { pods: Record<string, unknown>[] };
  // what lab.sh writes per pod, with made-up host paths (the script only copies them)
  const pods = topo.pods.map((p) => ({ ...p, netns: `/run/netns/x-${String(p.name)}`, ifname: 'eth0', cgroup: `/sys/fs/cgroup/x/${String(p.name)}`,
    sidecar: p.sidecar ? {} : null }));
  const dir = mkdtempSync(join(tmpdir(), 'lab-config-'));
  writeFileSync(join(dir, 'pods.json'), JSON.stringify({ pods }));
  const r = spawnSync('python3', [join(REPO_ROOT, 'shadow-probe', 'tests', 'lab', 'lab-config.py'), join(dir, 'pods.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Cfg;
}

test('twin lab: reviews-b gets the L7 rules of reviews and its own client twin as caller, like arm A', () => {
  const c = configFor('bench/lab-twin-topology.json');
  const id = (n: string): number => c.pods.find((p) => p.name === n)!.identity;
  const shape = (r: Rule): string => JSON.stringify([r.port, r.method, r.pathPrefix, r.pathRegex]);
  const l7 = (pod: string): Rule[] => c.l7.filter((r) => r.pod === pod);
  assert.equal(l7('reviews').length, 2);
  assert.deepEqual(l7('reviews-b').map(shape), l7('reviews').map(shape));
  const ids = c.l7.map((r) => r.ruleId);
  assert.equal(new Set(ids).size, ids.length, `rule ids repeat: ${ids.join(',')}`);
  const callers = (pod: string): number[] => c.policy.filter((r) => r.pod === pod).map((r) => r.identity!);
  assert.ok(callers('reviews').includes(id('client')), 'arm A: client may call reviews');
  assert.ok(callers('reviews-b').includes(id('client-b')), 'arm B: client-b may call reviews-b');
  assert.ok(!callers('reviews-b').includes(id('client')), 'the twin has its own client, not arm A\'s');
});

test('twin lab, meshed arms: productpage-b calls reviews-b as productpage calls reviews, and not across the arms', () => {
  const c = configFor('bench/lab-twin-topology.json');
  const id = (n: string): number => c.pods.find((p) => p.name === n)!.identity;
  const callers = (pod: string): number[] => c.policy.filter((r) => r.pod === pod).map((r) => r.identity!);
  assert.ok(callers('reviews').includes(id('productpage')), 'arm A: productpage may call reviews');
  assert.ok(callers('reviews-b').includes(id('productpage-b')), 'arm B: productpage-b may call reviews-b');
  assert.ok(!callers('reviews-b').includes(id('productpage')) && !callers('reviews').includes(id('productpage-b')),
    'each productpage calls its own arm\'s reviews');
  assert.ok(callers('productpage-b').includes(id('client-b')) && !callers('productpage-b').includes(id('client')),
    'arm B\'s client calls arm B\'s productpage');
  // the same number of rules guard each arm's pods, so both arms carry the same policy work
  for (const [a, b] of [['client', 'client-b'], ['productpage', 'productpage-b'], ['reviews', 'reviews-b']] as const) {
    assert.equal(callers(b).length, callers(a).length, `${b} has as many ingress rules as ${a}`);
  }
});

test('default lab: no twin rules, and the reviews rule ids are the ones the lab tests read', () => {
  const c = configFor('lab/topology.json');
  assert.deepEqual(c.l7.map((r) => [r.pod, r.ruleId]), [['reviews', 201], ['reviews', 202]]);
  assert.ok(!c.pods.some((p) => p.name.endsWith('-b')));
});
