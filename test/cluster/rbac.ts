// RBAC of the read-only test user (client cert CN=migrate-readonly, O=migrate:readonly). It may get/list/watch
// everything `migrate inventory` reads EXCEPT nodes, on purpose: the tests assert that the tool reports its
// MIGRATE_RBAC_FORBIDDEN error (naming the resource) instead of a stack trace or a partial result.
import type { KubeObject } from './kube-rest.js';

export const READONLY_USER = 'migrate-readonly';
export const READONLY_GROUP = 'migrate:readonly';
/** The resource the read-only user is denied (core group, cluster scoped). */
export const READONLY_DENIED_RESOURCE = 'nodes';

const READ = ['get', 'list', 'watch'];

export function readonlyRbac(): KubeObject[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'migrate-readonly-test' },
      rules: [
        {
          apiGroups: [''],
          resources: ['namespaces', 'pods', 'services', 'endpoints', 'serviceaccounts', 'configmaps', 'limitranges'],
          verbs: READ,
        },
        { apiGroups: ['apps', 'batch', 'discovery.k8s.io', 'networking.k8s.io', 'policy'], resources: ['*'], verbs: READ },
        { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: READ },
        {
          apiGroups: [
            'networking.istio.io',
            'security.istio.io',
            'telemetry.istio.io',
            'extensions.istio.io',
            'cilium.io',
            'gateway.networking.k8s.io',
            'metrics.k8s.io',
          ],
          resources: ['*'],
          verbs: READ,
        },
        { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'migrate-readonly-test' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'migrate-readonly-test' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: READONLY_GROUP }],
    },
  ];
}
