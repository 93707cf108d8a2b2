// Whether Istio's injector would add a sidecar to a pod, from namespace and pod settings
// (istio-injection, istio.io/rev, sidecar.istio.io/inject). The pod's label wins over its annotation,
// the pod's setting wins over the namespace's, and `istio-injection=disabled` turns a namespace off.
import type { Labels } from '../model/k8s.js';

export interface NamespaceInjection {
  name: string;
  labels: Labels;
  /** enabled | disabled | revision:<rev> | unset */
  injection: string;
  revision?: string;
}

export function namespaceInjection(name: string, labels: Labels): NamespaceInjection {
  const legacy = labels['istio-injection'];
  const rev = labels['istio.io/rev'];
  let injection = 'unset';
  if (legacy === 'disabled') injection = 'disabled';
  else if (legacy === 'enabled') injection = 'enabled';
  else if (rev) injection = `revision:${rev}`;
  if (labels['istio.io/dataplane-mode'] === 'ambient' && injection === 'unset') injection = 'ambient';
  return { name, labels, injection, ...(rev ? { revision: rev } : {}) };
}

/** Would the injector inject a pod with this override (`sidecar.istio.io/inject`) into this namespace? */
export function injectionExpected(ns: NamespaceInjection | undefined, podOverride: string | undefined): boolean {
  if (ns?.injection === 'disabled') return false;
  if (podOverride === 'false') return false;
  if (podOverride === 'true') return true;
  return ns !== undefined && (ns.injection === 'enabled' || ns.injection.startsWith('revision:'));
}
