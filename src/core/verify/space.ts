// The request space of a verification, derived from the policies themselves (issue 4, part 4): every identity,
// namespace and CIDR class they mention plus "other", every port, method, path and host literal plus boundary
// cases (prefix and suffix edges, query strings, trailing slash, case), mTLS on and off, TCP and HTTP. Requests
// are decoded from an index (mixed radix), so a huge space is sampled evenly without being materialised.
import type { KubeObject } from '../model/k8s.js';
import type { AuthorizationPolicySpec, PeerAuthenticationSpec, Rule } from '../model/istio.js';
import { stringForm, principalNamespace } from '../istio/strings.js';
import type { Peer, Request, Workload } from './request.js';
import { cidrEdges, overlapsPodRanges, parseCidr } from './ip.js';

export interface SpaceInput {
  authorizationPolicies: KubeObject[];
  peerAuthentications: KubeObject[];
  destinations: Workload[];
  /** Ports the destinations listen on. */
  workloadPorts?: number[];
}

export interface RequestSpace {
  size: number;
  at(i: number): Request;
  dims: { sources: number; destinations: number; ports: number; l7: number };
}

interface L7 { protocol: 'TCP' | 'HTTP'; method?: string; path?: string; host?: string; headers?: Record<string, string> }

function collect(policies: KubeObject[]) {
  const idents = new Set<string>(); // "ns\u0000sa"
  const nss = new Set<string>();
  const cidrs = new Set<string>();
  const ports = new Set<number>();
  const methods = new Set<string>();
  const paths = new Set<string>();
  const hosts = new Set<string>();
  const headers = new Map<string, Set<string>>();
  const addIdent = (ns: string | undefined, sa: string | undefined) => { if (ns) nss.add(ns); if (ns || sa) idents.add(`${ns ?? ''}\u0000${sa ?? ''}`); };
  const principal = (v: string) => {
    const f = stringForm(v);
    const body = f.kind === 'presence' ? '' : f.value;
    const m = /ns\/([^/]*)(?:\/sa\/([^/]*))?/.exec(body);
    if (m) {
      const ns = m[1] || undefined; const sa = m[2] || undefined;
      addIdent(ns, sa);
      if (ns && f.kind === 'prefix' && !sa) addIdent(`${ns}x`, undefined); // prefix edge: longer namespace
      if (ns && f.kind === 'suffix') addIdent(`x${ns}`, sa);
    } else {
      const sa = /sa\/([^/]+)/.exec(body);
      if (sa) addIdent(undefined, sa[1]);
    }
    if (principalNamespace(body)) nss.add(principalNamespace(body));
  };
  const nsVal = (v: string) => { const f = stringForm(v); if (f.kind !== 'presence' && f.value) { nss.add(f.value); if (f.kind !== 'exact') nss.add(f.kind === 'prefix' ? `${f.value}x` : `x${f.value}`); } };
  const lit = (set: Set<string>, v: string, variants: (body: string, kind: string) => string[]) => { const f = stringForm(v); const body = f.kind === 'presence' ? '' : f.value; for (const x of variants(body, f.kind)) set.add(x); };
  for (const p of policies) {
    const spec = (p.spec ?? {}) as AuthorizationPolicySpec & PeerAuthenticationSpec;
    const pns = p.metadata.namespace ?? 'default';
    nss.add(pns);
    for (const k of Object.keys(spec.portLevelMtls ?? {})) if (/^\d+$/.test(k)) ports.add(Number(k));
    for (const r of (spec.rules ?? []) as Rule[]) {
      for (const f of r?.from ?? []) {
        const s = f.source ?? {};
        for (const v of [...(s.principals ?? []), ...(s.notPrincipals ?? [])]) principal(v);
        for (const v of [...(s.namespaces ?? []), ...(s.notNamespaces ?? [])]) nsVal(v);
        for (const v of [...(s.serviceAccounts ?? []), ...(s.notServiceAccounts ?? [])]) { const i = v.indexOf('/'); if (i < 0) addIdent(pns, v); else addIdent(v.slice(0, i), v.slice(i + 1)); }
        for (const v of [...(s.ipBlocks ?? []), ...(s.notIpBlocks ?? []), ...(s.remoteIpBlocks ?? []), ...(s.notRemoteIpBlocks ?? [])]) cidrs.add(v);
      }
      for (const t of r?.to ?? []) {
        const o = t.operation ?? {};
        for (const v of o.ports ?? []) if (/^\d+$/.test(v)) ports.add(Number(v));
        // Complement ranges of notPorts have edges on both sides of each value.
        for (const v of o.notPorts ?? []) if (/^\d+$/.test(v)) { const n = Number(v); ports.add(n); if (n > 1) ports.add(n - 1); if (n < 65535) ports.add(n + 1); }
        for (const v of [...(o.methods ?? []), ...(o.notMethods ?? [])]) lit(methods, v, (b, k) => k === 'exact' ? [b, b.toLowerCase()] : k === 'prefix' ? [b, `${b}X`, b.slice(0, -1)] : k === 'suffix' ? [`X${b}`, b.slice(1)] : []);
        for (const v of [...(o.paths ?? []), ...(o.notPaths ?? [])]) {
          const t2 = v.replace(/\{\*\*\}/g, 'a/b').replace(/\{\*\}/g, 'seg');
          lit(paths, t2, (b, k) => {
            const base = k === 'exact' ? [b, `${b}/`, `${b}?q=1`, b.toUpperCase(), b.endsWith('/') ? b.slice(0, -1) : `${b}x`]
              : k === 'prefix' ? [b, `${b}x`, `${b}x?q=1`, b.slice(0, -1), `${b.slice(0, -1)}?${b.slice(-1)}`]
              : k === 'suffix' ? [`/x${b}`, `/x${b}?q=1`, b.slice(1), `/x${b}/`, `/x?${b}`] : ['', '?q=1'];
            return base;
          });
        }
        for (const v of [...(o.hosts ?? []), ...(o.notHosts ?? [])]) lit(hosts, v, (b, k) => k === 'exact' ? [b, b.toLowerCase(), b.toUpperCase(), `${b}x`] : k === 'prefix' ? [`${b}x`, b.slice(0, -1)] : k === 'suffix' ? [`x${b}`, b.slice(1)] : []);
      }
      for (const w of r?.when ?? []) {
        const vals = [...(w.values ?? []), ...(w.notValues ?? [])];
        if (w.key === 'source.principal') vals.forEach(principal);
        else if (w.key === 'source.namespace') vals.forEach(nsVal);
        else if (w.key === 'source.ip' || w.key === 'remote.ip') vals.forEach((v) => cidrs.add(v));
        else if (w.key === 'destination.port') vals.forEach((v) => { if (/^\d+$/.test(v)) ports.add(Number(v)); });
        const h = /^request\.headers\[(.+)\]$/.exec(w.key);
        if (h) {
          const set = headers.get(h[1]!.toLowerCase()) ?? new Set<string>();
          for (const v of vals) { const f = stringForm(v); const b = f.kind === 'presence' ? 'v' : f.value; set.add(b); set.add(`${b}x`); }
          set.add('');
          headers.set(h[1]!.toLowerCase(), set);
        }
      }
    }
  }
  return { idents, nss, cidrs, ports, methods, paths, hosts, headers };
}

