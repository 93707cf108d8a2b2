// The lab as data: what lab/lab.sh writes to .state/lab/pods.json, and the Results of `migrate lab ...`.
// The shadow probe's loader reads the same pods (name, netns, ifname, cgroup, ip); `migrate shadow` reads
// the sidecar's access log path from here.

export interface LabSidecar {
  kind: 'haproxy';
  uid: number;
  gid: number;
  inboundPort: number;
  outboundPort: number;
  /** Source address of inbound requests as the app sees them (Istio: 127.0.0.6). */
  inboundSource: string;
  healthPort: number;
  metricsPort: number;
  /** Envoy TEXT access log (Istio's default format), one file per pod. */
  accessLog: string;
  accessLogFormat: 'istio-default-text';
  excludedInboundPorts: number[];
  /** The mesh's mTLS mode this sidecar runs (PERMISSIVE: Istio's default). Absent in labs from before mTLS. */
  mtls?: LabMtlsMode;
  /** This sidecar's certificate (PEM with its key) from the lab CA, its SPIFFE ID (URI SAN) and the DNS SANs
   * (the SNI Istio's clients send to it). */
  tls?: { ca: string; cert: string; spiffe: string; dnsNames: string[] };
}

/** PERMISSIVE: inbound accepts mTLS and plaintext; STRICT: mTLS only; DISABLE: plaintext only. */
export type LabMtlsMode = 'PERMISSIVE' | 'STRICT' | 'DISABLE';

export interface LabPod {
  name: string;
  namespace: string;
  /** Network namespace name (under /run/netns) and its path. */
  netns: string;
  netnsPath: string;
  /** Pod-side interface (inside netns). */
  ifname: string;
  /** Node-side veth, inside hostNetns (the lab's node netns, not the machine's root netns). */
  hostIfname: string;
  hostNetns: string;
  /** cgroup v2 directory holding the app and the sidecar. */
  cgroup: string;
  ip: string;
  appPort: number;
  /** Same app, excluded from the inbound redirect: requests there bypass the sidecar. */
  bypassPort: number;
  serviceAccount: string;
  /** Istio principal cluster.local/ns/<ns>/sa/<sa>: the URI SAN of its sidecar's certificate without spiffe://
   * (a pod without a sidecar has no certificate, so its calls carry no principal). */
  principal: string;
  labels: Record<string, string>;
  upstreams: string[];
  sidecar: LabSidecar | null;
  appLog: string;
}

export interface LabFile {
  version: 1;
  prefix: string;
  namespace: string;
  subnet: string;
  gateway: string;
  /** The mesh's mTLS mode and the lab CA (PEM) the sidecars verify peers against. */
  mtls?: { mode: LabMtlsMode; ca: string; trustDomain: string };
  node: { netns: string; netnsPath: string; bridge: string };
  cgroupRoot: string;
  stateDir: string;
  pods: LabPod[];
  /** Istio AuthorizationPolicy objects the sidecars enforce. */
  policies: unknown[];
  /** Directory with the lab as Kubernetes objects (Node, Namespace, Pods, Services, AuthorizationPolicies). */
  snapshot: string;
}

export interface LabPodStatus {
  name: string;
  ip: string;
  netns: boolean;
  veth: boolean;
  cgroup: boolean;
  app: boolean;
  /** null: the pod has no sidecar. */
  sidecar: boolean | null;
}

export interface LabStatusResult {
  up: boolean;
  podsFile: string;
  pods: LabPodStatus[];
}

export interface LabUpResult extends LabStatusResult {
  lab: LabFile;
}

export interface LabDownResult {
  down: true;
}

export interface LabLoadRequest {
  target?: string;
  /** Pod the load generator runs in (default: client, which has no sidecar: plaintext, no principal; a sidecar
   * pod sends through its outbound sidecar, over mTLS to sidecar pods). */
  from?: string;
  /** Requests per second; 0 = as fast as the connections allow. */
  rate: number;
  durationSeconds: number;
  connections: number;
  path: string;
  /** Send to the pod's bypass port: the same app without the sidecar. */
  bypass: boolean;
  tool: 'loadgen' | 'wrk';
}

export interface LabLoadResult {
  url: string;
  mode: 'fixed' | 'max';
  tool?: string;
  requests: number;
  errors: number;
  statuses?: Record<string, number>;
  rps: number;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null; max: number | null };
}
