// Wrap the Cilium JSON Schemas in shared/schemas/cilium.io into apiextensions.k8s.io/v1 CRDs, so the test apiserver
// validates CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy / CiliumEnvoyConfig exactly as a cluster with
// Cilium's own CRDs does (the schemas were taken from those CRDs' openAPIV3Schema). Names, scope and short names
// follow cilium's CRDs for cilium.io/v2. The Gateway API Gateway and HTTPRoute schemas are wrapped the same way.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from './kube-rest.js';

interface CrdSpec {
  group?: string;
  version?: string;
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

/** Gateway API v1 Gateway and HTTPRoute (istio waypoints are Gateways), from shared/schemas/gateway.networking.k8s.io. */
export const GATEWAY_API_CRDS: readonly CrdSpec[] = [
  { group: 'gateway.networking.k8s.io', version: 'v1', file: 'gateway_v1.json', kind: 'Gateway', plural: 'gateways', singular: 'gateway', shortNames: ['gtw'], scope: 'Namespaced', status: true },
  { group: 'gateway.networking.k8s.io', version: 'v1', file: 'httproute_v1.json', kind: 'HTTPRoute', plural: 'httproutes', singular: 'httproute', shortNames: [], scope: 'Namespaced', status: true },
];

export function ciliumCrds(schemaDir: string): KubeObject[] {
  return schemaCrds(schemaDir, CILIUM_CRDS);
}

export function gatewayApiCrds(schemaDir: string): KubeObject[] {
  return schemaCrds(schemaDir, GATEWAY_API_CRDS);
}

function schemaCrds(schemaDir: string, specs: readonly CrdSpec[]): KubeObject[] {
  return specs.map((c) => {
    const schema = toStructural(JSON.parse(readFileSync(join(schemaDir, c.file), 'utf8')));
    const group = c.group ?? 'cilium.io';
    // *.k8s.io groups are protected: a CRD there needs this annotation ("unapproved..." marks a test copy).
    const annotations = group.endsWith('.k8s.io') ? { 'api-approved.kubernetes.io': 'unapproved, test copy wrapped from shared/schemas' } : undefined;
    return {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${c.plural}.${group}`, labels: { 'app.kubernetes.io/part-of': 'migrate-test-cluster' }, ...(annotations ? { annotations } : {}) },
      spec: {
        group,
        names: {
          kind: c.kind,
          listKind: `${c.kind}List`,
          plural: c.plural,
          singular: c.singular,
          shortNames: c.shortNames,
          categories: group !== 'cilium.io' ? ['gateway-api'] : c.kind === 'CiliumEnvoyConfig' ? ['cilium'] : ['cilium', 'ciliumpolicy'],
        },
        scope: c.scope,
        versions: [
          {
            name: c.version ?? 'v2',
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
