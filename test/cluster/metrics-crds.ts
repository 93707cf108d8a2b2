// metrics.k8s.io stand-in. A real cluster serves PodMetrics/NodeMetrics from metrics-server through the aggregation
// layer; the test cluster has no metrics-server, so CRDs with the same group, version, kind and plural make the
// apiserver serve the same paths (/apis/metrics.k8s.io/v1beta1/[namespaces/NS/]pods, .../nodes) from etcd. Fixture
// PodMetrics can then be seeded and the live inventory reads measured sidecar usage exactly as it would from
// metrics-server. A *.k8s.io group needs the api-approved annotation; "unapproved" marks it as a test stand-in.
import type { KubeObject } from './kube-rest.js';

function metricsCrd(kind: 'PodMetrics' | 'NodeMetrics', plural: 'pods' | 'nodes', scope: 'Namespaced' | 'Cluster'): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.metrics.k8s.io`,
      annotations: { 'api-approved.kubernetes.io': 'unapproved, test stand-in for metrics-server (migrate test cluster)' },
      labels: { 'app.kubernetes.io/part-of': 'migrate-test-cluster' },
    },
    spec: {
      group: 'metrics.k8s.io',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      scope,
      versions: [
        {
          name: 'v1beta1',
          served: true,
          storage: true,
          // timestamp, window, containers[] (PodMetrics) or usage (NodeMetrics) sit at the top level, as in the
          // real API; keep them all.
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
}

export function metricsCrds(): KubeObject[] {
  return [metricsCrd('PodMetrics', 'pods', 'Namespaced'), metricsCrd('NodeMetrics', 'nodes', 'Cluster')];
}
