// Synthetic sidecar access logs and matching probe records for the shadow benchmarks: N requests over C
// keep-alive connections from a few clients into one sidecar pod, in Istio's default TEXT format.
import type { ProbeLine } from '../src/core/shadow/types.js';

export const T0 = Date.UTC(2026, 10, 21, 6, 0, 0, 0);
const UA = ['curl/8.11.1', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'lab-loadgen', 'Go-http-client/1.1'];

export function genLines(n: number, conns = 200): string[] {
  const out: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const ms = T0 + Math.floor(i / 20);
    const c = i % conns;
    const deny = i % 10 === 7;
    const st = deny ? 403 : 200;
    const det = deny ? 'rbac_access_denied_matched_policy[ns[bookinfo]-policy[deny-admin]-rule[0]]' : 'via_upstream';
    const path = deny ? `/admin/${i % 50}` : `/reviews/${i % 1000}?q=${i % 7}`;
    const up = deny ? '"-"' : '"127.0.0.1:9080"';
    const ul = deny ? '-' : `127.0.0.6:${30000 + c}`;
    out[i] = `[${new Date(ms).toISOString()}] "GET ${path} HTTP/1.1" ${st} - ${det} - "-" 0 ${deny ? 19 : 120} 1 ${deny ? '-' : '1'} "-" "${UA[i % UA.length]}" "${(0x10000000 + i).toString(16)}-b3cb-4cf6-9d60-dcd9c47a8cda" "reviews:9080" ${up} inbound|9080|| ${ul} 10.233.0.13:9080 10.233.0.${20 + (c % 4)}:${40000 + c} - default`;
  }
  return out;
}

export function genProbe(n: number, conns = 200): ProbeLine[] {
  const out: ProbeLine[] = [];
  for (let c = 0; c < conns; c++) {
    out.push({ type: 'flow', ts: T0 * 1e6, pod: 'reviews', dir: 'ingress', src: `10.233.0.${20 + (c % 4)}`, sport: 40000 + c, dst: '10.233.0.13', dport: 9080, proto: 'TCP', verdict: 'allow', where: 'kernel', rule: 101, remoteIdentity: 1004, flags: [] });
  }
  for (let i = 0; i < n; i++) {
    const ms = T0 + Math.floor(i / 20) + 0.3;
    const c = i % conns;
    const deny = i % 10 === 7;
    const path = deny ? `/admin/${i % 50}` : `/reviews/${i % 1000}`;
    const client = `10.233.0.${20 + (c % 4)}:${40000 + c}`;
    out.push({ type: 'http', ts: (ms + 1) * 1e6, pod: 'reviews', leg: 'wire', dir: 'ingress', client, server: '10.233.0.13:9080', method: 'GET', path, status: deny ? 403 : 200, latencyNs: 1e6, verdict: 'allow', where: 'kernel', rule: 201, remoteIdentity: 1004, flags: [] });
    if (!deny) out.push({ type: 'http', ts: (ms + 0.8) * 1e6, pod: 'reviews', leg: 'app', dir: 'ingress', client: `127.0.0.6:${30000 + c}`, server: '127.0.0.1:9080', method: 'GET', path, status: 200, latencyNs: 0.4e6, verdict: 'allow', where: 'kernel', rule: 201, remoteIdentity: 0, flags: [] });
  }
  // Records reach the join through JSON.parse of the probe's output lines: flat strings, as here.
  return JSON.parse(JSON.stringify(out)) as ProbeLine[];
}
