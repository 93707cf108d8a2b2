// Generates the scale snapshot for the inventory benchmark: 1,000 nodes, 50,000 pods (2,500 Deployments in 100
// namespaces), 2,000 Istio resources, written as `migrate snapshot` writes (one List file per type), so the
// benchmark reads what users would. Deterministic. Usage: node dist/bench/gen-snapshot.js OUT [pods] [nodes] [istio]
import { rmSync } from 'node:fs';
import { SnapshotDirWriter } from '../src/adapters/snapshot/writer.js';
import type { KubeObject } from '../src/core/model/k8s.js';
import { istio, namespace, node, workload } from '../test/support/factory.js';

export interface ScaleSpec { pods: number; nodes: number; istio: number; namespaces: number; podsPerWorkload: number }

const KERNELS = ['6.1.0-27-cloud-amd64', '6.8.0-1015-aws', '5.15.0-1075-azure', '5.10.228-219.884.amzn2.x86_64', '5.4.0-1109-azure'];

export function* scaleObjects(s: ScaleSpec): Generator<KubeObject> {
  const nodeNames = Array.from({ length: s.nodes }, (_, i) => `node-${String(i).padStart(4, '0')}`);
  for (const [i, n] of nodeNames.entries()) yield node(n, KERNELS[i % KERNELS.length]!);
  yield namespace('istio-system');
  const workloads = Math.ceil(s.pods / s.podsPerWorkload);
  const perNs = Math.ceil(workloads / s.namespaces);
  for (let ns = 0; ns < s.namespaces; ns++) yield namespace(`team-${ns}`, { 'istio-injection': 'enabled' });
  let made = 0;
  for (let w = 0; w < workloads; w++) {
    const ns = `team-${Math.floor(w / perNs)}`;
    const replicas = Math.min(s.podsPerWorkload, s.pods - made);
    made += replicas;
    const nodes = Array.from({ length: replicas }, (_, k) => nodeNames[(w * 7 + k * 13) % nodeNames.length]!);
    yield* workload({ namespace: ns, name: `svc-${w}`, replicas, ports: [{ name: 'http', port: 8080 }], nodes, sidecar: {} });
  }
  // Istio resources: per-workload ALLOW policies (L4 and L7), namespace PeerAuthentications, VirtualServices and
  // DestinationRules, cycling until the count is reached.
  for (let i = 0; i < s.istio; i++) {
    const w = i % workloads;
    const ns = `team-${Math.floor(w / perNs)}`;
    const app = `svc-${w}`;
    switch (i % 5) {
      case 0: case 1:
        yield istio('AuthorizationPolicy', ns, `${app}-allow-${i}`, { selector: { matchLabels: { app } }, rules: [{ from: [{ source: { principals: [`cluster.local/ns/${ns}/sa/svc-${(w + 1) % workloads}`] } }], to: [{ operation: i % 2 ? { ports: ['8080'] } : { methods: ['GET'], paths: ['/api/*'] } }] }] });
        break;
      case 2:
        yield istio('VirtualService', ns, `${app}-${i}`, { hosts: [app], http: [{ route: [{ destination: { host: app } }], ...(i % 3 === 0 ? { retries: { attempts: 2 } } : {}) }] });
        break;
      case 3:
        yield istio('DestinationRule', ns, `${app}-${i}`, { host: app, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } });
        break;
      default:
        yield istio('PeerAuthentication', ns, `pa-${i}`, { selector: { matchLabels: { app } }, mtls: { mode: 'STRICT' } });
    }
  }
}

const FILES: Record<string, string> = { Node: 'nodes', Namespace: 'namespaces', Pod: 'pods', Service: 'services', Deployment: 'apps-deployments', ReplicaSet: 'apps-replicasets' };

/** Writes the scale snapshot with the same writer `migrate snapshot` uses. */
export async function writeScaleSnapshot(out: string, s: ScaleSpec): Promise<Record<string, number>> {
  const byFile = new Map<string, KubeObject[]>();
  for (const o of scaleObjects(s)) {
    const f = FILES[o.kind] ?? 'istio';
    (byFile.get(f) ?? byFile.set(f, []).get(f)!).push(o);
  }
  rmSync(out, { recursive: true, force: true });
  const w = new SnapshotDirWriter(out);
  const counts: Record<string, number> = {};
  for (const [f, objs] of byFile) counts[f] = await w.writeList(f, objs);
  w.commit({ source: 'bench/gen-snapshot', counts });
  return counts;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [out = 'bench/out/scale', pods = '50000', nodes = '1000', ist = '2000'] = process.argv.slice(2);
  const t0 = performance.now();
  const counts = await writeScaleSnapshot(out, { pods: Number(pods), nodes: Number(nodes), istio: Number(ist), namespaces: 100, podsPerWorkload: 20 });
  console.log(`wrote ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
}
