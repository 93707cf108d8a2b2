// IPv4/IPv6 parsing and CIDR containment, precompiled: both evaluators match millions of requests per second,
// so an IP string is parsed once and cached.

export interface Cidr {
  v6: boolean;
  base: bigint;
  bits: number;
  text: string;
  /** IPv4 fast path: base and mask as unsigned 32-bit numbers (BigInt is slow on the hot path). */
  base4: number;
  mask4: number;
}

export interface Ip { v6: boolean; n: bigint; n4: number }

const cache = new Map<string, Ip | null>();

function parseV4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseV6(s: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  const dbl = s.indexOf('::');
  let head: string[]; let tail: string[];
  if (dbl >= 0) {
    head = s.slice(0, dbl) ? s.slice(0, dbl).split(':') : [];
    tail = s.slice(dbl + 2) ? s.slice(dbl + 2).split(':') : [];
  } else { head = s.split(':'); tail = []; }
  const push = (arr: string[], out: number[]): boolean => {
    for (const g of arr) {
      if (g.includes('.')) {
        const v4 = parseV4(g);
        if (v4 === null) return false;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
        out.push(parseInt(g, 16));
      }
    }
    return true;
  };
  const h: number[] = []; const t: number[] = [];
  if (!push(head, h) || !push(tail, t)) return null;
  const missing = 8 - h.length - t.length;
  if (dbl < 0 ? missing !== 0 : missing < 1) return null;
  const all = [...h, ...new Array<number>(dbl < 0 ? 0 : missing).fill(0), ...t];
  let n = 0n;
  for (const g of all) n = (n << 16n) | BigInt(g);
  return n;
}

export function parseIp(s: string): Ip | null {
  let r = cache.get(s);
  if (r !== undefined) return r;
  const v4 = parseV4(s);
  r = v4 !== null ? { v6: false, n: v4, n4: Number(v4) } : (() => { const v6 = parseV6(s); return v6 === null ? null : { v6: true, n: v6, n4: 0 }; })();
  if (cache.size > 100_000) cache.clear();
  cache.set(s, r);
  return r;
}

/** `10.0.0.0/8`, `10.1.2.3` (host), `::1/128`. Returns null when malformed. Host bits are masked off. */
export function parseCidr(text: string): Cidr | null {
  const [addr, len, extra] = text.split('/');
  if (extra !== undefined || addr === undefined) return null;
  const ip = parseIp(addr);
  if (!ip) return null;
  const max = ip.v6 ? 128 : 32;
  const bits = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : -1;
  if (bits < 0 || bits > max) return null;
  const shift = BigInt(max - bits);
  const base = (ip.n >> shift) << shift;
  const mask4 = ip.v6 ? 0 : bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { v6: ip.v6, base, bits, text, base4: ip.v6 ? 0 : Number(base), mask4 };
}

export function cidrContains(c: Cidr, ip: { v6: boolean; n: bigint; n4?: number } | null): boolean {
  if (!ip || ip.v6 !== c.v6) return false;
  if (!c.v6) return ((((ip.n4 ?? Number(ip.n)) & c.mask4) >>> 0) === c.base4);
  const shift = BigInt(128 - c.bits);
  return (ip.n >> shift) << shift === c.base;
}

export function formatIp(v6: boolean, n: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return g.join(':');
}

/** First and last address of a CIDR, and the neighbours just outside it (for boundary requests). */
export function cidrEdges(c: Cidr): { first: string; last: string; below?: string; above?: string } {
  const max = c.v6 ? 128 : 32;
  const size = 1n << BigInt(max - c.bits);
  const top = (1n << BigInt(max)) - 1n;
  const last = c.base + size - 1n;
  return {
    first: formatIp(c.v6, c.base),
    last: formatIp(c.v6, last),
    ...(c.base > 0n ? { below: formatIp(c.v6, c.base - 1n) } : {}),
    ...(last < top ? { above: formatIp(c.v6, last + 1n) } : {}),
  };
}

/** Private, CGNAT and ULA ranges: where pod IPs live. A CIDR overlapping them may name pods. */
const POD_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'].map((s) => parseCidr(s)!);

export function overlapsPodRanges(c: Cidr): boolean {
  return POD_RANGES.some((p) => p.v6 === c.v6 && (cidrContains(p, { v6: c.v6, n: c.base }) || cidrContains(c, { v6: p.v6, n: p.base })));
}
