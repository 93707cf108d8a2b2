// The TypeScript decoder's layout table must match shadow.h as the C compiler lays it out: this test compiles
// shadow-probe/tests/abi_layout.c (sizeof/offsetof of every field, as JSON) and compares both ways. It also
// decodes records written field by field from the C offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  LAYOUT, LATENCY_BOUNDS_NS, PATH_MAX, LAT_BUCKETS, REC, ABI_VERSION, COUNTERS, STATUS_CLASSES,
  decodeRecord, decodeStream, histogramQuantileNs, type HttpRecord, type EdgeRecord,
} from '../../src/adapters/probe/records.js';

const repo = resolve(import.meta.dirname, '..', '..', '..');
const probeDir = join(repo, 'shadow-probe');

type CLayout = {
  structs: Record<string, { size: number; fields: Record<string, [number, number]> }>;
  constants: Record<string, number>;
  latencyBoundsNs: number[];
};

function compilerOrNull(): string | null {
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang']) {
    if (!cc) continue;
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      /* next */
    }
  }
  return null;
}

function cLayout(cc: string): CLayout {
  const dir = mkdtempSync(join(tmpdir(), 'probe-abi-'));
  try {
    const bin = join(dir, 'abi_layout');
    execFileSync(cc, ['-O0', `-I${join(probeDir, 'src')}`, join(probeDir, 'tests', 'abi_layout.c'), '-o', bin]);
    return JSON.parse(execFileSync(bin, { encoding: 'utf8' })) as CLayout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cc = compilerOrNull();
const c = cc ? cLayout(cc) : null;

test('every C struct, size, field offset and width matches the TypeScript table', (t) => {
  if (!c) return t.skip('no C compiler (cc/gcc/clang) to lay out shadow.h');
  assert.deepEqual(Object.keys(LAYOUT).sort(), Object.keys(c.structs).sort(), 'same set of structs');
  for (const [name, cs] of Object.entries(c.structs)) {
    const ts = LAYOUT[name]!;
    assert.equal(ts.size, cs.size, `sizeof(struct ${name})`);
    assert.deepEqual(Object.keys(ts.fields).sort(), Object.keys(cs.fields).sort(), `fields of ${name}`);
    for (const [f, [off, size]] of Object.entries(cs.fields)) {
      assert.deepEqual([...ts.fields[f]!], [off, size], `${name}.${f} [offset, size]`);
    }
    // no implicit holes: the fields tile the struct exactly
    const covered = Object.values(cs.fields).reduce((a, [, s]) => a + s, 0);
    assert.equal(covered, cs.size, `${name}: fields cover ${covered} of ${cs.size} bytes (implicit padding?)`);
  }
});

test('constants and latency bounds match shadow.h', (t) => {
  if (!c) return t.skip('no C compiler (cc/gcc/clang) to lay out shadow.h');
  assert.equal(c.constants.SHADOW_ABI_VERSION, ABI_VERSION);
  assert.equal(c.constants.SHADOW_PATH_MAX, PATH_MAX);
  assert.equal(c.constants.SHADOW_LAT_BUCKETS, LAT_BUCKETS);
  assert.equal(c.constants.SHADOW_STATUS_CLASSES, STATUS_CLASSES);
  assert.equal(c.constants.SHADOW_C__MAX, COUNTERS);
  assert.deepEqual(
    [c.constants.SHADOW_REC_FLOW, c.constants.SHADOW_REC_HTTP, c.constants.SHADOW_REC_CONN, c.constants.SHADOW_REC_EDGE, c.constants.SHADOW_REC_METRICS],
    [REC.flow, REC.http, REC.conn, REC.edge, REC.metrics],
  );
  assert.deepEqual(c.latencyBoundsNs, LATENCY_BOUNDS_NS);
});

/** Writes a record at the C offsets (not the TS ones), so a wrong TS table decodes garbage. */
function writer(struct: string, size: number) {
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  const fields = (c ?? { structs: LAYOUT as CLayout['structs'] }).structs[struct]!.fields;
  const at = (f: string, base = 0) => base + fields[f]![0];
  return {
    buf,
    u8: (f: string, v: number) => dv.setUint8(at(f), v),
    u16: (f: string, v: number) => dv.setUint16(at(f), v, true),
    u32: (f: string, v: number) => dv.setUint32(at(f), v, true),
    u64: (f: string, v: bigint) => dv.setBigUint64(at(f), v, true),
    ip: (f: string, s: string) => s.split('.').forEach((o, i) => dv.setUint8(at(f) + i, Number(o))),
    bytes: (f: string, b: Uint8Array) => buf.set(b, at(f)),
    hdr: (type: number) => {
      dv.setUint16(0, type, true);
      dv.setUint16(2, size, true);
      dv.setUint32(4, 1, true);
      dv.setBigUint64(8, 123456789n, true);
    },
  };
}

test('decodes an HTTP record written at the C offsets', () => {
  const w = writer('shadow_http_rec', 192);
  w.hdr(REC.http);
  w.ip('client_addr', '10.233.0.20');
  w.ip('server_addr', '10.233.0.13');
  w.u16('client_port', 40000);
  w.u16('server_port', 9080);
  w.u16('ep', 3);
  w.u8('leg', 1);
  w.u8('method', 1);
  w.u16('status', 503);
  w.u16('path_len', 8);
  w.u8('verdict', 2);
  w.u8('where', 2);
  w.u8('dir', 0);
  w.u8('flags', 0x08);
  w.u32('rule_id', 202);
  w.u32('remote_id', 1004);
  w.u64('latency_ns', 1_250_000n);
  w.u64('cgroup_id', 880n);
  w.bytes('path', new TextEncoder().encode('/admin/x'));
  const r = decodeRecord(new DataView(w.buf.buffer)) as HttpRecord;
  assert.deepEqual(
    { ...r },
    {
      type: 'http', tsNs: 123456789n, cpu: 1, client: '10.233.0.20', clientPort: 40000, server: '10.233.0.13',
      serverPort: 9080, ep: 3, leg: 'app', method: 'GET', status: 503, path: '/admin/x', verdict: 'deny',
      where: 'user', dir: 'ingress', flags: ['truncated'], ruleId: 202, remoteIdentity: 1004,
      latencyNs: 1_250_000n, cgroupId: 880n,
    },
  );
});

test('decodes a length-prefixed stream with an edge record and keeps an incomplete tail', () => {
  const w = writer('shadow_edge_rec', 360);
  w.hdr(REC.edge);
  const key = c ? c.structs.shadow_edge_rec!.fields.key![0] : 16;
  const val = c ? c.structs.shadow_edge_rec!.fields.val![0] : 32;
  const dv = new DataView(w.buf.buffer);
  const kf = (c ?? { structs: LAYOUT as CLayout['structs'] }).structs.shadow_edge_key!.fields;
  const vf = (c ?? { structs: LAYOUT as CLayout['structs'] }).structs.shadow_edge_val!.fields;
  dv.setUint32(key + kf.remote_id![0], 1004, true);
  dv.setUint16(key + kf.port![0], 9080, true);
  dv.setUint8(key + kf.leg![0], 0);
  dv.setBigUint64(val + vf.requests![0], 10n, true);
  dv.setBigUint64(val + vf.status![0] + 8 * 2, 9n, true); // 2xx
  dv.setBigUint64(val + vf.status![0] + 8 * 5, 1n, true); // 5xx
  dv.setBigUint64(val + vf.lat_bucket![0] + 8 * 4, 5n, true); // <= 500 us
  dv.setBigUint64(val + vf.lat_bucket![0] + 8 * 5, 5n, true); // <= 1 ms
  const framed = new Uint8Array(4 + 360 + 7);
  new DataView(framed.buffer).setUint32(0, 360, true);
  framed.set(w.buf, 4);
  new DataView(framed.buffer).setUint32(364, 48, true); // start of a next record, cut short
  const { records, rest } = decodeStream(framed);
  assert.equal(records.length, 1);
  assert.equal(rest.byteLength, 7);
  const e = records[0] as EdgeRecord;
  assert.equal(e.type, 'edge');
  assert.equal(e.remoteIdentity, 1004);
  assert.equal(e.port, 9080);
  assert.equal(e.requests, 10);
  new DataView(framed.buffer).setBigUint64(4 + val + vf.verdicts_l7![0] + 8 * 2, 4n, true);
  assert.equal((decodeStream(framed).records[0] as EdgeRecord).l7Verdicts.deny, 4);
  assert.deepEqual(e.status, [0, 0, 9, 0, 0, 1]);
  assert.equal(histogramQuantileNs(e.latencyBuckets, 0.5), 500e3);
  assert.equal(histogramQuantileNs(e.latencyBuckets, 0.99), 1e6);
});

test('rejects a record whose size disagrees with the ABI', () => {
  const w = writer('shadow_flow_rec', 48);
  w.hdr(REC.flow);
  new DataView(w.buf.buffer).setUint16(2, 44, true);
  assert.throws(() => decodeRecord(new DataView(w.buf.buffer)), /size 44, the ABI says 48/);
});
