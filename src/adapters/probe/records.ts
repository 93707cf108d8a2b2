// Decoder for shadow-probe's raw output (`--format raw`): a stream of [u32 little-endian length][record], each
// record one of the fixed-size structs of shadow-probe/src/shadow.h. LAYOUT mirrors that header field by field;
// test/unit/probe-abi.test.ts compiles a C program that prints the real offsets and compares them with it.

export const ABI_VERSION = 4;
export const PATH_MAX = 128;
export const LAT_BUCKETS = 20;
export const STATUS_CLASSES = 6;
export const COUNTERS = 16;

/** Upper bounds of the latency buckets (ns); the last bucket is +Inf. Same numbers as SHADOW_LAT_BOUNDS_NS. */
export const LATENCY_BOUNDS_NS: readonly number[] = [
  25e3, 50e3, 100e3, 250e3, 500e3, 1e6, 5e6, 10e6, 25e6, 50e6, 100e6, 250e6, 500e6, 1e9, 2.5e9, 5e9, 10e9, 30e9,
  60e9,
];

export const REC = { flow: 1, http: 2, conn: 3, edge: 4, metrics: 5 } as const;

/** [offset, size] of every field, by C struct and field name. */
export type StructLayout = { size: number; fields: Record<string, readonly [number, number]> };

export const LAYOUT: Record<string, StructLayout> = {
  shadow_rec_hdr: { size: 16, fields: { type: [0, 2], size: [2, 2], cpu: [4, 4], ts_ns: [8, 8] } },
  shadow_flow_rec: {
    size: 48,
    fields: {
      hdr: [0, 16], saddr: [16, 4], daddr: [20, 4], sport: [24, 2], dport: [26, 2], proto: [28, 1], dir: [29, 1],
      verdict: [30, 1], where: [31, 1], rule_id: [32, 4], remote_id: [36, 4], ifindex: [40, 4], ep: [44, 2],
      flags: [46, 1], _pad0: [47, 1],
    },
  },
  shadow_http_rec: {
    size: 192,
    fields: {
      hdr: [0, 16], client_addr: [16, 4], server_addr: [20, 4], client_port: [24, 2], server_port: [26, 2],
      ep: [28, 2], leg: [30, 1], method: [31, 1], status: [32, 2], path_len: [34, 2], verdict: [36, 1],
      where: [37, 1], dir: [38, 1], flags: [39, 1], rule_id: [40, 4], remote_id: [44, 4], latency_ns: [48, 8],
      cgroup_id: [56, 8], path: [64, PATH_MAX],
    },
  },
  shadow_conn_rec: {
    size: 64,
    fields: {
      hdr: [0, 16], saddr: [16, 4], daddr: [20, 4], sport: [24, 2], dport: [26, 2], event: [28, 1], state: [29, 1],
      ep: [30, 2], srtt_us: [32, 4], total_retrans: [36, 4], bytes_acked: [40, 8], bytes_received: [48, 8],
      duration_ns: [56, 8],
    },
  },
  shadow_edge_key: {
    size: 12,
    fields: { remote_id: [0, 4], ep: [4, 2], port: [6, 2], dir: [8, 1], leg: [9, 1], proto: [10, 1], _pad0: [11, 1] },
  },
  shadow_edge_val: {
    size: 328,
    fields: {
      requests: [0, 8], lat_sum_ns: [8, 8], status: [16, 8 * STATUS_CLASSES], verdicts_l7: [64, 32],
      lat_bucket: [96, 8 * LAT_BUCKETS], flows: [256, 8], verdicts_l4: [264, 32], bytes_sent: [296, 8],
      bytes_received: [304, 8], conns_closed: [312, 8], retrans: [320, 8],
    },
  },
  shadow_edge_rec: { size: 360, fields: { hdr: [0, 16], key: [16, 12], _pad0: [28, 4], val: [32, 328] } },
  shadow_metrics_rec: {
    size: 184,
    fields: {
      hdr: [0, 16], counters: [16, 8 * COUNTERS], ct_entries: [144, 8], ct_gc_deleted: [152, 8],
      user_l7_evaluated: [160, 8], records_out: [168, 8], records_dropped: [176, 8],
    },
  },
};

