// Which CNI the cluster runs, told from the DaemonSets that install it (and node annotations as a fallback).

const CNI_DAEMONSETS: [RegExp, string][] = [
  [/^cilium$/, 'cilium'],
  [/^calico-node$/, 'calico'],
  [/^aws-node$/, 'aws-vpc-cni'],
  [/^kube-flannel(-ds)?/, 'flannel'],
  [/^weave-net$/, 'weave'],
  [/^antrea-agent$/, 'antrea'],
  [/^kindnet$/, 'kindnet'],
  [/^azure-cni|^azure-vnet/, 'azure-cni'],
  [/^kube-router$/, 'kube-router'],
  [/^ovnkube-node$/, 'ovn-kubernetes'],
  [/^canal$/, 'canal'],
];

export function detectCni(daemonSets: { namespace: string; name: string }[], nodeAnnotationKeys: Iterable<string>): string {
  const found = new Set<string>();
  for (const d of daemonSets) for (const [re, cni] of CNI_DAEMONSETS) if (re.test(d.name)) found.add(cni);
  if (found.size === 0) {
    for (const k of nodeAnnotationKeys) {
      if (k.startsWith('projectcalico.org/')) found.add('calico');
      if (k.startsWith('io.cilium.') || k.startsWith('network.cilium.io/')) found.add('cilium');
      if (k.startsWith('flannel.alpha.coreos.com/')) found.add('flannel');
    }
  }
  return found.size ? [...found].sort().join('+') : 'unknown';
}