/** Deterministic pod IPs inside 10.244.0.0/16 (a typical pod CIDR). */
function podIp(i: number): string {
  return `10.244.${(i >> 8) & 255}.${(i & 255) + 1 > 254 ? 254 : (i & 255) + 1}`;
}

export function buildSpace(inp: SpaceInput): RequestSpace {
  const c = collect([...inp.authorizationPolicies, ...inp.peerAuthentications]);
  for (const d of inp.destinations) c.nss.add(d.namespace);
  // Sources: every (namespace, service account) named, each namespace's default SA, and an "other" identity;
  // with and without a sidecar (mTLS on / off under the auto-mTLS model).
  const idents = new Set(c.idents);
  for (const ns of c.nss) idents.add(`${ns}\u0000default`);
  idents.add('migrate-other\u0000other');
  const sources: Peer[] = [];
  let n = 0;
  // Pods whose IP lies inside a policy CIDR that overlaps pod ranges: so "ipBlocks names pods" is exercised.
  const podCidrIps = [...c.cidrs].map((x) => parseCidr(x)).filter((x) => x !== null && !x.v6 && overlapsPodRanges(x)).map((x) => cidrEdges(x!).first);
  for (const id of [...idents].sort()) {
    const [ns0, sa0] = id.split('\u0000');
    const ns = ns0 || 'migrate-other'; const sa = sa0 || 'default';
    const ip = podCidrIps.length && n < podCidrIps.length * 2 ? podCidrIps[(n >> 1) % podCidrIps.length]! : podIp(n);
    sources.push({ kind: 'pod', namespace: ns, serviceAccount: sa, labels: { app: `src-${sa}` }, ip, inMesh: true });
    sources.push({ kind: 'pod', namespace: ns, serviceAccount: sa, labels: { app: `src-${sa}` }, ip: podIp(n + 1), inMesh: false });
    n += 2;
  }
  const ext = new Set<string>(['203.0.113.7', '2001:db8::7']);
  for (const x of [...c.cidrs].sort()) {
    const p = parseCidr(x);
    if (!p) continue;
    const e = cidrEdges(p);
    [e.first, e.last, e.below, e.above].forEach((v) => { if (v) ext.add(v); });
  }
  for (const ip of [...ext].sort()) sources.push({ kind: 'external', ip });

  const ports = new Set<number>([...c.ports, ...(inp.workloadPorts ?? [])]);
  ports.add(ports.size ? Math.min(65535, Math.max(...ports) + 1000) : 8080);
  const portList = [...ports].filter((p) => p >= 1 && p <= 65535).sort((a, b) => a - b);

  const methods = [...new Set(['GET', 'POST', ...c.methods])].filter((m) => m !== '').sort();
  const paths = [...new Set(['/', '/migrate-other', ...[...c.paths].filter((p) => p !== '')])].sort();
  const hosts = [...new Set(['other.example', ...[...c.hosts].filter((h) => h !== '')])].sort();
  const headerNames = [...c.headers.keys()].sort();
  // Header variants: absent, or one of the collected values, for each named header (cross product, capped).
  let headerCombos: Record<string, string>[] = [{}];
  for (const h of headerNames) {
    const vals = [...c.headers.get(h)!].sort();
    const next: Record<string, string>[] = [];
    for (const combo of headerCombos) { next.push(combo); for (const v of vals) next.push({ ...combo, [h]: v }); }
    headerCombos = next.slice(0, 64);
  }
  // L7 variants decoded on demand: index 0 is TCP, then methods x paths x hosts x header combinations.
  const HC = headerCombos.length; const HO = hosts.length; const PA = paths.length;
  const l7Size = 1 + methods.length * PA * HO * HC;
  const l7At = (i: number): L7 => {
    if (i === 0) return { protocol: 'TCP' };
    let k = i - 1;
    const hc = k % HC; k = (k - hc) / HC;
    const ho = k % HO; k = (k - ho) / HO;
    const pa = k % PA; k = (k - pa) / PA;
    const hd = headerCombos[hc]!;
    return Object.keys(hd).length ? { protocol: 'HTTP', method: methods[k]!, path: paths[pa]!, host: hosts[ho]!, headers: hd } : { protocol: 'HTTP', method: methods[k]!, path: paths[pa]!, host: hosts[ho]! };
  };

  const dests = inp.destinations;
  const S = sources.length; const D = dests.length; const P = portList.length; const L = l7Size;
  return {
    size: S * D * P * L,
    dims: { sources: S, destinations: D, ports: P, l7: L },
    // Destination is the outermost dimension: a verifier that walks one destination's block at a time keeps
    // that destination's compiled policies in cache.
    at(i: number): Request {
      const li = i % L; let r = (i - li) / L;
      const pi = r % P; r = (r - pi) / P;
      const si = r % S; const di = (r - si) / S;
      const src = sources[si]!;
      const x = l7At(li);
      return { source: src, mtls: src.kind === 'pod' && src.inMesh, destination: dests[di]!, port: portList[pi]!, ...x };
    },
  };
}

/** Indices to visit: all of them, or `cap` spread evenly with a deterministic stride. */
export function sampleIndices(size: number, cap: number): { count: number; index: (k: number) => number; sampled: boolean } {
  if (size <= cap) return { count: size, index: (k) => k, sampled: false };
  if (cap <= 0) return { count: 0, index: (k) => k, sampled: true };
  // A stride coprime with size visits distinct indices spread across every dimension.
  let stride = Math.floor(size / cap) | 1;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  while (gcd(stride, size) !== 1) stride += 2;
  return { count: cap, index: (k) => (k * stride + 7) % size, sampled: true };
}

/**
 * Like sampleIndices, but block by block (one block per destination), each block sampled evenly: every
 * destination gets its share and consecutive requests share a destination.
 */
export function sampleByBlock(size: number, blocks: number, cap: number): { count: number; index: (k: number) => number; sampled: boolean } {
  if (size <= cap || blocks <= 1) return sampleIndices(size, cap);
  const block = size / blocks;
  const per = Math.max(1, Math.floor(cap / blocks));
  const inner = sampleIndices(block, per);
  return { count: blocks * inner.count, index: (k) => Math.floor(k / inner.count) * block + inner.index(k % inner.count), sampled: inner.sampled };
}