export const VERDICTS = ['none', 'allow', 'deny', 'audit'] as const;
export type Verdict = (typeof VERDICTS)[number];
export type Where = 'none' | 'kernel' | 'user';
export type Direction = 'ingress' | 'egress';
export type Leg = 'wire' | 'app';
const WHERE: Where[] = ['none', 'kernel', 'user'];
const METHODS = ['', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];
const FLAG_NAMES = ['reply', 'midstream', 'tls', 'truncated', 'nopolicy', 'closing', 'sidecar', 'peer'];
export const COUNTER_NAMES = [
  'packets', 'flows_new', 'ringbuf_full', 'ratelimited', 'ct_full', 'ct_created', 'parse_fail', 'http_requests',
  'http_responses', 'http_unmatched', 'inflight_evicted', 'tls', 'sampled_out', 'non_ipv4', 'no_endpoint',
  'conn_closed',
] as const;

export interface FlowRecord {
  type: 'flow'; tsNs: bigint; cpu: number; src: string; sport: number; dst: string; dport: number; proto: number;
  dir: Direction; verdict: Verdict; where: Where; ruleId: number; remoteIdentity: number; ifindex: number;
  ep: number; flags: string[];
}
export interface HttpRecord {
  type: 'http'; tsNs: bigint; cpu: number; client: string; clientPort: number; server: string; serverPort: number;
  ep: number; leg: Leg; method: string; status: number; path: string; verdict: Verdict; where: Where; dir: Direction;
  flags: string[]; ruleId: number; remoteIdentity: number; latencyNs: bigint; cgroupId: bigint;
}
export interface ConnRecord {
  type: 'conn'; tsNs: bigint; cpu: number; local: string; localPort: number; remote: string; remotePort: number;
  event: 'active' | 'passive' | 'close'; state: number; ep: number; srttUs: number; retrans: number;
  bytesAcked: bigint; bytesReceived: bigint; durationNs: bigint;
}
export interface EdgeRecord {
  type: 'edge'; tsNs: bigint; remoteIdentity: number; ep: number; port: number; dir: Direction; leg: Leg;
  proto: number; flows: number; requests: number;
  /** flows by L4 verdict, requests by L7 verdict */
  flowVerdicts: Record<Verdict, number>; l7Verdicts: Record<Verdict, number>; status: number[];
  bytesSent: number; bytesReceived: number; connsClosed: number; retrans: number; latencySumNs: number;
  latencyBuckets: number[];
}
export interface MetricsRecord {
  type: 'metrics'; tsNs: bigint; counters: Record<(typeof COUNTER_NAMES)[number], number>; ctEntries: number;
  ctGcDeleted: number; userL7Evaluated: number; recordsOut: number;
  /** records the loader dropped because this reader fell behind (its stdout buffer, --out-buffer, was full) */
  recordsDropped: number;
}
export type ProbeRecord = FlowRecord | HttpRecord | ConnRecord | EdgeRecord | MetricsRecord;

export class ProbeDecodeError extends Error {}

function field(struct: string, name: string): readonly [number, number] {
  const f = LAYOUT[struct]?.fields[name];
  if (!f) throw new ProbeDecodeError(`no field ${struct}.${name} in the ABI table`);
  return f;
}

