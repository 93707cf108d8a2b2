// Snapshot mode: reading every format users bring, errors that name file and line, and `migrate snapshot`
// round trips through a FAKE API server (the real-apiserver round trip is an integration test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSnapshotFile } from '../../src/adapters/snapshot/parse.js';
import { SnapshotReader } from '../../src/adapters/snapshot/reader.js';
import { CORE_TYPES } from '../../src/core/model/resources.js';
import { startFakeApiServer } from '../support/fake-apiserver.js';
import { runCli } from '../support/cli.js';
import { inventoryOfSnapshot } from '../support/inventory.js';
import { packagePath } from '../../src/adapters/fs/package.js';
import type { KubeObject } from '../../src/core/model/k8s.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'migrate-snap-'));
const write = (dir: string, name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

function rejectsWith(fn: () => unknown, code: string, message: RegExp) {
  assert.throws(fn, (e: Error & { code?: string; next?: string }) => {
    assert.equal(e.code, code);
    assert.match(e.message, message);
    assert.ok(e.next, 'has a next step');
    return true;
  });
}

test('multi-document YAML, List kinds and typed lists all flatten to objects', () => {
  const d = tmp();
  const f = write(d, 'x.yaml', [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}',
    '---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s, namespace: a}',
    '--- # a comment after the marker\napiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p, namespace: a}',
    '---\n', '',
  ].join('\n'));
  const objs = [...parseSnapshotFile(f)];
  assert.deepEqual(objs.map((o) => `${o.apiVersion}/${o.kind}/${o.metadata.name}`), ['v1/Namespace/a', 'v1/Service/s', 'v1/Pod/p']);
});

test('malformed YAML names the file and the line', () => {
  const d = tmp();
  write(d, 'ok.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n');
  write(d, 'bad.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n   namespace: broken\n');
  rejectsWith(() => new SnapshotReader(d), 'MIGRATE_SNAPSHOT_MALFORMED', /^bad\.yaml:9: invalid YAML/);
});

test('malformed JSON names the file and the line', () => {
  const d = tmp();
  write(d, 'c.json', '{\n  "apiVersion": "v1",\n  "kind": "List",\n  "items": [\n    {"kind": "Pod",, }\n  ]\n}\n');
  rejectsWith(() => new SnapshotReader(d), 'MIGRATE_SNAPSHOT_MALFORMED', /^c\.json:5: invalid JSON/);
});

test('objects without kind, apiVersion or metadata.name are rejected with their line', () => {
  const d = tmp();
  const f = write(d, 'x.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: a}\n');
  rejectsWith(() => [...parseSnapshotFile(f)], 'MIGRATE_SNAPSHOT_MALFORMED', /x\.yaml:4: object of kind Pod has no metadata\.name/);
  const g = write(d, 'y.yaml', '- just\n- a list\n');
  rejectsWith(() => [...parseSnapshotFile(g)], 'MIGRATE_SNAPSHOT_MALFORMED', /y\.yaml:1: document is not a Kubernetes object/);
});

test('missing path and empty directory', () => {
  rejectsWith(() => new SnapshotReader('/nonexistent/snap'), 'MIGRATE_SNAPSHOT_NOT_FOUND', /does not exist/);
  const d = tmp();
  mkdirSync(join(d, 'sub'));
  write(d, 'README.txt', 'not a manifest');
  rejectsWith(() => new SnapshotReader(d), 'MIGRATE_SNAPSHOT_EMPTY', /no \.yaml, \.yml or \.json files/);
});

test('the CLI reports a malformed snapshot with exit code 2 and no report file', async () => {
  const d = tmp();
  write(d, 'bad.yaml', 'kind: [\n');
  const out = join(d, 'report.md');
  const r = await runCli(['inventory', '--snapshot', d, '--output', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error \[MIGRATE_SNAPSHOT_MALFORMED\] \(bad\.yaml:\d+\)/);
  assert.equal(existsSync(out), false);
});

test('migrate snapshot --out writes a snapshot whose inventory equals the source', async () => {
  const src = new SnapshotReader(packagePath('fixtures', 'online-shop', 'snapshot'));
  const objects: KubeObject[] = [];
  for (const t of [...Object.values(CORE_TYPES), ...(await src.discover(['security.istio.io', 'networking.istio.io', 'telemetry.istio.io', 'metrics.k8s.io'])).types]) {
    for await (const o of src.list(t)) objects.push(structuredClone(o));
  }
  const api = await startFakeApiServer(objects);
  try {
    const out = join(tmp(), 'snap');
    const r = await runCli(['snapshot', '--kubeconfig', api.kubeconfig, '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.counts.Pod, 21);
    assert.equal(result.counts.AuthorizationPolicy, 17);
    assert.ok(readdirSync(out).includes('pods.json'));
    const a = await inventoryOfSnapshot(out);
    const b = await inventoryOfSnapshot(packagePath('fixtures', 'online-shop', 'snapshot'));
    assert.deepEqual({ ...a, summary: { ...a.summary, source: '' } }, { ...b, summary: { ...b.summary, source: '' } });
    // A second run replaces its own snapshot; a foreign directory is refused.
    assert.equal((await runCli(['snapshot', '--kubeconfig', api.kubeconfig, '--out', out])).code, 0);
    const foreign = tmp();
    write(foreign, 'notes.txt', 'mine');
    const refused = await runCli(['snapshot', '--kubeconfig', api.kubeconfig, '--out', foreign]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /MIGRATE_OUTPUT_EXISTS/);
  } finally { await api.close(); }
});

test('a failed snapshot leaves no directory behind', async () => {
  const api = await startFakeApiServer([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }], { forbid: ['/api/v1/pods'] });
  try {
    const parent = tmp();
    const out = join(parent, 'snap');
    const r = await runCli(['snapshot', '--kubeconfig', api.kubeconfig, '--out', out]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /MIGRATE_RBAC_FORBIDDEN/);
    assert.deepEqual(readdirSync(parent), [], 'neither the output nor its temporary directory remain');
  } finally { await api.close(); }
});

test('line-per-item snapshot files (what migrate snapshot writes) are parsed lazily, with file and line on errors', async () => {
  const d = tmp();
  const header = '{"apiVersion":"v1","kind":"List","metadata":{},"items":[';
  write(d, 'pods.json', `${header}\n{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x"}},\n{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b","namespace":"y"}}\n]}\n`);
  const r = new SnapshotReader(d);
  const names: string[] = [];
  for await (const o of r.list(CORE_TYPES.pods, { namespace: 'y' })) names.push(o.metadata.name);
  assert.deepEqual(names, ['b']);
  write(d, 'pods.json', `${header}\n{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}},\n{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b",}}\n]}\n`);
  const broken = new SnapshotReader(d); // indexing does not parse
  await assert.rejects((async () => { for await (const _ of broken.list(CORE_TYPES.pods)) { /* drain */ } })(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'MIGRATE_SNAPSHOT_MALFORMED');
    assert.match(e.message, /^pods\.json:3: invalid JSON/);
    return true;
  });
});
