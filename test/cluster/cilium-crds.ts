// Wrap the Cilium JSON Schemas in shared/schemas/cilium.io into apiextensions.k8s.io/v1 CRDs, so the test apiserver
// validates CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy / CiliumEnvoyConfig exactly as a cluster with
// Cilium's own CRDs does (the schemas were taken from those CRDs' openAPIV3Schema). Names, scope and short names
// follow cilium's CRDs for cilium.io/v2.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from './kube-rest.js';

interface CrdSpec {
  file: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  status: boolean;
}

export const CILIUM_CRDS: readonly CrdSpec[] = [
  {
    file: 'ciliumnetworkpolicy_v2.json',
    kind: 'CiliumNetworkPolicy',
    plural: 'ciliumnetworkpolicies',
    singular: 'ciliumnetworkpolicy',
    shortNames: ['cnp', 'ciliumnp'],
    scope: 'Namespaced',
    status: true,
  },
  {
    file: 'ciliumclusterwidenetworkpolicy_v2.json',
    kind: 'CiliumClusterwideNetworkPolicy',
    plural: 'ciliumclusterwidenetworkpolicies',
    singular: 'ciliumclusterwidenetworkpolicy',
    shortNames: ['ccnp'],
    scope: 'Cluster',
    status: true,
  },
  {
    file: 'ciliumenvoyconfig_v2.json',
    kind: 'CiliumEnvoyConfig',
    plural: 'ciliumenvoyconfigs',
    singular: 'ciliumenvoyconfig',
    shortNames: ['cec'],
    scope: 'Namespaced',
    status: false,
  },
];

/**
 * The shared JSON Schemas say `additionalProperties: false` beside `properties` (strict validation of the manifests
 * we emit); a Kubernetes structural schema forbids that pair ("additionalProperties and properties are mutual
 * exclusive"), and the apiserver's own equivalent is pruning unknown fields (or rejecting them with
 * fieldValidation=Strict). Drop exactly those, keep everything else (types, enums, patterns, oneOf, ...).
 */
export function toStructural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toStructural);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  const o = schema as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === 'additionalProperties' && v === false && o.properties) continue;
    if (k === '$schema' || k === '$id') continue;
    out[k] = toStructural(v);
  }
  return out;
}

export function ciliumCrds(schemaDir: string): KubeObject[] {
  return CILIUM_CRDS.map((c) => {
    const schema = toStructural(JSON.parse(readFileSync(join(schemaDir, c.file), 'utf8')));
    return {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${c.plural}.cilium.io`, labels: { 'app.kubernetes.io/part-of': 'migrate-test-cluster' } },
      spec: {
        group: 'cilium.io',
        names: {
          kind: c.kind,
          listKind: `${c.kind}List`,
          plural: c.plural,
          singular: c.singular,
          shortNames: c.shortNames,
          categories: c.kind === 'CiliumEnvoyConfig' ? ['cilium'] : ['cilium', 'ciliumpolicy'],
        },
        scope: c.scope,
        versions: [
          {
            name: 'v2',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: schema },
            ...(c.status ? { subresources: { status: {} } } : {}),
          },
        ],
      },
    };
  });
}
