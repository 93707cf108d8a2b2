// One request as both evaluators see it. The same object is judged by the Istio reference evaluator (with a
// sidecar on the destination) and by the Cilium reference evaluator (eBPF plane, no sidecar), so the
// differential compares like with like.
import type { Labels } from '../model/k8s.js';

/** A pod: Istio sees its principal only over mTLS; Cilium sees its labels always. */
export interface PodPeer {
  kind: 'pod';
  namespace: string;
  serviceAccount: string;
  labels: Labels;
  ip: string;
  /** Has an Istio sidecar (and therefore the injected label `security.istio.io/tlsMode: istio`). */
  inMesh: boolean;
}

/** A peer outside the cluster (Cilium entity `world`), known only by its IP. */
export interface ExternalPeer {
  kind: 'external';
  ip: string;
}

export type Peer = PodPeer | ExternalPeer;

/** The destination workload (a pod of it). `id` keys evaluator caches: equal ids must mean equal workloads. */
export interface Workload {
  id: string;
  namespace: string;
  serviceAccount: string;
  labels: Labels;
}

/** UDP: a datagram flow, which Istio's redirect does not take (no sidecar sees it); the rest are TCP. */
export type Protocol = 'TCP' | 'UDP' | 'HTTP';

export interface Request {
  source: Peer;
  /**
   * The client offers Istio mTLS. Auto-mTLS model: a sidecar client always does, a client without sidecar never
   * does; a destination whose PeerAuthentication is DISABLE turns it into plaintext.
   */
  mtls: boolean;
  destination: Workload;
  port: number;
  protocol: Protocol;
  method?: string;
  /** As on the wire: includes the query string (Cilium matches it; Istio strips it). */
  path?: string;
  /** Authority without port. */
  host?: string;
  /** Lower-case header names. */
  headers?: Record<string, string>;
}

export type Decision = 'allow' | 'deny' | 'custom';

export interface Verdict {
  decision: Decision;
  /** Why, in one short phrase. */
  reason: string;
  /** The rules responsible (Envoy RBAC ids for Istio, `<kind>/<ns>/<name>#ingress[i]` for Cilium). */
  rules: string[];
}

export const SPIFFE_TRUST_DOMAIN = 'cluster.local';

/** The peer principal Istio sees: empty for plaintext. */
const principals = new WeakMap<PodPeer, string>();
export function principalOf(src: Peer, mtls: boolean): string {
  if (!mtls || src.kind !== 'pod') return '';
  let p = principals.get(src);
  if (p === undefined) { p = `${SPIFFE_TRUST_DOMAIN}/ns/${src.namespace}/sa/${src.serviceAccount}`; principals.set(src, p); }
  return p;
}

export function describePeer(p: Peer): string {
  if (p.kind === 'external') return `external ${p.ip}`;
  return `pod ${p.namespace}/sa/${p.serviceAccount}${p.inMesh ? '' : ' (no sidecar)'} ${p.ip}`;
}

/** One line a reviewer can read: who, to what, how. */
export function describeRequest(r: Request): string {
  const l7 = r.protocol === 'HTTP'
    ? ` ${r.method ?? '-'} ${r.host ?? '-'}${r.path ?? ''}${r.headers && Object.keys(r.headers).length ? ' ' + Object.entries(r.headers).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',') : ''}`
    : '';
  return `${describePeer(r.source)} ${r.mtls ? 'mTLS' : 'plaintext'} -> ${r.destination.id}:${r.port} ${r.protocol}${l7}`;
}
