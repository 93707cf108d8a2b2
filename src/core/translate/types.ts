// What the translator produces: manifests, gap records and a per-policy fidelity claim that verification
// later confirms or corrects.
import type { FindingLevel } from '../model/finding.js';
import type { KubeObject, Labels } from '../model/k8s.js';

export type Fidelity = 'exact' | 'narrower' | 'gap' | 'wider';

/** Something not (fully) translated: what, why, and what to migrate it to. */
export interface Gap {
  code: string;
  level: FindingLevel;
  /** `<kind>/<ns>/<name>` */
  object: string;
  reason: string;
  target: string;
}

/** A workload the snapshot or cluster knows (a Deployment's pod template, or a bare pod). */
export interface KnownWorkload {
  namespace: string;
  name: string;
  labels: Labels;
  serviceAccount: string;
  /** Container ports (the workload ports Istio `ports` refer to). */
  ports: number[];
  /** Has a sidecar: only these are governed by Istio authorization (and are verification destinations). */
  inMesh: boolean;
  /** Container ports its sidecar does not intercept (UDP, SCTP; TCP its capture annotations leave out): no Istio
   * policy applies to their traffic. */
  uncaptured?: { port: number; protocol: string }[];
}

export interface PolicyTranslation {
  source: string;
  kind: string;
  action?: string;
  /** What the translator claims before verification. */
  fidelity: Fidelity;
  /** Emitted resources for this source (CNP/CCNP, or a waypoint AuthorizationPolicy). */
  manifests: KubeObject[];
  gaps: Gap[];
  /** Why the translation is narrower than the source, one line each. */
  narrowing: string[];
  /** The source policy as the waypoint layer must enforce it (when routed to a waypoint). */
  waypointPolicy?: KubeObject;
}