/** Reads fields of one struct at a base offset, by C field name. */
class View {
  constructor(private readonly dv: DataView, private readonly base: number, private readonly struct: string) {}
  private at(name: string): number { return this.base + field(this.struct, name)[0]; }
  u8(name: string): number { return this.dv.getUint8(this.at(name)); }
  u16(name: string): number { return this.dv.getUint16(this.at(name), true); }
  u32(name: string): number { return this.dv.getUint32(this.at(name), true); }
  u64(name: string): bigint { return this.dv.getBigUint64(this.at(name), true); }
  n64(name: string): number { return Number(this.u64(name)); }
  /** IPv4 address stored in network order */
  ip(name: string): string {
    const o = this.at(name);
    return `${this.dv.getUint8(o)}.${this.dv.getUint8(o + 1)}.${this.dv.getUint8(o + 2)}.${this.dv.getUint8(o + 3)}`;
  }
  u64s(name: string, count: number): number[] {
    const o = this.at(name);
    return Array.from({ length: count }, (_, i) => Number(this.dv.getBigUint64(o + 8 * i, true)));
  }
  sub(name: string, struct: string): View { return new View(this.dv, this.at(name), struct); }
  bytes(name: string, len: number): Uint8Array {
    return new Uint8Array(this.dv.buffer, this.dv.byteOffset + this.at(name), len);
  }
}

function flags(bits: number): string[] {
  return FLAG_NAMES.filter((_, i) => bits & (1 << i));
}

const dir = (v: number): Direction => (v ? 'egress' : 'ingress');
const leg = (v: number): Leg => (v ? 'app' : 'wire');
const verdict = (v: number): Verdict => VERDICTS[v] ?? 'none';
const where = (v: number): Where => WHERE[v] ?? 'none';

