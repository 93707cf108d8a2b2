// Install what every test cluster has: the Istio CRDs (shared/crds), the Cilium CRDs (wrapped from
// shared/schemas/cilium.io), Gateway API Gateway/HTTPRoute (shared/schemas), the metrics.k8s.io stand-in (metrics-crds.ts) and RBAC for the read-only test user;
// then wait until the CRDs are Established and served. Idempotent (create or replace). Run by test/cluster/up.sh:
//   node dist/test/cluster/install.js --kubeconfig admin.kubeconfig --shared ../shared
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { ciliumCrds, gatewayApiCrds } from './cilium-crds.js';
import { KubeRest, type KubeObject } from './kube-rest.js';
import { metricsCrds } from './metrics-crds.js';
import { readonlyRbac } from './rbac.js';

export function istioCrds(sharedDir: string): KubeObject[] {
  const dir = join(sharedDir, 'crds');
  const out: KubeObject[] = [];
  for (const f of readdirSync(dir).filter((n) => /istio.*\.ya?ml$/.test(n)).sort()) {
    for (const doc of yaml.loadAll(readFileSync(join(dir, f), 'utf8'))) {
      const o = doc as KubeObject | null;
      if (o && o.kind === 'CustomResourceDefinition') out.push(o);
    }
  }
  if (out.length === 0) throw new Error(`no Istio CRDs found in ${dir}`);
  return out;
}

async function waitEstablished(rest: KubeRest, names: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await rest.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
        'GET',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      );
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { kubeconfig: { type: 'string' }, shared: { type: 'string' } },
  });
  if (!values.kubeconfig || !values.shared) throw new Error('usage: install.js --kubeconfig FILE --shared DIR');
  const rest = await KubeRest.fromKubeconfig(values.kubeconfig);
  const t0 = Date.now();
  try {
    const crds = [...istioCrds(values.shared), ...ciliumCrds(join(values.shared, 'schemas', 'cilium.io')),
      ...gatewayApiCrds(join(values.shared, 'schemas', 'gateway.networking.k8s.io')), ...metricsCrds()];
    await rest.discover();
    await Promise.all(crds.map((c) => rest.apply(c)));
    await waitEstablished(
      rest,
      crds.map((c) => c.metadata.name),
    );
    // Established precedes discovery by a moment; the seeder and the tool both rely on discovery.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await rest.discover();
      try {
        await rest.resourceFor('cilium.io/v2', 'CiliumNetworkPolicy');
        await rest.resourceFor('security.istio.io/v1', 'AuthorizationPolicy');
        await rest.resourceFor('metrics.k8s.io/v1beta1', 'PodMetrics');
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    for (const o of readonlyRbac()) await rest.apply(o);
    console.log(`installed ${crds.length} CRDs (${crds.map((c) => c.spec && (c.spec as { names: { kind: string } }).names.kind).join(', ')})`);
    console.log(`installed RBAC for the read-only user (${readonlyRbac().map((o) => `${o.kind} ${o.metadata.name}`).join(', ')})`);
    console.log(`install done in ${Date.now() - t0} ms`);
  } finally {
    rest.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
