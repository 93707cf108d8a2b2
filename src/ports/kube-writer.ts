// What `migrate shadow --cluster` needs from the API beyond reading: create and delete the objects it owns,
// wait for a DaemonSet to be ready, list pods, stream pods/log and GET through the pod proxy subresource.
// Narrow on purpose: nothing else writes to a cluster.
export interface OwnedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ApiPod {
  name: string;
  namespace: string;
  /** metadata.uid: kubelet names the pod's cgroup after it (the probe finds the pod on its node by it). */
  uid?: string;
  nodeName?: string;
  ip?: string;
  serviceAccount?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  /** Names of the containers that run for the pod's life: spec.containers and native sidecars (init containers
   * with restartPolicy Always, which is how Istio >= 1.19 can inject istio-proxy). */
  containers: string[];
  ready: boolean;
  /** Why a container waits (ImagePullBackOff, ErrImagePull...), if one does. */
  waiting?: string;
  /** How a container's last run ended, when it failed: exit code and message (the shadow probe's DaemonSet asks
   * for FallbackToLogsOnError, so that is the probe's own last log lines, e.g. why it refused to start). */
  lastFailure?: string;
  /** Restarts of its containers, summed. */
  restarts?: number;
}

export interface LogStream {
  /** Resolves when the server ends the stream (the container exited) or it was closed. */
  readonly ended: Promise<void>;
  close(): void;
}

export interface KubeWriter {
  readonly where: string;
  /** POST with strict field validation; an object that already exists is an error (not ours to adopt). */
  create(obj: OwnedObject): Promise<void>;
  /** DELETE (background: no garbage collector needed to finish it); a missing object is fine. */
  delete(obj: OwnedObject): Promise<void>;
  /** Resolves when every scheduled pod of the DaemonSet is ready; throws a MigrateError after timeoutMs. */
  waitDaemonSetReady(namespace: string, name: string, timeoutMs: number, signal?: AbortSignal): Promise<ApiPod[]>;
  listPods(namespace: string, labelSelector?: string): Promise<ApiPod[]>;
  /** Every node's name and addresses (status.addresses); null when listing nodes is not allowed. */
  listNodes(): Promise<{ name: string; addresses: string[] }[] | null>;
  /** pods/log?follow=true: `onText` gets the chunks as they arrive. */
  followLog(namespace: string, pod: string, container: string | undefined, onText: (t: string) => void, opts?: { sinceTime?: string; tailLines?: number }): LogStream;
  /** GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH; null when unreachable. */
  proxyGet(namespace: string, pod: string, port: number, path: string): Promise<string | null>;
}