/** Decodes one record (without its length prefix). */
export function decodeRecord(dv: DataView, base = 0): ProbeRecord {
  if (dv.byteLength - base < LAYOUT.shadow_rec_hdr!.size) throw new ProbeDecodeError('record shorter than its header');
  const h = new View(dv, base, 'shadow_rec_hdr');
  const type = h.u16('type');
  const size = h.u16('size');
  const expect = { 1: 'shadow_flow_rec', 2: 'shadow_http_rec', 3: 'shadow_conn_rec', 4: 'shadow_edge_rec', 5: 'shadow_metrics_rec' }[type];
  if (!expect) throw new ProbeDecodeError(`unknown record type ${type}`);
  if (size !== LAYOUT[expect]!.size || dv.byteLength - base < size) {
    throw new ProbeDecodeError(`record type ${type}: size ${size}, the ABI says ${LAYOUT[expect]!.size}`);
  }
  const tsNs = h.u64('ts_ns');
  const cpu = h.u32('cpu');
  if (type === REC.flow) {
    const r = new View(dv, base, 'shadow_flow_rec');
    return {
      type: 'flow', tsNs, cpu, src: r.ip('saddr'), sport: r.u16('sport'), dst: r.ip('daddr'), dport: r.u16('dport'),
      proto: r.u8('proto'), dir: dir(r.u8('dir')), verdict: verdict(r.u8('verdict')), where: where(r.u8('where')),
      ruleId: r.u32('rule_id'), remoteIdentity: r.u32('remote_id'), ifindex: r.u32('ifindex'), ep: r.u16('ep'),
      flags: flags(r.u8('flags')),
    };
  }
  if (type === REC.http) {
    const r = new View(dv, base, 'shadow_http_rec');
    const len = Math.min(r.u16('path_len'), PATH_MAX);
    return {
      type: 'http', tsNs, cpu, client: r.ip('client_addr'), clientPort: r.u16('client_port'),
      server: r.ip('server_addr'), serverPort: r.u16('server_port'), ep: r.u16('ep'), leg: leg(r.u8('leg')),
      method: METHODS[r.u8('method')] ?? '', status: r.u16('status'),
      path: String.fromCharCode(...r.bytes('path', len)), verdict: verdict(r.u8('verdict')),
      where: where(r.u8('where')), dir: dir(r.u8('dir')), flags: flags(r.u8('flags')), ruleId: r.u32('rule_id'),
      remoteIdentity: r.u32('remote_id'), latencyNs: r.u64('latency_ns'), cgroupId: r.u64('cgroup_id'),
    };
  }
  if (type === REC.conn) {
    const r = new View(dv, base, 'shadow_conn_rec');
    const ev = r.u8('event');
    return {
      type: 'conn', tsNs, cpu, local: r.ip('saddr'), localPort: r.u16('sport'), remote: r.ip('daddr'),
      remotePort: r.u16('dport'), event: ev === 1 ? 'active' : ev === 2 ? 'passive' : 'close', state: r.u8('state'),
      ep: r.u16('ep'), srttUs: r.u32('srtt_us'), retrans: r.u32('total_retrans'), bytesAcked: r.u64('bytes_acked'),
      bytesReceived: r.u64('bytes_received'), durationNs: r.u64('duration_ns'),
    };
  }
  if (type === REC.edge) {
    const r = new View(dv, base, 'shadow_edge_rec');
    const k = r.sub('key', 'shadow_edge_key');
    const v = r.sub('val', 'shadow_edge_val');
    const v4 = v.u64s('verdicts_l4', 4);
    const v7 = v.u64s('verdicts_l7', 4);
    const byVerdict = (xs: number[]) => ({ none: xs[0] ?? 0, allow: xs[1] ?? 0, deny: xs[2] ?? 0, audit: xs[3] ?? 0 });
    return {
      type: 'edge', tsNs, remoteIdentity: k.u32('remote_id'), ep: k.u16('ep'), port: k.u16('port'),
      dir: dir(k.u8('dir')), leg: leg(k.u8('leg')), proto: k.u8('proto'), flows: v.n64('flows'),
      requests: v.n64('requests'),
      flowVerdicts: byVerdict(v4), l7Verdicts: byVerdict(v7),
      status: v.u64s('status', STATUS_CLASSES), bytesSent: v.n64('bytes_sent'), bytesReceived: v.n64('bytes_received'),
      connsClosed: v.n64('conns_closed'), retrans: v.n64('retrans'), latencySumNs: v.n64('lat_sum_ns'),
      latencyBuckets: v.u64s('lat_bucket', LAT_BUCKETS),
    };
  }
  const r = new View(dv, base, 'shadow_metrics_rec');
  const c = r.u64s('counters', COUNTERS);
  const counters = Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, c[i] ?? 0])) as MetricsRecord['counters'];
  return {
    type: 'metrics', tsNs, counters, ctEntries: r.n64('ct_entries'), ctGcDeleted: r.n64('ct_gc_deleted'),
    userL7Evaluated: r.n64('user_l7_evaluated'), recordsOut: r.n64('records_out'), recordsDropped: r.n64('records_dropped'),
  };
}

/**
 * Decodes as many length-prefixed records as the buffer holds; returns them and the bytes of an incomplete
 * tail, to be prepended to the next chunk of the stream.
 */
export function decodeStream(buf: Uint8Array): { records: ProbeRecord[]; rest: Uint8Array } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: ProbeRecord[] = [];
  let off = 0;
  while (buf.byteLength - off >= 4) {
    const len = dv.getUint32(off, true);
    if (len < 16 || len > 4096) throw new ProbeDecodeError(`implausible record length ${len} at byte ${off}`);
    if (buf.byteLength - off - 4 < len) break;
    records.push(decodeRecord(new DataView(buf.buffer, buf.byteOffset + off + 4, len)));
    off += 4 + len;
  }
  return { records, rest: buf.subarray(off) };
}

/** Upper bound (ns) of the bucket holding quantile q of an edge's latency histogram; Infinity in the last one. */
export function histogramQuantileNs(buckets: readonly number[], q: number): number {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (!total) return NaN;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] ?? 0;
    if (seen >= q * total) return LATENCY_BOUNDS_NS[i] ?? Infinity;
  }
  return Infinity;
}
