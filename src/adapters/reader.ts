// Opens the KubeReader a command asked for: a snapshot on disk, or a cluster through kubeconfig.
import type { KubeReader } from '../ports/kube.js';
import { loadKubeAccess } from './kube/config.js';
import { ClusterReader } from './kube/reader.js';
import { SnapshotReader } from './snapshot/reader.js';

export interface SourceOptions {
  snapshot?: string;
  kubeconfig?: string;
  context?: string;
}

export function openReader(o: SourceOptions): KubeReader {
  if (o.snapshot) return new SnapshotReader(o.snapshot);
  return new ClusterReader(loadKubeAccess({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), ...(o.context ? { context: o.context } : {}) }));
}
