// Baseline for the live inventory bench: list the same objects `migrate inventory` reads, with plain
// @kubernetes/client-node (KubernetesObjectApi.list, pages of 500 like the tool and kubectl's default chunk size),
// holding nothing but counts. Prints one JSON line: {"objects": N, "byKind": {...}, "ms": T}.
//   node dist/bench/raw-list.js --kubeconfig FILE
import { parseArgs } from 'node:util';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';

// The types the inventory lists (src/core/model/resources.ts CORE_TYPES, and the Istio kinds the bench seeds).
export const RAW_LIST_TYPES: [string, string][] = [
  ['v1', 'Namespace'],
  ['v1', 'Node'],
  ['v1', 'Pod'],
  ['v1', 'Service'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'DaemonSet'],
  ['apps/v1', 'ReplicaSet'],
  ['batch/v1', 'Job'],
  ['batch/v1', 'CronJob'],
  ['security.istio.io/v1', 'AuthorizationPolicy'],
  ['security.istio.io/v1', 'PeerAuthentication'],
  ['security.istio.io/v1', 'RequestAuthentication'],
  ['networking.istio.io/v1', 'DestinationRule'],
  ['networking.istio.io/v1', 'VirtualService'],
  ['networking.istio.io/v1', 'Sidecar'],
  ['networking.istio.io/v1', 'Gateway'],
  ['networking.istio.io/v1', 'ServiceEntry'],
  ['networking.istio.io/v1alpha3', 'EnvoyFilter'],
  ['telemetry.istio.io/v1', 'Telemetry'],
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, limit: { type: 'string', default: '500' } } });
  if (!values.kubeconfig) throw new Error('usage: raw-list.js --kubeconfig FILE [--limit N]');
  const kc = new KubeConfig();
  kc.loadFromFile(values.kubeconfig);
  const api = KubernetesObjectApi.makeApiClient(kc);
  const limit = Number(values.limit);
  const t0 = performance.now();
  const byKind: Record<string, number> = {};
  let objects = 0;
  for (const [apiVersion, kind] of RAW_LIST_TYPES) {
    let cont: string | undefined;
    do {
      const page = await api.list(apiVersion, kind, undefined, undefined, undefined, undefined, undefined, undefined, limit, cont);
      objects += page.items.length;
      byKind[kind] = (byKind[kind] ?? 0) + page.items.length;
      cont = page.metadata?._continue || undefined;
    } while (cont);
  }
  console.log(JSON.stringify({ objects, byKind, ms: Math.round(performance.now() - t0) }));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
